//! Persistence through the library API, on SQLite always and on PostgreSQL when
//! BESPOKE_TEST_POSTGRES_URL is set: idempotent creation (also under 50 concurrent creates and
//! across two pools), the keyset feed, status filter, transitions, optimistic concurrency,
//! events, catalog version snapshots, migrations on restart, durability settings, saved designs
//! (round trip, expiry and purge, bad ids), product-version pins, orders' design id and filled
//! options, and the sales history (imports idempotent per content, keyset pages, orders feeding
//! it exactly once, customer deletion, bounds, incremental readers missing nothing, the
//! backfill of earlier orders).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use bespoke::db::{Db, DbError};
use bespoke::orders::{Order, OrderFilter, Sale, SaleSource, Status};
use common::db::{TestDb, content_sha, new_design, new_order, new_sale, now_plus};

/// How many migrations a fresh database runs.
const MIGRATIONS: usize = 9;

fn all_ids(db: &Db, filter: OrderFilter, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = db.list_orders(filter, cursor.as_deref(), limit).unwrap();
        assert!(page.items.len() <= limit as usize);
        ids.extend(page.items.into_iter().map(|o| o.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return ids,
        }
    }
}

#[test]
fn same_key_same_body_returns_the_same_order_and_a_different_body_conflicts() {
    for t in TestDb::all("idempotency") {
        let db = t.open();
        let (first, created) = db.create_order(new_order("key-1", "red")).unwrap();
        assert!(created, "{}", t.name);
        assert_eq!(first.status, Status::Submitted);
        assert_eq!(first.version, 1);
        assert_eq!(first.selection["color"], "red");
        assert_eq!(first.quote["total"], "12.50");
        assert_eq!(first.metadata["n"], 3);
        assert_eq!(first.customer_ref.as_deref(), Some("cust-42"));
        assert_eq!(first.preview_ref.as_deref(), Some("previews/key-1.png"));

        let (again, created) = db.create_order(new_order("key-1", "red")).unwrap();
        assert!(!created, "{}", t.name);
        assert_eq!(again, first, "{}", t.name);

        match db.create_order(new_order("key-1", "blue")) {
            Err(DbError::IdempotencyConflict { existing_order }) => {
                assert_eq!(existing_order, first.id)
            }
            other => panic!("{}: expected a conflict, got {other:?}", t.name),
        }
        // Another key is another order.
        let (other, created) = db.create_order(new_order("key-2", "red")).unwrap();
        assert!(created && other.id != first.id);
        assert_eq!(db.get_order(&first.id).unwrap(), first);
        assert_eq!(all_ids(&db, OrderFilter::default(), 10).len(), 2);
    }
}

fn race_one_key(dbs: &[Db], name: &str) {
    const N: usize = 50;
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let db = dbs[i % dbs.len()].clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                db.create_order(new_order("same-key", "green"))
            })
        })
        .collect();
    let results: Vec<(Order, bool)> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    let created = results.iter().filter(|(_, c)| *c).count();
    assert_eq!(created, 1, "{name}: exactly one create wins");
    let ids: BTreeSet<&str> = results.iter().map(|(o, _)| o.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{name}: every caller sees the same order");
    for db in dbs {
        assert_eq!(all_ids(db, OrderFilter::default(), 100).len(), 1, "{name}");
        let id = ids.iter().next().unwrap();
        assert_eq!(
            db.events(id).unwrap().len(),
            1,
            "{name}: one creation event"
        );
    }
}

#[test]
fn fifty_parallel_creates_with_one_key_create_exactly_one_order() {
    for t in TestDb::all("parallel_creates") {
        let db = t.open_with(8);
        race_one_key(&[db], t.name);
    }
}

#[test]
fn two_pools_on_one_database_share_orders_and_idempotency() {
    for t in TestDb::all("two_pools") {
        let a = t.open();
        let b = t.open();
        let (order, created) = a.create_order(new_order("shared", "red")).unwrap();
        assert!(created);
        assert_eq!(b.get_order(&order.id).unwrap(), order, "{}", t.name);
        let (replayed, created) = b.create_order(new_order("shared", "red")).unwrap();
        assert!(!created && replayed.id == order.id, "{}", t.name);
        assert!(matches!(
            b.create_order(new_order("shared", "blue")),
            Err(DbError::IdempotencyConflict { .. })
        ));
        // A transition through one pool is seen, and enforced, through the other.
        let moved = b.transition(&order.id, Status::Accepted, 1, None).unwrap();
        assert_eq!(a.get_order(&order.id).unwrap().status, Status::Accepted);
        assert!(matches!(
            a.transition(&order.id, Status::Cancelled, 1, None),
            Err(DbError::VersionConflict { current: 2 })
        ));
        assert_eq!(moved.version, 2);
        // And the race on one key across both pools still creates one order.
        let t2 = if t.name == "postgres" {
            TestDb::postgres("two_pools race")
        } else {
            Some(TestDb::sqlite())
        };
        if let Some(t2) = t2 {
            race_one_key(&[t2.open_with(6), t2.open_with(6)], t2.name);
        }
    }
}

