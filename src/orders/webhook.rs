//! Webhooks, pure: event types, registered endpoints, outbox events, deliveries and their attempt
//! log, bounds, and the retry schedule (exponential backoff with jitter, give-up age). `db`
//! persists these types; `app::webhooks` registers endpoints and runs delivery.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Longest webhook URL, in bytes (browsers and proxies commonly stop near 2 KB).
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;
/// Shortest signing secret, in bytes: 16 bytes of a random secret are 128 bits.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;
/// Longest signing secret, in bytes (HMAC hashes longer keys down anyway).
pub const MAX_WEBHOOK_SECRET_LEN: usize = 256;
/// Most event types one webhook subscribes to (there are four kinds today; room for more).
pub const MAX_WEBHOOK_EVENTS: usize = 16;
/// Most registered webhooks: every event fans out to each subscribed one inside the change's
/// transaction, so this bounds that transaction's extra inserts.
pub const MAX_WEBHOOKS: usize = 50;
/// Most deliveries one page of a webhook's delivery log holds.
pub const MAX_DELIVERY_PAGE: u32 = 200;
/// Longest error text kept per attempt, in bytes.
pub const MAX_ATTEMPT_ERROR_LEN: usize = 500;

/// What happened: the event types a webhook can subscribe to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum EventType {
    /// An order was placed (not for an Idempotency-Key replay).
    #[serde(rename = "order.created")]
    OrderCreated,
    /// An order's print files are ready (emitted by the print-file pipeline).
    #[serde(rename = "order.files_ready")]
    OrderFilesReady,
    /// An order moved to another status.
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    /// A design was saved.
    #[serde(rename = "design.created")]
    DesignCreated,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::OrderCreated,
        EventType::OrderFilesReady,
        EventType::OrderStatusChanged,
        EventType::DesignCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderFilesReady => "order.files_ready",
            EventType::OrderStatusChanged => "order.status_changed",
            EventType::DesignCreated => "design.created",
        }
    }

    /// The event type named `text`, if any.
    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// An event to put in the outbox, inside the transaction of the change it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEvent {
    /// The event id receivers see (a UUID v7), also inside `payload`.
    pub id: String,
    pub event_type: EventType,
    /// What the event is about, e.g. `order:<id>`: events of one subject reach each endpoint in
    /// the order they were written.
    pub subject: String,
    /// The request body, frozen: the JSON document every attempt sends byte for byte.
    pub payload: String,
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: String,
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet answered with a 2xx; due again at `next_attempt_at`.
    Pending,
    /// An attempt was answered with a 2xx.
    Delivered,
    /// Retries gave up (see [`RetryPolicy::give_up_after`]).
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One attempt to deliver: its HTTP status, or the error that kept it from getting one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub attempt: i64,
    pub at: Timestamp,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// One event to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub subject: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// When it was delivered or given up.
    pub finished_at: Option<Timestamp>,
}

/// A delivery a worker claimed: what it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub webhook_id: String,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// When the event was written (the give-up age counts from it).
    pub event_created_at: Timestamp,
}

/// What became of an attempt, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at this time.
    Retry(Timestamp),
    /// No more attempts: the delivery is `failed`.
    GiveUp,
}

/// The retry schedule: the n-th retry waits `base · 2^(n-1)`, at most `cap`, of which a random
/// half is jitter (so endpoints coming back up are not hit by every sender at once); a failure
/// once the event is `give_up_after` old ends the delivery as `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Default: 10 s.
    pub base: Duration,
    /// Default: 1 h.
    pub cap: Duration,
    /// Default: 25 h (so retries span at least a day).
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(25 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait before the retry that follows failed attempt `attempt` (1-based), before jitter.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// What follows failed attempt `attempt` at `now` of an event written at `created`: a retry
    /// after the backoff, of which `jitter` (in 0..1) takes away up to half; or giving up.
    pub fn after_failure(
        &self,
        attempt: i64,
        created: Timestamp,
        now: Timestamp,
        jitter: f64,
    ) -> Outcome {
        let age = now.unix_micros().saturating_sub(created.unix_micros());
        let limit = i64::try_from(self.give_up_after.as_micros()).unwrap_or(i64::MAX);
        if age >= limit {
            return Outcome::GiveUp;
        }
        let wait = self.backoff(attempt);
        let wait = wait.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0));
        let micros = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
        Outcome::Retry(Timestamp::from_unix_micros(
            now.unix_micros().saturating_add(micros),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_gives_up_after_a_day() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_secs(10));
        assert_eq!(p.backoff(2), Duration::from_secs(20));
        assert_eq!(p.backoff(9), Duration::from_secs(2560));
        assert_eq!(p.backoff(10), Duration::from_secs(3600));
        assert_eq!(p.backoff(1000), Duration::from_secs(3600));
        let t0 = Timestamp::from_unix_micros(0);
        let at = |s: i64| Timestamp::from_unix_micros(s * 1_000_000);
        assert_eq!(p.after_failure(1, t0, at(5), 0.0), Outcome::Retry(at(15)));
        assert_eq!(p.after_failure(1, t0, at(5), 1.0), Outcome::Retry(at(10)));
        assert_eq!(p.after_failure(40, t0, at(25 * 3600), 0.0), Outcome::GiveUp);
        // The schedule really spans a day: the sum of the longest waits before giving up.
        let mut now = 0i64;
        let mut attempt = 1;
        while let Outcome::Retry(next) = p.after_failure(attempt, t0, at(now), 1.0) {
            now = next.unix_micros() / 1_000_000;
            attempt += 1;
        }
        assert!(now >= 24 * 3600, "{now}");
    }

    #[test]
    fn event_types_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).ok(),
                Some(serde_json::json!(e.as_str()))
            );
        }
        assert_eq!(EventType::parse("order.deleted"), None);
    }
}
