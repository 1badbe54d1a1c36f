//! Webhooks: registration (URL, events and secret checked; targets on private networks refused
//! unless allowed), the events each change writes to the outbox in its own transaction, the
//! delivery workers (claim, sign, POST, retry with backoff and jitter, log), and the signature.
//!
//! Delivery is at least once: a delivery is marked delivered only after a 2xx answer, so a crash
//! between the answer and the mark sends it again (receivers deduplicate by event id). Events of
//! one order reach each endpoint in order: a later one waits until the earlier one was
//! delivered or given up (see `db/webhooks.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;

use super::designs::DesignView;
use super::metrics::Metrics;
use super::orders::{OrderStatus, OrderView};
use super::uploads::OrderUpload;
use super::{App, AppError};
use crate::config::WebhookSettings;
use crate::db::{Db, DbError};
use crate::orders::FilesState;
use crate::orders::{
    Attempt, ClaimedDelivery, Delivery, DeliveryState, EventType, MAX_WEBHOOK_EVENTS,
    MAX_WEBHOOK_SECRET_LEN, MAX_WEBHOOK_URL_LEN, MAX_WEBHOOKS, MIN_WEBHOOK_SECRET_LEN,
    NewOutboxEvent, Order, Outcome, Status, Timestamp, Webhook,
};

/// The request header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Bespoke-Signature";
/// The request header carrying the event id (also in the body), for receivers' deduplication.
pub const EVENT_ID_HEADER: &str = "Bespoke-Event-Id";
/// Most bytes of an endpoint's answer read (the answer is not used; reading it lets the
/// connection be reused).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Why a webhook call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    #[error(
        "the webhook host `{host}` resolves to {address}, a loopback, private or otherwise \
         non-public address (allowed only with --webhook-allow-private)"
    )]
    PrivateAddress { host: String, address: IpAddr },
    #[error("the webhook host `{host}` cannot be resolved: {reason}")]
    Unresolvable { host: String, reason: String },
    #[error("unknown event `{event}` (known: {})", known_events())]
    UnknownEvent { event: String },
    #[error("a webhook subscribes to 1 to {max} events")]
    EventCount { max: usize },
    #[error("the secret must be {min} to {max} bytes")]
    SecretLength { min: usize, max: usize },
    #[error("at most {max} webhooks can be registered")]
    TooMany { max: usize },
    #[error("webhook `{0}` not found")]
    NotFound(String),
}

fn known_events() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

/// A webhook to register, as the HTTP layer read it.
#[derive(Debug, Clone)]
pub struct RegisterWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
}

/// A registered webhook (its secret is never shown again).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<EventType>,
    /// The secret's last four characters, to tell secrets apart.
    pub secret_hint: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub links: WebhookLinks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub deliveries: String,
}

impl WebhookView {
    pub fn of(w: &Webhook) -> WebhookView {
        let hint: String = w
            .secret
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        WebhookView {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            secret_hint: format!("…{hint}"),
            created_at: w.created_at,
            links: WebhookLinks {
                this: format!("/v1/admin/webhooks/{}", w.id),
                deliveries: format!("/v1/admin/webhooks/{}/deliveries", w.id),
            },
        }
    }
}

/// Every registered webhook.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt.
    pub attempt: i64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub duration_ms: i64,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why the attempt failed (no answer, a non-2xx status, a refused address).
    pub error: Option<String>,
}

/// One event sent (or being sent) to one webhook, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event_id: String,
    pub event_type: EventType,
    /// What the event is about: `order:<id>` or `design:<id>`.
    pub subject: String,
    pub state: DeliveryState,
    pub attempts: Vec<AttemptView>,
    /// When a pending delivery is tried next.
    #[schema(value_type = Option<String>)]
    pub next_attempt_at: Option<Timestamp>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it was delivered or given up.
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<Timestamp>,
}

impl DeliveryView {
    pub fn of(d: &Delivery) -> DeliveryView {
        DeliveryView {
            id: d.id,
            event_id: d.event_id.clone(),
            event_type: d.event_type,
            subject: d.subject.clone(),
            state: d.state,
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    at: a.at,
                    duration_ms: a.duration_ms,
                    status_code: a.status_code,
                    error: a.error.clone(),
                })
                .collect(),
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            finished_at: d.finished_at,
        }
    }
}

/// A webhook's delivery log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryLog {
    pub webhook_id: String,
    pub items: Vec<DeliveryView>,
}

