-- Orders, keyed by a UUID v7 text id (time-ordered: the feed pages by id).
-- Timestamps are microseconds since the Unix epoch (UTC). JSON documents are stored as text.
CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_fingerprint TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'in_production', 'shipped', 'cancelled')),
    version BIGINT NOT NULL CHECK (version >= 1),
    product_id TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    selection TEXT NOT NULL,
    quote TEXT NOT NULL,
    preview_ref TEXT,
    customer_ref TEXT,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX orders_status_id ON orders (status, id);

-- Each order's history: creation (from_status NULL, version 1) and every transition.
CREATE TABLE order_events (
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (order_id, version)
);