#[test]
fn cursor_pages_stay_stable_while_orders_are_inserted() {
    for t in TestDb::all("cursor_pagination") {
        let db = t.open();
        let before: Vec<String> = (0..23)
            .map(|i| {
                db.create_order(new_order(&format!("k{i}"), "red"))
                    .unwrap()
                    .0
                    .id
            })
            .collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut inserted = 0;
        loop {
            let page = db
                .list_orders(OrderFilter::default(), cursor.as_deref(), 5)
                .unwrap();
            seen.extend(page.items.iter().map(|o| o.id.clone()));
            // Concurrent writers between pages.
            for _ in 0..3 {
                db.create_order(new_order(&format!("late{inserted}"), "blue"))
                    .unwrap();
                inserted += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
            assert!(inserted < 1000, "{}: the feed never ends", t.name);
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{}: no duplicates", t.name);
        for id in &before {
            assert!(unique.contains(id), "{}: skipped {id}", t.name);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, seen, "{}: oldest first", t.name);
        assert_eq!(&seen[..before.len()], &before[..]);
    }
}

#[test]
fn the_status_filter_lists_only_matching_orders() {
    for t in TestDb::all("status_filter") {
        let db = t.open();
        let mut accepted = Vec::new();
        let mut submitted = Vec::new();
        for i in 0..12 {
            let (o, _) = db.create_order(new_order(&format!("s{i}"), "red")).unwrap();
            if i % 3 == 0 {
                db.transition(&o.id, Status::Accepted, 1, None).unwrap();
                accepted.push(o.id);
            } else {
                submitted.push(o.id);
            }
        }
        let by = |s| OrderFilter { status: Some(s) };
        assert_eq!(
            all_ids(&db, by(Status::Accepted), 2),
            accepted,
            "{}",
            t.name
        );
        assert_eq!(
            all_ids(&db, by(Status::Submitted), 3),
            submitted,
            "{}",
            t.name
        );
        assert!(all_ids(&db, by(Status::Shipped), 3).is_empty());
        assert_eq!(all_ids(&db, OrderFilter::default(), 500).len(), 12);
        let page = db.list_orders(by(Status::Accepted), None, 100).unwrap();
        assert!(page.items.iter().all(|o| o.status == Status::Accepted));
        assert_eq!(page.next_cursor, None);
    }
}

#[test]
fn legal_transitions_apply_and_illegal_ones_are_refused() {
    for t in TestDb::all("transitions") {
        let db = t.open();
        let (o, _) = db.create_order(new_order("life", "red")).unwrap();
        let mut version = o.version;
        for to in [Status::Accepted, Status::InProduction, Status::Shipped] {
            let moved = db.transition(&o.id, to, version, None).unwrap();
            assert_eq!((moved.status, moved.version), (to, version + 1));
            assert!(moved.updated_at >= moved.created_at);
            version = moved.version;
        }
        for to in Status::ALL {
            match db.transition(&o.id, to, version, None) {
                Err(DbError::IllegalTransition { from, to: t2 }) => {
                    assert_eq!((from, t2), (Status::Shipped, to))
                }
                other => panic!("{}: shipped → {to}: {other:?}", t.name),
            }
        }
        let (o2, _) = db.create_order(new_order("skip", "red")).unwrap();
        assert!(matches!(
            db.transition(&o2.id, Status::Shipped, 1, None),
            Err(DbError::IllegalTransition {
                from: Status::Submitted,
                to: Status::Shipped
            })
        ));
        let unchanged = db.get_order(&o2.id).unwrap();
        assert_eq!(
            (unchanged.status, unchanged.version),
            (Status::Submitted, 1)
        );
        let cancelled = db.transition(&o2.id, Status::Cancelled, 1, None).unwrap();
        assert_eq!(cancelled.status, Status::Cancelled);
        assert!(matches!(
            db.transition(
                "0190f1a2-b3c4-7d8e-9f00-112233445566",
                Status::Accepted,
                1,
                None
            ),
            Err(DbError::NotFound)
        ));
    }
}

#[test]
fn a_stale_version_is_a_typed_conflict_and_only_one_racer_wins() {
    for t in TestDb::all("optimistic_concurrency") {
        let db = t.open_with(6);
        let (o, _) = db.create_order(new_order("occ", "red")).unwrap();
        db.transition(&o.id, Status::Accepted, 1, None).unwrap();
        match db.transition(&o.id, Status::Cancelled, 1, None) {
            Err(DbError::VersionConflict { current }) => assert_eq!(current, 2),
            other => panic!("{}: {other:?}", t.name),
        }
        // Ten order systems read version 2 and race: exactly one write lands.
        let barrier = Arc::new(Barrier::new(10));
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (db, barrier, id) = (db.clone(), Arc::clone(&barrier), o.id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let to = if i % 2 == 0 {
                        Status::InProduction
                    } else {
                        Status::Cancelled
                    };
                    db.transition(&id, to, 2, Some(format!("system {i}")))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins: Vec<&Order> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(wins.len(), 1, "{}: {results:?}", t.name);
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, DbError::VersionConflict { current: 3 }),
                    "{}: {e:?}",
                    t.name
                );
            }
        }
        let now = db.get_order(&o.id).unwrap();
        assert_eq!((now.status, now.version), (wins[0].status, 3));
        assert_eq!(db.events(&o.id).unwrap().len(), 3);
    }
}

