//! Print files: each print area's artwork at its physical size, as a PNG at the area's dpi (with its resolution recorded in a pHYs chunk), an SVG in millimetres with text converted to paths, and a PDF of that page size (svg2pdf), under a pixel budget.
//!
//! An area's size follows the selection (`width_mm: "width_cm * 10"`); the file is the trim size
//! plus the bleed on every side. The artwork (the template element's subtree, or a separate SVG)
//! is scaled to cover that size, centred, and cropped at its edges. Pure: no HTTP, no database.

use std::collections::HashMap;
use std::sync::Arc;

use resvg::usvg;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::bind::{self, BindCx};
use super::{PreviewError, Previewer, render};
use crate::catalog::model::{AreaSource, PrintArea, Product};
use crate::rules::selection::Selection;

/// Default largest print file, in pixels (`--print-max-pixels`): the sample's largest area
/// (a 120 × 80 cm framed print, its rules' largest, with 3 mm bleed at 150 dpi) is 33.9
/// megapixels; 40 MP is 160 MB of RGBA while it is drawn (twice that with the encoder's copy,
/// held against the decode budget).
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;

/// Millimetres per inch.
const MM_PER_INCH: f64 = 25.4;

/// The physical and pixel size of one area's files for one selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaSize {
    /// The file's width in millimetres: the trim width plus twice the bleed.
    pub width_mm: f64,
    pub height_mm: f64,
    pub bleed_mm: f64,
    pub dpi: u32,
    /// `width_mm` at `dpi`, rounded to the nearest pixel (at least 1).
    pub width_px: u32,
    pub height_px: u32,
}

impl AreaSize {
    pub fn pixels(&self) -> u64 {
        u64::from(self.width_px) * u64::from(self.height_px)
    }
}

/// One rendered file of an area.
#[derive(Debug, Clone)]
pub struct PrintFile {
    pub area: String,
    pub format: PrintFormat,
    pub bytes: Vec<u8>,
    pub size: AreaSize,
}

/// A print file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrintFormat {
    Png,
    Svg,
    Pdf,
}

impl PrintFormat {
    pub const ALL: [PrintFormat; 3] = [PrintFormat::Png, PrintFormat::Svg, PrintFormat::Pdf];

    pub fn as_str(self) -> &'static str {
        match self {
            PrintFormat::Png => "png",
            PrintFormat::Svg => "svg",
            PrintFormat::Pdf => "pdf",
        }
    }

    pub fn parse(s: &str) -> Option<PrintFormat> {
        PrintFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PrintFormat::Png => "image/png",
            PrintFormat::Svg => "image/svg+xml",
            PrintFormat::Pdf => "application/pdf",
        }
    }
}

fn mm(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// Pixels for `mm` millimetres at `dpi`, rounded (at least 1); `None` when absurd.
fn px(mm: f64, dpi: u32) -> Option<u32> {
    let v = (mm / MM_PER_INCH * f64::from(dpi)).round();
    (v.is_finite() && v <= f64::from(u32::MAX)).then(|| (v as u32).max(1))
}

/// The size of `area`'s files for `selection` (defaults fill unset options).
pub fn area_size(
    product: &Product,
    area: &PrintArea,
    selection: &Selection,
) -> Result<AreaSize, PreviewError> {
    let get = |o: usize| {
        bind::effective(product, selection, o).map(|v| match v {
            crate::catalog::Value::Choice(i) => crate::catalog::expr::Val::Choice(i),
            crate::catalog::Value::Bool(b) => crate::catalog::expr::Val::Bool(b),
            crate::catalog::Value::Int(n) => crate::catalog::expr::Val::Int(n),
            crate::catalog::Value::Text(s) => {
                crate::catalog::expr::Val::Int(i64::try_from(s.chars().count()).unwrap_or(i64::MAX))
            }
        })
    };
    let bad = |what: &str| PreviewError::AreaSize {
        area: area.id.clone(),
        reason: format!("its {what} is not a positive number of millimetres for this selection"),
    };
    let w = area
        .width_mm
        .eval_decimal(&get)
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| bad("width"))?;
    let h = area
        .height_mm
        .eval_decimal(&get)
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| bad("height"))?;
    let bleed = mm(area.bleed_mm);
    let (width_mm, height_mm) = (mm(w) + 2.0 * bleed, mm(h) + 2.0 * bleed);
    let too_big = || bad("size");
    Ok(AreaSize {
        width_mm,
        height_mm,
        bleed_mm: bleed,
        dpi: area.dpi,
        width_px: px(width_mm, area.dpi).ok_or_else(too_big)?,
        height_px: px(height_mm, area.dpi).ok_or_else(too_big)?,
    })
}

impl Previewer {
    /// The size of every print area's files for a selection, in declared order.
    pub fn print_sizes(
        &self,
        product: &Product,
        selection: &Selection,
    ) -> Result<Vec<(String, AreaSize)>, PreviewError> {
        let preview = product
            .preview
            .as_ref()
            .ok_or_else(|| PreviewError::NoPreview(product.id.clone()))?;
        preview
            .print_areas
            .iter()
            .map(|a| Ok((a.id.clone(), area_size(product, a, selection)?)))
            .collect()
    }

