-- Catalog versions that orders pin: the version hash and a snapshot of the catalog files.
-- File contents are stored once per distinct content (sha256), shared by versions.
CREATE TABLE catalog_blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL,
    bytes BLOB NOT NULL
);

CREATE TABLE catalog_versions (
    hash TEXT PRIMARY KEY NOT NULL,
    file_count BIGINT NOT NULL,
    total_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE catalog_version_files (
    version_hash TEXT NOT NULL REFERENCES catalog_versions (hash) ON DELETE CASCADE,
    path TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL REFERENCES catalog_blobs (sha256),
    PRIMARY KEY (version_hash, path)
);