#[test]
fn the_event_history_records_creation_and_each_transition() {
    for t in TestDb::all("events") {
        let db = t.open();
        let (o, _) = db.create_order(new_order("hist", "red")).unwrap();
        db.transition(&o.id, Status::Accepted, 1, Some("checked".into()))
            .unwrap();
        db.transition(&o.id, Status::Cancelled, 2, Some("customer asked".into()))
            .unwrap();
        let events = db.events(&o.id).unwrap();
        let summary: Vec<_> = events
            .iter()
            .map(|e| (e.version, e.from, e.to, e.note.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, None, Status::Submitted, None),
                (
                    2,
                    Some(Status::Submitted),
                    Status::Accepted,
                    Some("checked")
                ),
                (
                    3,
                    Some(Status::Accepted),
                    Status::Cancelled,
                    Some("customer asked")
                ),
            ],
            "{}",
            t.name
        );
        assert!(events.iter().all(|e| e.order_id == o.id));
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(events[0].at, o.created_at);
        let json = serde_json::to_value(&events[1]).unwrap();
        assert!(json["at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(json["from"], "submitted");
        assert!(matches!(db.events("nope"), Err(DbError::NotFound)));
    }
}

#[test]
fn catalog_version_snapshots_round_trip_byte_for_byte() {
    let files = bespoke::catalog::FileSet::from_dir(&common::repo()).unwrap();
    let snapshot: Vec<(String, Vec<u8>)> = files
        .paths()
        .map(|p| (p.to_owned(), files.get(p).unwrap().to_vec()))
        .collect();
    assert!(
        snapshot
            .iter()
            .any(|(_, b)| std::str::from_utf8(b).is_err()),
        "binary assets included"
    );
    let pairs = |s: &[(String, Vec<u8>)]| -> Vec<(String, Vec<u8>)> { s.to_vec() };
    for t in TestDb::all("catalog_versions") {
        let db = t.open();
        let as_refs = snapshot.iter().map(|(p, b)| (p.as_str(), b.as_slice()));
        assert!(db.put_catalog_version("v1", as_refs.clone()).unwrap());
        assert!(
            !db.put_catalog_version("v1", as_refs).unwrap(),
            "idempotent"
        );
        // A second version sharing all but one file.
        let mut edited = pairs(&snapshot);
        edited[0].1.extend_from_slice(b"\n# edited\n");
        edited.push(("catalog/new.yaml".into(), Vec::new()));
        assert!(
            db.put_catalog_version("v2", edited.iter().map(|(p, b)| (p.as_str(), b.as_slice())))
                .unwrap()
        );

        let v1 = db.get_catalog_version("v1").unwrap();
        assert_eq!(v1.files, snapshot, "{}", t.name);
        assert_eq!(v1.info.file_count as usize, snapshot.len());
        let total: usize = snapshot.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(v1.info.total_bytes as usize, total);
        let mut edited_sorted = edited.clone();
        edited_sorted.sort();
        assert_eq!(db.get_catalog_version("v2").unwrap().files, edited_sorted);

        let listed: Vec<String> = db
            .list_catalog_versions()
            .unwrap()
            .into_iter()
            .map(|v| v.hash)
            .collect();
        assert_eq!(listed, ["v1", "v2"]);
        assert!(matches!(
            db.get_catalog_version("v3"),
            Err(DbError::NotFound)
        ));
        // The snapshot loads back into a catalog identical to the original.
        let mut back = bespoke::catalog::FileSet::new();
        for (p, b) in v1.files {
            back.insert(p, b);
        }
        assert_eq!(back, files);
        // Bounds are checked before anything is written.
        let huge = vec![0u8; bespoke::db::MAX_SNAPSHOT_FILE_BYTES + 1];
        assert!(matches!(
            db.put_catalog_version("v4", [("a", huge.as_slice())]),
            Err(DbError::Invalid(_))
        ));
        assert!(matches!(
            db.get_catalog_version("v4"),
            Err(DbError::NotFound)
        ));
    }
}

#[test]
fn migrations_are_idempotent_on_restart_and_data_survives() {
    for t in TestDb::all("migrations_restart") {
        let first = t.open();
        assert_eq!(first.migrations_run(), MIGRATIONS, "{}", t.name);
        let (o, _) = first.create_order(new_order("persist", "red")).unwrap();
        drop(first);
        let second = t.open();
        assert_eq!(second.migrations_run(), 0, "{}", t.name);
        assert_eq!(second.get_order(&o.id).unwrap(), o);
        let third = t.open();
        assert_eq!(third.migrations_run(), 0);
        second.ping().unwrap();
        third.ping().unwrap();
        assert_eq!(third.backend(), t.name);
    }
}

#[test]
fn durability_settings_are_applied() {
    let t = TestDb::sqlite();
    let db = t.open();
    let settings: std::collections::BTreeMap<_, _> = db.settings().unwrap().into_iter().collect();
    assert_eq!(settings["journal_mode"], "wal");
    assert_eq!(settings["synchronous"], "2", "2 is FULL");
    assert_eq!(settings["busy_timeout"], "10000");
    assert_eq!(settings["foreign_keys"], "1");
    // Every pooled connection carries them, not only the first.
    let clones: Vec<_> = (0..4).map(|_| db.clone()).collect();
    let handles: Vec<_> = clones
        .into_iter()
        .map(|d| std::thread::spawn(move || d.settings().unwrap()))
        .collect();
    for h in handles {
        let s: std::collections::BTreeMap<_, _> = h.join().unwrap().into_iter().collect();
        assert_eq!(s["synchronous"], "2");
    }
    if let Some(pg) = TestDb::postgres("durability") {
        let db = pg.open();
        let s: std::collections::BTreeMap<_, _> = db.settings().unwrap().into_iter().collect();
        assert_eq!(s["synchronous_commit"], "on");
    }
}

#[test]
fn bad_input_is_a_typed_error_not_a_panic() {
    for t in TestDb::all("bad_input") {
        let db = t.open();
        for bad in [
            "",
            "o1.",
            "garbage",
            "o1.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            &"x".repeat(10_000),
        ] {
            assert!(matches!(
                db.list_orders(OrderFilter::default(), Some(bad), 10),
                Err(DbError::BadCursor)
            ));
        }
        let mut o = new_order("", "red");
        assert!(matches!(
            db.create_order(o.clone()),
            Err(DbError::Invalid(_))
        ));
        o.idempotency_key = "k".into();
        o.metadata = serde_json::json!({"x": "y".repeat(300_000)});
        assert!(matches!(db.create_order(o), Err(DbError::Invalid(_))));
        assert!(matches!(
            db.get_order(&"x".repeat(100_000)),
            Err(DbError::NotFound)
        ));
        assert!(matches!(
            db.get_order("no-such-order"),
            Err(DbError::NotFound)
        ));
        let (o, _) = db.create_order(new_order("note", "red")).unwrap();
        assert!(matches!(
            db.transition(&o.id, Status::Accepted, 1, Some("n".repeat(5000))),
            Err(DbError::Invalid(_))
        ));
        // limit is clamped, never an error
        assert_eq!(
            db.list_orders(OrderFilter::default(), None, 0)
                .unwrap()
                .items
                .len(),
            1
        );
    }
    assert!(matches!(
        Db::connect("mysql://h/db"),
        Err(DbError::BadUrl(_))
    ));
    assert!(matches!(
        Db::connect("sqlite::memory:"),
        Err(DbError::BadUrl(_))
    ));
}

#[test]
fn an_unreachable_postgres_is_unavailable() {
    let err = Db::connect_with(
        "postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
        &bespoke::db::DbOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DbError::Unavailable(_)), "{err:?}");
}

#[test]
fn requiring_tls_fails_with_a_clear_error() {
    // pq-sys is built without OpenSSL: libpq refuses the option before touching the network.
    for mode in ["require", "verify-full"] {
        let url = format!("postgres://postgres@127.0.0.1:5432/test?sslmode={mode}");
        match Db::connect(&url) {
            Err(DbError::BadUrl(msg)) => {
                assert!(msg.contains("SSL support is not compiled in"), "{msg}");
                assert!(msg.contains("docs/persistence.md"), "{msg}");
            }
            other => panic!("sslmode={mode}: {other:?}"),
        }
    }
}

#[test]
fn instances_starting_together_migrate_once() {
    for t in TestDb::all("concurrent_starts") {
        let url = t.url.clone();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let options = bespoke::db::DbOptions {
                        max_connections: 2,
                        ..Default::default()
                    };
                    Db::connect_with(&url, &options).map(|db| db.migrations_run())
                })
            })
            .collect();
        let runs: Vec<usize> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{}: {e}", t.name))
            })
            .collect();
        assert_eq!(
            runs.iter().sum::<usize>(),
            MIGRATIONS,
            "{}: {runs:?}",
            t.name
        );
        assert!(
            runs.iter().all(|&n| n == 0 || n == MIGRATIONS),
            "{}: {runs:?}",
            t.name
        );
    }
}

