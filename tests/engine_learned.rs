//! What an engine learned, exported as records and imported again (`rules::learned`): into an engine of the same model it answers as a fresh engine does and resumes its warm-up; into an edited model it keeps only what still holds there; a damaged record is refused and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::rules::{Engine, Export, Imported, LearnedError, Warmth};
use common::engine::{desk_with, same_answers};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// A rule message changed: the same model.
const SAME: (&str, &str) = ("That finish is not offered", "That finish is not made");
/// A rule's limit changed: another model, with every other rule as it was.
const CHANGED: (&str, &str) = ("then: width_cm <= 180", "then: width_cm <= 170");

fn import_all(engine: &Engine, records: &[Vec<u8>], journal: bool) -> Imported {
    let mut sum = Imported::default();
    for r in records {
        sum += engine.import_learned(r, journal).unwrap();
    }
    sum
}

fn warmed_desk() -> Engine {
    let e = Engine::new(desk_with(("", "")));
    assert!(e.warm(Warmth::Pairs, &|| false).complete);
    e
}

#[test]
fn fingerprints_follow_the_model_not_the_wording() {
    let desk = Engine::new(desk_with(("", "")));
    let fp = desk.fingerprint();
    assert_eq!(fp.len(), 64);
    assert_eq!(Engine::new(desk_with(("", ""))).fingerprint(), fp);
    assert_eq!(Engine::new(desk_with(SAME)).fingerprint(), fp);
    assert_ne!(Engine::new(desk_with(CHANGED)).fingerprint(), fp);
}

#[test]
fn a_restored_engine_answers_as_a_fresh_one_and_resumes_its_warm_up() {
    let first = warmed_desk();
    let records = first.export_learned(Export::Everything);
    assert!(!records.is_empty());
    let second = Engine::new(desk_with(SAME));
    assert!(second.learned_nothing());
    let got = import_all(&second, &records, false);
    assert!(got.same_model, "{got:?}");
    assert_eq!(got.skipped, 0, "{got:?}");
    assert!(got.explanations > 20 && got.solutions > 0, "{got:?}");
    assert!(!second.learned_nothing());
    assert_eq!(second.explanation_bytes(), first.explanation_bytes());
    // The warm-up it was restored from had finished: nothing left to do.
    let resumed = second.warm(Warmth::Pairs, &|| false);
    assert_eq!((resumed.selections, resumed.complete), (0, true));
    for sel in bespoke::rules::generate::click_paths(&second, 7, 6, 4) {
        same_answers(&second, &sel);
    }
    // Importing the same records again keeps nothing new.
    let again = import_all(&second, &records, false);
    assert_eq!(again.explanations, 0);
    assert_eq!(second.explanation_bytes(), first.explanation_bytes());
}

#[test]
fn new_exports_hold_what_was_learned_since_the_last() {
    let desk = desk_with(("", ""));
    let a = Engine::new(desk.clone());
    // Not recording: nothing is new.
    a.warm(Warmth::Empty, &|| false);
    assert!(a.export_learned(Export::New).is_empty());
    a.record_learning();
    assert!(a.warm(Warmth::Choices, &|| false).complete);
    // A whole export (say, for a reload that carries it over) leaves the journal as it is.
    assert!(!a.export_learned(Export::Everything).is_empty());
    let singles = a.export_learned(Export::New);
    assert_eq!(singles.len(), 1);
    assert!(a.warm(Warmth::Pairs, &|| false).complete);
    let pairs = a.export_learned(Export::New);
    assert_eq!(pairs.len(), 1);
    assert!(
        a.export_learned(Export::New).is_empty(),
        "nothing learned since"
    );
    // What the empty selection taught came before recording: a whole export has it first.
    let b = Engine::new(desk.clone());
    let base = a.export_learned(Export::Everything);
    let whole = import_all(&b, &base, false);
    let c = Engine::new(desk.clone());
    let mut parts = import_all(&c, &singles, false);
    parts += import_all(&c, &pairs, false);
    assert!(parts.explanations > 0);
    assert!(parts.explanations <= whole.explanations);
    // The empty selection's part (dead values, first solutions) is what the parts lack; the
    // explanations of single choices and pairs are all there.
    assert_eq!(c.explanation_bytes(), a.explanation_bytes());
    assert_eq!(c.warm(Warmth::Pairs, &|| false).selections, 0);
}

