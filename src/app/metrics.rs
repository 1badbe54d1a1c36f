//! Operational metrics: one registry per app (request counts and latencies per route and status, rules-engine call latencies, preview cache hits and misses, orders, webhook deliveries), with the outbox backlog and the database pool read at scrape time, written in the Prometheus / OpenMetrics text format for `GET /metrics`.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text (Prometheus scrapes it as is).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: 250 µs to 10 s, about ×2.5 apart (what a configure click, a
/// preview render and a print file span).
const LATENCY_BUCKETS: [f64; 12] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0,
];

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// What the scrape reads from elsewhere (the database), given by the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrapeState {
    /// Webhook deliveries waiting to be sent (pending, any attempt).
    pub outbox_backlog: i64,
    /// Open database connections, and how many of them are idle.
    pub db_connections: i64,
    pub db_idle_connections: i64,
    /// The pool's most connections.
    pub db_max_connections: i64,
    /// Preview cache lookups that found the image, and renders (misses), of the serving version.
    pub preview_hits: u64,
    pub preview_misses: u64,
}

/// The app's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    request_seconds: Histograms,
    engine_seconds: Histograms,
    orders: Family<Labels, Counter>,
    transitions: Family<Labels, Counter>,
    webhook_deliveries: Family<Labels, Counter>,
    outbox_backlog: Gauge,
    db_connections: Gauge,
    db_idle_connections: Gauge,
    db_max_connections: Gauge,
    preview_cache: Family<Labels, Gauge<u64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bespoke");
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let request_seconds: Histograms = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            request_seconds.clone(),
        );
        let engine_seconds: Histograms = Family::new_with_constructor(latency_histogram);
        registry.register(
            "engine_call_duration_seconds",
            "Rules-engine calls, by operation (configure: filtering with explanations; finalize: an order's completion and validation)",
            engine_seconds.clone(),
        );
        let orders = Family::<Labels, Counter>::default();
        registry.register(
            "orders",
            "Order requests answered, by outcome (created, replayed)",
            orders.clone(),
        );
        let transitions = Family::<Labels, Counter>::default();
        registry.register(
            "order_transitions",
            "Order status changes, by the status reached",
            transitions.clone(),
        );
        let webhook_deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_delivery_attempts",
            "Webhook delivery attempts, by outcome (delivered, retry, failed)",
            webhook_deliveries.clone(),
        );
        let outbox_backlog = Gauge::default();
        registry.register(
            "outbox_backlog",
            "Webhook deliveries waiting to be sent (read from the database at scrape time)",
            outbox_backlog.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_connections.clone(),
        );
        let db_idle_connections = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_idle_connections.clone(),
        );
        let db_max_connections = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The database pool's size limit",
            db_max_connections.clone(),
        );
        let preview_cache = Family::<Labels, Gauge<u64, AtomicU64>>::default();
        registry.register(
            "preview_cache_lookups",
            "Preview cache lookups of the serving catalog version, by result (hit, miss); they start again at 0 when a version starts serving",
            preview_cache.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            engine_seconds,
            orders,
            transitions,
            webhook_deliveries,
            outbox_backlog,
            db_connections,
            db_idle_connections,
            db_max_connections,
            preview_cache,
        }
    }

    /// One HTTP request answered. `route` is the route's template (`/v1/orders/{id}`), never the
    /// path itself (that would make a series per order); unrouted requests are `unmatched`.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.request_seconds
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
            ])
            .observe(took.as_secs_f64());
    }

    /// One rules-engine call.
    pub fn engine_call(&self, operation: &'static str, took: Duration) {
        self.engine_seconds
            .get_or_create(&vec![("operation", operation.to_owned())])
            .observe(took.as_secs_f64());
    }

    /// An order request answered: a new order, or a replay of an earlier request.
    pub fn order(&self, created: bool) {
        let outcome = if created { "created" } else { "replayed" };
        self.orders
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// An order moved to `status`.
    pub fn transition(&self, status: &str) {
        self.transitions
            .get_or_create(&vec![("status", status.to_owned())])
            .inc();
    }

    /// A webhook delivery attempt: `delivered`, `retry` or `failed` (given up).
    pub fn webhook_attempt(&self, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// The text of every metric, with the scrape-time values set first.
    pub fn render(&self, state: ScrapeState) -> String {
        self.outbox_backlog.set(state.outbox_backlog);
        self.db_connections.set(state.db_connections);
        self.db_idle_connections.set(state.db_idle_connections);
        self.db_max_connections.set(state.db_max_connections);
        self.preview_cache
            .get_or_create(&vec![("result", "hit".to_owned())])
            .set(state.preview_hits);
        self.preview_cache
            .get_or_create(&vec![("result", "miss".to_owned())])
            .set(state.preview_misses);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let m = Metrics::new();
        m.request("GET", "/v1/orders/{id}", 200, Duration::from_millis(3));
        m.engine_call("configure", Duration::from_micros(700));
        m.order(true);
        let text = m.render(ScrapeState {
            outbox_backlog: 4,
            ..ScrapeState::default()
        });
        assert!(text.contains(
            "bespoke_http_requests_total{method=\"GET\",route=\"/v1/orders/{id}\",status=\"200\"} 1"
        ));
        assert!(text.contains("bespoke_outbox_backlog 4"));
        assert!(text.contains("bespoke_engine_call_duration_seconds_bucket{le=\"0.001\",operation=\"configure\"} 1") || text.contains("operation=\"configure\",le=\"0.001\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