#[test]
fn engine_knowledge_records_append_in_order_and_old_fingerprints_are_pruned() {
    use bespoke::db::KEEP_FINGERPRINTS;
    for t in TestDb::all("engine_knowledge") {
        let db = t.open();
        let fp = |k: usize| format!("{k:064x}");
        assert!(db.list_knowledge("desk").unwrap().is_empty(), "{}", t.name);
        // Records of one fingerprint take consecutive numbers and read back byte for byte.
        let records: Vec<Vec<u8>> = (0..3u8).map(|k| vec![k; 1000 + usize::from(k)]).collect();
        for (k, r) in records.iter().enumerate() {
            assert_eq!(db.append_knowledge("desk", &fp(1), r).unwrap(), k as i64);
        }
        let listed = db.list_knowledge("desk").unwrap();
        assert_eq!(listed.len(), 1, "{}", t.name);
        assert_eq!(listed[0].fingerprint, fp(1));
        assert_eq!(listed[0].seqs, vec![0, 1, 2]);
        assert_eq!(listed[0].bytes, 3003);
        for (k, r) in records.iter().enumerate() {
            assert_eq!(&db.get_knowledge(&fp(1), k as i64).unwrap(), r);
        }
        assert!(matches!(
            db.get_knowledge(&fp(1), 7),
            Err(DbError::NotFound)
        ));
        // Another instance (pool) appending to the same fingerprint gets the next numbers.
        let other = t.open();
        assert_eq!(other.append_knowledge("desk", &fp(1), b"x").unwrap(), 3);
        // Newer fingerprints of the product push the oldest out; other products keep theirs.
        db.append_knowledge("tee", &fp(9), b"tee").unwrap();
        for k in 2..=KEEP_FINGERPRINTS + 1 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            db.append_knowledge("desk", &fp(k), b"newer").unwrap();
        }
        let kept: Vec<String> = db
            .list_knowledge("desk")
            .unwrap()
            .into_iter()
            .map(|k| k.fingerprint)
            .collect();
        let newest_first: Vec<String> = (2..=KEEP_FINGERPRINTS + 1).rev().map(fp).collect();
        assert_eq!(kept, newest_first, "{}", t.name);
        assert_eq!(db.list_knowledge("tee").unwrap().len(), 1);
        // Bad input is a typed error.
        assert!(matches!(
            db.append_knowledge("desk", &fp(1), b""),
            Err(DbError::Invalid(_))
        ));
        assert!(matches!(
            db.append_knowledge("", &fp(1), b"x"),
            Err(DbError::Invalid(_))
        ));
        assert!(matches!(
            db.append_knowledge("desk", &"f".repeat(300), b"x"),
            Err(DbError::Invalid(_))
        ));
        let huge = vec![0u8; bespoke::db::MAX_KNOWLEDGE_RECORD_BYTES + 1];
        assert!(matches!(
            db.append_knowledge("desk", &fp(1), &huge),
            Err(DbError::Invalid(_))
        ));
    }
}

#[test]
fn designs_round_trip_and_read_the_same_through_another_pool() {
    for t in TestDb::all("designs_round_trip") {
        let db = t.open();
        let kept = db.create_design(new_design("mug", "v1", None)).unwrap();
        let until = now_plus(3600);
        let expiring = db
            .create_design(new_design("tee", "t1", Some(until)))
            .unwrap();
        // UUID v7, hyphenated lowercase, one per design.
        for d in [&kept, &expiring] {
            assert_eq!(d.id.len(), 36, "{}", t.name);
            assert_eq!(&d.id[14..15], "7", "{}: {}", t.name, d.id);
            assert_eq!(d.id, d.id.to_ascii_lowercase());
        }
        assert_ne!(kept.id, expiring.id);
        assert_eq!(kept.product_id, "mug");
        assert_eq!(kept.product_version, "v1");
        assert_eq!(kept.catalog_version, "0f".repeat(32));
        assert_eq!(kept.selection["engraving"], "Für Ada ✓");
        assert_eq!(kept.quote["total"], "14.00");
        assert_eq!(kept.filled, vec!["size".to_owned(), "lid".to_owned()]);
        assert_eq!(kept.expires_at, None);
        assert_eq!(expiring.expires_at, Some(until));
        assert!(kept.created_at <= now_plus(0) && kept.created_at > now_plus(-60));
        // What create returns is exactly what reads return, from any pool.
        let other = t.open();
        for d in [&kept, &expiring] {
            assert_eq!(&db.get_design(&d.id).unwrap(), d, "{}", t.name);
            assert_eq!(&other.get_design(&d.id).unwrap(), d, "{}", t.name);
        }
        // No filled options and an empty selection are fine.
        let mut bare = new_design("mug", "v1", None);
        bare.filled.clear();
        bare.selection = serde_json::json!({});
        let bare = db.create_design(bare).unwrap();
        assert_eq!(db.get_design(&bare.id).unwrap(), bare);
    }
}

#[test]
fn expired_designs_read_as_missing_and_purge_deletes_only_them() {
    for t in TestDb::all("designs_expiry") {
        let db = t.open();
        let expired = db
            .create_design(new_design("mug", "v1", Some(now_plus(-10))))
            .unwrap();
        let later = db
            .create_design(new_design("mug", "v1", Some(now_plus(3600))))
            .unwrap();
        let forever = db.create_design(new_design("mug", "v1", None)).unwrap();
        assert!(
            matches!(db.get_design(&expired.id), Err(DbError::NotFound)),
            "{}",
            t.name
        );
        assert_eq!(db.get_design(&later.id).unwrap(), later);
        // Purging now removes only the expired one.
        assert_eq!(
            db.purge_expired_designs(now_plus(0)).unwrap(),
            1,
            "{}",
            t.name
        );
        assert_eq!(
            db.purge_expired_designs(now_plus(0)).unwrap(),
            0,
            "{}",
            t.name
        );
        assert!(matches!(db.get_design(&expired.id), Err(DbError::NotFound)));
        assert_eq!(db.get_design(&later.id).unwrap(), later);
        assert_eq!(db.get_design(&forever.id).unwrap(), forever);
        // Expiry is inclusive: a design is gone at its expires_at.
        let at = later.expires_at.unwrap();
        let just_before = bespoke::orders::Timestamp::from_unix_micros(at.unix_micros() - 1);
        assert_eq!(db.purge_expired_designs(just_before).unwrap(), 0);
        assert_eq!(db.purge_expired_designs(at).unwrap(), 1, "{}", t.name);
        assert!(matches!(db.get_design(&later.id), Err(DbError::NotFound)));
        // Designs without an expiry are never purged.
        assert_eq!(
            db.purge_expired_designs(bespoke::orders::Timestamp::from_unix_micros(i64::MAX))
                .unwrap(),
            0
        );
        assert_eq!(db.get_design(&forever.id).unwrap(), forever);
    }
}

