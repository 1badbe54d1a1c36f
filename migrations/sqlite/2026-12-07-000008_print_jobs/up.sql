-- Print files per print area (issue 24): one row per order whose product declares print
-- areas, written in the order's transaction, so nothing acknowledged is lost. state is
-- 'ready' when the files were rendered before the order was answered; otherwise 'pending'
-- until a worker's job stores them ('ready') or gives up ('failed', error kept). A worker
-- claims a pending job by raising attempts (the fencing token of its writes) and setting
-- lease_until; a job whose lease passed is claimed again (a crashed worker, a restart).
-- Timestamps are microseconds since the Unix epoch (UTC).
CREATE TABLE print_jobs (
    order_id TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX print_jobs_pending ON print_jobs (state, created_at);

-- The files of a ready order: one per (area, format), the bytes in the blob store (kind
-- 'print', id blob_id = their hex SHA-256). Sizes in pixels and micrometres (the file's
-- physical size: trim plus bleed on both sides).
CREATE TABLE print_files (
    order_id TEXT NOT NULL,
    area TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('png', 'svg', 'pdf')),
    position BIGINT NOT NULL,
    blob_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    width_px BIGINT NOT NULL,
    height_px BIGINT NOT NULL,
    width_um BIGINT NOT NULL,
    height_um BIGINT NOT NULL,
    bleed_um BIGINT NOT NULL,
    dpi BIGINT NOT NULL,
    PRIMARY KEY (order_id, area, format)
);
