//! Previews: renders a product's template with a selection applied (bindings → SVG → resvg → PNG/WebP/JPEG), with a content-addressed cache.
//!
//! [`Previewer`] is built once per catalog version from the loaded [`Catalog`] and its files. It
//! parses every template once, loads only the shipped fonts (assets/fonts) and keeps every asset
//! the templates may reference in memory; rendering never reads files or the network. Its API is
//! synchronous and thread-safe: the HTTP layer calls it on a blocking pool.

pub mod bind;
pub mod blob;
pub mod budget;
pub mod cache;
pub mod print;
pub mod render;
pub mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use resvg::usvg;

use crate::catalog::model::{Catalog, Product};
use crate::catalog::{FileSet, Value};
use crate::rules::selection::Selection;

pub use cache::PreviewKey;
pub use render::{ImageFormat, MAX_WIDTH, MIN_WIDTH};

use bind::{BindCx, FontFace, Template};

/// Default bound on the cache, in bytes of encoded images.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// What to render: the output width (the height follows the template's aspect ratio) and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenderRequest {
    pub width: u32,
    pub format: ImageFormat,
}

/// An encoded image and its cache identity.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Arc<[u8]>,
    pub content_type: &'static str,
    /// The content hash of everything that determines the image (hex); use it as a strong ETag.
    pub etag: String,
    pub width: u32,
    pub height: u32,
}

/// Why a preview could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    #[error("product `{0}` has no preview")]
    NoPreview(String),
    #[error("product `{0}` is not in this previewer's catalog")]
    UnknownProduct(String),
    #[error("width {width} is outside {min}..={max} pixels")]
    Width { width: u32, min: u32, max: u32 },
    #[error("{dpi} dpi is outside {min}..={max}")]
    Dpi { dpi: u32, min: u32, max: u32 },
    #[error("cannot make a {width}x{height} image")]
    Size { width: u32, height: u32 },
    #[error("the template `{template}` cannot be rendered: {reason}")]
    Template { template: String, reason: String },
    #[error("the upload cannot be placed: {0}")]
    Upload(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error(transparent)]
    Busy(#[from] budget::BudgetExceeded),
    #[error("product has no print area `{0}`")]
    UnknownArea(String),
    #[error("the print area `{area}` cannot be sized: {reason}")]
    AreaSize { area: String, reason: String },
    #[error(
        "the print area `{area}` would be {width_px} x {height_px} pixels; the limit is {limit} pixels per file"
    )]
    PrintTooLarge {
        area: String,
        width_px: u32,
        height_px: u32,
        limit: u64,
    },
}

/// One product's prepared preview: the parsed template and the options that affect it.
#[derive(Debug)]
struct Prepared {
    template: Template,
    path: String,
    relevant: Vec<usize>,
    version: String,
    /// Separate print templates (`print_areas[].template`) by catalog path, parsed once.
    areas: HashMap<String, Template>,
}

/// Renders previews for one catalog version. Send + Sync; share it behind an `Arc`.
pub struct Previewer {
    products: HashMap<String, Prepared>,
    fonts: HashMap<String, FontFace>,
    fontdb: Arc<usvg::fontdb::Database>,
    assets: Arc<HashMap<String, usvg::ImageKind>>,
    uploads: Option<Arc<dyn upload::UploadStore>>,
    budget: Option<Arc<budget::DecodeBudget>>,
    cache: cache::Cache,
}

/// How a [`Previewer`] is set up.
#[derive(Clone)]
pub struct PreviewConfig {
    /// Bound on the cache, in bytes of encoded images.
    pub cache_bytes: u64,
    /// Where customer uploads are read from (none: selections with uploads cannot be rendered).
    pub uploads: Option<Arc<dyn upload::UploadStore>>,
    /// The process's decode budget, which drawing uploads is held against (none: unbounded).
    pub budget: Option<Arc<budget::DecodeBudget>>,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        PreviewConfig {
            cache_bytes: DEFAULT_CACHE_BYTES,
            uploads: None,
            budget: None,
        }
    }
}