#[test]
fn bad_design_ids_and_fields_are_typed_errors() {
    for t in TestDb::all("designs_bad_input") {
        let db = t.open();
        let d = db.create_design(new_design("mug", "v1", None)).unwrap();
        let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
        for bad in [
            String::new(),
            "garbage".to_owned(),
            "x".repeat(100_000),
            d.id.to_ascii_uppercase(),
            d.id.replace('-', ""),
            format!("{{{}}}", d.id),
            format!("urn:uuid:{}", d.id),
            format!("{} ", d.id),
            format!("{}'; DROP TABLE designs; --", d.id),
            unknown.to_owned(),
        ] {
            assert!(
                matches!(db.get_design(&bad), Err(DbError::NotFound)),
                "{}: {bad:.60}",
                t.name
            );
        }
        assert_eq!(db.get_design(&d.id).unwrap(), d);
        let mut n = new_design("", "v1", None);
        assert!(matches!(
            db.create_design(n.clone()),
            Err(DbError::Invalid(_))
        ));
        n.product_id = "mug".into();
        n.product_version = "v".repeat(300);
        assert!(matches!(
            db.create_design(n.clone()),
            Err(DbError::Invalid(_))
        ));
        n.product_version = "v1".into();
        n.quote = serde_json::json!({"x": "y".repeat(300_000)});
        assert!(matches!(
            db.create_design(n.clone()),
            Err(DbError::Invalid(_))
        ));
        n.quote = serde_json::json!({});
        n.filled = vec![String::new()];
        assert!(matches!(db.create_design(n), Err(DbError::Invalid(_))));
    }
}

#[test]
fn product_versions_are_idempotent_and_the_newest_catalog_version_wins() {
    for t in TestDb::all("product_versions") {
        let db = t.open();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(p, q)| ((*p).to_owned(), (*q).to_owned()))
                .collect()
        };
        assert_eq!(db.catalog_version_of("mug", "m1").unwrap(), None);
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let in_a = pairs(&[("mug", "m1"), ("tee", "t1")]);
        db.put_product_versions(&a, &in_a).unwrap();
        db.put_product_versions(&a, &in_a).unwrap();
        // A repeated pair in one call is one pair.
        db.put_product_versions(&a, &pairs(&[("mug", "m1"), ("mug", "m1")]))
            .unwrap();
        db.put_product_versions(&a, &[]).unwrap();
        assert_eq!(db.catalog_version_of("mug", "m1").unwrap(), Some(a.clone()));
        assert_eq!(db.catalog_version_of("tee", "t1").unwrap(), Some(a.clone()));
        assert_eq!(db.catalog_version_of("tee", "m1").unwrap(), None);
        // A newer catalog version that still holds mug m1 (tee changed) wins for mug m1 only.
        std::thread::sleep(std::time::Duration::from_millis(2));
        db.put_product_versions(&b, &pairs(&[("mug", "m1"), ("tee", "t2")]))
            .unwrap();
        assert_eq!(
            db.catalog_version_of("mug", "m1").unwrap(),
            Some(b.clone()),
            "{}",
            t.name
        );
        assert_eq!(db.catalog_version_of("tee", "t1").unwrap(), Some(a.clone()));
        assert_eq!(db.catalog_version_of("tee", "t2").unwrap(), Some(b.clone()));
        // Putting the older version again changes nothing (it keeps its time).
        std::thread::sleep(std::time::Duration::from_millis(2));
        db.put_product_versions(&a, &in_a).unwrap();
        assert_eq!(db.catalog_version_of("mug", "m1").unwrap(), Some(b.clone()));
        // Another pool sees the same, and concurrent puts of one version all succeed.
        let other = t.open_with(8);
        assert_eq!(
            other.catalog_version_of("mug", "m1").unwrap(),
            Some(b.clone())
        );
        let c = "c".repeat(64);
        let many: Vec<(String, String)> = (0..40)
            .map(|k| (format!("p{k}"), format!("v{k}")))
            .collect();
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (db, c, many, barrier) =
                    (other.clone(), c.clone(), many.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    db.put_product_versions(&c, &many)
                })
            })
            .collect();
        for h in handles {
            h.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        }
        for (p, v) in &many {
            assert_eq!(db.catalog_version_of(p, v).unwrap(), Some(c.clone()));
        }
        // Bad input is a typed error, and nothing of a refused call is written.
        assert!(matches!(
            db.put_product_versions("", &in_a),
            Err(DbError::Invalid(_))
        ));
        assert!(matches!(
            db.put_product_versions(&"d".repeat(300), &in_a),
            Err(DbError::Invalid(_))
        ));
        assert!(matches!(
            db.put_product_versions("d", &pairs(&[("new", "n1"), ("", "n2")])),
            Err(DbError::Invalid(_))
        ));
        assert_eq!(db.catalog_version_of("new", "n1").unwrap(), None);
        let too_many: Vec<(String, String)> = (0..=bespoke::db::MAX_PRODUCTS_PER_VERSION)
            .map(|k| (format!("p{k}"), "v".to_owned()))
            .collect();
        assert!(matches!(
            db.put_product_versions("d", &too_many),
            Err(DbError::Invalid(_))
        ));
        assert_eq!(
            db.catalog_version_of(&"x".repeat(100_000), "m1").unwrap(),
            None
        );
    }
}

#[test]
fn orders_keep_their_design_id_and_filled_options() {
    for t in TestDb::all("orders_design") {
        let db = t.open();
        let design = db.create_design(new_design("mug", "v1", None)).unwrap();
        let mut new = new_order("from-design", "red");
        new.design_id = Some(design.id.clone());
        new.filled = vec!["size".into(), "lid".into()];
        let (order, created) = db.create_order(new.clone()).unwrap();
        assert!(created);
        assert_eq!(
            order.design_id.as_deref(),
            Some(design.id.as_str()),
            "{}",
            t.name
        );
        assert_eq!(order.filled, vec!["size".to_owned(), "lid".to_owned()]);
        assert_eq!(db.get_order(&order.id).unwrap(), order, "{}", t.name);
        // A replay returns them; the feed and transitions keep them.
        let (again, created) = db.create_order(new).unwrap();
        assert!(!created && again == order);
        let page = db.list_orders(OrderFilter::default(), None, 10).unwrap();
        assert_eq!(page.items, vec![order.clone()]);
        let moved = db.transition(&order.id, Status::Accepted, 1, None).unwrap();
        assert_eq!(moved.design_id, order.design_id);
        assert_eq!(moved.filled, order.filled);
        assert_eq!(db.get_order(&order.id).unwrap().filled, order.filled);
        // The order keeps the reference after its design is purged.
        // Orders without a design have none and an empty list.
        let (plain, _) = db.create_order(new_order("plain", "red")).unwrap();
        assert_eq!(plain.design_id, None);
        assert!(plain.filled.is_empty());
        assert_eq!(db.get_order(&plain.id).unwrap(), plain);
        // The fulfilment document round-trips; an order without one reads as null.
        assert_eq!(plain.fulfilment["variant_sku"], "MUG-red", "{}", t.name);
        let mut none = new_order("no-fulfilment", "red");
        none.fulfilment = serde_json::Value::Null;
        let (none, _) = db.create_order(none).unwrap();
        assert_eq!(
            db.get_order(&none.id).unwrap().fulfilment,
            serde_json::Value::Null
        );
        // Bounds.
        let mut bad = new_order("bad-design", "red");
        bad.design_id = Some("d".repeat(300));
        assert!(matches!(db.create_order(bad), Err(DbError::Invalid(_))));
        let mut bad = new_order("bad-filled", "red");
        bad.filled = vec!["size".into(), String::new()];
        assert!(matches!(db.create_order(bad), Err(DbError::Invalid(_))));
    }
}

