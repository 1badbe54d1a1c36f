-- Sales history, what recommendations learn from: one row per sold configuration, fed by every
-- order placed (in the order's own transaction) and by merchants' imports of past sales.
-- Ids are BIGINTs issued from history_counters inside the writing transaction, so they increase
-- in commit order (writers of the history take turns on that row): a reader that saw sale N has
-- seen every sale below N, and can poll "after the last id" without missing any.
-- Timestamps are microseconds since the Unix epoch (UTC). JSON documents are stored as text.
CREATE TABLE history_counters (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    last_sale_id BIGINT NOT NULL,
    last_import_id BIGINT NOT NULL,
    erasures BIGINT NOT NULL
);

INSERT INTO history_counters (id, last_sale_id, last_import_id, erasures) VALUES (1, 0, 0, 0);

-- One imported file per product and content: importing the same bytes again stores nothing.
CREATE TABLE history_imports (
    id BIGINT PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    file_name TEXT,
    row_count BIGINT NOT NULL CHECK (row_count >= 0),
    created_at BIGINT NOT NULL,
    UNIQUE (product_id, content_sha256)
);

-- selection: a JSON array of [option id, value] pairs (older orders: an object), as the order
-- stores it. catalog_version is NULL for imported sales; customer_ref is opaque (the only
-- customer data kept, deleted on request). An order feeds exactly one row (order_id unique).
CREATE TABLE history_sales (
    id BIGINT PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL,
    catalog_version TEXT,
    selection TEXT NOT NULL,
    count BIGINT NOT NULL CHECK (count >= 1),
    customer_ref TEXT,
    source TEXT NOT NULL CHECK (source IN ('order', 'import')),
    order_id TEXT COLLATE "C" UNIQUE,
    import_id BIGINT REFERENCES history_imports (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    CHECK ((source = 'order') = (order_id IS NOT NULL)),
    CHECK ((source = 'import') = (import_id IS NOT NULL))
);

CREATE INDEX history_sales_product_id ON history_sales (product_id, id);
CREATE INDEX history_sales_customer_ref ON history_sales (customer_ref) WHERE customer_ref IS NOT NULL;
CREATE INDEX history_sales_import_id ON history_sales (import_id) WHERE import_id IS NOT NULL;

-- The orders placed before this migration feed the history too, oldest first.
INSERT INTO history_sales
    (id, product_id, catalog_version, selection, count, customer_ref, source, order_id, import_id, created_at)
SELECT ROW_NUMBER() OVER (ORDER BY id), product_id, catalog_version, selection, 1, customer_ref,
       'order', id, NULL, created_at
FROM orders;

UPDATE history_counters SET last_sale_id = (SELECT COUNT(*) FROM history_sales) WHERE id = 1;
