ALTER TABLE orders DROP COLUMN filled;
ALTER TABLE orders DROP COLUMN design_id;
DROP TABLE product_versions;
DROP TABLE designs;