/// The body of every webhook request: the event id (receivers deduplicate by it), its type,
/// when it happened and what it is about (`data`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// A UUID v7, the same in every attempt.
    pub id: String,
    #[serde(flatten)]
    pub body: EventBody,
    /// When the change committed (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

/// What happened, by `type`, with its `data`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    #[serde(rename = "order.created")]
    OrderCreated { order: OrderView },
    #[serde(rename = "order.files_ready")]
    OrderFilesReady { order: OrderView },
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged {
        order: OrderView,
        previous_status: OrderStatus,
    },
    #[serde(rename = "design.created")]
    DesignCreated { design: DesignView },
}

impl EventBody {
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::OrderCreated { .. } => EventType::OrderCreated,
            EventBody::OrderFilesReady { .. } => EventType::OrderFilesReady,
            EventBody::OrderStatusChanged { .. } => EventType::OrderStatusChanged,
            EventBody::DesignCreated { .. } => EventType::DesignCreated,
        }
    }

    fn subject(&self) -> String {
        match self {
            EventBody::OrderCreated { order }
            | EventBody::OrderFilesReady { order }
            | EventBody::OrderStatusChanged { order, .. } => format!("order:{}", order.id),
            EventBody::DesignCreated { design } => format!("design:{}", design.id),
        }
    }
}

fn now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .unwrap_or(0);
    Timestamp::from_unix_micros(micros)
}

/// The outbox row of an event: a new id, now, and the body frozen as the bytes every attempt
/// sends.
pub fn outbox_event(body: EventBody) -> Result<NewOutboxEvent, String> {
    let event = WebhookEvent {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        created_at: now(),
        body,
    };
    Ok(NewOutboxEvent {
        payload: serde_json::to_string(&event).map_err(|e| e.to_string())?,
        event_type: event.body.event_type(),
        subject: event.body.subject(),
        id: event.id,
    })
}

/// `order.created` for an order just inserted, with the uploads it uses.
pub fn order_created(
    order: &Order,
    uploads: Vec<OrderUpload>,
    files_state: Option<FilesState>,
) -> Result<Vec<NewOutboxEvent>, String> {
    let order = OrderView::of(order, uploads, files_state).map_err(|e| e.to_string())?;
    Ok(vec![outbox_event(EventBody::OrderCreated { order })?])
}

/// `order.status_changed` for an order as a transition wrote it, with its previous status.
pub fn order_status_changed(
    (order, from): &(Order, Status),
    uploads: Vec<OrderUpload>,
    files_state: Option<FilesState>,
) -> Result<Vec<NewOutboxEvent>, String> {
    let order = OrderView::of(order, uploads, files_state).map_err(|e| e.to_string())?;
    Ok(vec![outbox_event(EventBody::OrderStatusChanged {
        order,
        previous_status: (*from).into(),
    })?])
}

/// `order.files_ready`: written in the transaction that records an order's print files (the
/// print job's completing one; with the order's creation when they were rendered inline).
pub fn order_files_ready(
    order: &Order,
    uploads: Vec<OrderUpload>,
    files_state: Option<FilesState>,
) -> Result<NewOutboxEvent, AppError> {
    let order = OrderView::of(order, uploads, files_state)?;
    outbox_event(EventBody::OrderFilesReady { order }).map_err(AppError::Internal)
}

/// `design.created` for a design just saved.
pub fn design_created(design: DesignView) -> Result<Vec<NewOutboxEvent>, String> {
    Ok(vec![outbox_event(EventBody::DesignCreated { design })?])
}

/// The `Bespoke-Signature` value of `body` sent at `t` (unix seconds): `t=<t>,v1=<hex of
/// HMAC-SHA256(secret, "<t>.<body>")>`, the scheme Stripe uses.
pub fn signature(secret: &str, t: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map(|mut mac| {
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        crate::config::hex(&mac.finalize().into_bytes())
    });
    format!("t={t},v1={}", mac.unwrap_or_default())
}

/// Whether `ip` is an address webhooks may reach by default: not loopback, private,
/// link-local, unique-local, unspecified, multicast, broadcast, shared (CGNAT), documentation,
/// benchmarking or reserved, also when embedded in IPv6 (IPv4-mapped, IPv4-compatible, NAT64,
/// 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    if s[..6] == [0, 0, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        if ip.is_unspecified() || ip.is_loopback() {
            return false;
        }
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // 6to4 (2002::/16) embeds one in its second and third segments.
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation 2001:db8::/32
}

