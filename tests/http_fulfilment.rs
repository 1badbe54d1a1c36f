//! Fulfilment-ready orders: option labels and SKUs, the composed variant SKU, the quote and the exact bill of materials over HTTP (contract-checked; the order tests on SQLite and, when BESPOKE_TEST_POSTGRES_URL is set, PostgreSQL); bom and sku diagnostics located at file:line:column; the bill's determinism and merging checked against a direct sum; `bespoke quote` showing both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use bespoke::catalog::{self, Code};
use bespoke::rules::Selection;
use common::http::{ADMIN, Res, TestApp, send};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

async fn order(app: &TestApp, key: &str, body: Value) -> Res {
    send(
        app,
        TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("Idempotency-Key", key))
            .set_json(body),
    )
    .await
}

async fn get(app: &TestApp, uri: &str) -> Res {
    send(
        app,
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {ADMIN}"))),
    )
    .await
}

fn option<'a>(order: &'a Value, id: &str) -> &'a Value {
    order["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["option"] == id)
        .unwrap_or_else(|| panic!("no option {id} in {order}"))
}

/// The desk's bill at 160 × 80 cm in oak with the defaults (eased edge, four legs, no drawers).
fn desk_bom(desks: u32) -> Value {
    let n = |per: &str| {
        (per.parse::<Decimal>().unwrap() * Decimal::from(desks))
            .normalize()
            .to_string()
    };
    json!([
        {"part": "LEG-STRAIGHT-72", "quantity": n("4"), "unit": null,
         "from": [{"kind": "rule", "id": "legs"}]},
        {"part": "EDGE-SAND", "quantity": n("4.8"), "unit": "m",
         "from": [{"kind": "rule", "id": "edge-band"}]},
        {"part": "SCREW-4x30", "quantity": n("16"), "unit": null,
         "from": [{"kind": "rule", "id": "fixings"}]},
        {"part": "BOARD-OAK-27", "quantity": n("1.28"), "unit": "m2",
         "from": [{"kind": "value", "option": "top_material", "value": "oak"}]},
    ])
}

