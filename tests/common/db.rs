//! Database test helpers: a fresh SQLite file per test, and — when BESPOKE_TEST_POSTGRES_URL is
//! set — a fresh PostgreSQL schema per test (search_path), dropped afterwards.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bespoke::db::{Db, DbOptions};
use bespoke::orders::{NewDesign, NewOrder, NewSale, Timestamp};
use diesel::{Connection, PgConnection, RunQueryDsl};

pub const PG_ENV: &str = "BESPOKE_TEST_POSTGRES_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// One isolated database; removed on drop.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    dir: Option<PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique("bespoke_db"));
        std::fs::create_dir_all(&dir).unwrap();
        TestDb {
            name: "sqlite",
            url: format!("sqlite://{}", dir.join("data/orders.db").display()),
            dir: Some(dir),
            pg: None,
        }
    }

    /// A new schema on the test server, or `None` (with a note on stderr) when none is configured.
    pub fn postgres(test: &str) -> Option<TestDb> {
        let Ok(base) = std::env::var(PG_ENV) else {
            eprintln!("{test}: PostgreSQL part skipped ({PG_ENV} is not set)");
            return None;
        };
        let schema = unique("t");
        let mut conn = PgConnection::establish(&base).unwrap();
        diesel::sql_query(format!("CREATE SCHEMA \"{schema}\""))
            .execute(&mut conn)
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(TestDb {
            name: "postgres",
            url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
            dir: None,
            pg: Some((base, schema)),
        })
    }

    /// SQLite always, PostgreSQL when configured.
    pub fn all(test: &str) -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        v.extend(TestDb::postgres(test));
        v
    }

    /// A private temporary directory of this database (SQLite), or a fresh one (PostgreSQL).
    pub fn dir(&self) -> PathBuf {
        match &self.dir {
            Some(d) => d.clone(),
            None => {
                let d = std::env::temp_dir().join(unique("bespoke_pgdata"));
                std::fs::create_dir_all(&d).unwrap();
                d
            }
        }
    }

    pub fn open(&self) -> Db {
        self.open_with(4)
    }

    pub fn open_with(&self, max_connections: u32) -> Db {
        let options = DbOptions {
            max_connections,
            ..DbOptions::default()
        };
        Db::connect_with(&self.url, &options)
            .unwrap_or_else(|e| panic!("{}: connect: {e}", self.name))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, schema)) = &self.pg
            && let Ok(mut conn) = PgConnection::establish(base)
        {
            let _ =
                diesel::sql_query(format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(&mut conn);
        }
    }
}

/// A plausible new order; `body` varies the request (and so its fingerprint).
pub fn new_order(key: &str, body: &str) -> NewOrder {
    let request = serde_json::json!({"product": "mug", "selection": {"color": body}});
    NewOrder {
        idempotency_key: key.to_owned(),
        fingerprint: bespoke::orders::fingerprint(&request),
        product_id: "mug".into(),
        catalog_version: "0f".repeat(32),
        selection: serde_json::json!({"color": body, "size": "m"}),
        quote: serde_json::json!({"currency": "EUR", "total": "12.50", "lines": [{"label": "base", "amount": "12.50"}]}),
        preview_ref: Some(format!("previews/{key}.png")),
        customer_ref: Some("cust-42".into()),
        metadata: serde_json::json!({"note": "gift wrap", "n": 3}),
        design_id: None,
        filled: Vec::new(),
        fulfilment: serde_json::json!({"variant_sku": format!("MUG-{body}"), "bom": [{"part": "MUG", "quantity": "1", "unit": null, "from": []}]}),
    }
}

/// A plausible new design of `product` at `product_version`, expiring at `expires_at`.
pub fn new_design(
    product: &str,
    product_version: &str,
    expires_at: Option<Timestamp>,
) -> NewDesign {
    NewDesign {
        product_id: product.to_owned(),
        product_version: product_version.to_owned(),
        catalog_version: "0f".repeat(32),
        selection: serde_json::json!({"color": "red", "engraving": "Für Ada ✓"}),
        quote: serde_json::json!({"currency": "EUR", "total": "14.00", "lines": [{"label": "base", "amount": "14.00"}]}),
        filled: vec!["size".into(), "lid".into()],
        expires_at,
    }
}

/// Now, as a timestamp, moved by `offset_secs`.
pub fn now_plus(offset_secs: i64) -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    Timestamp::from_unix_micros(i64::try_from(now).unwrap() + offset_secs * 1_000_000)
}

/// An imported sale of `product`: `selection` is a JSON array of `[option, value]` pairs.
pub fn new_sale(
    product: &str,
    selection: serde_json::Value,
    count: i64,
    customer_ref: Option<&str>,
) -> NewSale {
    NewSale {
        product_id: product.to_owned(),
        catalog_version: None,
        selection,
        count,
        customer_ref: customer_ref.map(str::to_owned),
    }
}

/// A stand-in content digest (64 hex digits) for history import `n`.
pub fn content_sha(n: u64) -> String {
    format!("{n:064x}")
}