/// A parsed webhook URL: `http` or `https`, a host, no credentials, no fragment.
fn parse_url(text: &str) -> Result<url::Url, WebhookError> {
    if text.is_empty() || text.len() > MAX_WEBHOOK_URL_LEN {
        return Err(WebhookError::InvalidUrl(format!(
            "a URL of 1 to {MAX_WEBHOOK_URL_LEN} bytes is required"
        )));
    }
    let url = url::Url::parse(text).map_err(|e| WebhookError::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(WebhookError::InvalidUrl(format!(
            "scheme `{}`: use http or https",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(WebhookError::InvalidUrl("the URL has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookError::InvalidUrl(
            "credentials in the URL are not accepted (use the signature)".into(),
        ));
    }
    if url.fragment().is_some() {
        return Err(WebhookError::InvalidUrl("the URL has a fragment".into()));
    }
    Ok(url)
}

/// Resolves the URL's host and refuses it when any of its addresses is not public (unless
/// `allow_private`).
fn check_target(url: &url::Url, allow_private: bool) -> Result<(), WebhookError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        _ => (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| WebhookError::Unresolvable {
                host: host.clone(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(WebhookError::Unresolvable {
            host,
            reason: "no address".into(),
        });
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(WebhookError::PrivateAddress {
            host,
            address: bad.ip(),
        });
    }
    Ok(())
}

fn not_found(id: &str) -> impl Fn(DbError) -> AppError + '_ {
    move |e| match e {
        DbError::NotFound => WebhookError::NotFound(id.to_owned()).into(),
        other => other.into(),
    }
}

impl App {
    /// Registers a webhook after checking its URL (and that its host resolves to public
    /// addresses, unless `--webhook-allow-private`), events and secret.
    pub fn register_webhook(&self, req: RegisterWebhook) -> Result<WebhookView, AppError> {
        let url = parse_url(&req.url)?;
        if req.events.is_empty() || req.events.len() > MAX_WEBHOOK_EVENTS {
            return Err(WebhookError::EventCount {
                max: MAX_WEBHOOK_EVENTS,
            }
            .into());
        }
        let mut events = Vec::with_capacity(req.events.len());
        for e in &req.events {
            let kind = EventType::parse(e).ok_or_else(|| WebhookError::UnknownEvent {
                event: e.chars().take(64).collect(),
            })?;
            if !events.contains(&kind) {
                events.push(kind);
            }
        }
        if !(MIN_WEBHOOK_SECRET_LEN..=MAX_WEBHOOK_SECRET_LEN).contains(&req.secret.len()) {
            return Err(WebhookError::SecretLength {
                min: MIN_WEBHOOK_SECRET_LEN,
                max: MAX_WEBHOOK_SECRET_LEN,
            }
            .into());
        }
        check_target(&url, self.settings.webhooks.allow_private)?;
        let hook = self
            .db
            .create_webhook(url.as_str(), &events, &req.secret)
            .map_err(|e| match e {
                DbError::TooMany { .. } => WebhookError::TooMany { max: MAX_WEBHOOKS }.into(),
                other => AppError::from(other),
            })?;
        tracing::info!(webhook = %hook.id, url = %hook.url, "webhook registered");
        Ok(WebhookView::of(&hook))
    }

    /// Every registered webhook.
    pub fn webhooks(&self) -> Result<WebhookList, AppError> {
        Ok(WebhookList {
            items: self
                .db
                .list_webhooks()?
                .iter()
                .map(WebhookView::of)
                .collect(),
        })
    }

    /// Removes a webhook; its pending deliveries are dropped with it.
    pub fn delete_webhook(&self, id: &str) -> Result<(), AppError> {
        self.db.delete_webhook(id).map_err(not_found(id))?;
        tracing::info!(webhook = %id, "webhook deleted");
        Ok(())
    }

    /// A webhook's latest deliveries (at most `limit`), each with its attempts.
    pub fn webhook_deliveries(&self, id: &str, limit: u32) -> Result<DeliveryLog, AppError> {
        let items = self
            .db
            .webhook_deliveries(id, limit)
            .map_err(not_found(id))?;
        Ok(DeliveryLog {
            webhook_id: id.to_owned(),
            items: items.iter().map(DeliveryView::of).collect(),
        })
    }
}

/// What the delivery threads share with the app: a wake-up signal and a stop flag.
#[derive(Debug, Default)]
struct Signal {
    generation: Mutex<u64>,
    cv: Condvar,
    stop: AtomicBool,
    /// When old events were last purged (one worker does it, every `PURGE_EVERY`).
    last_purge: Mutex<Option<Instant>>,
}

/// How often old events and their log are deleted (see `WebhookSettings::retention`).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

impl Signal {
    fn generation(&self) -> u64 {
        self.generation.lock().map_or(0, |g| *g)
    }

    fn wake(&self) {
        if let Ok(mut g) = self.generation.lock() {
            *g = g.wrapping_add(1);
        }
        self.cv.notify_all();
    }

    /// Waits until woken after `seen`, stopped, or `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        if let Ok(g) = self.generation.lock() {
            let _ = self.cv.wait_timeout_while(g, timeout, |g| {
                *g == seen && !self.stop.load(Ordering::Relaxed)
            });
        }
    }
}

/// The delivery workers of this process: started with the app, stopped when it is dropped
/// (each finishes the attempt it is making). Holds no state of its own: everything is in the
/// database, so a restart (or another instance) picks up where this one stopped.
#[derive(Debug)]
pub struct Outbox {
    signal: Arc<Signal>,
}

impl Outbox {
    /// Starts `settings.workers` delivery threads on `db`.
    pub fn start(db: &Db, settings: &WebhookSettings, metrics: &Arc<Metrics>) -> Outbox {
        let signal = Arc::new(Signal::default());
        for n in 0..settings.workers {
            let worker = Worker {
                id: format!("{}-{n}", uuid::Uuid::now_v7().simple()),
                db: db.clone(),
                metrics: Arc::clone(metrics),
                agent: agent(settings),
                settings: settings.clone(),
                signal: Arc::clone(&signal),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("webhooks-{n}"))
                .spawn(move || worker.run());
            if let Err(e) = spawned {
                tracing::error!("cannot start a webhook worker: {e}");
            }
        }
        Outbox { signal }
    }

    /// Tells the workers events were written (call after the commit).
    pub fn wake(&self) {
        self.signal.wake();
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.signal.stop.store(true, Ordering::Relaxed);
        self.signal.wake();
    }
}

/// The resolver of delivery requests: the system's, refusing non-public addresses unless
/// allowed. The check happens on the very addresses the request connects to, so a host that
/// resolved to a public address at registration and to a private one now (DNS rebinding) is
/// refused.
struct GuardedResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    allow_private: bool,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

impl ureq::unversioned::resolver::Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if !self.allow_private
            && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(ureq::Error::Other(Box::new(WebhookError::PrivateAddress {
                host: uri.host().unwrap_or_default().to_owned(),
                address: bad.ip(),
            })));
        }
        Ok(addrs)
    }
}

