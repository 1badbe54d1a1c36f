//! Print-area render timing: the framed print's artwork area at given sizes (PNG at 150 dpi with pHYs, the SVG in millimetres and the PDF), rendered in-process from the sample catalog, with the time and bytes of each.
//!
//! `cargo run --example print_render -- [--runs 3] [--out DIR] [WxH cm ...]` (default: 20x20 60x40
//! 120x60 120x80; `--out` writes the files there)
//! prints a Markdown table for BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use bespoke::catalog::{self, FileSet};
use bespoke::preview::Previewer;
use bespoke::preview::print::PrintFormat;
use bespoke::rules::Selection;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let out_dir = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut sizes: Vec<(i64, i64)> = args
        .iter()
        .filter_map(|a| a.split_once('x'))
        .filter_map(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .collect();
    if sizes.is_empty() {
        sizes = vec![(20, 20), (60, 40), (120, 60), (120, 80)];
    }
    let files = FileSet::from_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let cat = catalog::load(&files).catalog.unwrap();
    let pv = Previewer::new(&cat, &files).unwrap();
    let p = cat.product("framed-print").unwrap();
    println!(
        "| print (cm) | file (mm) | pixels | PNG + SVG + PDF (median of {runs}) | PNG bytes | SVG bytes | PDF bytes |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (w, h) in sizes {
        let sel = Selection::parse(
            p,
            &[
                ("width_cm".into(), w.to_string()),
                ("height_cm".into(), h.to_string()),
            ],
        )
        .unwrap();
        let mut times = Vec::new();
        let mut out = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            out = pv.render_area(p, &sel, "artwork", u64::MAX).unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        let png = out.iter().find(|f| f.format == PrintFormat::Png).unwrap();
        let svg = out.iter().find(|f| f.format == PrintFormat::Svg).unwrap();
        let pdf = out.iter().find(|f| f.format == PrintFormat::Pdf).unwrap();
        if let Some(dir) = out_dir.as_deref() {
            std::fs::write(format!("{dir}/framed-print-{w}x{h}.png"), &png.bytes).unwrap();
            std::fs::write(format!("{dir}/framed-print-{w}x{h}.svg"), &svg.bytes).unwrap();
        }
        println!(
            "| {w} x {h} | {} x {} | {} x {} ({:.1} MP) | {:.0} ms | {} | {} | {} |",
            png.size.width_mm,
            png.size.height_mm,
            png.size.width_px,
            png.size.height_px,
            png.size.pixels() as f64 / 1e6,
            times[times.len() / 2].as_secs_f64() * 1e3,
            png.bytes.len(),
            svg.bytes.len(),
            pdf.bytes.len()
        );
    }
}
