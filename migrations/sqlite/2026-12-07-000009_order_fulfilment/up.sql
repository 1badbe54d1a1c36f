-- What an order freezes for fulfilment, as one JSON document: per option its label, value label
-- and SKU, the composed variant SKU, and the resolved bill of materials. NULL for orders placed
-- before it existed (they read as having none).
ALTER TABLE orders ADD COLUMN fulfilment TEXT;
