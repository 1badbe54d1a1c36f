//! Preview benchmarks: raw resvg parse+render+encode of each template (the floor) against Bespoke's cache-miss preview, and a cache hit.
//!
//! Run with `cargo bench --bench preview`. The floor is what any resvg user pays per image: parse
//! the template file (shipped fonts, relative images from disk), rasterize at 512 px, encode PNG
//! with the same fast settings. The miss adds binding (writing the patched document) on top.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use bespoke::catalog::{self, FileSet};
use bespoke::preview::{ImageFormat, Previewer, RenderRequest};
use bespoke::rules::Selection;
use criterion::{Criterion, criterion_group, criterion_main};
use resvg::{tiny_skia, usvg};

const WIDTH: u32 = 512;

fn bench(c: &mut Criterion) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = FileSet::from_dir(&root).unwrap();
    let cat = catalog::load(&files).catalog.unwrap();
    let pv = Previewer::new(&cat, &files).unwrap();
    let mut db = usvg::fontdb::Database::new();
    for e in std::fs::read_dir(root.join("assets/fonts"))
        .unwrap()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "ttf") {
            db.load_font_data(std::fs::read(e.path()).unwrap());
        }
    }
    let db = Arc::new(db);
    let mut g = c.benchmark_group("preview");
    for p in cat.products() {
        let Some(preview) = &p.preview else { continue };
        let path = root.join(&preview.template);
        let svg = std::fs::read(&path).unwrap();
        let opts = usvg::Options {
            resources_dir: path.parent().map(std::path::Path::to_path_buf),
            fontdb: db.clone(),
            ..usvg::Options::default()
        };
        let height =
            (u64::from(WIDTH) * u64::from(preview.height) / u64::from(preview.width)) as u32;
        g.bench_function(format!("floor_resvg/{}", p.id), |b| {
            b.iter(|| {
                let tree = usvg::Tree::from_data(&svg, &opts).unwrap();
                let mut pm = tiny_skia::Pixmap::new(WIDTH, height).unwrap();
                let s = WIDTH as f32 / tree.size().width();
                resvg::render(
                    &tree,
                    tiny_skia::Transform::from_scale(s, s),
                    &mut pm.as_mut(),
                );
                black_box(bespoke::preview::render::encode(&pm, ImageFormat::Png).unwrap())
            });
        });
        let sel = Selection::default();
        let req = RenderRequest {
            width: WIDTH,
            format: ImageFormat::Png,
        };
        let key = pv.key(p, &sel, &req).unwrap();
        g.bench_function(format!("miss/{}", p.id), |b| {
            b.iter(|| {
                black_box(
                    pv.render_uncached(p, &sel, WIDTH, ImageFormat::Png, &key)
                        .unwrap(),
                )
            });
        });
        pv.render(p, &sel, &req).unwrap();
        g.bench_function(format!("hit/{}", p.id), |b| {
            b.iter(|| black_box(pv.render(p, &sel, &req).unwrap()));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
