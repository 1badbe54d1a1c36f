ALTER TABLE orders DROP COLUMN fulfilment;
