-- Saved designs: a customer's configuration (selection, its quote and the options the server
-- filled with defaults) kept under a UUID v7 text id, pinned to the product and catalog versions
-- it was configured against, optionally until expires_at (then unreadable, and purged).
-- Timestamps are microseconds since the Unix epoch (UTC). JSON documents are stored as text.
CREATE TABLE designs (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL,
    product_version TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    selection TEXT NOT NULL,
    quote TEXT NOT NULL,
    filled TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);

CREATE INDEX designs_expires_at ON designs (expires_at);

-- Which catalog versions contain a given product version: a storefront pins the product version
-- it was shown, and an order placed later finds a catalog version to validate it against.
CREATE TABLE product_versions (
    product_id TEXT NOT NULL,
    product_version TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (product_id, product_version, catalog_version)
);

-- The design an order was placed from (a reference only: designs expire and are purged), and the
-- option ids the server filled with defaults when completing the customer's selection (JSON array).
ALTER TABLE orders ADD COLUMN design_id TEXT;
ALTER TABLE orders ADD COLUMN filled TEXT NOT NULL DEFAULT '[]';
