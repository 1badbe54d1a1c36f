//! Reference images: each sample product in several configurations, compared pixel-wise with tests/reference/*.png.
//!
//! `BESPOKE_UPDATE_REFERENCES=1 cargo test --test preview_reference` rewrites the references.
//! A mismatch writes the actual image and a diff image under target/preview-diffs/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::catalog::{self, FileSet};
use bespoke::preview::{ImageFormat, Previewer, RenderRequest};
use bespoke::rules::Selection;

/// (reference name, product, choices)
const CASES: &[(&str, &str, &[&str])] = &[
    ("classic-tee-default", "classic-tee", &[]),
    (
        "classic-tee-navy-text",
        "classic-tee",
        &["color=navy", "front_text=Hello World", "ink=white"],
    ),
    (
        "classic-tee-left-chest",
        "classic-tee",
        &[
            "color=black",
            "ink=white",
            "front_text=ACME",
            "print_position=left-chest",
            "sleeve_print=true",
        ],
    ),
    ("pullover-hoodie-default", "pullover-hoodie", &[]),
    (
        "pullover-hoodie-oat",
        "pullover-hoodie",
        &["color=oat", "front_text=TEAM 24", "kangaroo_pocket=false"],
    ),
    ("custom-sneaker-default", "custom-sneaker", &[]),
    (
        "custom-sneaker-high",
        "custom-sneaker",
        &[
            "cut=high",
            "upper_material=suede",
            "tongue_logo=bolt",
            "heel_tab_text=AB 12",
        ],
    ),
    ("custom-desk-default", "custom-desk", &[]),
    (
        "custom-desk-drawers",
        "custom-desk",
        &[
            "leg_style=a-frame",
            "drawer_count=2",
            "grommets=2",
            "cable_tray=true",
        ],
    ),
    ("engraved-bottle-default", "engraved-bottle", &[]),
    (
        "engraved-bottle-gift",
        "engraved-bottle",
        &[
            "font=serif",
            "engraving=For Ana",
            "gift_wrap=true",
            "gift_message=Happy birthday and many happy returns!",
        ],
    ),
    ("framed-print-default", "framed-print", &[]),
    (
        "framed-print-mat",
        "framed-print",
        &[
            "artwork=skyline",
            "frame=walnut",
            "mat=true",
            "caption=City at Dusk",
            "width_cm=80",
        ],
    ),
];

const WIDTH: u32 = 320;
/// A pixel differs when any channel differs by more than this.
const CHANNEL_TOLERANCE: u8 = 24;
/// At most this share of pixels may differ (anti-aliasing across platforms).
const MAX_DIFF_SHARE: f64 = 0.002;

#[test]
fn sample_products_match_their_references() {
    let root = common::repo();
    let files = FileSet::from_dir(&root).unwrap();
    let result = catalog::load(&files);
    assert!(!result.has_errors(), "{}", result.render());
    let cat = result.catalog.unwrap();
    let pv = Previewer::new(&cat, &files).unwrap();
    let update = std::env::var("BESPOKE_UPDATE_REFERENCES").is_ok_and(|v| v == "1");
    let refs = root.join("tests/reference");
    let diffs = root.join("target/preview-diffs");
    let mut failures = Vec::new();
    let mut seen_products = std::collections::BTreeSet::new();
    for (name, product, choices) in CASES {
        let p = cat.product(product).unwrap();
        seen_products.insert(*product);
        let pairs: Vec<(String, String)> = choices
            .iter()
            .map(|c| {
                let (k, v) = c.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let sel = Selection::parse(p, &pairs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = pv
            .render(
                p,
                &sel,
                &RenderRequest {
                    width: WIDTH,
                    format: ImageFormat::Png,
                },
            )
            .unwrap();
        let path = refs.join(format!("{name}.png"));
        if update {
            std::fs::create_dir_all(&refs).unwrap();
            std::fs::write(&path, &r.bytes).unwrap();
            continue;
        }
        let actual = image::load_from_memory(&r.bytes).unwrap().to_rgba8();
        let Ok(expected_bytes) = std::fs::read(&path) else {
            failures.push(format!(
                "{name}: no reference at {} (run with BESPOKE_UPDATE_REFERENCES=1)",
                path.display()
            ));
            continue;
        };
        let expected = image::load_from_memory(&expected_bytes).unwrap().to_rgba8();
        if actual.dimensions() != expected.dimensions() {
            failures.push(format!(
                "{name}: size {:?}, reference {:?}",
                actual.dimensions(),
                expected.dimensions()
            ));
            continue;
        }
        let mut diff = image::RgbaImage::new(actual.width(), actual.height());
        let mut differing = 0u64;
        for (x, y, a) in actual.enumerate_pixels() {
            let e = expected.get_pixel(x, y);
            let off =
                a.0.iter()
                    .zip(e.0.iter())
                    .any(|(p, q)| p.abs_diff(*q) > CHANNEL_TOLERANCE);
            if off {
                differing += 1;
                diff.put_pixel(x, y, image::Rgba([255, 0, 255, 255]));
            } else {
                let g = a.0[0] / 4 + a.0[1] / 4 + a.0[2] / 4;
                diff.put_pixel(x, y, image::Rgba([g, g, g, 255]));
            }
        }
        let share = differing as f64 / f64::from(actual.width() * actual.height());
        if share > MAX_DIFF_SHARE {
            std::fs::create_dir_all(&diffs).unwrap();
            diff.save(diffs.join(format!("{name}.diff.png"))).unwrap();
            std::fs::write(diffs.join(format!("{name}.actual.png")), &r.bytes).unwrap();
            failures.push(format!(
                "{name}: {differing} pixels differ ({:.3}%); see {}",
                share * 100.0,
                diffs.join(format!("{name}.diff.png")).display()
            ));
        }
    }
    for p in cat.products() {
        if p.preview.is_some() {
            assert!(
                seen_products.contains(p.id.as_str()),
                "no reference case for {}",
                p.id
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn different_configurations_render_differently() {
    // Guards against references that all show the same (e.g. blank) image.
    let refs = common::repo().join("tests/reference");
    let mut seen = std::collections::BTreeMap::new();
    for (name, _, _) in CASES {
        let Ok(bytes) = std::fs::read(refs.join(format!("{name}.png"))) else {
            continue;
        };
        let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
        let distinct: std::collections::BTreeSet<[u8; 4]> =
            img.pixels().map(|p| p.0).take(50_000).collect();
        assert!(distinct.len() > 50, "{name} is nearly uniform");
        if let Some(other) = seen.insert(img.into_raw(), *name) {
            panic!("{name} and {other} are identical");
        }
    }
}