#[actix_web::test]
async fn a_desk_order_carries_labels_skus_variant_sku_quote_and_its_exact_bill() {
    for db in common::db::TestDb::all("fulfilment_desk") {
        let app = TestApp::start_in(db, &common::repo(), |_| {});
        let r = order(
            &app,
            "desk-1",
            json!({"product": "custom-desk",
                   "selection": {"top_material": "oak", "width_cm": 160, "depth_cm": 80},
                   "customer_ref": "cust-7", "metadata": {"channel": "showroom"}}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        let o = r.json();
        // Labels and SKUs per option, typed values as in selections.
        assert_eq!(
            option(&o, "top_material"),
            &json!({"option": "top_material", "label": "Top material", "value": "oak",
                    "value_label": "Solid oak", "sku": "TOP-OAK"})
        );
        assert_eq!(option(&o, "width_cm")["value"], json!(160));
        assert_eq!(option(&o, "width_cm")["label"], "Width");
        assert_eq!(option(&o, "width_cm")["sku"], Value::Null);
        assert_eq!(option(&o, "height_adjustable")["value"], json!(false));
        assert_eq!(option(&o, "height_adjustable")["value_label"], "No");
        assert_eq!(
            option(&o, "leg_material")["value_label"],
            "Black powder-coated steel"
        );
        // Every option with a value, in product order.
        let ids: Vec<&str> = o["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["option"].as_str().unwrap())
            .collect();
        assert_eq!(ids.first(), Some(&"top_material"));
        assert_eq!(ids.last(), Some(&"quantity"));
        assert_eq!(ids.len(), 14, "{ids:?}");
        // The composed variant SKU: the value's SKU, the numbers, a value id without an SKU.
        assert_eq!(o["variant_sku"], "CD-TOP-OAK-160x80-four-leg");
        // The quote with its breakdown, customer reference and metadata.
        assert!(o["quote"]["total"].is_string());
        assert!(
            o["quote"]["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["source"] == "top_material=oak"),
            "{}",
            o["quote"]
        );
        assert_eq!(o["customer_ref"], "cust-7");
        assert_eq!(o["metadata"], json!({"channel": "showroom"}));
        assert_eq!(o["design_id"], Value::Null);
        // The exact bill: 160 × 80 cm of oak is 1.28 m².
        assert_eq!(o["bom"], desk_bom(1), "{}", o["bom"]);
        // Stored, not recomputed: the order reads back the same.
        let id = o["id"].as_str().unwrap();
        let back = get(&app, &format!("/v1/orders/{id}")).await;
        assert_eq!(back.status, StatusCode::OK);
        assert_eq!(back.json()["bom"], o["bom"]);
        assert_eq!(back.json()["options"], o["options"]);
        assert_eq!(back.json()["variant_sku"], o["variant_sku"]);
        // The feed shows the same.
        let feed = get(&app, "/v1/orders").await.json();
        assert_eq!(feed["items"][0]["bom"], o["bom"]);

        // Three desks consume three times the parts.
        let r = order(
            &app,
            "desk-3",
            json!({"product": "custom-desk",
                   "selection": {"top_material": "oak", "width_cm": 160, "depth_cm": 80, "quantity": 3}}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        assert_eq!(r.json()["bom"], desk_bom(3));
    }
}

#[actix_web::test]
async fn an_order_from_a_design_carries_the_design_id_and_the_same_fulfilment() {
    let app = TestApp::sample();
    let r = send(
        &app,
        TestRequest::post().uri("/v1/designs").set_json(json!({
            "product": "custom-desk",
            "selection": {"top_material": "oak", "width_cm": 160, "depth_cm": 80},
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    // The design shows what its order will freeze.
    let d = r.json();
    assert_eq!(d["variant_sku"], "CD-TOP-OAK-160x80-four-leg");
    assert_eq!(d["bom"], desk_bom(1));
    assert_eq!(option(&d, "top_material")["value_label"], "Solid oak");
    let design = d["id"].as_str().unwrap().to_owned();
    let r = order(
        &app,
        "from-design",
        json!({"design": design, "customer_ref": "c-2"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let o = r.json();
    assert_eq!(o["design_id"], json!(design));
    assert_eq!(o["variant_sku"], "CD-TOP-OAK-160x80-four-leg");
    assert_eq!(o["bom"], desk_bom(1));
    assert_eq!(o["options"], d["options"]);
    assert_eq!(option(&o, "top_material")["sku"], "TOP-OAK");
}

#[actix_web::test]
async fn a_value_level_bill_and_products_without_one() {
    let app = TestApp::sample();
    // The framed print's frame consumes moulding by the print's perimeter.
    let r = order(
        &app,
        "print-1",
        json!({"product": "framed-print",
               "selection": {"frame": "oak", "width_cm": 40, "height_cm": 50}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let o = r.json();
    assert_eq!(
        o["bom"],
        json!([{"part": "MOULD-OAK-20", "quantity": "2.12", "unit": "m",
                "from": [{"kind": "value", "option": "frame", "value": "oak"}]}])
    );
    assert_eq!(o["variant_sku"], Value::Null, "no sku template");
    assert_eq!(option(&o, "frame")["sku"], "FR-OAK");
    assert_eq!(option(&o, "artwork")["sku"], "ART-001");
    // A product without any bom: an empty bill.
    let r = order(
        &app,
        "tee-1",
        json!({"product": "classic-tee", "selection": {"size": "M"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(r.json()["bom"], json!([]));
}

#[actix_web::test]
async fn an_order_stored_before_fulfilment_data_still_reads() {
    for db in common::db::TestDb::all("fulfilment_old_orders") {
        let app = TestApp::start_in(db, &common::repo(), |_| {});
        let r = order(
            &app,
            "old",
            json!({"product": "classic-tee", "selection": {"size": "M"}}),
        )
        .await;
        let mut stored = app.db.get_order(r.json()["id"].as_str().unwrap()).unwrap();
        // As an earlier version stored it: no fulfilment column value.
        let new = bespoke::orders::NewOrder {
            idempotency_key: "older".into(),
            fingerprint: "f".into(),
            product_id: stored.product_id.clone(),
            catalog_version: stored.catalog_version.clone(),
            selection: stored.selection.clone(),
            quote: stored.quote.clone(),
            preview_ref: stored.preview_ref.take(),
            customer_ref: None,
            metadata: json!({}),
            design_id: None,
            filled: Vec::new(),
            fulfilment: Value::Null,
        };
        let (old, _) = app.db.create_order(new).unwrap();
        let r = get(&app, &format!("/v1/orders/{}", old.id)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json());
        let o = r.json();
        assert_eq!(o["options"], json!([]));
        assert_eq!(o["bom"], json!([]));
        assert_eq!(o["variant_sku"], Value::Null);
    }
}

const BROKEN: &str = r#"=== catalog/desk.yaml
id: desk
name: Desk
currency: EUR
base_price: "100.00"
sku: "D-{frame}-{widht}"
bom:
  - { part: TOP, quantity: "width * dept * 0.0001", unit: m2 }
  - { part: LEG, quantity: "frame", unit: pcs }
  - { part: FOOT, quantity: 4, colour: black }
options:
  width: { type: integer, min: 100, max: 200, step: 10 }
  frame:
    type: choice
    values:
      steel: { sku: ST, bom: [{ part: "bad part", quantity: 1 }] }
      oak: { bom: [{ part: OAK, quantity: "-2" }] }
"#;

/// (code, line, column) of every diagnostic, in order.
fn located(text: &str) -> Vec<(Code, u32, u32)> {
    let r = catalog::load(&common::fixture_files(text));
    assert!(r.catalog.is_none(), "the product has errors");
    r.diagnostics
        .iter()
        .map(|d| {
            assert_eq!(r.sources.path(d.span.file), "catalog/desk.yaml");
            (d.code, d.span.line, d.span.column)
        })
        .collect()
}

#[test]
fn bom_and_sku_diagnostics_are_located() {
    let found = located(BROKEN);
    let want = [
        // `{widht}`: the placeholder, inside the quoted template.
        (Code::UnknownOption, 5, 18),
        // `dept` in a quantity expression.
        (Code::UnknownOption, 7, 37),
        // A choice option is not a number.
        (Code::ExprType, 8, 29),
        // An unknown key in an entry.
        (Code::UnknownKey, 9, 32),
        // A part id with a space, in a value's bom.
        (Code::InvalidId, 15, 39),
        // A negative constant quantity.
        (Code::WrongType, 16, 43),
    ];
    assert_eq!(
        found,
        want,
        "{}",
        catalog::load(&common::fixture_files(BROKEN)).render()
    );
    let rendered = catalog::load(&common::fixture_files(BROKEN)).render();
    assert!(rendered.contains("did you mean `width`?"), "{rendered}");
    assert!(rendered.contains("catalog/desk.yaml:7:37"), "{rendered}");
}

const MERGING: &str = r#"=== catalog/shelf.yaml
id: shelf
name: Shelf
currency: EUR
base_price: "10.00"
sku: "SH-{wood}-{len}{{x}}{doors}"
bom:
  - { id: board, part: BOARD, quantity: "len * 0.01", unit: m }
  - { id: brackets, part: BRACKET, quantity: "2 + len - len", if: len >= 60 }
  - { id: extra-board, part: BOARD, quantity: "len * 0.005", unit: m, if: doors }
  - { part: BOARD, quantity: 1 }
  - { part: SCREW, quantity: "count * 4" }
options:
  wood:
    type: choice
    values:
      pine: { sku: PN, bom: [{ part: BOARD, quantity: "len * 0.0025", unit: m }, { part: OIL, quantity: 0.1, unit: l }] }
      oak: { bom: [{ part: BRACKET, quantity: 1 }] }
  len: { type: integer, min: 20, max: 200, step: 5 }
  doors: { type: boolean }
  count: { type: integer, min: 0, max: 9, required: false }
  quantity: { type: quantity, max: 50 }
"#;

/// A selection from `option=value` words.
fn pick(p: &catalog::Product, text: &str) -> Result<Selection, bespoke::rules::SelectionError> {
    let pairs: Vec<(String, String)> = text
        .split_whitespace()
        .map(|w| {
            let (k, v) = w.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Selection::parse(p, &pairs)
}

fn shelf() -> std::sync::Arc<catalog::Product> {
    let r = catalog::load(&common::fixture_files(MERGING));
    assert!(!r.has_errors(), "{}", r.render());
    r.catalog.unwrap().product("shelf").unwrap().clone()
}

#[test]
fn the_sku_template_composes_skus_ids_numbers_and_braces() {
    let p = shelf();
    let sel = pick(&p, "wood=pine len=60 doors=true").unwrap();
    assert_eq!(
        bespoke::orders::variant_sku(&p, &sel).as_deref(),
        Some("SH-PN-60{x}true")
    );
    let sel = pick(&p, "wood=oak len=60").unwrap();
    assert_eq!(
        bespoke::orders::variant_sku(&p, &sel).as_deref(),
        Some("SH-oak-60{x}false")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The bill is the same every time, merges per part and unit (one line each, in first
    /// appearance order), and each line is the exact sum of what its entries contribute.
    #[test]
    fn the_bill_is_deterministic_and_merges_lines(
        pine in any::<bool>(),
        len in (4i64..=40).prop_map(|k| k * 5),
        doors in any::<bool>(),
        count in proptest::option::of(0i64..=9),
        qty in 1i64..=50,
    ) {
        let p = shelf();
        let mut text = format!("wood={} len={len} doors={doors} quantity={qty}", if pine { "pine" } else { "oak" });
        if let Some(c) = count {
            text.push_str(&format!(" count={c}"));
        }
        let sel = pick(&p, &text).unwrap();
        let a = bespoke::orders::bill(&p, &sel).unwrap();
        let b = bespoke::orders::bill(&p, &sel).unwrap();
        prop_assert_eq!(&a, &b);
        // One line per (part, unit).
        let mut keys: Vec<_> = a.iter().map(|l| (l.part.clone(), l.unit.clone())).collect();
        keys.sort();
        keys.dedup();
        prop_assert_eq!(keys.len(), a.len());
        // The direct sums.
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let q = Decimal::from(qty);
        let l = Decimal::from(len);
        let mut board_m = l * d("0.01");
        if doors { board_m += l * d("0.005"); }
        if pine { board_m += l * d("0.0025"); }
        let find = |part: &str, unit: Option<&str>| {
            a.iter().find(|x| x.part == part && x.unit.as_deref() == unit).map(|x| x.quantity)
        };
        prop_assert_eq!(find("BOARD", Some("m")), Some((board_m * q).normalize()));
        prop_assert_eq!(find("BOARD", None), Some(q));
        let brackets = if len >= 60 { 2 } else { 0 } + if pine { 0 } else { 1 };
        prop_assert_eq!(find("BRACKET", None), (brackets > 0).then(|| Decimal::from(brackets) * q));
        prop_assert_eq!(find("OIL", Some("l")), pine.then(|| (d("0.1") * q).normalize()));
        // An unset option contributes nothing; zero contributes no line.
        let screws = count.filter(|c| *c > 0).map(|c| Decimal::from(c * 4) * q);
        prop_assert_eq!(find("SCREW", None), screws);
        // The first line is the first entry's part; merged lines name every contributor.
        prop_assert_eq!(&a[0].part, "BOARD");
        let board = a.iter().find(|x| x.part == "BOARD" && x.unit.as_deref() == Some("m")).unwrap();
        prop_assert_eq!(board.from.len(), 1 + usize::from(doors) + usize::from(pine));
    }
}

#[test]
fn negative_and_overflowing_quantities_are_typed_errors() {
    let text = MERGING.replace(
        "{ part: SCREW, quantity: \"count * 4\" }",
        "{ part: SCREW, quantity: \"count * 4 - 10\" }\n  - { part: HUGE, quantity: \"len * 999999999999999999 * 999999999999999999\", if: len >= 200 }",
    );
    let r = catalog::load(&common::fixture_files(&text));
    assert!(!r.has_errors(), "{}", r.render());
    let p = r.catalog.unwrap().product("shelf").unwrap().clone();
    let sel = pick(&p, "wood=oak len=50 count=1").unwrap();
    let e = bespoke::orders::bill(&p, &sel).unwrap_err();
    assert!(
        matches!(&e, bespoke::orders::BomError::Negative { part, quantity, .. } if part == "SCREW" && *quantity == Decimal::from(-6)),
        "{e}"
    );
    let sel = pick(&p, "wood=oak len=200 count=5").unwrap();
    let e = bespoke::orders::bill(&p, &sel).unwrap_err();
    assert!(
        matches!(&e, bespoke::orders::BomError::Overflow { part, .. } if part == "HUGE"),
        "{e}"
    );
}

#[test]
fn bespoke_quote_shows_the_variant_sku_and_the_bill() {
    let repo = common::repo();
    let catalog = repo.to_str().unwrap();
    let args = [
        "quote",
        "custom-desk",
        "top_material=oak",
        "width_cm=160",
        "depth_cm=80",
        "--catalog",
        catalog,
    ];
    let (code, out, err) = common::bespoke(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Variant SKU: CD-TOP-OAK-160x80-four-leg"),
        "{out}"
    );
    assert!(out.contains("Bill of materials:"), "{out}");
    assert!(
        out.lines().any(|l| l.contains("BOARD-OAK-27")
            && l.contains("1.28 m2")
            && l.contains("`top_material=oak`")),
        "{out}"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let (code, out, err) = common::bespoke(&json_args);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["variant_sku"], "CD-TOP-OAK-160x80-four-leg");
    assert_eq!(doc["bom"], desk_bom(1));
}

/// A catalog whose bill goes negative for short shelves.
const NEGATIVE: &str = r#"id: shelf
name: Shelf
currency: EUR
base_price: "10.00"
bom:
  - { id: trim, part: TRIM, quantity: "len - 50", unit: cm }
options:
  len: { type: integer, min: 20, max: 200, step: 10, default: 100 }
"#;

#[actix_web::test]
async fn a_bill_that_cannot_be_resolved_refuses_the_order_as_a_problem() {
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/shelf.yaml"), NEGATIVE).unwrap();
    let app = TestApp::start_in(db, &dir, |_| {});
    let r = order(
        &app,
        "short",
        json!({"product": "shelf", "selection": {"len": 30}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
    assert_eq!(r.json()["type"], "/problems/bill-of-materials");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("TRIM"),
        "{}",
        r.json()
    );
    // Nothing was stored; a long shelf orders fine.
    assert_eq!(get(&app, "/v1/orders").await.json()["items"], json!([]));
    let r = order(
        &app,
        "long",
        json!({"product": "shelf", "selection": {"len": 80}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(
        r.json()["bom"],
        json!([{"part": "TRIM", "quantity": "30", "unit": "cm", "from": [{"kind": "rule", "id": "trim"}]}])
    );
}
