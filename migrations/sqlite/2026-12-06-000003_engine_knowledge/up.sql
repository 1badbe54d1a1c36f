-- What the rules engines learned (explanations, dead values, solutions, warm-up progress), as
-- records of bespoke::rules::learned, so that a restart or another instance resumes a warm-up
-- instead of starting over. Keyed by the model's fingerprint; records of one fingerprint are
-- read in seq order. Only the newest few fingerprints per product are kept.
CREATE TABLE engine_knowledge (
    fingerprint TEXT NOT NULL,
    seq BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    bytes BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, seq)
);

CREATE INDEX engine_knowledge_product ON engine_knowledge (product_id, created_at);
