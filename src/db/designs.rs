//! The saved-design repository: create (with its webhook events, in one transaction), read (an
//! expired design reads as missing) and purge of expired designs. Written once against
//! `AnyConnection`.

use diesel::prelude::*;
use uuid::Uuid;

use super::DbError;
use super::conn::AnyConnection;
use super::orders::{EventsOf, from_json, to_json};
use super::schema::designs;
use crate::orders::{Design, NewDesign, Timestamp};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = designs)]
struct DesignRow {
    id: String,
    product_id: String,
    product_version: String,
    catalog_version: String,
    selection: String,
    quote: String,
    filled: String,
    created_at: i64,
    expires_at: Option<i64>,
}

impl DesignRow {
    fn into_design(self) -> Result<Design, DbError> {
        Ok(Design {
            selection: from_json("design", "selection", &self.selection)?,
            quote: from_json("design", "quote", &self.quote)?,
            filled: from_json("design", "filled", &self.filled)?,
            id: self.id,
            product_id: self.product_id,
            product_version: self.product_version,
            catalog_version: self.catalog_version,
            created_at: Timestamp::from_unix_micros(self.created_at),
            expires_at: self.expires_at.map(Timestamp::from_unix_micros),
        })
    }
}

/// Whether `id` is a design id as this module issues them: a hyphenated lowercase UUID.
fn is_design_id(id: &str) -> bool {
    Uuid::try_parse(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

pub(crate) fn create(
    conn: &mut AnyConnection,
    new: NewDesign,
    events: EventsOf<'_, Design>,
    now: i64,
) -> Result<Design, DbError> {
    new.validate()?;
    let row = DesignRow {
        id: Uuid::now_v7().hyphenated().to_string(),
        selection: to_json(&new.selection)?,
        quote: to_json(&new.quote)?,
        filled: to_json(&new.filled)?,
        product_id: new.product_id,
        product_version: new.product_version,
        catalog_version: new.catalog_version,
        created_at: now,
        expires_at: new.expires_at.map(Timestamp::unix_micros),
    };
    let design = Design {
        id: row.id.clone(),
        product_id: row.product_id.clone(),
        product_version: row.product_version.clone(),
        catalog_version: row.catalog_version.clone(),
        selection: new.selection,
        quote: new.quote,
        filled: new.filled,
        created_at: Timestamp::from_unix_micros(now),
        expires_at: new.expires_at,
    };
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        diesel::insert_into(designs::table)
            .values(&row)
            .execute(c)?;
        let list =
            events(&design).map_err(|e| diesel::result::Error::SerializationError(e.into()))?;
        super::webhooks::enqueue(c, &list, now)
    })?;
    Ok(design)
}

/// The design, unless it is missing, the id is malformed or it has expired at `now`.
pub(crate) fn get(conn: &mut AnyConnection, id: &str, now: i64) -> Result<Design, DbError> {
    if !is_design_id(id) {
        return Err(DbError::NotFound);
    }
    let row: DesignRow = designs::table
        .find(id)
        .filter(
            designs::expires_at
                .is_null()
                .or(designs::expires_at.gt(now)),
        )
        .select(DesignRow::as_select())
        .first(conn)?;
    row.into_design()
}

/// Deletes every design expired at `now`; returns how many.
pub(crate) fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<u64, DbError> {
    let n = diesel::delete(designs::table.filter(designs::expires_at.le(now))).execute(conn)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
