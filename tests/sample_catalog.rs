//! The shipped sample catalog: checks clean, exercises every feature, and has stable content-hash versions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use bespoke::catalog::{self, ConstraintForm, OptionKind, PriceEffect, TierEffect};

fn load() -> catalog::Catalog {
    let result = catalog::load_dir(&common::repo()).unwrap();
    assert!(
        result.diagnostics.is_empty(),
        "the sample catalog must check clean:\n{}",
        result.render()
    );
    result.catalog.unwrap()
}

#[test]
fn sample_catalog_is_clean_and_varied() {
    let cat = load();
    assert!(cat.products().len() >= 5, "at least five sample products");
    let mut kinds = BTreeSet::new();
    let mut forms = BTreeSet::new();
    let mut effects = BTreeSet::new();
    let mut tiers = BTreeSet::new();
    let mut features = BTreeSet::new();
    for p in cat.products() {
        assert!(p.preview.is_some(), "{} has no preview", p.id);
        for o in &p.options {
            kinds.insert(o.kind.type_name());
            if !o.required {
                features.insert("optional");
            }
            if o.group.is_some() {
                features.insert("group");
            }
            if let OptionKind::Choice(c) = &o.kind {
                if c.values.iter().any(|v| v.swatch.is_some()) {
                    features.insert("swatch");
                }
                if c.values.iter().any(|v| v.image.is_some()) {
                    features.insert("image");
                }
                if c.values.iter().any(|v| v.sku.is_some()) {
                    features.insert("sku");
                }
            }
            if let OptionKind::Text(t) = &o.kind {
                if t.pattern.is_some() {
                    features.insert("pattern");
                }
                if t.charset.is_some() {
                    features.insert("charset");
                }
            }
        }
        for c in &p.constraints {
            forms.insert(match &c.form {
                ConstraintForm::IfThen { .. } => "if",
                ConstraintForm::Forbid(_) => "forbid",
                ConstraintForm::Require(_) => "require",
                ConstraintForm::Table(t) if t.allow => "table-allow",
                ConstraintForm::Table(_) => "table-forbid",
            });
        }
        for r in &p.price_rules {
            effects.insert(match r.effect {
                PriceEffect::Add(_) => "add",
                PriceEffect::Subtract(_) => "subtract",
                PriceEffect::Formula(_) => "formula",
                PriceEffect::Discount(_) => "discount",
                PriceEffect::Markup(_) => "markup",
                PriceEffect::Set(_) => "set",
                PriceEffect::Min(_) => "min",
                PriceEffect::Max(_) => "max",
            });
        }
        for t in &p.quantity_tiers {
            tiers.insert(match t.effect {
                TierEffect::UnitPrice(_) => "unit_price",
                TierEffect::Discount(_) => "discount",
            });
        }
    }
    assert_eq!(kinds.len(), 6, "every option type is used: {kinds:?}");
    assert_eq!(forms.len(), 5, "every constraint form is used: {forms:?}");
    assert_eq!(effects.len(), 8, "every price effect is used: {effects:?}");
    assert_eq!(tiers.len(), 2, "both tier kinds are used: {tiers:?}");
    for f in [
        "optional", "group", "swatch", "image", "sku", "pattern", "charset",
    ] {
        assert!(features.contains(f), "feature {f} unused: {features:?}");
    }
    let big = cat
        .products()
        .iter()
        .map(|p| p.options.len())
        .max()
        .unwrap();
    assert!(big >= 15, "one product has 15+ options");
}

#[test]
fn a_rules_file_can_serve_several_products() {
    let cat = load();
    let mut users: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in cat.products() {
        for f in p.files.iter().filter(|f| f.starts_with("rules/")) {
            *users.entry(f.as_str()).or_default() += 1;
        }
    }
    assert!(users.values().any(|&n| n >= 2), "{users:?}");
}

#[test]
fn versions_are_stable_and_track_their_files() {
    let a = load();
    let tmp = std::env::temp_dir().join(format!("bespoke-version-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for d in ["catalog", "rules", "assets"] {
        common::copy_dir(&common::repo().join(d), &tmp.join(d));
    }
    let b = catalog::load_dir(&tmp).unwrap().catalog.unwrap();
    assert_eq!(
        a.version, b.version,
        "the version does not depend on where the catalog lives"
    );
    for p in a.products() {
        assert_eq!(p.version.len(), 64);
        assert_eq!(b.product(&p.id).unwrap().version, p.version);
    }
    // Touch one product's rules file: that product's version changes, unrelated ones do not.
    let p0 = a
        .products()
        .iter()
        .find(|p| p.files.iter().any(|f| f.starts_with("rules/")))
        .unwrap();
    let rules = p0.files.iter().find(|f| f.starts_with("rules/")).unwrap();
    let path = tmp.join(rules);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n# a comment changes the bytes\n");
    std::fs::write(&path, text).unwrap();
    let c = catalog::load_dir(&tmp).unwrap().catalog.unwrap();
    for p in a.products() {
        let changed = c.product(&p.id).unwrap().version != p.version;
        assert_eq!(changed, p.files.contains(rules), "{}", p.id);
    }
    assert_ne!(a.version, c.version);
    let _ = std::fs::remove_dir_all(&tmp);
}
