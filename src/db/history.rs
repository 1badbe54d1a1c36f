//! The sales-history repository: the sale each new order feeds (in the order's transaction),
//! idempotent imports of past sales, keyset pages by id for incremental readers, and deletion of
//! a customer's sales. Written once against `AnyConnection` (only the multi-row insert runs on
//! the backend's own connection).
//!
//! Sale and import ids come from the one `history_counters` row, which every transaction that
//! adds sales updates before inserting them: writers take turns on that row until they commit,
//! so ids increase in commit order on both backends, and a reader that has seen sale N has seen every sale below N
//! (an autoincrement or a sequence gives no such promise under concurrent transactions).

use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::DbError;
use super::conn::AnyConnection;
use super::error::is_unique_violation;
use super::orders::from_json;
use super::schema::{history_counters, history_imports, history_sales};
use crate::orders::{
    HistoryState, ImportInfo, MAX_HISTORY_PAGE, MAX_REF_LEN, NewSale, Sale, SaleSource, SpecError,
    Timestamp, check_import,
};

/// The key of the one `history_counters` row.
const COUNTERS_ROW: i64 = 1;
/// Sales inserted per statement in an import: 10 columns each, so 10,000 bind parameters, under
/// SQLite's 32,766 and PostgreSQL's 65,535.
const INSERT_CHUNK: usize = 1_000;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = history_sales, treat_none_as_default_value = false)]
struct SaleRow {
    id: i64,
    product_id: String,
    catalog_version: Option<String>,
    selection: String,
    count: i64,
    customer_ref: Option<String>,
    source: String,
    order_id: Option<String>,
    import_id: Option<i64>,
    created_at: i64,
}

