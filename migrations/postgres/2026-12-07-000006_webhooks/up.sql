-- Webhooks with a transactional outbox. An event (order.created, order.status_changed,
-- order.files_ready, design.created) is inserted into outbox_events in the transaction that makes
-- the change, with one webhook_deliveries row per endpoint subscribed to its type at that moment;
-- background workers claim due deliveries (a lease: locked_until), POST the stored payload, and
-- log every attempt in webhook_attempts. Timestamps are microseconds since the Unix epoch (UTC).

-- A registered endpoint. events: a JSON array of event types. The secret signs every request
-- (HMAC-SHA256), so it is kept as given; it is never returned by the API.
CREATE TABLE webhooks (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The outbox: one row per event, its body frozen as JSON text when the change commits.
-- seq increases in commit order per subject (an order's writers take turns on its row), and
-- orders delivery within a subject ("order:<id>", "design:<id>").
CREATE TABLE outbox_events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One event to one endpoint. pending until a 2xx answer (delivered) or until retries give up
-- (failed). A pending delivery is due at next_attempt_at and free when locked_until has passed.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_seq BIGINT NOT NULL REFERENCES outbox_events (seq) ON DELETE CASCADE,
    webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    locked_by TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (webhook_id, event_seq)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (webhook_id, subject, event_seq) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

-- The delivery log: every attempt with its HTTP status or its error.
CREATE TABLE webhook_attempts (
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
