//! Persistence benchmarks: create (fresh key and idempotent replay), get, a feed page and a
//! transition, on a SQLite file (FULL sync, WAL) and, when BESPOKE_TEST_POSTGRES_URL is set, on
//! PostgreSQL in a scratch schema.
//!
//! Run with `cargo bench --bench db`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};

use bespoke::db::{Db, DbOptions};
use bespoke::orders::{NewOrder, OrderFilter, Status, fingerprint};
use criterion::{Criterion, criterion_group, criterion_main};
use diesel::{Connection, PgConnection, RunQueryDsl};

static KEYS: AtomicU64 = AtomicU64::new(0);

fn order(key: &str) -> NewOrder {
    let body = serde_json::json!({"product": "mug", "selection": {"color": "red", "size": "m"}});
    NewOrder {
        idempotency_key: key.to_owned(),
        fingerprint: fingerprint(&body),
        product_id: "mug".into(),
        catalog_version: "ab".repeat(32),
        selection: body["selection"].clone(),
        quote: serde_json::json!({"currency": "EUR", "total": "12.50", "lines": [{"label": "base", "amount": "12.50"}]}),
        preview_ref: Some("previews/x.png".into()),
        customer_ref: Some("cust".into()),
        metadata: serde_json::json!({}),
        design_id: None,
        filled: Vec::new(),
        fulfilment: serde_json::Value::Null,
    }
}

fn fresh_key() -> String {
    format!(
        "bench-{}-{}",
        std::process::id(),
        KEYS.fetch_add(1, Ordering::Relaxed)
    )
}

fn run(c: &mut Criterion, name: &str, db: &Db) {
    for _ in 0..500 {
        db.create_order(order(&fresh_key())).unwrap();
    }
    let (existing, _) = db.create_order(order("replayed")).unwrap();
    let mut g = c.benchmark_group(format!("db/{name}"));
    g.bench_function("create_order (new key, durable commit)", |b| {
        b.iter(|| db.create_order(order(&fresh_key())).unwrap())
    });
    g.bench_function("create_order (idempotent replay)", |b| {
        b.iter(|| db.create_order(order("replayed")).unwrap())
    });
    g.bench_function("get_order", |b| {
        b.iter(|| db.get_order(&existing.id).unwrap())
    });
    g.bench_function("list_orders (page of 50, status filter)", |b| {
        let filter = OrderFilter {
            status: Some(Status::Submitted),
        };
        b.iter(|| db.list_orders(filter, None, 50).unwrap())
    });
    g.bench_function("create + accept (transition)", |b| {
        b.iter(|| {
            let (o, _) = db.create_order(order(&fresh_key())).unwrap();
            db.transition(&o.id, Status::Accepted, 1, None).unwrap()
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("bespoke-bench-db-{}", std::process::id()));
    let db = Db::connect(&format!("sqlite://{}", dir.join("bench.db").display())).unwrap();
    run(c, "sqlite", &db);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);

    if let Ok(base) = std::env::var("BESPOKE_TEST_POSTGRES_URL") {
        let schema = format!("bench_{}", std::process::id());
        let mut admin = PgConnection::establish(&base).unwrap();
        diesel::sql_query(format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        let db = Db::connect_with(&url, &DbOptions::default()).unwrap();
        run(c, "postgres", &db);
        drop(db);
        diesel::sql_query(format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .unwrap();
    } else {
        eprintln!("db bench: PostgreSQL skipped (BESPOKE_TEST_POSTGRES_URL is not set)");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
