//! The order repository: idempotent creation (a created order also feeds the sales history and
//! records its print files state, in the same transaction), reads, the keyset-paged feed, status
//! transitions under optimistic concurrency, and the event history (each change writes its
//! webhook events to the outbox in its transaction); and the JSON column helpers the design and
//! history repositories share. Written once against `AnyConnection`.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::DbError;
use super::conn::AnyConnection;
use super::error::is_unique_violation;
use super::history;
use super::print_jobs;
use super::schema::{order_events, orders};
use super::webhooks;
use crate::orders::{
    Cursor, MAX_PAGE_LIMIT, NewOrder, NewOutboxEvent, Order, OrderEvent, OrderFilter, Page,
    PrintPlan, Status, Timestamp, check_note,
};

/// The outbox events a change writes, built inside its transaction from what it wrote.
pub type EventsOf<'a, T> = &'a dyn Fn(&T) -> Result<Vec<NewOutboxEvent>, String>;

/// The order `id` as stored, read inside the caller's transaction.
pub(crate) fn load_in(c: &mut AnyConnection, id: &str) -> Result<Order, DieselError> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(c)?
        .into_order()
        .map_err(|e| DieselError::DeserializationError(e.into()))
}

/// Writes the events `events` builds from `subject` to the outbox (inside the caller's
/// transaction).
pub(crate) fn write_events<T>(
    c: &mut AnyConnection,
    subject: &T,
    events: EventsOf<'_, T>,
    now: i64,
) -> Result<(), DieselError> {
    let list = events(subject).map_err(|e| DieselError::SerializationError(e.into()))?;
    webhooks::enqueue(c, &list, now)?;
    Ok(())
}

/// Longest id looked up; anything longer cannot be an order id.
const MAX_ID_LEN: usize = 64;

#[derive(Queryable, Selectable)]
#[diesel(table_name = orders)]
struct OrderRow {
    id: String,
    idempotency_key: String,
    request_fingerprint: String,
    status: String,
    version: i64,
    product_id: String,
    catalog_version: String,
    selection: String,
    quote: String,
    preview_ref: Option<String>,
    customer_ref: Option<String>,
    metadata: String,
    created_at: i64,
    updated_at: i64,
    design_id: Option<String>,
    filled: String,
    fulfilment: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = orders)]
struct NewOrderRow<'a> {
    id: &'a str,
    idempotency_key: &'a str,
    request_fingerprint: &'a str,
    status: &'a str,
    version: i64,
    product_id: &'a str,
    catalog_version: &'a str,
    selection: &'a str,
    quote: &'a str,
    preview_ref: Option<&'a str>,
    customer_ref: Option<&'a str>,
    metadata: &'a str,
    created_at: i64,
    updated_at: i64,
    design_id: Option<&'a str>,
    filled: &'a str,
    fulfilment: Option<&'a str>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = order_events)]
struct EventRow {
    order_id: String,
    version: i64,
    from_status: Option<String>,
    to_status: String,
    note: Option<String>,
    at: i64,
}

fn status(text: &str) -> Result<Status, DbError> {
    text.parse()
        .map_err(|e: crate::orders::UnknownStatus| DbError::Corrupt(e.to_string()))
}

/// A JSON column read back (`owner` and `field` name it when it is corrupt).
pub(crate) fn from_json<T: DeserializeOwned>(
    owner: &str,
    field: &str,
    text: &str,
) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("{owner} {field}: {e}")))
}

fn json(field: &str, text: &str) -> Result<serde_json::Value, DbError> {
    from_json("order", field, text)
}

/// A value as its JSON column text.
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Backend(e.to_string()))
}

