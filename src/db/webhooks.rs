//! The webhook repository and its transactional outbox: registered endpoints, events written in
//! the transaction of the change they report (fanned out to one delivery per subscribed
//! endpoint), claiming due deliveries under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
//! several instances never claim the same one; SQLite serializes writers), recording attempts,
//! and the delivery log. Written once against `AnyConnection`, except the claim statement.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Text};
use uuid::Uuid;

use super::DbError;
use super::conn::AnyConnection;
use super::orders::{from_json, to_json};
use super::schema::{outbox_events, webhook_attempts, webhook_deliveries, webhooks};
use crate::orders::{
    Attempt, ClaimedDelivery, Delivery, DeliveryState, EventType, MAX_ATTEMPT_ERROR_LEN,
    MAX_DELIVERY_PAGE, MAX_WEBHOOKS, NewOutboxEvent, Outcome, Timestamp, Webhook,
};

/// Longest id looked up; anything longer cannot be a webhook id.
const MAX_ID_LEN: usize = 64;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
struct WebhookRow {
    id: String,
    url: String,
    events: String,
    secret: String,
    created_at: i64,
}

impl WebhookRow {
    fn into_webhook(self) -> Result<Webhook, DbError> {
        Ok(Webhook {
            events: event_types(&self.id, &self.events)?,
            id: self.id,
            url: self.url,
            secret: self.secret,
            created_at: Timestamp::from_unix_micros(self.created_at),
        })
    }
}

fn event_types(id: &str, text: &str) -> Result<Vec<EventType>, DbError> {
    from_json::<Vec<String>>("webhook", "events", text)?
        .iter()
        .map(|e| {
            EventType::parse(e)
                .ok_or_else(|| DbError::Corrupt(format!("webhook {id}: unknown event `{e}`")))
        })
        .collect()
}

fn event_type(text: &str) -> Result<EventType, DbError> {
    EventType::parse(text).ok_or_else(|| DbError::Corrupt(format!("unknown event type `{text}`")))
}

/// Writes `events` to the outbox inside the caller's transaction, with one pending delivery per
/// webhook subscribed to each event's type (due now). Returns how many deliveries it created.
pub(crate) fn enqueue(
    c: &mut AnyConnection,
    events: &[NewOutboxEvent],
    now: i64,
) -> QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let hooks: Vec<(String, String)> = webhooks::table
        .select((webhooks::id, webhooks::events))
        .order(webhooks::id.asc())
        .load(c)?;
    let mut created = 0;
    for e in events {
        diesel::insert_into(outbox_events::table)
            .values((
                outbox_events::id.eq(&e.id),
                outbox_events::event_type.eq(e.event_type.as_str()),
                outbox_events::subject.eq(&e.subject),
                outbox_events::payload.eq(&e.payload),
                outbox_events::created_at.eq(now),
            ))
            .execute(c)?;
        let subscribed: Vec<&String> = hooks
            .iter()
            .filter(|(id, types)| event_types(id, types).is_ok_and(|t| t.contains(&e.event_type)))
            .map(|(id, _)| id)
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let seq: i64 = outbox_events::table
            .filter(outbox_events::id.eq(&e.id))
            .select(outbox_events::seq)
            .first(c)?;
        for hook in subscribed {
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::event_seq.eq(seq),
                    webhook_deliveries::webhook_id.eq(hook),
                    webhook_deliveries::subject.eq(&e.subject),
                    webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
                    webhook_deliveries::attempts.eq(0i64),
                    webhook_deliveries::next_attempt_at.eq(now),
                    webhook_deliveries::locked_until.eq(0i64),
                    webhook_deliveries::locked_by.eq(None::<String>),
                    webhook_deliveries::created_at.eq(now),
                    webhook_deliveries::finished_at.eq(None::<i64>),
                ))
                .execute(c)?;
            created += 1;
        }
    }
    Ok(created)
}

/// Writes `events` in a transaction of their own (for changes made elsewhere).
pub(crate) fn enqueue_alone(
    conn: &mut AnyConnection,
    events: &[NewOutboxEvent],
    now: i64,
) -> Result<usize, DbError> {
    Ok(conn.transaction::<_, DieselError, _>(|c| enqueue(c, events, now))?)
}

/// Registers an endpoint under a new UUID v7 id; `TooMany` past `MAX_WEBHOOKS`.
pub(crate) fn create(
    conn: &mut AnyConnection,
    url: &str,
    events: &[EventType],
    secret: &str,
    now: i64,
) -> Result<Webhook, DbError> {
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let row = WebhookRow {
        id: Uuid::now_v7().hyphenated().to_string(),
        url: url.to_owned(),
        events: to_json(&names)?,
        secret: secret.to_owned(),
        created_at: now,
    };
    let inserted = conn.transaction::<_, DieselError, _>(|c| {
        let count: i64 = webhooks::table.count().get_result(c)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_WEBHOOKS {
            return Ok(false);
        }
        diesel::insert_into(webhooks::table)
            .values(&row)
            .execute(c)?;
        Ok(true)
    })?;
    if !inserted {
        return Err(DbError::TooMany {
            what: "webhooks",
            max: MAX_WEBHOOKS,
        });
    }
    row.into_webhook()
}

