//! Property test of the order store against a model: random creates (keys and bodies drawn from
//! small pools, so replays and conflicts are frequent) and transitions (legal, illegal, stale),
//! then every feed listing, paged with random sizes and filters, must equal the model's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::db::DbError;
use bespoke::orders::{OrderFilter, Status};
use common::db::{TestDb, new_order};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create { key: u8, body: u8 },
    Transition { pick: usize, to: Status, delta: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u8..2).prop_map(|(key, body)| Op::Create { key, body }),
        (
            any::<usize>(),
            prop::sample::select(Status::ALL.to_vec()),
            prop_oneof![3 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64)]
        )
            .prop_map(|(pick, to, delta)| Op::Transition { pick, to, delta }),
    ]
}

struct Model {
    id: String,
    key: u8,
    body: u8,
    status: Status,
    version: i64,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_store_behaves_like_the_model(
        ops in prop::collection::vec(op(), 1..40),
        page in 1u32..5,
        filter in prop::option::of(prop::sample::select(Status::ALL.to_vec())),
    ) {
        let t = TestDb::sqlite();
        let db = t.open();
        let mut model: Vec<Model> = Vec::new();
        for op in ops {
            match op {
                Op::Create { key, body } => {
                    let got = db.create_order(new_order(&format!("key{key}"), &format!("body{body}")));
                    match model.iter().find(|m| m.key == key) {
                        Some(m) if m.body == body => {
                            let (o, created) = got.unwrap();
                            prop_assert!(!created);
                            prop_assert_eq!(&o.id, &m.id);
                            prop_assert_eq!((o.status, o.version), (m.status, m.version));
                        }
                        Some(m) => match got {
                            Err(DbError::IdempotencyConflict { existing_order }) => prop_assert_eq!(&existing_order, &m.id),
                            other => prop_assert!(false, "expected a conflict, got {:?}", other),
                        },
                        None => {
                            let (o, created) = got.unwrap();
                            prop_assert!(created);
                            model.push(Model { id: o.id, key, body, status: Status::Submitted, version: 1 });
                        }
                    }
                }
                Op::Transition { pick, to, delta } => {
                    if model.is_empty() {
                        continue;
                    }
                    let i = pick % model.len();
                    let m = &mut model[i];
                    let got = db.transition(&m.id, to, m.version + delta, None);
                    if delta != 0 {
                        prop_assert!(matches!(got, Err(DbError::VersionConflict { current }) if current == m.version), "{:?}", got);
                    } else if !m.status.can_become(to) {
                        prop_assert!(matches!(got, Err(DbError::IllegalTransition { from, to: t2 }) if from == m.status && t2 == to), "{:?}", got);
                    } else {
                        let o = got.unwrap();
                        m.status = to;
                        m.version += 1;
                        prop_assert_eq!((o.status, o.version), (m.status, m.version));
                    }
                }
            }
        }
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let p = db.list_orders(OrderFilter { status: filter }, cursor.as_deref(), page).unwrap();
            listed.extend(p.items.into_iter().map(|o| (o.id, o.status, o.version)));
            match p.next_cursor { Some(c) => cursor = Some(c), None => break }
        }
        let expected: Vec<_> = model
            .iter()
            .filter(|m| filter.is_none_or(|s| s == m.status))
            .map(|m| (m.id.clone(), m.status, m.version))
            .collect();
        prop_assert_eq!(listed, expected);
        for m in &model {
            let events = db.events(&m.id).unwrap();
            prop_assert_eq!(events.len() as i64, m.version);
            prop_assert_eq!(events.last().map(|e| e.to), Some(m.status));
        }
    }
}