impl std::fmt::Debug for PreviewConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviewConfig")
            .field("cache_bytes", &self.cache_bytes)
            .field("uploads", &self.uploads.is_some())
            .field("budget", &self.budget.as_ref().map(|b| b.limit()))
            .finish()
    }
}

impl std::fmt::Debug for Previewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Previewer")
            .field("products", &self.products.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Previewer {
    /// Prepares every product with a preview: parses its template, loads shipped fonts and the
    /// assets the templates may reference from `files` (the catalog's files, as loaded).
    pub fn new(catalog: &Catalog, files: &FileSet) -> Result<Previewer, PreviewError> {
        Self::with_config(catalog, files, PreviewConfig::default())
    }

    /// As [`Previewer::new`], with a cache bound and an upload store.
    pub fn with_config(
        catalog: &Catalog,
        files: &FileSet,
        config: PreviewConfig,
    ) -> Result<Previewer, PreviewError> {
        let mut db = usvg::fontdb::Database::new();
        let mut fonts = HashMap::new();
        for path in files.under("assets/fonts", &[".ttf", ".otf", ".TTF", ".OTF"]) {
            let Some(bytes) = files.get(path) else {
                continue;
            };
            let data = Arc::new(bytes.to_vec());
            let ids = db.load_font_source(usvg::fontdb::Source::Binary(data.clone()));
            if let Some(face) = ids.first().and_then(|id| db.face(*id)) {
                let family = face
                    .families
                    .first()
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                fonts.insert(
                    path.to_owned(),
                    FontFace {
                        family,
                        weight: face.weight.0,
                        italic: face.style != usvg::fontdb::Style::Normal,
                        data,
                    },
                );
            }
        }
        let db = Arc::new(db);
        let sealed = render::sealed_options(db.clone());
        let mut assets = HashMap::new();
        let mut products = HashMap::new();
        for p in catalog.products() {
            let Some(preview) = &p.preview else {
                continue;
            };
            let mut areas = HashMap::new();
            for a in &preview.print_areas {
                if let crate::catalog::model::AreaSource::Template(path) = &a.source {
                    let text = files
                        .get(path)
                        .map(String::from_utf8_lossy)
                        .ok_or_else(|| PreviewError::Template {
                            template: path.clone(),
                            reason: "the file is missing".into(),
                        })?;
                    areas.insert(path.clone(), Template::parse(path, &text, preview)?);
                }
            }
            for f in &p.files {
                if !f.starts_with("assets/")
                    || f.starts_with("assets/fonts/")
                    || *f == preview.template
                    || areas.contains_key(f)
                {
                    continue;
                }
                if assets.contains_key(f) {
                    continue;
                }
                let Some(bytes) = files.get(f) else { continue };
                let lower = f.to_ascii_lowercase();
                let kind = if lower.ends_with(".svg") {
                    // Bounded nesting before usvg's recursive parser sees it.
                    std::str::from_utf8(bytes)
                        .ok()
                        .filter(|t| {
                            crate::catalog::preview::check_xml_depth(
                                t,
                                crate::catalog::preview::MAX_SVG_DEPTH,
                            )
                            .is_ok()
                        })
                        .and_then(|_| usvg::Tree::from_data(bytes, &sealed).ok())
                        .map(usvg::ImageKind::SVG)
                } else if lower.ends_with(".png") {
                    Some(usvg::ImageKind::PNG(Arc::new(bytes.to_vec())))
                } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
                    Some(usvg::ImageKind::JPEG(Arc::new(bytes.to_vec())))
                } else if lower.ends_with(".webp") {
                    Some(usvg::ImageKind::WEBP(Arc::new(bytes.to_vec())))
                } else {
                    None
                };
                if let Some(k) = kind {
                    assets.insert(f.clone(), k);
                }
            }
            let text = files
                .get(&preview.template)
                .map(String::from_utf8_lossy)
                .ok_or_else(|| PreviewError::Template {
                    template: preview.template.clone(),
                    reason: "the file is missing".into(),
                })?;
            let template = Template::parse(&preview.template, &text, preview)?;
            products.insert(
                p.id.clone(),
                Prepared {
                    template,
                    path: preview.template.clone(),
                    relevant: bind::relevant_options(preview),
                    version: p.version.clone(),
                    areas,
                },
            );
        }
        Ok(Previewer {
            products,
            fonts,
            fontdb: db,
            assets: Arc::new(assets),
            uploads: config.uploads,
            budget: config.budget,
            cache: cache::Cache::new(config.cache_bytes),
        })
    }

    fn prepared(&self, product: &Product) -> Result<&Prepared, PreviewError> {
        if product.preview.is_none() {
            return Err(PreviewError::NoPreview(product.id.clone()));
        }
        self.products
            .get(&product.id)
            .filter(|p| p.version == product.version)
            .ok_or_else(|| PreviewError::UnknownProduct(product.id.clone()))
    }

    /// The cache key (and ETag) of a preview, without rendering it. Two requests have the same
    /// key exactly when they render the same image: same product version, same values of the
    /// options the bindings read (defaults filled in), same width and format.
    pub fn key(
        &self,
        product: &Product,
        selection: &Selection,
        req: &RenderRequest,
    ) -> Result<PreviewKey, PreviewError> {
        let prep = self.prepared(product)?;
        let values: Vec<(usize, Option<Value>)> = prep
            .relevant
            .iter()
            .map(|&o| (o, bind::effective(product, selection, o)))
            .collect();
        Ok(PreviewKey::new(&product.id, &prep.version, &values, req))
    }

    /// Renders an interactive preview (width within [`MIN_WIDTH`]..=[`MAX_WIDTH`]), through the
    /// cache: each distinct image is rendered once, and concurrent identical requests wait for
    /// the one render.
    pub fn render(
        &self,
        product: &Product,
        selection: &Selection,
        req: &RenderRequest,
    ) -> Result<Rendered, PreviewError> {
        if !(MIN_WIDTH..=MAX_WIDTH).contains(&req.width) {
            return Err(PreviewError::Width {
                width: req.width,
                min: MIN_WIDTH,
                max: MAX_WIDTH,
            });
        }
        let key = self.key(product, selection, req)?;
        self.cache.get_or_render(&key, || {
            self.render_uncached(product, selection, req.width, req.format, &key)
        })
    }

    /// Preview cache lookups answered from the cache, and renders, since this version loaded.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// The cached preview for a key, without rendering: a cheap answer for the request path,
    /// which only goes to the blocking pool on a miss.
    pub fn cached(&self, key: &PreviewKey) -> Option<Rendered> {
        self.cache.get(key)
    }

    /// Renders a preview without the cache (for benchmarks and tools).
    pub fn render_uncached(
        &self,
        product: &Product,
        selection: &Selection,
        width: u32,
        format: ImageFormat,
        key: &PreviewKey,
    ) -> Result<Rendered, PreviewError> {
        self.render_with(
            product,
            selection,
            width,
            format,
            key.as_str(),
            image::codecs::png::CompressionType::Fast,
        )
    }

    /// Renders for printing at `dpi` (template units are CSS pixels, 96 per inch), as PNG with
    /// default compression. Kept apart from the interactive path: not cached, larger bounds.
    pub fn render_print(
        &self,
        product: &Product,
        selection: &Selection,
        dpi: u32,
    ) -> Result<Rendered, PreviewError> {
        let (width, etag) = self.print_request(product, selection, dpi)?;
        self.render_with(
            product,
            selection,
            width,
            ImageFormat::Png,
            &etag,
            image::codecs::png::CompressionType::Default,
        )
    }

    /// The content reference [`Previewer::render_print`] gives its image, without rendering.
    pub fn print_etag(
        &self,
        product: &Product,
        selection: &Selection,
        dpi: u32,
    ) -> Result<String, PreviewError> {
        Ok(self.print_request(product, selection, dpi)?.1)
    }

    /// The width and content reference of a print render.
    fn print_request(
        &self,
        product: &Product,
        selection: &Selection,
        dpi: u32,
    ) -> Result<(u32, String), PreviewError> {
        if !(render::MIN_DPI..=render::MAX_DPI).contains(&dpi) {
            return Err(PreviewError::Dpi {
                dpi,
                min: render::MIN_DPI,
                max: render::MAX_DPI,
            });
        }
        let preview = product
            .preview
            .as_ref()
            .ok_or_else(|| PreviewError::NoPreview(product.id.clone()))?;
        let width = u32::try_from(u64::from(preview.width) * u64::from(dpi) / 96)
            .unwrap_or(u32::MAX)
            .max(1);
        let height = render::height_for(width, preview.width, preview.height);
        if width > render::MAX_PRINT_SIDE || height > render::MAX_PRINT_SIDE {
            return Err(PreviewError::Size { width, height });
        }
        let req = RenderRequest {
            width,
            format: ImageFormat::Png,
        };
        let key = self.key(product, selection, &req)?;
        Ok((width, format!("{}-print{dpi}", key.as_str())))
    }

    /// The SVG document a selection binds to (escaped, references rewritten), for inspection and tests.
    pub fn document(
        &self,
        product: &Product,
        selection: &Selection,
    ) -> Result<String, PreviewError> {
        let prep = self.prepared(product)?;
        let preview = product
            .preview
            .as_ref()
            .ok_or_else(|| PreviewError::NoPreview(product.id.clone()))?;
        Ok(bind::write_document(
            &prep.template,
            &BindCx {
                product,
                preview,
                selection,
                fonts: &self.fonts,
            },
        ))
    }

    fn render_with(
        &self,
        product: &Product,
        selection: &Selection,
        width: u32,
        format: ImageFormat,
        etag: &str,
        png: image::codecs::png::CompressionType,
    ) -> Result<Rendered, PreviewError> {
        let prep = self.prepared(product)?;
        let preview = product
            .preview
            .as_ref()
            .ok_or_else(|| PreviewError::NoPreview(product.id.clone()))?;
        let mut uploads = HashMap::new();
        let mut decoded = 0u64;
        for id in bind::upload_ids(product, preview, selection) {
            let bytes = match &self.uploads {
                Some(store) => store
                    .get(&id)
                    .map_err(|e| PreviewError::Upload(e.to_string()))?,
                None => None,
            };
            let bytes = bytes.ok_or_else(|| PreviewError::Upload(format!("no upload `{id}`")))?;
            decoded = decoded.saturating_add(png_pixels(&bytes).saturating_mul(4));
            uploads.insert(id, Arc::new(bytes));
        }
        // Drawing decodes each upload to RGBA pixels: held against the process's budget.
        let _permit = match &self.budget {
            Some(b) if decoded > 0 => Some(b.try_acquire(decoded)?),
            _ => None,
        };
        let options = render::options(self.fontdb.clone(), self.assets.clone(), uploads);
        let doc = self.document(product, selection)?;
        let tree = usvg::Tree::from_str(&doc, &options).map_err(|e| PreviewError::Template {
            template: prep.path.clone(),
            reason: e.to_string(),
        })?;
        if !tree.root().has_children() {
            return Err(PreviewError::Template {
                template: prep.path.clone(),
                reason: "it draws nothing".into(),
            });
        }
        let height = render::height_for(width, preview.width, preview.height);
        let pixmap = render::rasterize(&tree, width, height)?;
        let bytes = render::encode_with(&pixmap, format, png)?;
        Ok(Rendered {
            bytes: bytes.into(),
            content_type: format.content_type(),
            etag: etag.to_owned(),
            width,
            height,
        })
    }

    /// How many encoded previews the cache holds (after pending maintenance).
    pub fn cached_entries(&self) -> u64 {
        self.cache.entries()
    }
}

/// Width × height of a PNG, read from its header (0 when it is not a PNG header).
fn png_pixels(bytes: &[u8]) -> u64 {
    let be = |r: std::ops::Range<usize>| {
        bytes
            .get(r)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u32::from_be_bytes(b)))
    };
    if bytes.get(12..16) != Some(b"IHDR") {
        return 0;
    }
    be(16..20).saturating_mul(be(20..24))
}
