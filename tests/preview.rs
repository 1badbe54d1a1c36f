//! Preview rendering: bindings, formats, sizes, cache and ETags, print renders, safety of customer text and template references, the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bespoke::catalog::{self, Catalog, FileSet, Product, Value};
use bespoke::preview::upload::{FsUploadStore, UploadLimits, UploadStore, accept};
use bespoke::preview::{ImageFormat, PreviewConfig, PreviewError, Previewer, RenderRequest};
use bespoke::rules::Selection;
use proptest::prelude::*;

fn sample() -> (Catalog, FileSet) {
    let files = FileSet::from_dir(&common::repo()).unwrap();
    let result = catalog::load(&files);
    assert!(!result.has_errors(), "{}", result.render());
    (result.catalog.unwrap(), files)
}

fn product(cat: &Catalog, id: &str) -> Arc<Product> {
    cat.product(id).unwrap().clone()
}

fn sel(p: &Product, pairs: &[(&str, &str)]) -> Selection {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Selection::parse(p, &pairs).unwrap()
}

/// A selection with a raw text value, bypassing the catalog's charset (the binding must be safe anyway).
fn with_text(p: &Product, base: &Selection, option: &str, text: &str) -> Selection {
    let (o, _) = p.option(option).unwrap();
    let mut s = base.without(o);
    s.choices.push((o, Value::Text(text.to_owned())));
    s
}

fn req(width: u32, format: ImageFormat) -> RenderRequest {
    RenderRequest { width, format }
}

fn decode(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

fn text_of(doc: &str, id: &str) -> String {
    let d = roxmltree::Document::parse(doc).unwrap();
    let n = d
        .descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element `{id}` in the document"));
    n.descendants()
        .filter(roxmltree::Node::is_text)
        .map(|t| t.text().unwrap_or_default())
        .collect()
}

#[test]
fn formats_sizes_and_aspect_ratio() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "custom-sneaker");
    let s = sel(&p, &[]);
    for (format, expect) in [
        (ImageFormat::Png, image::ImageFormat::Png),
        (ImageFormat::WebP, image::ImageFormat::WebP),
        (ImageFormat::Jpeg, image::ImageFormat::Jpeg),
    ] {
        let r = pv.render(&p, &s, &req(500, format)).unwrap();
        assert_eq!(image::guess_format(&r.bytes).unwrap(), expect);
        assert_eq!(r.content_type, format.content_type());
        let img = decode(&r.bytes);
        // 1000 x 600 template: the height follows the width.
        assert_eq!((img.width(), img.height()), (500, 300));
        assert_eq!((r.width, r.height), (500, 300));
    }
    for bad in [0, 63, 2049, u32::MAX] {
        assert!(matches!(
            pv.render(&p, &s, &req(bad, ImageFormat::Png)),
            Err(PreviewError::Width { .. })
        ));
    }
    assert!(pv.render(&p, &s, &req(64, ImageFormat::Png)).is_ok());
}

#[test]
fn bindings_change_the_image() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "classic-tee");
    let white = pv
        .render(
            &p,
            &sel(&p, &[("color", "white")]),
            &req(200, ImageFormat::Png),
        )
        .unwrap();
    let black = pv
        .render(
            &p,
            &sel(&p, &[("color", "black")]),
            &req(200, ImageFormat::Png),
        )
        .unwrap();
    // A point on the shirt's body below the print area: (400, 600) in an 800 px template.
    let (w, b) = (decode(&white.bytes), decode(&black.bytes));
    let pw = w.get_pixel(100, 150).0;
    let pb = b.get_pixel(100, 150).0;
    assert!(
        pw[0] > 200 && pw[1] > 200 && pw[2] > 200,
        "white body: {pw:?}"
    );
    assert!(pb[0] < 60 && pb[1] < 60 && pb[2] < 60, "black body: {pb:?}");
    assert_ne!(white.etag, black.etag);
}

#[test]
fn visibility_text_and_scale_bindings_apply_to_the_document() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "classic-tee");
    let doc = pv
        .document(
            &p,
            &sel(
                &p,
                &[("front_text", "HELLO"), ("print_position", "left-chest")],
            ),
        )
        .unwrap();
    assert!(doc.contains("id=\"chest-text\""));
    assert!(!doc.contains("id=\"front-text\""), "hidden by its binding");
    assert_eq!(text_of(&doc, "chest-text"), "HELLO");

    let fp = product(&cat, "framed-print");
    let small = pv.document(&fp, &sel(&fp, &[("width_cm", "20")])).unwrap();
    let big = pv.document(&fp, &sel(&fp, &[("width_cm", "120")])).unwrap();
    assert!(small.contains("scale(0.5000)"), "{small}");
    assert!(big.contains("scale(1.0000)"));
    let art = pv
        .document(&fp, &sel(&fp, &[("artwork", "waves")]))
        .unwrap();
    assert!(art.contains("href=\"assets/framed-print/art/waves.svg\""));
}