fn ids(sales: &[Sale]) -> Vec<i64> {
    sales.iter().map(|s| s.id).collect()
}

#[test]
fn history_imports_round_trip_and_the_same_content_imports_once() {
    use serde_json::json;
    for t in TestDb::all("history_import") {
        let db = t.open();
        let sales = vec![
            new_sale(
                "mug",
                json!([["color", "red"], ["size", 12], ["lid", true]]),
                1,
                Some("cust-1"),
            ),
            new_sale("mug", json!([["color", "blue"]]), 7, None),
            new_sale("mug", json!([]), 2, Some("cust-2")),
        ];
        let (info, created) = db
            .import_history(
                "mug",
                &content_sha(1),
                Some("sales-2025.csv"),
                sales.clone(),
            )
            .unwrap();
        assert!(created, "{}", t.name);
        assert_eq!(info.product_id, "mug");
        assert_eq!(info.content_sha256, content_sha(1));
        assert_eq!(info.file_name.as_deref(), Some("sales-2025.csv"));
        assert_eq!(info.rows, 3);
        let stored = db.history("mug", None, 100).unwrap();
        assert_eq!(stored.len(), 3, "{}", t.name);
        for (got, want) in stored.iter().zip(&sales) {
            assert_eq!(got.product_id, "mug");
            assert_eq!(got.catalog_version, None);
            assert_eq!(
                got.selection, want.selection,
                "{}: values keep their JSON types",
                t.name
            );
            assert_eq!(got.count, want.count);
            assert_eq!(got.customer_ref, want.customer_ref);
            assert_eq!(got.source, SaleSource::Import);
            assert_eq!(got.import_id, Some(info.id));
            assert_eq!(got.order_id, None);
            assert_eq!(got.created_at, info.created_at);
        }
        assert!(ids(&stored).windows(2).all(|w| w[0] < w[1]));

        // The same content again: the first import, nothing stored (other rows or file name
        // notwithstanding: the content decides).
        let (again, created) = db
            .import_history(
                "mug",
                &content_sha(1),
                Some("copy.csv"),
                sales[..1].to_vec(),
            )
            .unwrap();
        assert!(!created, "{}", t.name);
        assert_eq!(again, info);
        assert_eq!(db.history("mug", None, 100).unwrap(), stored);
        // Other content, or the same content for another product, is another import.
        let (second, created) = db
            .import_history("mug", &content_sha(2), None, sales[1..2].to_vec())
            .unwrap();
        assert!(created && second.id != info.id && second.file_name.is_none());
        let desk = vec![new_sale("desk", json!([["top", "oak"]]), 1, None)];
        let (other, created) = db
            .import_history("desk", &content_sha(1), None, desk)
            .unwrap();
        assert!(created && other.id != info.id && other.id != second.id);
        assert_eq!(db.history("mug", None, 100).unwrap().len(), 4);
        assert_eq!(db.history("desk", None, 100).unwrap().len(), 1);
        assert_eq!(
            db.history_imports("mug").unwrap(),
            vec![info.clone(), second]
        );
        assert_eq!(db.history_imports("desk").unwrap(), vec![other]);
        // An empty file is an import too (of no sales).
        let (empty, created) = db
            .import_history("mug", &content_sha(3), None, Vec::new())
            .unwrap();
        assert!(created && empty.rows == 0);
        // Another pool reads the same history.
        assert_eq!(t.open().history("mug", None, 3).unwrap(), stored);
    }
}

#[test]
fn concurrent_imports_of_one_content_store_it_once() {
    use serde_json::json;
    for t in TestDb::all("history_import_race") {
        let db = t.open_with(8);
        let sales: Vec<_> = (0..300)
            .map(|k| new_sale("mug", json!([["size", k]]), 1, None))
            .collect();
        let barrier = Arc::new(Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (db, barrier, sales) = (db.clone(), Arc::clone(&barrier), sales.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    db.import_history("mug", &content_sha(9), None, sales)
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{}: {e}", t.name))
            })
            .collect();
        assert_eq!(results.iter().filter(|(_, c)| *c).count(), 1, "{}", t.name);
        let ids: BTreeSet<i64> = results.iter().map(|(i, _)| i.id).collect();
        assert_eq!(
            ids.len(),
            1,
            "{}: every caller sees the same import",
            t.name
        );
        assert_eq!(
            db.history_since("mug", None).unwrap().len(),
            300,
            "{}",
            t.name
        );
        assert_eq!(db.history_imports("mug").unwrap().len(), 1);
    }
}

