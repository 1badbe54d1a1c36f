//! Print areas without HTTP: the catalog's `print_areas` (sizes over options, located diagnostics), each area's PNG at its dpi and SVG in millimetres, the pixel budget, and a reference image of the framed print's artwork.
//!
//! `BESPOKE_UPDATE_REFERENCES=1 cargo test --test print_files` rewrites the reference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::catalog::{self, FileSet};
use bespoke::preview::print::{PrintFormat, with_resolution};
use bespoke::preview::{PreviewError, Previewer};
use bespoke::rules::Selection;

fn sample() -> (catalog::Catalog, FileSet) {
    let files = FileSet::from_dir(&common::repo()).unwrap();
    let result = catalog::load(&files);
    assert!(!result.has_errors(), "{}", result.render());
    (result.catalog.unwrap(), files)
}

fn sel(p: &catalog::Product, choices: &[&str]) -> Selection {
    let pairs: Vec<(String, String)> = choices
        .iter()
        .map(|c| {
            let (k, v) = c.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Selection::parse(p, &pairs).unwrap()
}

/// Width and height from a PNG's IHDR.
fn png_size(b: &[u8]) -> (u32, u32) {
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&b[12..16], b"IHDR");
    let be = |r: std::ops::Range<usize>| u32::from_be_bytes(b[r].try_into().unwrap());
    (be(16..20), be(20..24))
}

/// Pixels per metre from a PNG's pHYs chunk.
fn png_ppm(b: &[u8]) -> Option<u32> {
    let i = b.windows(4).position(|w| w == b"pHYs")?;
    Some(u32::from_be_bytes(b[i + 4..i + 8].try_into().unwrap()))
}

#[test]
fn a_landscape_order_gives_a_landscape_area_of_its_physical_size() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = cat.product("framed-print").unwrap();
    let s = sel(p, &["width_cm=120", "height_cm=60"]);
    let sizes = pv.print_sizes(p, &s).unwrap();
    assert_eq!(sizes.len(), 1);
    let (id, size) = &sizes[0];
    assert_eq!(id, "artwork");
    // 1200 x 600 mm trim + 3 mm bleed each side = 1206 x 606 mm; at 150 dpi.
    assert_eq!((size.width_mm, size.height_mm), (1206.0, 606.0));
    assert_eq!(size.width_px, (1206.0_f64 / 25.4 * 150.0).round() as u32);
    assert_eq!(size.height_px, (606.0_f64 / 25.4 * 150.0).round() as u32);
    assert!(size.width_px > size.height_px);
    // About 25 megapixels, as the issue says.
    assert!((25_000_000..26_000_000).contains(&size.pixels()));
}

#[test]
fn an_area_renders_a_png_at_its_dpi_and_an_svg_in_millimetres() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = cat.product("framed-print").unwrap();
    let s = sel(
        p,
        &[
            "width_cm=30",
            "height_cm=20",
            "artwork=skyline",
            "mat=true",
            "caption=Dusk",
        ],
    );
    let out = pv.render_area(p, &s, "artwork", 50_000_000).unwrap();
    assert_eq!(out.len(), 3);
    let png = out.iter().find(|f| f.format == PrintFormat::Png).unwrap();
    let svg = out.iter().find(|f| f.format == PrintFormat::Svg).unwrap();
    // 306 x 206 mm at 150 dpi.
    let (w, h) = png_size(&png.bytes);
    assert_eq!((w, h), (1807, 1217));
    assert_eq!((png.size.width_px, png.size.height_px), (w, h));
    assert_eq!(png_ppm(&png.bytes), Some(5906)); // 150 dpi in pixels per metre
    let img = image::load_from_memory(&png.bytes).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (w, h));
    // The artwork covers the whole area, bleed included: no transparent corner.
    for (x, y) in [
        (0, 0),
        (w - 1, 0),
        (0, h - 1),
        (w - 1, h - 1),
        (w / 2, h / 2),
    ] {
        assert_eq!(img.get_pixel(x, y).0[3], 255, "pixel {x},{y} is not opaque");
    }
    let text = std::str::from_utf8(&svg.bytes).unwrap();
    assert!(
        text.starts_with("<svg width=\"306mm\" height=\"206mm\" viewBox=\"0 0 306 206\""),
        "{}",
        &text[..120.min(text.len())]
    );
    assert!(!text.contains("<text"), "text is converted to paths");
    let doc = roxmltree::Document::parse(text).unwrap();
    assert_eq!(doc.root_element().attribute("width"), Some("306mm"));
    // The PDF's page is the same physical size, in points.
    let pdf = out.iter().find(|f| f.format == PrintFormat::Pdf).unwrap();
    assert_eq!(
        pdf_page_mm(&pdf.bytes),
        (306.0, 206.0),
        "the PDF page is 306 x 206 mm"
    );
}

/// The first page's MediaBox of a PDF, in millimetres (rounded to 0.01).
fn pdf_page_mm(b: &[u8]) -> (f64, f64) {
    assert!(b.starts_with(b"%PDF-"), "not a PDF");
    let text = String::from_utf8_lossy(b);
    let at = text.find("/MediaBox [").expect("a MediaBox") + "/MediaBox [".len();
    let end = at + text[at..].find(']').unwrap();
    let v: Vec<f64> = text[at..end]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let mm = |pt: f64| (pt / 72.0 * 25.4 * 100.0).round() / 100.0;
    (mm(v[2] - v[0]), mm(v[3] - v[1]))
}