#[test]
fn long_text_shrinks_to_its_box_and_wraps_on_request() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "classic-tee");
    let base = sel(&p, &[]);
    let font_size = |doc: &str, id: &str| -> f32 {
        let d = roxmltree::Document::parse(doc).unwrap();
        let n = d
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap();
        n.attribute("font-size").unwrap().parse().unwrap()
    };
    let short = pv
        .document(&p, &with_text(&p, &base, "front_text", "HI"))
        .unwrap();
    let long = pv
        .document(
            &p,
            &with_text(&p, &base, "front_text", "A MUCH LONGER LINE OF TEXT"),
        )
        .unwrap();
    assert!((font_size(&short, "front-text") - 48.0).abs() < 0.01);
    let shrunk = font_size(&long, "front-text");
    assert!(shrunk < 48.0 && shrunk > 5.0, "{shrunk}");

    let b = product(&cat, "engraved-bottle");
    let s = sel(
        &b,
        &[
            ("gift_wrap", "true"),
            (
                "gift_message",
                "Happy birthday to the best climbing partner anyone could wish for",
            ),
        ],
    );
    let doc = pv.document(&b, &s).unwrap();
    let d = roxmltree::Document::parse(&doc).unwrap();
    let msg = d
        .descendants()
        .find(|n| n.attribute("id") == Some("gift-message"))
        .unwrap();
    let lines = msg.children().filter(|c| c.has_tag_name("tspan")).count();
    assert!(lines >= 2, "wrapped into {lines} lines: {doc}");
    assert!(pv.render(&b, &s, &req(300, ImageFormat::Png)).is_ok());
}

#[test]
fn customer_text_is_data_never_markup() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "classic-tee");
    let base = sel(&p, &[]);
    let nasty = [
        "<script>alert(1)</script>",
        "a & b &amp; &lt; &#x3C; &unknown;",
        "]]><image href=\"file:///etc/passwd\"/>",
        "\"/><rect width=\"800\" height=\"800\" fill=\"red\"/><text>",
        "שלום עולם مرحبا",
        "🎉👕✨ emoji",
        "<!-- comment --> <?pi x?> <![CDATA[ x ]]>",
    ];
    for t in nasty {
        let s = with_text(&p, &base, "front_text", t);
        let doc = pv.document(&p, &s).unwrap();
        assert_eq!(text_of(&doc, "front-text"), t, "{doc}");
        let d = roxmltree::Document::parse(&doc).unwrap();
        assert!(!d.descendants().any(|n| n.has_tag_name("script")));
        assert!(!doc.contains("file:///etc/passwd\"/>"), "spliced: {doc}");
        let r = pv.render(&p, &s, &req(128, ImageFormat::Png)).unwrap();
        assert_eq!(decode(&r.bytes).dimensions(), (128, 128));
    }
    // 10k characters: bounded work, still one line shrunk into the box, still renders.
    let huge = "W&<".repeat(3400);
    let s = with_text(&p, &base, "front_text", &huge);
    let doc = pv.document(&p, &s).unwrap();
    assert_eq!(text_of(&doc, "front-text").chars().count(), 10_000);
    assert!(pv.render(&p, &s, &req(128, ImageFormat::Png)).is_ok());
    // And wrapped: the number of lines is bounded.
    let b = product(&cat, "engraved-bottle");
    let bs = with_text(
        &b,
        &sel(&b, &[("gift_wrap", "true")]),
        "gift_message",
        &huge,
    );
    let doc = pv.document(&b, &bs).unwrap();
    let d = roxmltree::Document::parse(&doc).unwrap();
    let lines = d.descendants().filter(|n| n.has_tag_name("tspan")).count();
    assert!((2..=64).contains(&lines), "{lines}");
    assert!(pv.render(&b, &bs, &req(128, ImageFormat::Png)).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any text round-trips as character data: the document stays well-formed and the element's
    /// text is exactly the input (control characters other than space are dropped).
    #[test]
    fn any_text_round_trips_as_character_data(t in "\\PC{0,60}") {
        let (cat, files) = sample_cached();
        let pv = Previewer::new(cat, files).unwrap();
        let p = product(cat, "classic-tee");
        let s = with_text(&p, &Selection::default(), "front_text", &t);
        let doc = pv.document(&p, &s).unwrap();
        let expect: String = t.chars().filter(|c| !c.is_control() || *c == ' ').collect();
        prop_assert_eq!(text_of(&doc, "front-text"), expect);
    }
}