impl OrderRow {
    fn into_order(self) -> Result<Order, DbError> {
        Ok(Order {
            status: status(&self.status)?,
            selection: json("selection", &self.selection)?,
            quote: json("quote", &self.quote)?,
            metadata: json("metadata", &self.metadata)?,
            filled: from_json("order", "filled", &self.filled)?,
            fulfilment: match &self.fulfilment {
                Some(text) => json("fulfilment", text)?,
                None => serde_json::Value::Null,
            },
            design_id: self.design_id,
            id: self.id,
            version: self.version,
            idempotency_key: self.idempotency_key,
            product_id: self.product_id,
            catalog_version: self.catalog_version,
            preview_ref: self.preview_ref,
            customer_ref: self.customer_ref,
            created_at: Timestamp::from_unix_micros(self.created_at),
            updated_at: Timestamp::from_unix_micros(self.updated_at),
        })
    }
}

impl EventRow {
    fn into_event(self) -> Result<OrderEvent, DbError> {
        Ok(OrderEvent {
            from: self.from_status.as_deref().map(status).transpose()?,
            to: status(&self.to_status)?,
            order_id: self.order_id,
            version: self.version,
            note: self.note,
            at: Timestamp::from_unix_micros(self.at),
        })
    }
}

fn row_by_key(conn: &mut AnyConnection, key: &str) -> Result<Option<OrderRow>, DbError> {
    Ok(orders::table
        .filter(orders::idempotency_key.eq(key))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

fn row_by_id(conn: &mut AnyConnection, id: &str) -> Result<OrderRow, DbError> {
    if id.len() > MAX_ID_LEN {
        return Err(DbError::NotFound);
    }
    Ok(orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)?)
}

/// The stored order for a replayed key, or the conflict when the body differs.
fn replay(row: OrderRow, fingerprint: &str) -> Result<(Order, bool), DbError> {
    if row.request_fingerprint == fingerprint {
        Ok((row.into_order()?, false))
    } else {
        Err(DbError::IdempotencyConflict {
            existing_order: row.id,
        })
    }
}

pub(crate) fn create(
    conn: &mut AnyConnection,
    new: &NewOrder,
    events: EventsOf<'_, Order>,
    print: Option<&PrintPlan>,
    now: i64,
) -> Result<(Order, bool), DbError> {
    new.validate()?;
    // Most replays end here, without taking the write lock.
    if let Some(row) = row_by_key(conn, &new.idempotency_key)? {
        return replay(row, &new.fingerprint);
    }
    let id = Uuid::now_v7().hyphenated().to_string();
    let (selection, quote, metadata, filled) = (
        to_json(&new.selection)?,
        to_json(&new.quote)?,
        to_json(&new.metadata)?,
        to_json(&new.filled)?,
    );
    let fulfilment = match &new.fulfilment {
        serde_json::Value::Null => None,
        v => Some(to_json(v)?),
    };
    let row = NewOrderRow {
        id: &id,
        idempotency_key: &new.idempotency_key,
        request_fingerprint: &new.fingerprint,
        status: Status::INITIAL.as_str(),
        version: 1,
        product_id: &new.product_id,
        catalog_version: &new.catalog_version,
        selection: &selection,
        quote: &quote,
        preview_ref: new.preview_ref.as_deref(),
        customer_ref: new.customer_ref.as_deref(),
        metadata: &metadata,
        created_at: now,
        updated_at: now,
        design_id: new.design_id.as_deref(),
        filled: &filled,
        fulfilment: fulfilment.as_deref(),
    };
    let event = EventRow {
        order_id: id.clone(),
        version: 1,
        from_status: None,
        to_status: Status::INITIAL.as_str().to_owned(),
        note: None,
        at: now,
    };
    // The unique index on idempotency_key decides races: exactly one insert commits.
    let inserted = conn.transaction::<_, DieselError, _>(|c| {
        diesel::insert_into(orders::table).values(&row).execute(c)?;
        diesel::insert_into(order_events::table)
            .values(&event)
            .execute(c)?;
        // Its print files (ready, or the job that makes them): acknowledged together.
        if let Some(plan) = print {
            print_jobs::insert_for_order(c, &id, plan, now)?;
        }
        // Its webhook events, in the same transaction (the transactional outbox); before the
        // sale, so that the history's turn is held only until the commit.
        let order = orders::table
            .find(&id)
            .select(OrderRow::as_select())
            .first(c)?
            .into_order()
            .map_err(|e| DieselError::DeserializationError(e.into()))?;
        write_events(c, &order, events, now)?;
        // The order's sale, once: a replay or a lost race never gets here (or rolls it back).
        history::record_order(
            c,
            &id,
            &new.product_id,
            &new.catalog_version,
            &selection,
            new.customer_ref.as_deref(),
            now,
        )
    });
    match inserted {
        Ok(()) => Ok((row_by_id(conn, &id)?.into_order()?, true)),
        Err(e) if is_unique_violation(&e) => match row_by_key(conn, &new.idempotency_key)? {
            Some(row) => replay(row, &new.fingerprint),
            None => Err(DbError::from(e)),
        },
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn get(conn: &mut AnyConnection, id: &str) -> Result<Order, DbError> {
    row_by_id(conn, id)?.into_order()
}

pub(crate) fn list(
    conn: &mut AnyConnection,
    filter: OrderFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<Order>, DbError> {
    let limit = limit.clamp(1, MAX_PAGE_LIMIT);
    let after = cursor
        .map(Cursor::decode)
        .transpose()
        .map_err(|_| DbError::BadCursor)?;
    let mut query = orders::table
        .select(OrderRow::as_select())
        .order(orders::id.asc())
        .limit(i64::from(limit) + 1)
        .into_boxed();
    if let Some(st) = filter.status {
        query = query.filter(orders::status.eq(st.as_str()));
    }
    if let Some(c) = &after {
        query = query.filter(orders::id.gt(c.after_id()));
    }
    let mut rows: Vec<OrderRow> = query.load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let items = rows
        .into_iter()
        .map(OrderRow::into_order)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = match items.last() {
        Some(last) if more => Cursor::after(&last.id).map(|c| c.encode()),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn transition(
    conn: &mut AnyConnection,
    id: &str,
    to: Status,
    expected_version: i64,
    note: Option<String>,
    events: EventsOf<'_, (Order, Status)>,
    now: i64,
) -> Result<Order, DbError> {
    check_note(note.as_deref())?;
    let current = row_by_id(conn, id)?;
    if current.version != expected_version {
        return Err(DbError::VersionConflict {
            current: current.version,
        });
    }
    let from = status(&current.status)?;
    from.transition(to)?;
    let event = EventRow {
        order_id: current.id.clone(),
        version: expected_version + 1,
        from_status: Some(from.as_str().to_owned()),
        to_status: to.as_str().to_owned(),
        note,
        at: now,
    };
    let updated_at = now.max(current.updated_at);
    // Exactly what this call writes (a later writer may already have moved the order on).
    let current_id = current.id.clone();
    let mut order = current.into_order()?;
    order.status = to;
    order.version = expected_version + 1;
    order.updated_at = Timestamp::from_unix_micros(updated_at);
    let changed = (order, from);
    // Compare-and-set on (version, status): a writer that read the same version and got here
    // first makes this update match no row.
    let applied = conn.transaction::<_, DieselError, _>(|c| {
        let n = diesel::update(
            orders::table
                .filter(orders::id.eq(&current_id))
                .filter(orders::version.eq(expected_version))
                .filter(orders::status.eq(from.as_str())),
        )
        .set((
            orders::status.eq(to.as_str()),
            orders::version.eq(expected_version + 1),
            orders::updated_at.eq(updated_at),
        ))
        .execute(c)?;
        if n == 0 {
            return Ok(false);
        }
        diesel::insert_into(order_events::table)
            .values(&event)
            .execute(c)?;
        // After the update, which holds the order's row: an order's events enter the outbox in
        // the order of its versions.
        write_events(c, &changed, events, now)?;
        Ok(true)
    })?;
    if !applied {
        return Err(DbError::VersionConflict {
            current: row_by_id(conn, id)?.version,
        });
    }
    Ok(changed.0)
}

pub(crate) fn events(conn: &mut AnyConnection, id: &str) -> Result<Vec<OrderEvent>, DbError> {
    let order = row_by_id(conn, id)?;
    order_events::table
        .filter(order_events::order_id.eq(&order.id))
        .order(order_events::version.asc())
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(EventRow::into_event)
        .collect()
}