#[test]
fn the_artwork_follows_the_selection_and_not_the_mock_up() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = cat.product("framed-print").unwrap();
    let a = pv
        .render_area(
            p,
            &sel(p, &["width_cm=20", "height_cm=20"]),
            "artwork",
            u64::MAX,
        )
        .unwrap();
    let b = pv
        .render_area(
            p,
            &sel(p, &["width_cm=20", "height_cm=20", "artwork=waves"]),
            "artwork",
            u64::MAX,
        )
        .unwrap();
    assert_ne!(a[0].bytes, b[0].bytes, "another artwork gives another file");
    // The frame colour and the mat are the mock-up's, not the print's.
    let c = pv
        .render_area(
            p,
            &sel(p, &["width_cm=20", "height_cm=20", "frame=oak"]),
            "artwork",
            u64::MAX,
        )
        .unwrap();
    assert_eq!(a[0].bytes, c[0].bytes);
}

#[test]
fn the_pixel_budget_refuses_with_a_typed_error() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = cat.product("framed-print").unwrap();
    let s = sel(p, &["width_cm=120", "height_cm=100"]);
    let err = pv.render_area(p, &s, "artwork", 40_000_000).unwrap_err();
    match err {
        PreviewError::PrintTooLarge {
            area,
            width_px,
            height_px,
            limit,
        } => {
            assert_eq!(area, "artwork");
            assert_eq!(limit, 40_000_000);
            assert!(u64::from(width_px) * u64::from(height_px) > limit);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        pv.render_area(p, &s, "nope", u64::MAX),
        Err(PreviewError::UnknownArea(_))
    ));
}

#[test]
fn the_resolution_chunk_is_a_valid_png_chunk() {
    let img = image::RgbaImage::from_pixel(3, 2, image::Rgba([1, 2, 3, 255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let with = with_resolution(&png, 300);
    assert_eq!(png_ppm(&with), Some(11811));
    // The image crate's decoder checks chunk CRCs.
    let back = image::load_from_memory(&with).unwrap().to_rgba8();
    assert_eq!(back, img);
    assert_eq!(with_resolution(b"not a png", 300), b"not a png");
}

#[test]
fn the_framed_print_artwork_matches_its_reference() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = cat.product("framed-print").unwrap();
    let s = sel(p, &["width_cm=60", "height_cm=30", "artwork=mountains"]);
    let out = pv.render_area(p, &s, "artwork", u64::MAX).unwrap();
    let img = image::load_from_memory(&out[0].bytes).unwrap();
    // Compared at 400 px wide: the full file is 3.6 megapixels.
    let small = img
        .resize_exact(
            400,
            400 * img.height() / img.width(),
            image::imageops::Triangle,
        )
        .to_rgba8();
    let path = common::repo().join("tests/reference/print-framed-print-landscape.png");
    if std::env::var("BESPOKE_UPDATE_REFERENCES").is_ok_and(|v| v == "1") {
        small.save(&path).unwrap();
        return;
    }
    let expected = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with BESPOKE_UPDATE_REFERENCES=1)",
                path.display()
            )
        })
        .to_rgba8();
    assert_eq!(small.dimensions(), expected.dimensions());
    let differing = small
        .pixels()
        .zip(expected.pixels())
        .filter(|(a, e)| a.0.iter().zip(e.0.iter()).any(|(p, q)| p.abs_diff(*q) > 24))
        .count();
    let share = differing as f64 / f64::from(small.width() * small.height());
    assert!(share <= 0.002, "{differing} pixels differ");
}

fn load_with(product_tail: &str) -> String {
    let base = std::fs::read_to_string(common::repo().join("catalog/framed-print.yaml")).unwrap();
    let cut = base.find("  print_areas:").unwrap();
    let yaml = format!("{}{product_tail}", &base[..cut]);
    let mut files = FileSet::from_dir(&common::repo()).unwrap();
    files.insert("catalog/framed-print.yaml".to_owned(), yaml.into_bytes());
    files.insert(
        "assets/framed-print/label.svg".to_owned(),
        br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 90 50"><text id="t" x="5" y="30">Hi</text></svg>"#.to_vec(),
    );
    let result = catalog::load(&files);
    result.render()
}

#[test]
fn bad_print_areas_have_located_diagnostics() {
    let out = load_with(
        "  print_areas:\n    - { id: artwork, element: print-aera, width_mm: \"width_cm * 10\", height_mm: \"heigth_cm * 10\", dpi: 5000 }\n    - { id: artwork, template: assets/framed-print/label.svg, width_mm: 90, height_mm: 50, dpi: 300 }\n    - { id: other, width_mm: 90, height_mm: 50, dpi: 300 }\n",
    );
    for needle in [
        "E020", // unknown element, with a suggestion
        "did you mean `print-area`?",
        "E011", // unknown option in the height term
        "E007", // dpi out of range
        "E010", // duplicate area id
        "E008", // neither element nor template
        "framed-print.yaml:",
    ] {
        assert!(out.contains(needle), "missing {needle} in:\n{out}");
    }
}

#[test]
fn a_separate_print_template_is_an_area_too() {
    let out = load_with(
        "  print_areas:\n    - { id: label, template: assets/framed-print/label.svg, width_mm: 90, height_mm: 50, bleed_mm: 2, dpi: 300 }\n",
    );
    assert!(!out.contains("error"), "{out}");
}