#[test]
fn history_pages_by_id_and_resumes_after_the_last_id() {
    use serde_json::json;
    for t in TestDb::all("history_pages") {
        let db = t.open();
        assert!(db.history("mug", None, 10).unwrap().is_empty());
        assert_eq!(db.history_state().unwrap().last_sale_id, 0);
        let mugs: Vec<_> = (0..25)
            .map(|k| new_sale("mug", json!([["size", k]]), 1, None))
            .collect();
        db.import_history("mug", &content_sha(1), None, mugs)
            .unwrap();
        let desks = vec![new_sale("desk", json!([["top", "oak"]]), 1, None)];
        db.import_history("desk", &content_sha(2), None, desks)
            .unwrap();

        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = db.history("mug", after, 10).unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|s| s.id);
            pages.push(page);
        }
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10, 10, 5],
            "{}",
            t.name
        );
        let all: Vec<Sale> = pages.into_iter().flatten().collect();
        assert!(ids(&all).windows(2).all(|w| w[0] < w[1]), "{}", t.name);
        assert!(all.iter().all(|s| s.product_id == "mug"));
        let sizes: Vec<i64> = all
            .iter()
            .map(|s| s.selection[0][1].as_i64().unwrap())
            .collect();
        assert_eq!(sizes, (0..25).collect::<Vec<_>>(), "import order kept");
        assert_eq!(db.history_since("mug", None).unwrap(), all);
        let last = all.last().map(|s| s.id);
        assert!(db.history_since("mug", last).unwrap().is_empty());
        assert_eq!(db.history_state().unwrap().last_sale_id, 26, "{}", t.name);
        // Limits are clamped, never an error; unknown or malformed products have no history.
        assert_eq!(db.history("mug", None, 0).unwrap().len(), 1);
        assert!(db.history("nope", None, 10).unwrap().is_empty());
        assert!(db.history("", None, 10).unwrap().is_empty());
        assert!(
            db.history(&"x".repeat(100_000), None, 10)
                .unwrap()
                .is_empty()
        );
        // A poller resuming after the last id sees exactly what was added since.
        let mut o = new_order("after-import", "red");
        o.product_id = "mug".into();
        let (order, _) = db.create_order(o).unwrap();
        let new = db.history_since("mug", last).unwrap();
        assert_eq!(new.len(), 1, "{}", t.name);
        assert_eq!(new[0].order_id.as_deref(), Some(order.id.as_str()));
        assert_eq!(db.history_state().unwrap().last_sale_id, new[0].id);
    }
}

#[test]
fn a_created_order_feeds_the_history_once_and_replays_do_not() {
    use serde_json::json;
    for t in TestDb::all("history_orders") {
        let db = t.open_with(8);
        let mut new = new_order("hist-1", "red");
        // Selections are ordered pairs today (older orders stored an object; see below).
        new.selection = json!([
            ["size", "m"],
            ["color", "red"],
            ["handle", true],
            ["qty", 2]
        ]);
        let (order, created) = db.create_order(new.clone()).unwrap();
        assert!(created);
        let sales = db.history("mug", None, 10).unwrap();
        assert_eq!(sales.len(), 1, "{}", t.name);
        let sale = &sales[0];
        assert_eq!(sale.source, SaleSource::Order);
        assert_eq!(sale.order_id.as_deref(), Some(order.id.as_str()));
        assert_eq!(sale.import_id, None);
        assert_eq!(sale.product_id, order.product_id);
        assert_eq!(
            sale.catalog_version.as_deref(),
            Some(order.catalog_version.as_str())
        );
        assert_eq!(
            sale.selection, order.selection,
            "{}: what the order stores",
            t.name
        );
        assert_eq!(sale.count, 1);
        assert_eq!(sale.customer_ref.as_deref(), Some("cust-42"));
        assert_eq!(sale.created_at, order.created_at);

        // A replay, a conflict and a transition feed nothing.
        let (again, created) = db.create_order(new).unwrap();
        assert!(!created && again.id == order.id);
        assert!(matches!(
            db.create_order(new_order("hist-1", "blue")),
            Err(DbError::IdempotencyConflict { .. })
        ));
        db.transition(&order.id, Status::Accepted, 1, None).unwrap();
        assert_eq!(db.history("mug", None, 10).unwrap().len(), 1, "{}", t.name);
        // An order stored as an object (the older form) is stored as such.
        let (older, _) = db.create_order(new_order("hist-2", "green")).unwrap();
        let sales = db.history("mug", None, 10).unwrap();
        assert_eq!(sales.len(), 2);
        assert_eq!(sales[1].selection, json!({"color": "green", "size": "m"}));
        assert_eq!(sales[1].order_id.as_deref(), Some(older.id.as_str()));
        // A rejected order feeds nothing.
        assert!(matches!(
            db.create_order(new_order("", "red")),
            Err(DbError::Invalid(_))
        ));
        // Fifty racing creates with one key: one order, one sale.
        let barrier = Arc::new(Barrier::new(50));
        let racers: Vec<_> = (0..50)
            .map(|_| {
                let (db, barrier) = (db.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    db.create_order(new_order("hist-race", "green")).unwrap().1
                })
            })
            .collect();
        let created = racers.into_iter().map(|h| h.join().unwrap());
        assert_eq!(created.filter(|c| *c).count(), 1, "{}", t.name);
        let sales = db.history("mug", None, 100).unwrap();
        assert_eq!(sales.len(), 3, "{}", t.name);
        let order_ids: BTreeSet<_> = sales.iter().filter_map(|s| s.order_id.clone()).collect();
        assert_eq!(order_ids.len(), 3);
        for id in &order_ids {
            assert!(db.get_order(id).is_ok());
        }
    }
}

#[test]
fn deleting_a_customer_removes_only_their_sales_and_keeps_their_orders() {
    use serde_json::json;
    for t in TestDb::all("history_customer") {
        let db = t.open();
        let (mine, _) = db.create_order(new_order("c-1", "red")).unwrap(); // cust-42
        let mut other = new_order("c-2", "red");
        other.customer_ref = Some("cust-7".into());
        db.create_order(other).unwrap();
        let mut anonymous = new_order("c-3", "red");
        anonymous.customer_ref = None;
        db.create_order(anonymous).unwrap();
        db.import_history(
            "desk",
            &content_sha(1),
            None,
            vec![
                new_sale("desk", json!([["top", "oak"]]), 3, Some("cust-42")),
                new_sale("desk", json!([["top", "ash"]]), 1, Some("cust-7")),
                new_sale("desk", json!([["top", "elm"]]), 1, None),
            ],
        )
        .unwrap();
        let before = db.history_state().unwrap();
        assert_eq!(before.erasures, 0);

        assert_eq!(
            db.delete_customer_history("cust-42").unwrap(),
            2,
            "{}",
            t.name
        );
        for product in ["mug", "desk"] {
            let left = db.history(product, None, 100).unwrap();
            assert_eq!(left.len(), 2, "{}: {product}", t.name);
            assert!(
                left.iter()
                    .all(|s| s.customer_ref.as_deref() != Some("cust-42"))
            );
        }
        // The order itself stays, and so does the import's record.
        assert_eq!(db.get_order(&mine.id).unwrap(), mine);
        assert_eq!(db.history_imports("desk").unwrap()[0].rows, 3);
        let after = db.history_state().unwrap();
        assert_eq!(after.erasures, 1, "{}", t.name);
        assert_eq!(after.last_sale_id, before.last_sale_id);
        // Nothing left to delete: no erasure counted.
        assert_eq!(db.delete_customer_history("cust-42").unwrap(), 0);
        assert_eq!(db.delete_customer_history("nobody").unwrap(), 0);
        assert_eq!(db.history_state().unwrap().erasures, 1);
        assert!(matches!(
            db.delete_customer_history(""),
            Err(DbError::Invalid(_))
        ));
        assert!(matches!(
            db.delete_customer_history(&"c".repeat(300)),
            Err(DbError::Invalid(_))
        ));
        // A later order of the same customer is history again.
        db.create_order(new_order("c-4", "red")).unwrap();
        let mug = db.history("mug", None, 100).unwrap();
        assert_eq!(mug.len(), 3);
        assert_eq!(mug[2].customer_ref.as_deref(), Some("cust-42"));
    }
}