/// The HTTP client of one worker: no redirects (a redirect could lead anywhere), no proxy from
/// the environment, the request time limit, statuses as values.
fn agent(settings: &WebhookSettings) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(settings.timeout))
        .user_agent(concat!("bespoke-webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        GuardedResolver {
            inner: ureq::unversioned::resolver::DefaultResolver::default(),
            allow_private: settings.allow_private,
        },
    )
}

/// One delivery thread.
struct Worker {
    /// Names this thread's claims (a lease held by a dead worker expires).
    id: String,
    db: Db,
    metrics: Arc<Metrics>,
    agent: ureq::Agent,
    settings: WebhookSettings,
    signal: Arc<Signal>,
}

impl Worker {
    fn run(self) {
        tracing::debug!(worker = %self.id, "webhook worker started");
        while !self.signal.stop.load(Ordering::Relaxed) {
            let seen = self.signal.generation();
            match self.db.claim_deliveries(&self.id, self.settings.lease, 1) {
                Ok(claimed) if !claimed.is_empty() => {
                    for d in claimed {
                        self.deliver(d);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("webhook worker cannot claim deliveries: {e}"),
            }
            self.purge_if_due();
            self.signal.wait(seen, self.settings.poll);
        }
        tracing::debug!(worker = %self.id, "webhook worker stopped");
    }

    /// Deletes events older than the retention whose deliveries are all finished, at most once
    /// per `PURGE_EVERY` per process.
    fn purge_if_due(&self) {
        let due = self.signal.last_purge.lock().is_ok_and(|mut t| {
            let due = t.is_none_or(|t| t.elapsed() >= PURGE_EVERY);
            if due {
                *t = Some(Instant::now());
            }
            due
        });
        if !due {
            return;
        }
        let retention = i64::try_from(self.settings.retention.as_micros()).unwrap_or(i64::MAX);
        let before = Timestamp::from_unix_micros(now().unix_micros().saturating_sub(retention));
        match self.db.purge_webhook_events(before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "old webhook events deleted"),
            Err(e) => tracing::warn!("cannot delete old webhook events: {e}"),
        }
    }

    /// Sends one claimed delivery and records the attempt and what follows it.
    fn deliver(&self, d: ClaimedDelivery) {
        let at = now();
        let t = u64::try_from(at.unix_micros() / 1_000_000).unwrap_or(0);
        let start = Instant::now();
        let sent = if parse_url(&d.url).is_err() {
            Err("the stored URL is no longer valid".to_owned())
        } else {
            self.agent
                .post(&d.url)
                .header("content-type", "application/json")
                .header(
                    SIGNATURE_HEADER,
                    signature(&d.secret, t, d.payload.as_bytes()),
                )
                .header(EVENT_ID_HEADER, &d.event_id)
                .send(d.payload.as_bytes())
                .map_err(|e| match e {
                    ureq::Error::Other(inner) => inner.to_string(),
                    other => other.to_string(),
                })
        };
        let (status_code, error) = match sent {
            Ok(mut res) => {
                let _ = res
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER_BYTES)
                    .read_to_vec();
                let status = res.status().as_u16();
                let error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
                (Some(i64::from(status)), error)
            }
            Err(e) => (None, Some(e)),
        };
        let attempt = Attempt {
            attempt: d.attempts + 1,
            at,
            duration_ms: i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
            status_code,
            error,
        };
        let outcome = if attempt.error.is_none() {
            Outcome::Delivered
        } else {
            self.settings.retry.after_failure(
                attempt.attempt,
                d.event_created_at,
                now(),
                fastrand::f64(),
            )
        };
        self.metrics.webhook_attempt(match &outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::GiveUp => "failed",
        });
        match &outcome {
            Outcome::Delivered => {
                tracing::info!(delivery = d.id, event = %d.event_id, webhook = %d.webhook_id, "webhook delivered");
            }
            Outcome::Retry(next) => {
                tracing::warn!(delivery = d.id, event = %d.event_id, webhook = %d.webhook_id,
                    attempt = attempt.attempt, error = ?attempt.error, next = %next, "webhook delivery failed; will retry");
            }
            Outcome::GiveUp => {
                tracing::error!(delivery = d.id, event = %d.event_id, webhook = %d.webhook_id,
                    attempt = attempt.attempt, error = ?attempt.error, "webhook delivery failed; giving up");
            }
        }
        match self.db.record_attempt(&self.id, d.id, &attempt, &outcome) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(delivery = d.id, "webhook delivery's claim was lost"),
            // The lease expires and the delivery is sent again: at least once.
            Err(e) => tracing::warn!(delivery = d.id, "cannot record a webhook attempt: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            let ip: IpAddr = bad.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_public(ip), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = good.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_public(ip), "{good}");
        }
    }

    #[test]
    fn signatures_follow_the_stripe_scheme() {
        // Python: hmac.new(b"whsec_test_secret_1234", b'1700000000.{"a":1}', "sha256").
        let s = signature("whsec_test_secret_1234", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "t=1700000000,v1=09b3dbd0d037bc391fb094acc8a79acc8199cdce9440582d74d96e9f4688d5e6"
        );
        assert_ne!(
            s,
            signature("whsec_test_secret_1235", 1_700_000_000, br#"{"a":1}"#)
        );
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("ftp://example.com/x").is_err());
        assert!(parse_url("http://user:pw@example.com/").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url("https://example.com/hook#x").is_err());
        assert!(parse_url(&format!("https://example.com/{}", "a".repeat(3000))).is_err());
        assert!(parse_url("https://example.com/hook?x=1").is_ok());
        let local = parse_url("http://127.0.0.1:9/x").ok();
        assert!(local.is_some_and(|u| check_target(&u, false).is_err()));
        let mapped = parse_url("http://[::ffff:10.0.0.1]/x").ok();
        assert!(mapped.is_some_and(|u| check_target(&u, false).is_err()));
        let allowed = parse_url("http://127.0.0.1:9/x").ok();
        assert!(allowed.is_some_and(|u| check_target(&u, true).is_ok()));
    }
}