#[test]
fn an_edited_model_keeps_only_what_still_holds() {
    let first = warmed_desk();
    let records = first.export_learned(Export::Everything);
    let edited = Engine::new(desk_with(CHANGED));
    let got = import_all(&edited, &records, true);
    assert!(!got.same_model);
    // Explanations that use the changed rule are left out; the rest is kept.
    assert!(got.skipped > 0, "{got:?}");
    assert!(got.explanations > got.skipped, "{got:?}");
    assert!(edited.explanation_bytes() < first.explanation_bytes());
    // No warm-up progress carries over to another model.
    assert!(edited.warm(Warmth::Choices, &|| false).selections > 1);
    for sel in bespoke::rules::generate::click_paths(&edited, 5, 8, 4) {
        same_answers(&edited, &sel);
    }
    // What it kept was journaled (`journal` true) once it records: an export of what is new
    // under its own fingerprint carries it.
    let other = Engine::new(desk_with(CHANGED));
    other.record_learning();
    let kept = import_all(&other, &records, true);
    let new = other.export_learned(Export::New);
    let third = Engine::new(desk_with(CHANGED));
    let back = import_all(&third, &new, false);
    assert!(back.same_model);
    assert_eq!(back.explanations, kept.explanations);
}

/// A record with its checksum made right again after `edit` (so that the body's own checks
/// are what is tested).
fn resealed(record: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = record[..record.len() - 32].to_vec();
    edit(&mut body);
    let sum = Sha256::digest(&body);
    body.extend_from_slice(&sum);
    body
}

#[test]
fn damaged_records_are_refused_and_change_nothing() {
    let first = warmed_desk();
    let record = first.export_learned(Export::Everything).remove(0);
    let fresh = Engine::new(desk_with(("", "")));
    let refused = |bytes: &[u8]| {
        let r = fresh.import_learned(bytes, true);
        assert!(r.is_err(), "accepted {} bytes", bytes.len());
        assert!(fresh.learned_nothing());
        r.unwrap_err()
    };
    assert_eq!(refused(b""), LearnedError::Magic);
    assert_eq!(refused(b"PNG\r\n"), LearnedError::Magic);
    for cut in [1, 12, 40, record.len() / 2, record.len() - 1] {
        refused(&record[..cut]);
    }
    for at in [
        20,
        100,
        record.len() / 3,
        record.len() - 40,
        record.len() - 1,
    ] {
        let mut bad = record.clone();
        bad[at] ^= 0x40;
        assert_eq!(refused(&bad), LearnedError::Checksum, "byte {at}");
    }
    let other_format = resealed(&record, |b| b[8] = 9);
    assert_eq!(refused(&other_format), LearnedError::Format { found: 9 });
    let trailing = resealed(&record, |b| b.push(0));
    assert!(matches!(refused(&trailing), LearnedError::Corrupt(_)));
    let short = resealed(&record, |b| b.truncate(b.len() - 3));
    assert!(matches!(refused(&short), LearnedError::Corrupt(_)));
    // Still importable as it was.
    assert!(fresh.import_learned(&record, false).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Any body behind a valid header and checksum is read without a panic; refused, it
    /// changes nothing.
    #[test]
    fn any_sealed_body_is_read_safely(body in proptest::collection::vec(any::<u8>(), 0..600), keep in 0usize..400) {
        let engine = Engine::new(desk_with(("", "")));
        let record = engine.export_learned(Export::Everything).remove(0);
        // The real header (magic, format, fingerprint, digests) and part of a real body, then
        // noise.
        let head = keep.min(record.len() - 32);
        let bytes = resealed(&record, |b| {
            b.truncate(head.max(12));
            b.extend_from_slice(&body);
        });
        let fresh = Engine::new(desk_with(("", "")));
        if fresh.import_learned(&bytes, true).is_err() {
            prop_assert!(fresh.learned_nothing());
        }
    }
}

/// A storefront's traffic turns the solution pool over; what is saved of it stays bounded (a
/// pool's worth in all), while every explanation learned is saved.
#[test]
fn saving_what_is_new_writes_a_bounded_number_of_solutions() {
    let e = Engine::new(desk_with(("", "")));
    e.record_learning();
    let mut saved = Vec::new();
    for seed in 0..80 {
        for sel in bespoke::rules::generate::click_paths(&e, 100 + seed, 8, 6) {
            e.propagate(&sel).unwrap();
        }
        saved.extend(e.export_learned(Export::New));
    }
    let restored = Engine::new(desk_with(("", "")));
    let got = import_all(&restored, &saved, false);
    assert!(got.solutions <= 4096, "{got:?}");
    assert!(got.solutions > 0, "{got:?}");
    assert_eq!(restored.explanation_bytes(), e.explanation_bytes());
}
