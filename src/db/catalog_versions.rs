//! Catalog version snapshots: the files of each catalog version orders pin, stored once per
//! distinct content (sha256) so versions share unchanged files, and read back byte for byte.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::DbError;
use super::conn::AnyConnection;
use super::error::is_unique_violation;
use super::schema::{catalog_blobs, catalog_version_files, catalog_versions};
use crate::orders::{SpecError, Timestamp};

/// Most files in one snapshot (as many as a catalog directory may hold).
pub const MAX_SNAPSHOT_FILES: usize = 10_000;
/// Largest file in a snapshot.
pub const MAX_SNAPSHOT_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Largest snapshot in total.
pub const MAX_SNAPSHOT_BYTES: usize = 512 * 1024 * 1024;
/// Longest version hash and file path.
const MAX_HASH_LEN: usize = 255;
const MAX_PATH_LEN: usize = 1024;

/// A stored catalog version, without its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CatalogVersionInfo {
    pub hash: String,
    pub file_count: i64,
    pub total_bytes: i64,
    /// RFC 3339, UTC.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

/// A stored catalog version with its files, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogVersion {
    pub info: CatalogVersionInfo,
    pub files: Vec<(String, Vec<u8>)>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = catalog_versions)]
struct VersionRow {
    hash: String,
    file_count: i64,
    total_bytes: i64,
    created_at: i64,
}

impl VersionRow {
    fn info(self) -> CatalogVersionInfo {
        CatalogVersionInfo {
            hash: self.hash,
            file_count: self.file_count,
            total_bytes: self.total_bytes,
            created_at: Timestamp::from_unix_micros(self.created_at),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn too_long(field: &'static str, max: usize) -> DbError {
    DbError::Invalid(SpecError::TooLong { field, max })
}

fn check_hash(hash: &str) -> Result<(), DbError> {
    if hash.is_empty() {
        return Err(DbError::Invalid(SpecError::Empty {
            field: "catalog_version",
        }));
    }
    if hash.len() > MAX_HASH_LEN {
        return Err(too_long("catalog_version", MAX_HASH_LEN));
    }
    Ok(())
}

fn exists(conn: &mut AnyConnection, hash: &str) -> Result<bool, DbError> {
    Ok(catalog_versions::table
        .find(hash)
        .select(catalog_versions::hash)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// Stores a version's files unless the version is already stored; `true` when this call stored it.
pub(crate) fn put<'a>(
    conn: &mut AnyConnection,
    hash: &str,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    now: i64,
) -> Result<bool, DbError> {
    check_hash(hash)?;
    // Bounds first, so a bad snapshot is refused before any write.
    let mut by_path: BTreeMap<&str, (&[u8], String)> = BTreeMap::new();
    let mut total = 0usize;
    for (path, bytes) in files {
        if by_path.len() >= MAX_SNAPSHOT_FILES {
            return Err(too_long("files", MAX_SNAPSHOT_FILES));
        }
        if path.is_empty() {
            return Err(DbError::Invalid(SpecError::Empty { field: "path" }));
        }
        if path.len() > MAX_PATH_LEN {
            return Err(too_long("path", MAX_PATH_LEN));
        }
        if bytes.len() > MAX_SNAPSHOT_FILE_BYTES {
            return Err(too_long("file", MAX_SNAPSHOT_FILE_BYTES));
        }
        total = total.saturating_add(bytes.len());
        if total > MAX_SNAPSHOT_BYTES {
            return Err(too_long("snapshot", MAX_SNAPSHOT_BYTES));
        }
        by_path.insert(path, (bytes, sha256_hex(bytes)));
    }
    if exists(conn, hash)? {
        return Ok(false);
    }
    // Contents first, each on its own (a concurrent writer storing the same content is fine).
    let mut stored: BTreeMap<&str, ()> = BTreeMap::new();
    for (bytes, sha) in by_path.values() {
        if stored.insert(sha.as_str(), ()).is_some() {
            continue;
        }
        let present = catalog_blobs::table
            .find(sha.as_str())
            .select(catalog_blobs::sha256)
            .first::<String>(conn)
            .optional()?
            .is_some();
        if present {
            continue;
        }
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let inserted = diesel::insert_into(catalog_blobs::table)
            .values((
                catalog_blobs::sha256.eq(sha.as_str()),
                catalog_blobs::size.eq(size),
                catalog_blobs::bytes.eq(*bytes),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let row = VersionRow {
        hash: hash.to_owned(),
        file_count: i64::try_from(by_path.len()).unwrap_or(i64::MAX),
        total_bytes: i64::try_from(total).unwrap_or(i64::MAX),
        created_at: now,
    };
    let stored = conn.transaction::<_, DieselError, _>(|c| {
        diesel::insert_into(catalog_versions::table)
            .values(&row)
            .execute(c)?;
        for (path, (_, sha)) in &by_path {
            diesel::insert_into(catalog_version_files::table)
                .values((
                    catalog_version_files::version_hash.eq(hash),
                    catalog_version_files::path.eq(*path),
                    catalog_version_files::blob_sha256.eq(sha.as_str()),
                ))
                .execute(c)?;
        }
        Ok(())
    });
    match stored {
        Ok(()) => Ok(true),
        // Another writer stored the same version between our check and our insert.
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn get(conn: &mut AnyConnection, hash: &str) -> Result<CatalogVersion, DbError> {
    if hash.is_empty() || hash.len() > MAX_HASH_LEN {
        return Err(DbError::NotFound);
    }
    let row: VersionRow = catalog_versions::table
        .find(hash)
        .select(VersionRow::as_select())
        .first(conn)?;
    let rows: Vec<(String, String, Vec<u8>)> = catalog_version_files::table
        .inner_join(catalog_blobs::table)
        .filter(catalog_version_files::version_hash.eq(hash))
        .order(catalog_version_files::path.asc())
        .select((
            catalog_version_files::path,
            catalog_blobs::sha256,
            catalog_blobs::bytes,
        ))
        .load(conn)?;
    let mut files = Vec::with_capacity(rows.len());
    for (path, sha, bytes) in rows {
        if sha256_hex(&bytes) != sha {
            return Err(DbError::Corrupt(format!(
                "catalog version {hash}: {path} does not match its checksum"
            )));
        }
        files.push((path, bytes));
    }
    if i64::try_from(files.len()).ok() != Some(row.file_count) {
        return Err(DbError::Corrupt(format!(
            "catalog version {hash}: {} files stored, {} expected",
            files.len(),
            row.file_count
        )));
    }
    Ok(CatalogVersion {
        info: row.info(),
        files,
    })
}

/// Every stored version, oldest first.
pub(crate) fn list(conn: &mut AnyConnection) -> Result<Vec<CatalogVersionInfo>, DbError> {
    Ok(catalog_versions::table
        .order((
            catalog_versions::created_at.asc(),
            catalog_versions::hash.asc(),
        ))
        .select(VersionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(VersionRow::info)
        .collect())
}