    /// Renders one print area's files (PNG and SVG) for a selection. Refused with
    /// [`PreviewError::PrintTooLarge`] beyond `max_pixels`; the drawing's memory is held against
    /// the decode budget (refused with `Busy` when it is spent).
    pub fn render_area(
        &self,
        product: &Product,
        selection: &Selection,
        area_id: &str,
        max_pixels: u64,
    ) -> Result<Vec<PrintFile>, PreviewError> {
        let prep = self.prepared(product)?;
        let preview = product
            .preview
            .as_ref()
            .ok_or_else(|| PreviewError::NoPreview(product.id.clone()))?;
        let area = preview
            .print_areas
            .iter()
            .find(|a| a.id == area_id)
            .ok_or_else(|| PreviewError::UnknownArea(area_id.to_owned()))?;
        let size = area_size(product, area, selection)?;
        if size.pixels() > max_pixels {
            return Err(PreviewError::PrintTooLarge {
                area: area.id.clone(),
                width_px: size.width_px,
                height_px: size.height_px,
                limit: max_pixels,
            });
        }
        // Uploads the artwork draws.
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
            decoded = decoded.saturating_add(super::png_pixels(&bytes).saturating_mul(4));
            uploads.insert(id, Arc::new(bytes));
        }
        // The pixmap and the RGBA copy the encoder takes, plus the uploads drawn.
        let need = size.pixels().saturating_mul(8).saturating_add(decoded);
        let _permit = match &self.budget {
            Some(b) => Some(b.try_acquire(need)?),
            None => None,
        };
        let cx = BindCx {
            product,
            preview,
            selection,
            fonts: &self.fonts,
        };
        let (template, element, path) = match &area.source {
            AreaSource::Element(id) => (&prep.template, Some(id.as_str()), prep.path.as_str()),
            AreaSource::Template(p) => (
                prep.areas.get(p).ok_or_else(|| PreviewError::Template {
                    template: p.clone(),
                    reason: "the print template was not prepared".into(),
                })?,
                None,
                p.as_str(),
            ),
        };
        let content = bind::write_area_content(template, &cx, element).ok_or_else(|| {
            PreviewError::Template {
                template: path.to_owned(),
                reason: format!("it has no element `{}`", element.unwrap_or_default()),
            }
        })?;
        let [bx, by, bw, bh] = area.artwork_box;
        let (w, h) = (size.width_mm, size.height_mm);
        let doc = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
             <svg x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" viewBox=\"{bx} {by} {bw} {bh}\" \
             preserveAspectRatio=\"xMidYMid slice\">{content}</svg></svg>"
        );
        let options = render::options(self.fontdb.clone(), self.assets.clone(), uploads);
        let tree = usvg::Tree::from_str(&doc, &options).map_err(|e| PreviewError::Template {
            template: path.to_owned(),
            reason: e.to_string(),
        })?;
        // Each side scaled to its whole pixel count (rounding differs by under half a pixel a
        // side), so the artwork reaches every edge.
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width_px, size.height_px).ok_or(
            PreviewError::Size {
                width: size.width_px,
                height: size.height_px,
            },
        )?;
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(
                size.width_px as f32 / w as f32,
                size.height_px as f32 / h as f32,
            ),
            &mut pixmap.as_mut(),
        );
        let png = render::encode_with(
            &pixmap,
            render::ImageFormat::Png,
            image::codecs::png::CompressionType::Fast,
        )?;
        drop(pixmap);
        let png = with_resolution(&png, size.dpi);
        let svg = physical_svg(&tree, w, h)?;
        let pdf = physical_pdf(&tree)?;
        Ok(vec![
            PrintFile {
                area: area.id.clone(),
                format: PrintFormat::Png,
                bytes: png,
                size,
            },
            PrintFile {
                area: area.id.clone(),
                format: PrintFormat::Svg,
                bytes: svg.into_bytes(),
                size,
            },
            PrintFile {
                area: area.id.clone(),
                format: PrintFormat::Pdf,
                bytes: pdf,
                size,
            },
        ])
    }
}

/// The tree written back as SVG (usvg's writer: text as paths, images embedded), its root sized
/// in millimetres: `width="…mm" height="…mm" viewBox="0 0 w h"` (one user unit per millimetre).
fn physical_svg(tree: &usvg::Tree, w: f64, h: f64) -> Result<String, PreviewError> {
    let opts = usvg::WriteOptions {
        preserve_text: false,
        indent: usvg::Indent::None,
        ..usvg::WriteOptions::default()
    };
    let text = tree.to_string(&opts);
    let ns = "xmlns=\"http://www.w3.org/2000/svg\"";
    let at = text
        .find(ns)
        .filter(|i| text[..*i].starts_with("<svg ") && !text[..*i].contains('>'))
        .ok_or_else(|| PreviewError::Encode("the SVG writer's root is not as expected".into()))?;
    Ok(format!(
        "<svg width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\" {}",
        &text[at..]
    ))
}

/// The tree as a one-page PDF (svg2pdf) whose page is the file's physical size: one user unit
/// is a millimetre, so 25.4 units an inch. Vector throughout (filters aside, which svg2pdf
/// rasterizes); text is embedded with subsets of the shipped fonts.
fn physical_pdf(tree: &usvg::Tree) -> Result<Vec<u8>, PreviewError> {
    svg2pdf::to_pdf(
        tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions {
            dpi: MM_PER_INCH as f32,
        },
    )
    .map_err(|e| PreviewError::Encode(format!("PDF: {e:?}")))
}

/// A PNG with a pHYs chunk (pixels per metre) after its header, so layout and RIP software
/// place it at its physical size. Bytes that are not a PNG are returned unchanged.
pub fn with_resolution(png: &[u8], dpi: u32) -> Vec<u8> {
    // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC).
    const AFTER_IHDR: usize = 33;
    if png.len() < AFTER_IHDR || png.get(12..16) != Some(b"IHDR") {
        return png.to_vec();
    }
    let ppm = (f64::from(dpi) / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    let mut body = Vec::with_capacity(13);
    body.extend_from_slice(b"pHYs");
    body.extend_from_slice(&ppm.to_be_bytes());
    body.extend_from_slice(&ppm.to_be_bytes());
    body.push(1); // unit: metre
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..AFTER_IHDR]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}