/// Every registered webhook, oldest first.
pub(crate) fn list(conn: &mut AnyConnection) -> Result<Vec<Webhook>, DbError> {
    webhooks::table
        .order(webhooks::id.asc())
        .select(WebhookRow::as_select())
        .load(conn)?
        .into_iter()
        .map(WebhookRow::into_webhook)
        .collect()
}

pub(crate) fn get(conn: &mut AnyConnection, id: &str) -> Result<Webhook, DbError> {
    if id.len() > MAX_ID_LEN {
        return Err(DbError::NotFound);
    }
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)?
        .into_webhook()
}

/// Removes a webhook and its deliveries; `NotFound` when there is none.
pub(crate) fn delete(conn: &mut AnyConnection, id: &str) -> Result<(), DbError> {
    if id.len() > MAX_ID_LEN {
        return Err(DbError::NotFound);
    }
    let n = diesel::delete(webhooks::table.find(id)).execute(conn)?;
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// A claimed delivery as read: id, webhook id, attempts, event id, payload, event time, URL,
/// secret.
type ClaimTuple = (i64, String, i64, String, String, i64, String, String);
/// An attempt as read: delivery id, attempt, time, duration, status, error.
type AttemptTuple = (i64, i64, i64, i64, Option<i64>, Option<String>);

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The claim: due, free pending deliveries that are the first pending one of their endpoint
/// and subject, leased to `worker` until `until`. PostgreSQL skips rows another claimer holds.
const CLAIM_PG: &str = "UPDATE webhook_deliveries SET locked_until = $1, locked_by = $2 \
    WHERE id IN (SELECT d.id FROM webhook_deliveries d \
        WHERE d.state = 'pending' AND d.next_attempt_at <= $3 AND d.locked_until <= $3 \
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id \
            AND e.subject = d.subject AND e.state = 'pending' AND e.event_seq < d.event_seq) \
        ORDER BY d.next_attempt_at, d.id LIMIT $4 FOR UPDATE SKIP LOCKED) \
    RETURNING id";
const CLAIM_SQLITE: &str = "UPDATE webhook_deliveries SET locked_until = ?, locked_by = ? \
    WHERE id IN (SELECT d.id FROM webhook_deliveries d \
        WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND d.locked_until <= ? \
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id \
            AND e.subject = d.subject AND e.state = 'pending' AND e.event_seq < d.event_seq) \
        ORDER BY d.next_attempt_at, d.id LIMIT ?) \
    RETURNING id";

/// Claims up to `limit` due deliveries for `worker` until `until` (a lease: a claim whose worker
/// died expires then). Only the oldest pending delivery of each (endpoint, subject) is due, so an
/// order's later events wait for its earlier ones to be delivered or given up.
pub(crate) fn claim(
    conn: &mut AnyConnection,
    worker: &str,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, DbError> {
    // A read first: an idle poll takes no write lock (SQLite) and locks no row (PostgreSQL).
    let due: Option<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_deliveries::locked_until.le(now))
        .select(webhook_deliveries::id)
        .first(conn)
        .optional()?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let ids: Vec<ClaimedId> = match conn {
        AnyConnection::Postgres(pg) => pg.transaction(|pg| {
            diesel::sql_query(CLAIM_PG)
                .bind::<BigInt, _>(until)
                .bind::<Text, _>(worker)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load(pg)
        })?,
        AnyConnection::Sqlite(lite) => diesel::sql_query(CLAIM_SQLITE)
            .bind::<BigInt, _>(until)
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = ids.into_iter().map(|c| c.id).collect();
    let rows: Vec<ClaimTuple> = webhook_deliveries::table
        .inner_join(outbox_events::table)
        .inner_join(webhooks::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order(webhook_deliveries::id.asc())
        .select((
            webhook_deliveries::id,
            webhook_deliveries::webhook_id,
            webhook_deliveries::attempts,
            outbox_events::id,
            outbox_events::payload,
            outbox_events::created_at,
            webhooks::url,
            webhooks::secret,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, webhook_id, attempts, event_id, payload, created, url, secret)| ClaimedDelivery {
                id,
                webhook_id,
                url,
                secret,
                event_id,
                payload,
                attempts,
                event_created_at: Timestamp::from_unix_micros(created),
            },
        )
        .collect())
}

/// Records an attempt of a delivery `worker` holds and what follows it; `false` (nothing
/// written) when the worker's lease was lost meanwhile (expired and taken, or the webhook
/// deleted).
pub(crate) fn record(
    conn: &mut AnyConnection,
    worker: &str,
    delivery_id: i64,
    attempt: &Attempt,
    outcome: &Outcome,
    now: i64,
) -> Result<bool, DbError> {
    use webhook_deliveries::dsl as d;
    let (state, next, finished) = match outcome {
        Outcome::Delivered => (DeliveryState::Delivered, now, Some(now)),
        Outcome::Retry(at) => (DeliveryState::Pending, at.unix_micros(), None),
        Outcome::GiveUp => (DeliveryState::Failed, now, Some(now)),
    };
    let mut error = attempt.error.clone();
    if let Some(e) = error.as_mut()
        && e.len() > MAX_ATTEMPT_ERROR_LEN
    {
        let mut cut = MAX_ATTEMPT_ERROR_LEN;
        while !e.is_char_boundary(cut) {
            cut -= 1;
        }
        e.truncate(cut);
    }
    Ok(conn.transaction::<_, DieselError, _>(|c| {
        let n = diesel::update(
            d::webhook_deliveries
                .filter(d::id.eq(delivery_id))
                .filter(d::locked_by.eq(worker))
                .filter(d::state.eq(DeliveryState::Pending.as_str())),
        )
        .set((
            d::state.eq(state.as_str()),
            d::attempts.eq(attempt.attempt),
            d::next_attempt_at.eq(next),
            d::locked_until.eq(0i64),
            d::locked_by.eq(None::<String>),
            d::finished_at.eq(finished),
        ))
        .execute(c)?;
        if n == 0 {
            return Ok(false);
        }
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::delivery_id.eq(delivery_id),
                webhook_attempts::attempt.eq(attempt.attempt),
                webhook_attempts::at.eq(attempt.at.unix_micros()),
                webhook_attempts::duration_ms.eq(attempt.duration_ms),
                webhook_attempts::status_code.eq(attempt.status_code),
                webhook_attempts::error.eq(&error),
            ))
            .execute(c)?;
        Ok(true)
    })?)
}

