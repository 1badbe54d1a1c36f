//! Product-version pins: which catalog versions contain a given product version, so an order can
//! be validated against the product version a storefront was shown. Written once against
//! `AnyConnection`.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::DbError;
use super::conn::AnyConnection;
use super::error::is_unique_violation;
use super::schema::product_versions;
use crate::orders::{MAX_REF_LEN, SpecError};

/// Most products recorded for one catalog version (as many as a catalog directory holds files).
pub const MAX_PRODUCTS_PER_VERSION: usize = 10_000;

/// How often a put reads and inserts again after losing an insert race to a concurrent put of
/// the same rows (each lost race means another writer stored some of them).
const PUT_ATTEMPTS: usize = 8;

fn check_key(field: &'static str, key: &str) -> Result<(), DbError> {
    if key.is_empty() {
        return Err(DbError::Invalid(SpecError::Empty { field }));
    }
    if key.len() > MAX_REF_LEN {
        return Err(DbError::Invalid(SpecError::TooLong {
            field,
            max: MAX_REF_LEN,
        }));
    }
    Ok(())
}

/// Records that `catalog_version` contains each (product id, product version). Idempotent: rows
/// already stored keep their creation time. All rows or none are written.
pub(crate) fn put(
    conn: &mut AnyConnection,
    catalog_version: &str,
    products: &[(String, String)],
    now: i64,
) -> Result<(), DbError> {
    check_key("catalog_version", catalog_version)?;
    if products.len() > MAX_PRODUCTS_PER_VERSION {
        return Err(DbError::Invalid(SpecError::TooLong {
            field: "products",
            max: MAX_PRODUCTS_PER_VERSION,
        }));
    }
    for (product_id, product_version) in products {
        check_key("product_id", product_id)?;
        check_key("product_version", product_version)?;
    }
    let wanted: BTreeSet<(&str, &str)> = products
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .collect();
    for _ in 0..PUT_ATTEMPTS {
        // Read outside the transaction: on SQLite a transaction that reads before it writes
        // cannot take the write lock while another writer holds it ("database is locked").
        let stored: BTreeSet<(String, String)> = product_versions::table
            .filter(product_versions::catalog_version.eq(catalog_version))
            .select((
                product_versions::product_id,
                product_versions::product_version,
            ))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        let missing: Vec<(&str, &str)> = wanted
            .iter()
            .filter(|(p, v)| !stored.contains(&((*p).to_owned(), (*v).to_owned())))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let written = conn.transaction::<_, DieselError, _>(|c| {
            for &(product_id, product_version) in &missing {
                diesel::insert_into(product_versions::table)
                    .values((
                        product_versions::product_id.eq(product_id),
                        product_versions::product_version.eq(product_version),
                        product_versions::catalog_version.eq(catalog_version),
                        product_versions::created_at.eq(now),
                    ))
                    .execute(c)?;
            }
            Ok(())
        });
        match written {
            Ok(()) => return Ok(()),
            // A concurrent put of the same catalog version inserted a row first: read again.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(DbError::Unavailable(
        "product versions: too many concurrent writers".to_owned(),
    ))
}

/// The most recently recorded catalog version containing the product version, if any.
pub(crate) fn catalog_version_of(
    conn: &mut AnyConnection,
    product_id: &str,
    product_version: &str,
) -> Result<Option<String>, DbError> {
    if product_id.len() > MAX_REF_LEN || product_version.len() > MAX_REF_LEN {
        return Ok(None);
    }
    Ok(product_versions::table
        .filter(product_versions::product_id.eq(product_id))
        .filter(product_versions::product_version.eq(product_version))
        .order((
            product_versions::created_at.desc(),
            product_versions::catalog_version.desc(),
        ))
        .select(product_versions::catalog_version)
        .first::<String>(conn)
        .optional()?)
}
