//! Blobs in the database: `DbBlobStore` (the default `BlobStore`: uploads, their originals and print files in the `blobs` table, so every instance on the same database answers the same) and the upload references retention keeps (`upload_refs`). Written once against `AnyConnection`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::prelude::*;

use super::conn::AnyConnection;
use super::error::is_unique_violation;
use super::schema::{blobs, upload_refs};
use super::{Db, DbError, now_micros};
use crate::orders::Timestamp;
use crate::preview::blob::{
    Blob, BlobError, BlobInfo, BlobKind, BlobStore, Listed, check_id, check_put, sha256_hex,
};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = blobs)]
struct BlobRow {
    kind: String,
    id: String,
    content_type: String,
    size: i64,
    sha256: String,
    created_at: i64,
    bytes: Vec<u8>,
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .unwrap_or(0)
}

fn time_of(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

impl From<DbError> for BlobError {
    fn from(e: DbError) -> BlobError {
        BlobError::Unavailable(e.to_string())
    }
}

fn db_err(e: diesel::result::Error) -> BlobError {
    DbError::from(e).into()
}

/// Blobs in the `blobs` table of a [`Db`] (SQLite or PostgreSQL).
#[derive(Debug, Clone)]
pub struct DbBlobStore {
    db: Db,
}

impl DbBlobStore {
    pub fn new(db: Db) -> DbBlobStore {
        DbBlobStore { db }
    }

    fn conn(&self) -> Result<diesel::r2d2::PooledConnection<super::conn::Manager>, BlobError> {
        Ok(self.db.conn()?)
    }
}

fn kind_of(conn_kind: &str, id: &str) -> Result<BlobKind, BlobError> {
    BlobKind::parse(conn_kind).ok_or_else(|| BlobError::Corrupt {
        kind: "unknown",
        id: id.to_owned(),
    })
}

fn stored(conn: &mut AnyConnection, kind: BlobKind, id: &str) -> Result<bool, BlobError> {
    Ok(blobs::table
        .filter(blobs::kind.eq(kind.as_str()))
        .filter(blobs::id.eq(id))
        .select(blobs::id)
        .first::<String>(conn)
        .optional()
        .map_err(db_err)?
        .is_some())
}

impl BlobStore for DbBlobStore {
    fn put(
        &self,
        kind: BlobKind,
        id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<bool, BlobError> {
        check_put(id, content_type, bytes)?;
        let conn = &mut *self.conn()?;
        // Checked first so that the bytes of a blob already stored are not sent again.
        if stored(conn, kind, id)? {
            return Ok(false);
        }
        let row = BlobRow {
            kind: kind.as_str().to_owned(),
            id: id.to_owned(),
            content_type: content_type.to_owned(),
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: sha256_hex(bytes),
            created_at: now_micros(),
            bytes: bytes.to_vec(),
        };
        match diesel::insert_into(blobs::table).values(&row).execute(conn) {
            Ok(_) => Ok(true),
            // Another instance stored the same id meanwhile: the first one is kept.
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(db_err(e)),
        }
    }

    fn get(&self, kind: BlobKind, id: &str) -> Result<Option<Blob>, BlobError> {
        check_id(id)?;
        let conn = &mut *self.conn()?;
        let Some(row) = blobs::table
            .filter(blobs::kind.eq(kind.as_str()))
            .filter(blobs::id.eq(id))
            .select(BlobRow::as_select())
            .first(conn)
            .optional()
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        if sha256_hex(&row.bytes) != row.sha256 {
            return Err(BlobError::Corrupt {
                kind: kind.as_str(),
                id: id.to_owned(),
            });
        }
        Ok(Some(Blob {
            info: BlobInfo {
                kind: kind_of(&row.kind, id)?,
                id: row.id,
                content_type: row.content_type,
                size: u64::try_from(row.size).unwrap_or(0),
                sha256: row.sha256,
                created_at: time_of(row.created_at),
            },
            bytes: row.bytes,
        }))
    }

    fn contains(&self, kind: BlobKind, id: &str) -> Result<bool, BlobError> {
        check_id(id)?;
        stored(&mut *self.conn()?, kind, id)
    }

    fn delete(&self, kind: BlobKind, id: &str) -> Result<bool, BlobError> {
        check_id(id)?;
        let n = diesel::delete(
            blobs::table
                .filter(blobs::kind.eq(kind.as_str()))
                .filter(blobs::id.eq(id)),
        )
        .execute(&mut *self.conn()?)
        .map_err(db_err)?;
        Ok(n > 0)
    }

    fn list_older_than(
        &self,
        kind: BlobKind,
        before: SystemTime,
        after: Option<&Listed>,
        limit: usize,
    ) -> Result<Vec<Listed>, BlobError> {
        let mut q = blobs::table
            .filter(blobs::kind.eq(kind.as_str()))
            .filter(blobs::created_at.lt(micros(before)))
            .into_boxed();
        if let Some(a) = after {
            let t = micros(a.created_at);
            q = q.filter(
                blobs::created_at
                    .gt(t)
                    .or(blobs::created_at.eq(t).and(blobs::id.gt(a.id.clone()))),
            );
        }
        let rows: Vec<(i64, String)> = q
            .order((blobs::created_at.asc(), blobs::id.asc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select((blobs::created_at, blobs::id))
            .load(&mut *self.conn()?)
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(t, id)| Listed {
                created_at: time_of(t),
                id,
            })
            .collect())
    }
}

/// Records that a design or an order refers to an upload: kept until `until` (a design's
/// expiry), or forever (`None`: an order, or a design that never expires). A reference only
/// ever lengthens what is kept.
pub(crate) fn reference_upload(
    conn: &mut AnyConnection,
    upload_id: &str,
    until: Option<i64>,
    now: i64,
) -> Result<(), DbError> {
    let found: Option<Option<i64>> = upload_refs::table
        .find(upload_id)
        .select(upload_refs::kept_until)
        .first(conn)
        .optional()?;
    if found.is_none() {
        let inserted = diesel::insert_into(upload_refs::table)
            .values((
                upload_refs::upload_id.eq(upload_id),
                upload_refs::kept_until.eq(until),
                upload_refs::created_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(()),
            // Referred to meanwhile by another request: lengthen that reference instead.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let target = upload_refs::table
        .filter(upload_refs::upload_id.eq(upload_id))
        .filter(upload_refs::kept_until.is_not_null());
    match until {
        None => {
            diesel::update(target)
                .set(upload_refs::kept_until.eq(None::<i64>))
                .execute(conn)?;
        }
        Some(u) => {
            diesel::update(target.filter(upload_refs::kept_until.lt(u)))
                .set(upload_refs::kept_until.eq(Some(u)))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Whether a design or an order still refers to an upload at `now`.
pub(crate) fn upload_referenced(
    conn: &mut AnyConnection,
    upload_id: &str,
    now: i64,
) -> Result<bool, DbError> {
    let found: Option<Option<i64>> = upload_refs::table
        .find(upload_id)
        .select(upload_refs::kept_until)
        .first(conn)
        .optional()?;
    Ok(matches!(found, Some(None)) || matches!(found, Some(Some(t)) if t > now))
}

#[derive(QueryableByName)]
struct RefId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    upload_id: String,
}

/// Of `ids`, the uploads a design or an order still refers to at `now` (one query; ids that are
/// not upload ids are left out).
pub(crate) fn referenced_uploads(
    conn: &mut AnyConnection,
    ids: &[String],
    now: i64,
) -> Result<Vec<String>, DbError> {
    use crate::preview::upload::is_upload_id;
    // Upload ids are 64 hex digits: safe to write into the statement.
    let list: Vec<String> = ids
        .iter()
        .filter(|id| is_upload_id(id))
        .map(|id| format!("'{id}'"))
        .collect();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<RefId> = diesel::sql_query(format!(
        "SELECT upload_id FROM upload_refs WHERE upload_id IN ({}) \
         AND (kept_until IS NULL OR kept_until > {now})",
        list.join(", ")
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.upload_id).collect())
}

/// Deletes an upload's reference (once the upload itself is deleted); returns how many rows.
pub(crate) fn forget_upload(conn: &mut AnyConnection, upload_id: &str) -> Result<u64, DbError> {
    let n = diesel::delete(upload_refs::table.find(upload_id)).execute(conn)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl Db {
    /// Records that a design or an order refers to an upload, kept until `until` (a design's
    /// expiry) or forever (`None`). Only lengthens: a later, shorter reference changes nothing.
    pub fn reference_upload(
        &self,
        upload_id: &str,
        until: Option<Timestamp>,
    ) -> Result<(), DbError> {
        reference_upload(
            &mut *self.conn()?,
            upload_id,
            until.map(Timestamp::unix_micros),
            now_micros(),
        )
    }

    /// Whether a design or an order still refers to an upload at `now`.
    pub fn upload_referenced(&self, upload_id: &str, now: Timestamp) -> Result<bool, DbError> {
        upload_referenced(&mut *self.conn()?, upload_id, now.unix_micros())
    }

    /// Of `ids`, the uploads a design or an order still refers to at `now`.
    pub fn referenced_uploads(
        &self,
        ids: &[String],
        now: Timestamp,
    ) -> Result<Vec<String>, DbError> {
        referenced_uploads(&mut *self.conn()?, ids, now.unix_micros())
    }

    /// Deletes an upload's expired reference (after the upload itself was deleted).
    pub fn forget_upload(&self, upload_id: &str) -> Result<u64, DbError> {
        forget_upload(&mut *self.conn()?, upload_id)
    }
}