#[test]
fn history_bounds_are_typed_errors_and_store_nothing() {
    use bespoke::orders::{MAX_IMPORT_SALES, MAX_SALE_COUNT};
    use serde_json::json;
    for t in TestDb::all("history_bounds") {
        let db = t.open();
        let ok = || new_sale("mug", json!([["color", "red"]]), 1, None);
        let bad_sets: Vec<(&str, Vec<bespoke::orders::NewSale>)> = vec![
            ("count 0", vec![ok(), new_sale("mug", json!([]), 0, None)]),
            (
                "count too large",
                vec![new_sale("mug", json!([]), MAX_SALE_COUNT + 1, None)],
            ),
            (
                "null selection",
                vec![new_sale("mug", json!(null), 1, None)],
            ),
            (
                "selection too large",
                vec![new_sale(
                    "mug",
                    json!([["text", "x".repeat(300_000)]]),
                    1,
                    None,
                )],
            ),
            (
                "empty customer",
                vec![new_sale("mug", json!([]), 1, Some(""))],
            ),
            (
                "another product",
                vec![ok(), new_sale("desk", json!([]), 1, None)],
            ),
        ];
        for (what, sales) in bad_sets {
            assert!(
                matches!(
                    db.import_history("mug", &content_sha(1), None, sales),
                    Err(DbError::Invalid(_))
                ),
                "{}: {what}",
                t.name
            );
        }
        for (product, sha, name) in [
            ("", content_sha(1), None),
            ("mug", String::new(), None),
            ("mug", "not a digest".to_owned(), None),
            ("mug", content_sha(1), Some(String::new())),
            ("mug", content_sha(1), Some("f".repeat(300))),
        ] {
            assert!(matches!(
                db.import_history(product, &sha, name.as_deref(), vec![ok()]),
                Err(DbError::Invalid(_))
            ));
        }
        // Too many sales in one import (checked before anything else).
        let many = vec![new_sale("m", json!([]), 1, None); MAX_IMPORT_SALES + 1];
        assert!(matches!(
            db.import_history("m", &content_sha(1), None, many),
            Err(DbError::Invalid(_))
        ));
        assert!(
            db.history("mug", None, 10).unwrap().is_empty(),
            "{}",
            t.name
        );
        assert!(db.history_imports("mug").unwrap().is_empty());
        assert_eq!(db.history_state().unwrap().last_sale_id, 0);
        // After the failures, the content still imports.
        let (_, created) = db
            .import_history("mug", &content_sha(1), None, vec![ok()])
            .unwrap();
        assert!(created);
    }
}

#[test]
fn a_reader_polling_after_its_last_id_misses_no_sale_under_concurrent_writers() {
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};
    for t in TestDb::all("history_poll") {
        let db = t.open_with(8);
        let done = Arc::new(AtomicBool::new(false));
        let poller = {
            let (db, done) = (db.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut seen: Vec<i64> = Vec::new();
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let after = seen.last().copied();
                    seen.extend(ids(&db.history_since("mug", after).unwrap()));
                    if finished {
                        return seen;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            })
        };
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for k in 0..15 {
                        db.create_order(new_order(&format!("poll-{w}-{k}"), "red"))
                            .unwrap();
                    }
                })
            })
            .chain((0..3).map(|k| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let sales = (0..400)
                        .map(|n| new_sale("mug", json!([["size", n]]), 1, None))
                        .collect();
                    db.import_history("mug", &content_sha(k), None, sales)
                        .unwrap();
                })
            }))
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let seen = poller.join().unwrap();
        let all = ids(&db.history_since("mug", None).unwrap());
        assert_eq!(all.len(), 60 + 1200, "{}", t.name);
        assert_eq!(
            seen, all,
            "{}: the poller saw every sale once, in order",
            t.name
        );
        assert_eq!(db.history_state().unwrap().last_sale_id, 1260);
    }
}

#[test]
fn the_history_migration_feeds_it_the_orders_placed_before() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection, SqliteConnection};
    for t in TestDb::all("history_backfill") {
        let db = t.open();
        let mut placed = Vec::new();
        for k in 0..3 {
            placed.push(
                db.create_order(new_order(&format!("old-{k}"), "red"))
                    .unwrap()
                    .0,
            );
        }
        drop(db);
        // Back to the schema before the history (its down.sql), then connect again.
        let undo = "DROP TABLE history_sales; DROP TABLE history_imports; \
                    DROP TABLE history_counters; \
                    DELETE FROM __diesel_schema_migrations WHERE version = '20261207000005';";
        match t.name {
            "sqlite" => {
                let path = t.url.trim_start_matches("sqlite://");
                SqliteConnection::establish(path)
                    .unwrap()
                    .batch_execute(undo)
                    .unwrap();
            }
            _ => PgConnection::establish(&t.url)
                .unwrap()
                .batch_execute(undo)
                .unwrap(),
        }
        let db = t.open();
        assert_eq!(db.migrations_run(), 1, "{}", t.name);
        let sales = db.history("mug", None, 10).unwrap();
        assert_eq!(sales.len(), 3, "{}", t.name);
        for (sale, order) in sales.iter().zip(&placed) {
            assert_eq!(sale.order_id.as_deref(), Some(order.id.as_str()));
            assert_eq!(sale.source, SaleSource::Order);
            assert_eq!(sale.selection, order.selection);
            assert_eq!(sale.created_at, order.created_at);
            assert_eq!(sale.customer_ref, order.customer_ref);
        }
        assert_eq!(ids(&sales), vec![1, 2, 3]);
        // New sales continue after them.
        let (next, _) = db.create_order(new_order("new", "red")).unwrap();
        let after = db.history_since("mug", Some(3)).unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].id, 4);
        assert_eq!(after[0].order_id.as_deref(), Some(next.id.as_str()));
    }
}