type DeliveryTuple = (
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    String,
);

/// A webhook's deliveries, newest first (at most `limit`, clamped to 1..=`MAX_DELIVERY_PAGE`),
/// each with its attempts; `NotFound` when there is no such webhook.
pub(crate) fn deliveries(
    conn: &mut AnyConnection,
    webhook_id: &str,
    limit: u32,
) -> Result<Vec<Delivery>, DbError> {
    get(conn, webhook_id)?;
    let limit = limit.clamp(1, MAX_DELIVERY_PAGE);
    let rows: Vec<DeliveryTuple> = webhook_deliveries::table
        .inner_join(outbox_events::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(i64::from(limit))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::subject,
            webhook_deliveries::state,
            webhook_deliveries::webhook_id,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::created_at,
            webhook_deliveries::finished_at,
            outbox_events::id,
            outbox_events::event_type,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut attempts: Vec<AttemptTuple> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .select((
            webhook_attempts::delivery_id,
            webhook_attempts::attempt,
            webhook_attempts::at,
            webhook_attempts::duration_ms,
            webhook_attempts::status_code,
            webhook_attempts::error,
        ))
        .load(conn)?;
    attempts.sort_by_key(|a| (a.0, a.1));
    rows.into_iter()
        .map(
            |(id, subject, state, webhook_id, _, next, created, finished, event_id, kind)| {
                let state = DeliveryState::parse(&state)
                    .ok_or_else(|| DbError::Corrupt(format!("delivery {id}: state `{state}`")))?;
                Ok(Delivery {
                    id,
                    webhook_id,
                    event_id,
                    event_type: event_type(&kind)?,
                    subject,
                    state,
                    attempts: attempts
                        .iter()
                        .filter(|a| a.0 == id)
                        .map(|a| Attempt {
                            attempt: a.1,
                            at: Timestamp::from_unix_micros(a.2),
                            duration_ms: a.3,
                            status_code: a.4,
                            error: a.5.clone(),
                        })
                        .collect(),
                    next_attempt_at: (state == DeliveryState::Pending)
                        .then(|| Timestamp::from_unix_micros(next)),
                    created_at: Timestamp::from_unix_micros(created),
                    finished_at: finished.map(Timestamp::from_unix_micros),
                })
            },
        )
        .collect()
}

/// Deletes the events written before `before` none of whose deliveries is pending, with their
/// deliveries and attempts; returns how many events.
/// How many deliveries are waiting to be sent (pending, whatever their next attempt time).
pub(crate) fn backlog(conn: &mut AnyConnection) -> Result<i64, DbError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .count()
        .get_result(conn)?)
}

pub(crate) fn purge(conn: &mut AnyConnection, before: i64) -> Result<u64, DbError> {
    let pending: Vec<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_deliveries::created_at.lt(before))
        .select(webhook_deliveries::event_seq)
        .load(conn)?;
    let n = diesel::delete(
        outbox_events::table
            .filter(outbox_events::created_at.lt(before))
            .filter(outbox_events::seq.ne_all(pending)),
    )
    .execute(conn)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