fn sample_cached() -> &'static (Catalog, FileSet) {
    static S: std::sync::OnceLock<(Catalog, FileSet)> = std::sync::OnceLock::new();
    S.get_or_init(sample)
}

/// Writes a solid red PNG covering `w` x `h` to a fresh temporary directory.
fn red_png(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("red.png");
    image::RgbaImage::from_pixel(16, 16, image::Rgba([255, 0, 0, 255]))
        .save(&path)
        .unwrap();
    path
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "bespoke-preview-{name}-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn templates_cannot_read_files_or_fetch() {
    let (cat, files) = sample();
    let p = product(&cat, "custom-desk");
    let clean = Previewer::new(&cat, &files).unwrap();
    let baseline = clean
        .render(&p, &sel(&p, &[]), &req(200, ImageFormat::Png))
        .unwrap();
    let dir = temp_dir("escape");
    let red = red_png(&dir);
    let abs = red.display().to_string();
    let template =
        String::from_utf8(files.get("assets/custom-desk/front.svg").unwrap().to_vec()).unwrap();
    let evil = format!(
        r#"<image x="0" y="0" width="1000" height="700" href="file://{abs}"/>
<image x="0" y="0" width="1000" height="700" href="{abs}"/>
<image x="0" y="0" width="1000" height="700" xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="file:///etc/passwd"/>
<image x="0" y="0" width="1000" height="700" href="https://example.com/red.png"/>
<image x="0" y="0" width="1000" height="700" href="../../../../../../../../{abs}"/>
</svg>"#
    );
    let patched = template.replacen("</svg>", &evil, 1);
    assert_ne!(patched, template);
    let mut files2 = files.clone();
    files2.insert("assets/custom-desk/front.svg", patched.into_bytes());
    let pv = Previewer::new(&cat, &files2).unwrap();
    let doc = pv.document(&p, &sel(&p, &[])).unwrap();
    assert!(!doc.contains("passwd") && !doc.contains("example.com") && !doc.contains(&abs));
    let r = pv
        .render(&p, &sel(&p, &[]), &req(200, ImageFormat::Png))
        .unwrap();
    assert_eq!(
        decode(&r.bytes).as_raw(),
        decode(&baseline.bytes).as_raw(),
        "a referenced file outside assets/ was drawn"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_template_is_a_clear_error() {
    let (cat, files) = sample();
    let mut bad_xml = files.clone();
    bad_xml.insert("assets/custom-desk/front.svg", b"<svg><g></svg>".to_vec());
    match Previewer::new(&cat, &bad_xml) {
        Err(PreviewError::Template { template, .. }) => {
            assert_eq!(template, "assets/custom-desk/front.svg");
        }
        other => panic!("expected a template error, got {other:?}"),
    }
    let mut no_size = files.clone();
    no_size.insert(
        "assets/custom-desk/front.svg",
        br#"<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"><g id="desk-top"/></svg>"#
            .to_vec(),
    );
    let pv = Previewer::new(&cat, &no_size).unwrap();
    let p = product(&cat, "custom-desk");
    let err = pv
        .render(&p, &sel(&p, &[]), &req(200, ImageFormat::Png))
        .unwrap_err();
    assert!(matches!(err, PreviewError::Template { .. }), "{err}");
    assert!(err.to_string().contains("assets/custom-desk/front.svg"));
}

#[test]
fn cache_hits_share_the_image_and_keys_follow_relevant_options_only() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "classic-tee");
    let r = req(160, ImageFormat::Png);
    let a = pv.render(&p, &sel(&p, &[("color", "navy")]), &r).unwrap();
    let b = pv.render(&p, &sel(&p, &[("color", "navy")]), &r).unwrap();
    assert!(
        Arc::ptr_eq(&a.bytes, &b.bytes),
        "the second render is a cache hit"
    );
    assert_eq!(a.etag, b.etag);
    let key = pv.key(&p, &sel(&p, &[("color", "navy")]), &r).unwrap();
    assert_eq!(key.as_str(), a.etag);
    assert_eq!(a.etag.len(), 64);
    // size is not bound in the preview: the same image, the same key.
    let sized = pv
        .key(&p, &sel(&p, &[("color", "navy"), ("size", "XL")]), &r)
        .unwrap();
    assert_eq!(sized, key);
    // the default is the value: choosing it explicitly is the same image.
    let d1 = pv.key(&p, &sel(&p, &[]), &r).unwrap();
    let d2 = pv.key(&p, &sel(&p, &[("color", "white")]), &r).unwrap();
    assert_eq!(d1, d2);
    // width and format are part of the key.
    assert_ne!(
        pv.key(&p, &sel(&p, &[]), &req(161, ImageFormat::Png))
            .unwrap(),
        d1
    );
    assert_ne!(
        pv.key(&p, &sel(&p, &[]), &req(160, ImageFormat::WebP))
            .unwrap(),
        d1
    );
    // so is the product: another product's key differs for the "same" choices.
    let h = product(&cat, "pullover-hoodie");
    assert_ne!(pv.key(&h, &sel(&h, &[]), &r).unwrap(), d1);
}

