//! Engine helpers shared by the engine tests: the sample desk after an edit of its rules, and
//! the check that an engine which learned things answers as a fresh one does.

use bespoke::catalog;
use bespoke::rules::{Engine, Selection};

/// Asserts that `warm` (an engine that has learned things) answers `sel` as a fresh engine of
/// the same product does: the same available and unavailable values, each explanation naming
/// only chosen options. Returns the fresh engine's answer.
pub fn same_answers(warm: &Engine, sel: &Selection) -> bespoke::rules::Propagation {
    let id = &warm.product.id;
    let fresh = Engine::new(warm.product.clone()).propagate(sel).unwrap();
    let warmed = warm.propagate(sel).unwrap();
    assert_eq!(warmed.consistent, fresh.consistent, "{id}: {sel:?}");
    for (a, b) in warmed.options.iter().zip(&fresh.options) {
        assert_eq!(a.available, b.available, "{id}: {sel:?}");
        let ua: Vec<usize> = a.unavailable.iter().map(|(i, _)| *i).collect();
        let ub: Vec<usize> = b.unavailable.iter().map(|(i, _)| *i).collect();
        assert_eq!(ua, ub, "{id}: {sel:?}");
        for (_, e) in &a.unavailable {
            assert!(!e.rules.is_empty() || !e.choices.is_empty());
            assert!(
                e.choices
                    .iter()
                    .all(|o| *o != a.option && sel.choices.iter().any(|(c, _)| c == o)),
                "{id}: {e:?} names an option not chosen"
            );
        }
    }
    fresh
}

/// The desk of the sample catalog after `edit` (from, to) of its rules file.
pub fn desk_with(edit: (&str, &str)) -> std::sync::Arc<bespoke::catalog::Product> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = catalog::FileSet::from_dir(&root).unwrap();
    let path = "rules/custom-desk.yaml";
    let text = String::from_utf8(files.get(path).unwrap().to_vec()).unwrap();
    assert!(text.contains(edit.0), "no `{}`", edit.0);
    files.insert(path, text.replacen(edit.0, edit.1, 1));
    let catalog = catalog::load(&files).catalog.unwrap();
    catalog.product("custom-desk").unwrap().clone()
}
