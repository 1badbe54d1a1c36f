//! What the rules engines learned, stored as opaque records per model fingerprint (see `rules::learned`): appended as a warm-up goes, read back in order when a version loads, and pruned to the newest fingerprints of each product.

use diesel::prelude::*;

use super::DbError;
use super::conn::AnyConnection;
use super::error::is_unique_violation;
use super::schema::engine_knowledge;
use crate::orders::SpecError;

/// The largest record stored (the engine writes records of about 8 MiB).
pub const MAX_KNOWLEDGE_RECORD_BYTES: usize = 64 << 20;
/// The most bytes stored for one fingerprint; appends past it are refused.
pub const MAX_KNOWLEDGE_BYTES: i64 = 1 << 30;
/// Fingerprints kept per product (the newest by their last record): the serving model's, and
/// a few before it for a rollback or a rolling deploy.
pub const KEEP_FINGERPRINTS: usize = 3;
const MAX_KEY_LEN: usize = 255;

/// The records stored for one fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeInfo {
    pub fingerprint: String,
    pub product_id: String,
    /// Their sequence numbers, in order.
    pub seqs: Vec<i64>,
    pub bytes: i64,
    /// When the newest was stored (microseconds since the Unix epoch).
    pub newest_at: i64,
}

fn check_key(field: &'static str, key: &str) -> Result<(), DbError> {
    if key.is_empty() {
        return Err(DbError::Invalid(SpecError::Empty { field }));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(DbError::Invalid(SpecError::TooLong {
            field,
            max: MAX_KEY_LEN,
        }));
    }
    Ok(())
}

/// Appends a record for `fingerprint` (of product `product_id`); returns its sequence number.
/// Concurrent writers of the same fingerprint each get their own number.
pub(crate) fn append(
    conn: &mut AnyConnection,
    product_id: &str,
    fingerprint: &str,
    bytes: &[u8],
    now: i64,
) -> Result<i64, DbError> {
    check_key("product_id", product_id)?;
    check_key("fingerprint", fingerprint)?;
    if bytes.is_empty() {
        return Err(DbError::Invalid(SpecError::Empty {
            field: "engine knowledge record",
        }));
    }
    if bytes.len() > MAX_KNOWLEDGE_RECORD_BYTES {
        return Err(DbError::Invalid(SpecError::TooLong {
            field: "engine knowledge record",
            max: MAX_KNOWLEDGE_RECORD_BYTES,
        }));
    }
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    for _ in 0..8 {
        let stored: Vec<(i64, i64)> = engine_knowledge::table
            .filter(engine_knowledge::fingerprint.eq(fingerprint))
            .select((engine_knowledge::seq, engine_knowledge::size))
            .load(conn)?;
        let total: i64 = stored.iter().map(|(_, s)| *s).sum();
        if total.saturating_add(size) > MAX_KNOWLEDGE_BYTES {
            return Err(DbError::Invalid(SpecError::TooLong {
                field: "engine knowledge",
                max: usize::try_from(MAX_KNOWLEDGE_BYTES).unwrap_or(usize::MAX),
            }));
        }
        let seq = stored.iter().map(|(q, _)| *q + 1).max().unwrap_or(0);
        let inserted = diesel::insert_into(engine_knowledge::table)
            .values((
                engine_knowledge::fingerprint.eq(fingerprint),
                engine_knowledge::seq.eq(seq),
                engine_knowledge::product_id.eq(product_id),
                engine_knowledge::size.eq(size),
                engine_knowledge::bytes.eq(bytes),
                engine_knowledge::created_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {
                prune(conn, product_id)?;
                return Ok(seq);
            }
            // Another writer took this number: take the next.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(DbError::Unavailable(
        "engine knowledge: too many concurrent writers".to_owned(),
    ))
}

/// What is stored for a product, per fingerprint, newest first.
pub(crate) fn list(
    conn: &mut AnyConnection,
    product_id: &str,
) -> Result<Vec<KnowledgeInfo>, DbError> {
    let rows: Vec<(String, i64, i64, i64)> = engine_knowledge::table
        .filter(engine_knowledge::product_id.eq(product_id))
        .order((
            engine_knowledge::fingerprint.asc(),
            engine_knowledge::seq.asc(),
        ))
        .select((
            engine_knowledge::fingerprint,
            engine_knowledge::seq,
            engine_knowledge::size,
            engine_knowledge::created_at,
        ))
        .load(conn)?;
    let mut out: Vec<KnowledgeInfo> = Vec::new();
    for (fingerprint, seq, size, at) in rows {
        match out.last_mut() {
            Some(k) if k.fingerprint == fingerprint => {
                k.seqs.push(seq);
                k.bytes = k.bytes.saturating_add(size);
                k.newest_at = k.newest_at.max(at);
            }
            _ => out.push(KnowledgeInfo {
                fingerprint,
                product_id: product_id.to_owned(),
                seqs: vec![seq],
                bytes: size,
                newest_at: at,
            }),
        }
    }
    out.sort_by(|a, b| {
        b.newest_at
            .cmp(&a.newest_at)
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    Ok(out)
}

/// One record.
pub(crate) fn get(
    conn: &mut AnyConnection,
    fingerprint: &str,
    seq: i64,
) -> Result<Vec<u8>, DbError> {
    Ok(engine_knowledge::table
        .find((fingerprint, seq))
        .select(engine_knowledge::bytes)
        .first::<Vec<u8>>(conn)?)
}

/// Deletes the records of every fingerprint of the product but the `KEEP_FINGERPRINTS` newest.
fn prune(conn: &mut AnyConnection, product_id: &str) -> Result<(), DbError> {
    let all = list(conn, product_id)?;
    for old in all.iter().skip(KEEP_FINGERPRINTS) {
        diesel::delete(
            engine_knowledge::table
                .filter(engine_knowledge::product_id.eq(product_id))
                .filter(engine_knowledge::fingerprint.eq(&old.fingerprint)),
        )
        .execute(conn)?;
    }
    Ok(())
}
