//! `bespoke quote` run as a real process: quotes, ranges of partial selections, JSON shape, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::str::FromStr;

use rust_decimal::Decimal;

/// `bespoke ARGS --catalog <the repo's sample catalog>`.
fn bespoke(args: &[&str]) -> (i32, String, String) {
    let repo = common::repo();
    let mut all = args.to_vec();
    all.extend(["--catalog", repo.to_str().unwrap()]);
    common::bespoke(&all)
}

fn dec(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("{v} is not a decimal string")),
    )
    .unwrap()
}

const FULL_TEE: &[&str] = &[
    "quote",
    "classic-tee",
    "size=XXL",
    "color=heather",
    "fabric=organic",
    "sleeve_print=true",
    "print_position=center-chest",
    "ink=gold",
    "front_text=HELLO",
    "--quantity",
    "30",
];

#[test]
fn quote_json_of_a_complete_selection() {
    let (code, out, err) = bespoke(&[FULL_TEE, &["--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["currency"], "EUR");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["quantity"], 30);
    assert_eq!(doc["unit"], "27.12");
    assert_eq!(doc["total"], "819.60");
    let lines = doc["lines"].as_array().unwrap();
    let sum: Decimal = lines.iter().map(|l| dec(&l["amount"])).sum();
    assert_eq!(sum, dec(&doc["total"]));
    let tier = lines.iter().find(|l| l["source"] == "tier:25").unwrap();
    assert_eq!(tier["amount"], "-116.40");
    assert_eq!(tier["unit_amount"], "-3.88");
    let setup = lines
        .iter()
        .find(|l| l["source"] == "rule:print-setup")
        .unwrap();
    assert_eq!(setup["stage"], "order");
    assert_eq!(setup["amount"], "6.00");
    assert!(lines.iter().all(|l| l["label"].is_string()));
}

#[test]
fn quote_text_lists_lines_and_total() {
    let (code, out, err) = bespoke(FULL_TEE);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("12.5% off from 25 pieces"), "{out}");
    assert!(out.contains("Total"), "{out}");
    assert!(out.contains("819.60 EUR"), "{out}");
}

#[test]
fn partial_selection_gives_the_range_and_a_priced_completion() {
    let (code, out, err) = bespoke(&["quote", "classic-tee", "size=XXL", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["complete"], false);
    let (min, max, total) = (dec(&doc["min"]), dec(&doc["max"]), dec(&doc["total"]));
    assert!(min <= total && total <= max, "{doc}");
    // XXL costs 2.00 over the 19.00 base; the cheapest completion adds nothing else.
    assert_eq!(doc["min"], "21.00");
    assert!(doc["completion"]["color"].is_string(), "{doc}");
    let (code, out, _) = bespoke(&["quote", "classic-tee", "size=XXL"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("From 21.00 to "), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = bespoke(&["quote", "no-such-product"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown product"), "{err}");
    let (code, _, err) = bespoke(&["quote", "classic-tee", "--quantity", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("out of range"), "{err}");
    let (code, _, err) = bespoke(&["quote", "classic-tee", "quantity=3", "--quantity", "4"]);
    assert_eq!(code, 2);
    assert!(err.contains("chosen twice"), "{err}");
}

#[test]
fn a_selection_that_breaks_rules_exits_1() {
    let (code, _, err) = bespoke(&[
        "quote",
        "classic-tee",
        "size=M",
        "color=heather",
        "fabric=polyester",
        "print_position=center-chest",
        "ink=black",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("breaks the rules"), "{err}");
}