#[test]
fn concurrent_identical_requests_render_once() {
    let (cat, files) = sample();
    let pv = Arc::new(Previewer::new(&cat, &files).unwrap());
    let p = product(&cat, "engraved-bottle");
    let s = sel(&p, &[("engraving", "TOGETHER")]);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (pv, p, s) = (pv.clone(), p.clone(), s.clone());
            std::thread::spawn(move || pv.render(&p, &s, &req(256, ImageFormat::WebP)).unwrap())
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in &results[1..] {
        assert!(
            Arc::ptr_eq(&r.bytes, &results[0].bytes),
            "rendered more than once"
        );
    }
    assert_eq!(pv.cached_entries(), 1);
}

#[test]
fn print_renders_follow_the_dpi() {
    let (cat, files) = sample();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = product(&cat, "framed-print");
    let r = pv.render_print(&p, &sel(&p, &[]), 150).unwrap();
    let img = decode(&r.bytes);
    // 800 template px at 96 dpi → 1250 px at 150 dpi.
    assert_eq!(img.dimensions(), (1250, 1250));
    assert_eq!(r.content_type, "image/png");
    assert_eq!(
        pv.cached_entries(),
        0,
        "print renders bypass the preview cache"
    );
    assert!(matches!(
        pv.render_print(&p, &sel(&p, &[]), 50),
        Err(PreviewError::Dpi { .. })
    ));
    assert!(matches!(
        pv.render_print(&p, &sel(&p, &[]), 2000),
        Err(PreviewError::Dpi { .. })
    ));
}