impl SaleRow {
    fn into_sale(self) -> Result<Sale, DbError> {
        Ok(Sale {
            source: self
                .source
                .parse::<SaleSource>()
                .map_err(|e| DbError::Corrupt(format!("sale {}: {e}", self.id)))?,
            selection: from_json("sale", "selection", &self.selection)?,
            id: self.id,
            product_id: self.product_id,
            catalog_version: self.catalog_version,
            count: self.count,
            customer_ref: self.customer_ref,
            order_id: self.order_id,
            import_id: self.import_id,
            created_at: Timestamp::from_unix_micros(self.created_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = history_imports, treat_none_as_default_value = false)]
struct ImportRow {
    id: i64,
    product_id: String,
    content_sha256: String,
    file_name: Option<String>,
    row_count: i64,
    created_at: i64,
}

impl ImportRow {
    fn into_info(self) -> ImportInfo {
        ImportInfo {
            id: self.id,
            product_id: self.product_id,
            content_sha256: self.content_sha256,
            file_name: self.file_name,
            rows: self.row_count,
            created_at: Timestamp::from_unix_micros(self.created_at),
        }
    }
}

/// Takes the history's turn (held until the transaction ends) and issues `sales` sale ids and
/// `imports` import ids: returns the first sale id and the last import id issued.
fn issue_ids(c: &mut AnyConnection, sales: i64, imports: i64) -> QueryResult<(i64, i64)> {
    use history_counters::dsl as h;
    // The update comes first: on SQLite it takes the write lock before anything is read.
    let n = diesel::update(h::history_counters.find(COUNTERS_ROW))
        .set((
            h::last_sale_id.eq(h::last_sale_id + sales),
            h::last_import_id.eq(h::last_import_id + imports),
        ))
        .execute(c)?;
    if n != 1 {
        return Err(DieselError::DeserializationError(
            "history_counters: its row is missing".into(),
        ));
    }
    let (last_sale, last_import): (i64, i64) = h::history_counters
        .find(COUNTERS_ROW)
        .select((h::last_sale_id, h::last_import_id))
        .first(c)?;
    Ok((last_sale - sales + 1, last_import))
}

/// Inserts sales with one multi-row statement. The derived MultiConnection backend has no
/// multi-row insert, so the one query runs on the backend's own connection (same transaction).
fn insert_batch(c: &mut AnyConnection, batch: &[SaleRow]) -> QueryResult<usize> {
    let query = diesel::insert_into(history_sales::table).values(batch);
    match c {
        AnyConnection::Postgres(pg) => query.execute(pg),
        AnyConnection::Sqlite(lite) => query.execute(lite),
    }
}

/// Records the sale of a new order, inside the transaction that inserts the order (call it last:
/// the history's turn is then held only until the commit). `selection` is the order's stored
/// selection text.
pub(crate) fn record_order(
    c: &mut AnyConnection,
    order_id: &str,
    product_id: &str,
    catalog_version: &str,
    selection: &str,
    customer_ref: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    let (id, _) = issue_ids(c, 1, 0)?;
    diesel::insert_into(history_sales::table)
        .values((
            history_sales::id.eq(id),
            history_sales::product_id.eq(product_id),
            history_sales::catalog_version.eq(Some(catalog_version)),
            history_sales::selection.eq(selection),
            history_sales::count.eq(1i64),
            history_sales::customer_ref.eq(customer_ref),
            history_sales::source.eq(SaleSource::Order.as_str()),
            history_sales::order_id.eq(Some(order_id)),
            history_sales::import_id.eq(None::<i64>),
            history_sales::created_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

fn import_by_content(
    conn: &mut AnyConnection,
    product_id: &str,
    content_sha256: &str,
) -> Result<Option<ImportInfo>, DbError> {
    Ok(history_imports::table
        .filter(history_imports::product_id.eq(product_id))
        .filter(history_imports::content_sha256.eq(content_sha256))
        .select(ImportRow::as_select())
        .first(conn)
        .optional()?
        .map(ImportRow::into_info))
}

/// Stores an import and its sales in one transaction, unless the product already has an import
/// of the same content: then returns that one (`false`) and stores nothing.
pub(crate) fn import(
    conn: &mut AnyConnection,
    product_id: &str,
    content_sha256: &str,
    file_name: Option<&str>,
    sales: Vec<NewSale>,
    now: i64,
) -> Result<(ImportInfo, bool), DbError> {
    check_import(product_id, content_sha256, file_name, sales.len())?;
    for sale in &sales {
        sale.validate()?;
        if sale.product_id != product_id {
            // Every sale must be of the imported product (no closer `SpecError` variant).
            return Err(DbError::Invalid(SpecError::Empty {
                field: "sale product_id matching the import's",
            }));
        }
    }
    // Read outside the transaction (SQLite: a transaction that reads before it writes cannot
    // take the write lock while another writer holds it). Most repeated imports end here.
    if let Some(existing) = import_by_content(conn, product_id, content_sha256)? {
        return Ok((existing, false));
    }
    let rows = i64::try_from(sales.len()).unwrap_or(i64::MAX);
    let written = conn.transaction::<_, DieselError, _>(|c| {
        let (first_sale, import_id) = issue_ids(c, rows, 1)?;
        let info = ImportRow {
            id: import_id,
            product_id: product_id.to_owned(),
            content_sha256: content_sha256.to_owned(),
            file_name: file_name.map(str::to_owned),
            row_count: rows,
            created_at: now,
        };
        diesel::insert_into(history_imports::table)
            .values(&info)
            .execute(c)?;
        let mut next_id = first_sale;
        for chunk in sales.chunks(INSERT_CHUNK) {
            let mut batch = Vec::with_capacity(chunk.len());
            for sale in chunk {
                batch.push(SaleRow {
                    id: next_id,
                    product_id: sale.product_id.clone(),
                    catalog_version: sale.catalog_version.clone(),
                    selection: serde_json::to_string(&sale.selection)
                        .map_err(|e| DieselError::SerializationError(Box::new(e)))?,
                    count: sale.count,
                    customer_ref: sale.customer_ref.clone(),
                    source: SaleSource::Import.as_str().to_owned(),
                    order_id: None,
                    import_id: Some(import_id),
                    created_at: now,
                });
                next_id += 1;
            }
            insert_batch(c, &batch)?;
        }
        Ok(info.into_info())
    });
    match written {
        Ok(info) => Ok((info, true)),
        // A concurrent import of the same content committed first: its import is the answer.
        Err(e) if is_unique_violation(&e) => {
            match import_by_content(conn, product_id, content_sha256)? {
                Some(existing) => Ok((existing, false)),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// One page of a product's sales with ids after `after_id` (all when `None`), oldest first;
/// `limit` clamped to 1..=`MAX_HISTORY_PAGE`.
pub(crate) fn page(
    conn: &mut AnyConnection,
    product_id: &str,
    after_id: Option<i64>,
    limit: u32,
) -> Result<Vec<Sale>, DbError> {
    if product_id.is_empty() || product_id.len() > MAX_REF_LEN {
        return Ok(Vec::new());
    }
    let limit = limit.clamp(1, MAX_HISTORY_PAGE);
    history_sales::table
        .filter(history_sales::product_id.eq(product_id))
        .filter(history_sales::id.gt(after_id.unwrap_or(0)))
        .order(history_sales::id.asc())
        .limit(i64::from(limit))
        .select(SaleRow::as_select())
        .load(conn)?
        .into_iter()
        .map(SaleRow::into_sale)
        .collect()
}

/// Every sale of a product after `after_id`, oldest first, read page by page.
pub(crate) fn since(
    conn: &mut AnyConnection,
    product_id: &str,
    after_id: Option<i64>,
) -> Result<Vec<Sale>, DbError> {
    let mut out: Vec<Sale> = Vec::new();
    let mut after = after_id;
    loop {
        let batch = page(conn, product_id, after, MAX_HISTORY_PAGE)?;
        let full = batch.len() == MAX_HISTORY_PAGE as usize;
        after = batch.last().map(|s| s.id).or(after);
        out.extend(batch);
        if !full {
            return Ok(out);
        }
    }
}

/// The product's imports, oldest first.
pub(crate) fn imports(
    conn: &mut AnyConnection,
    product_id: &str,
) -> Result<Vec<ImportInfo>, DbError> {
    Ok(history_imports::table
        .filter(history_imports::product_id.eq(product_id))
        .order(history_imports::id.asc())
        .select(ImportRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ImportRow::into_info)
        .collect())
}

/// Deletes every sale with this customer reference, across products; returns how many. Counts
/// an erasure when any was deleted.
pub(crate) fn delete_customer(
    conn: &mut AnyConnection,
    customer_ref: &str,
) -> Result<u64, DbError> {
    if customer_ref.is_empty() {
        return Err(DbError::Invalid(SpecError::Empty {
            field: "customer_ref",
        }));
    }
    if customer_ref.len() > MAX_REF_LEN {
        return Err(DbError::Invalid(SpecError::TooLong {
            field: "customer_ref",
            max: MAX_REF_LEN,
        }));
    }
    let deleted = conn.transaction::<_, DieselError, _>(|c| {
        let n = diesel::delete(
            history_sales::table.filter(history_sales::customer_ref.eq(customer_ref)),
        )
        .execute(c)?;
        if n > 0 {
            use history_counters::dsl as h;
            diesel::update(h::history_counters.find(COUNTERS_ROW))
                .set(h::erasures.eq(h::erasures + 1))
                .execute(c)?;
        }
        Ok(n)
    })?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Where the history stands (the last sale id issued, the erasures so far).
pub(crate) fn state(conn: &mut AnyConnection) -> Result<HistoryState, DbError> {
    use history_counters::dsl as h;
    let (last_sale_id, erasures): (i64, i64) = h::history_counters
        .find(COUNTERS_ROW)
        .select((h::last_sale_id, h::erasures))
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::Corrupt("history_counters: its row is missing".to_owned()))?;
    Ok(HistoryState {
        last_sale_id,
        erasures,
    })
}
