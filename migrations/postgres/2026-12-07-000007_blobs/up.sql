-- Blobs (issue 24, shared storage): customer uploads (the normalised PNG, kind 'upload', and
-- the bytes as sent, kind 'original'), and orders' print files (kind 'print'), keyed by kind
-- and id, so that every instance on the same database answers the same. Ids are content
-- references (hex SHA-256 of the normalised upload; a print's preview key); the first bytes
-- stored under an id are kept. sha256 is the bytes' digest, checked on read. Timestamps are
-- microseconds since the Unix epoch (UTC).
CREATE TABLE blobs (
    kind TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE INDEX blobs_kind_created_at ON blobs (kind, created_at);

-- Uploads a design or an order refers to, whichever store keeps the blobs: retention deletes
-- only uploads without a live reference. kept_until is the latest expiry of a design that
-- refers to it, NULL when an order (or a design that never expires) does: kept forever.
CREATE TABLE upload_refs (
    upload_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kept_until BIGINT,
    created_at BIGINT NOT NULL
);