#[test]
fn an_upload_is_placed_into_its_print_area() {
    let (cat, files) = sample();
    let dir = temp_dir("uploads");
    let store = Arc::new(FsUploadStore::new(&dir).unwrap());
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(300, 200, image::Rgba([250, 10, 10, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let up = accept(&png, &UploadLimits::default()).unwrap();
    store.put(&up).unwrap();
    let pv = Previewer::with_config(
        &cat,
        &files,
        PreviewConfig {
            uploads: Some(store),
            ..PreviewConfig::default()
        },
    )
    .unwrap();
    let p = product(&cat, "framed-print");
    let without = pv
        .render(&p, &sel(&p, &[]), &req(400, ImageFormat::Png))
        .unwrap();
    let with = pv
        .render(
            &p,
            &sel(&p, &[("photo", &up.id)]),
            &req(400, ImageFormat::Png),
        )
        .unwrap();
    assert_ne!(without.etag, with.etag);
    // The print is centred at (400, 300) of the 800 px wall: (200, 150) at 400 px.
    let px = decode(&with.bytes).get_pixel(200, 150).0;
    // (the glazing reflection lightens it a little)
    let red = |p: [u8; 4]| p[0] > 200 && p[1] < 110 && p[2] < 110;
    assert!(red(px), "photo not placed: {px:?}");
    let px0 = decode(&without.bytes).get_pixel(200, 150).0;
    assert!(!red(px0), "{px0:?}");
    // cover: the landscape photo fills the portrait print area to its corners.
    let corner = decode(&with.bytes).get_pixel(200 - 30, 150 - 40).0;
    assert!(red(corner), "{corner:?}");
    // An id that is not in the store is an error, not a blank area.
    let missing = "0".repeat(64);
    let err = pv
        .render(
            &p,
            &sel(&p, &[("photo", &missing)]),
            &req(400, ImageFormat::Png),
        )
        .unwrap_err();
    assert!(matches!(err, PreviewError::Upload(_)), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn upload_options_take_ids_and_count_by_presence() {
    let (cat, _) = sample();
    let p = product(&cat, "framed-print");
    let pairs = vec![("photo".to_owned(), "../../etc/passwd".to_owned())];
    let err = Selection::parse(&p, &pairs).unwrap_err();
    assert_eq!(err.option(), "photo");
    let engine = bespoke::rules::Engine::new(p.clone());
    let id = "ab".repeat(32);
    let given = sel(&p, &[("photo", &id)]);
    assert!(engine.validate(&given).violations.is_empty());
    let none = engine.count(&sel(&p, &[])).unwrap();
    let with = engine.count(&given).unwrap();
    assert_eq!(none, with * 2u32, "absent or present, nothing else");
}

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_bespoke"));
    c.arg("render").arg("--catalog").arg(common::repo());
    c
}

#[test]
fn cli_renders_to_a_file() {
    let dir = temp_dir("cli");
    let out = dir.join("tee.webp");
    let o = bin()
        .args([
            "classic-tee",
            "color=black",
            "front_text=HELLO",
            "--width",
            "300",
        ])
        .args(["--format", "webp", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        image::guess_format(&bytes).unwrap(),
        image::ImageFormat::WebP
    );
    assert_eq!(decode(&bytes).dimensions(), (300, 300));
    assert!(String::from_utf8_lossy(&o.stdout).contains("etag"));

    let o = bin()
        .args(["classic-tee", "--format", "gif", "--out"])
        .arg(dir.join("x.gif"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown format"));
    let o = bin()
        .args(["classic-tee", "--width", "5000", "--out"])
        .arg(dir.join("x.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("width 5000"));
    let o = bin()
        .args(["framed-print", "--dpi", "100", "--out"])
        .arg(dir.join("print.png"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        decode(&std::fs::read(dir.join("print.png")).unwrap()).dimensions(),
        (833, 833)
    );
    let _ = std::fs::remove_dir_all(dir);
}

const UPLOAD_FIXTURE: &str = r##"=== catalog/mug.yaml
id: mug
name: Mug
currency: EUR
base_price: "9.00"
options:
  color: { type: choice, values: { white: { swatch: "#ffffff" }, black: { swatch: "#000000" } }, default: white }
  logo: { type: upload, label: Your logo, fit: FIT, price: "2.00"DEFAULT }
  ribbon: { type: boolean }
preview:
  template: assets/mug/front.svg
  size: [200, 100]
  bind:
    body: { fill: color.swatch }
    print: { upload: UPLOADED, visible: logo and not ribbon }
=== assets/mug/front.svg
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">
  <rect id="body" width="200" height="100" fill="#888888"/>
  <image id="print" x="50" y="25" width="100" height="50"/>
</svg>
"##;

fn load_mug(fit: &str, default: &str, uploaded: &str) -> catalog::LoadResult {
    let text = UPLOAD_FIXTURE
        .replace("FIT", fit)
        .replace("DEFAULT", default)
        .replace("UPLOADED", uploaded);
    catalog::load(&common::with_fonts(common::fixture_files(&text)))
}

#[test]
fn upload_options_load_and_are_checked() {
    let ok = load_mug("contain", "", "logo");
    assert!(!ok.has_errors(), "{}", ok.render());
    let cat = ok.catalog.unwrap();
    let p = cat.product("mug").unwrap();
    let (_, logo) = p.option("logo").unwrap();
    assert_eq!(logo.kind.type_name(), "upload");
    assert!(!logo.required, "uploads are optional unless required");
    // `logo` in an expression means "an image is given": the print shows only with one.
    let files = common::with_fonts(common::fixture_files(
        &UPLOAD_FIXTURE
            .replace("FIT", "contain")
            .replace("DEFAULT", "")
            .replace("UPLOADED", "logo"),
    ));
    let pv = Previewer::new(&cat, &files).unwrap();
    let id = "cd".repeat(32);
    let none = pv.document(p, &sel(p, &[])).unwrap();
    assert!(!none.contains("id=\"print\""));
    let given = pv.document(p, &sel(p, &[("logo", &id)])).unwrap();
    assert!(given.contains(&format!("href=\"upload:{id}\"")), "{given}");
    assert!(given.contains("preserveAspectRatio=\"xMidYMid meet\""));
    let ribbon = pv
        .document(p, &sel(p, &[("logo", &id), ("ribbon", "true")]))
        .unwrap();
    assert!(!ribbon.contains("id=\"print\""));

    for (fit, default, uploaded, needle) in [
        ("stretch", "", "logo", "`fit` must be contain or cover"),
        ("cover", ", default: abc", "logo", "cannot have a default"),
        ("cover", "", "color", "`upload` needs an upload option"),
        ("cover", "", "logoo", "unknown option `logoo`"),
    ] {
        let r = load_mug(fit, default, uploaded);
        assert!(r.has_errors(), "{fit} {default} {uploaded}");
        assert!(r.render().contains(needle), "{}", r.render());
    }
}
