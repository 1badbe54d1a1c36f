//! Rasterizing: usvg options restricted to in-memory assets and shipped fonts, resvg rendering at a bounded size, PNG/WebP/JPEG encoding.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use resvg::{tiny_skia, usvg};

use super::PreviewError;

/// Narrowest interactive preview, in pixels.
pub const MIN_WIDTH: u32 = 64;
/// Widest interactive preview, in pixels.
pub const MAX_WIDTH: u32 = 2048;
/// Lowest and highest print resolution.
pub const MIN_DPI: u32 = 72;
pub const MAX_DPI: u32 = 600;
/// Longest side of a print render, in pixels.
pub const MAX_PRINT_SIDE: u32 = 8192;

/// An output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    WebP,
    Jpeg,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::WebP => "webp",
            ImageFormat::Jpeg => "jpeg",
        }
    }

    /// Parses `png`, `webp`, `jpeg` (or `jpg`).
    pub fn parse(s: &str) -> Option<ImageFormat> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Some(ImageFormat::Png),
            "webp" => Some(ImageFormat::WebP),
            "jpeg" | "jpg" => Some(ImageFormat::Jpeg),
            _ => None,
        }
    }
}

/// Builds usvg options that load fonts only from `fontdb` (the shipped files) and images only
/// from `assets` (catalog path → image, already in memory) and `uploads` (`upload:<id>` → PNG
/// bytes, fetched before the render). Nothing touches the file system or the network.
pub(crate) fn options(
    fontdb: Arc<usvg::fontdb::Database>,
    assets: Arc<HashMap<String, usvg::ImageKind>>,
    uploads: HashMap<String, Arc<Vec<u8>>>,
) -> usvg::Options<'static> {
    let resolve_string: usvg::ImageHrefStringResolverFn<'static> = Box::new(
        move |href: &str, _opts: &usvg::Options| match href.strip_prefix("upload:") {
            Some(id) => uploads.get(id).map(|b| usvg::ImageKind::PNG(b.clone())),
            None => assets.get(href).cloned(),
        },
    );
    let resolve_data: usvg::ImageHrefDataResolverFn<'static> = Box::new(
        |mime: &str, data: Arc<Vec<u8>>, _opts: &usvg::Options| match mime {
            "image/png" => Some(usvg::ImageKind::PNG(data)),
            "image/jpeg" | "image/jpg" => Some(usvg::ImageKind::JPEG(data)),
            "image/webp" => Some(usvg::ImageKind::WEBP(data)),
            _ => None,
        },
    );
    usvg::Options {
        resources_dir: None,
        font_family: "DejaVu Sans".into(),
        fontdb,
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data,
            resolve_string,
        },
        ..usvg::Options::default()
    }
}

/// Options for parsing a sub-image SVG asset: shipped fonts, no external references at all.
pub(crate) fn sealed_options(fontdb: Arc<usvg::fontdb::Database>) -> usvg::Options<'static> {
    usvg::Options {
        resources_dir: None,
        font_family: "DejaVu Sans".into(),
        fontdb,
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: Box::new(|_, _, _| None),
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    }
}

/// Rasterizes `tree` to exactly `width` × `height` pixels (scaled uniformly to the width).
pub(crate) fn rasterize(
    tree: &usvg::Tree,
    width: u32,
    height: u32,
) -> Result<tiny_skia::Pixmap, PreviewError> {
    let mut pixmap =
        tiny_skia::Pixmap::new(width, height).ok_or(PreviewError::Size { width, height })?;
    let size = tree.size();
    let scale = width as f32 / size.width().max(1.0);
    resvg::render(
        tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    Ok(pixmap)
}

/// The output height for `width`, keeping the template's aspect ratio (at least 1 pixel).
pub(crate) fn height_for(width: u32, tw: u32, th: u32) -> u32 {
    let h = (u64::from(width) * u64::from(th) + u64::from(tw) / 2) / u64::from(tw.max(1));
    u32::try_from(h.max(1)).unwrap_or(u32::MAX)
}

/// Encodes a pixmap. PNG uses fast compression (the request path); WebP is lossless;
/// JPEG is flattened onto white at quality 88.
pub fn encode(pixmap: &tiny_skia::Pixmap, format: ImageFormat) -> Result<Vec<u8>, PreviewError> {
    encode_with(pixmap, format, image::codecs::png::CompressionType::Fast)
}

pub(crate) fn encode_with(
    pixmap: &tiny_skia::Pixmap,
    format: ImageFormat,
    png_compression: image::codecs::png::CompressionType,
) -> Result<Vec<u8>, PreviewError> {
    use image::ImageEncoder as _;
    let (w, h) = (pixmap.width(), pixmap.height());
    let mut out = Vec::new();
    let err = |e: image::ImageError| PreviewError::Encode(e.to_string());
    match format {
        ImageFormat::Png | ImageFormat::WebP => {
            let mut rgba = Vec::with_capacity(pixmap.data().len());
            for p in pixmap.pixels() {
                let c = p.demultiply();
                rgba.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
            }
            if format == ImageFormat::Png {
                image::codecs::png::PngEncoder::new_with_quality(
                    Cursor::new(&mut out),
                    png_compression,
                    image::codecs::png::FilterType::Sub,
                )
                .write_image(&rgba, w, h, image::ExtendedColorType::Rgba8)
                .map_err(err)?;
            } else {
                image::codecs::webp::WebPEncoder::new_lossless(Cursor::new(&mut out))
                    .write_image(&rgba, w, h, image::ExtendedColorType::Rgba8)
                    .map_err(err)?;
            }
        }
        ImageFormat::Jpeg => {
            let mut rgb = Vec::with_capacity(pixmap.data().len() / 4 * 3);
            for p in pixmap.pixels() {
                // Premultiplied over white: c + (255 - a).
                let inv = 255 - p.alpha();
                rgb.extend_from_slice(&[
                    p.red().saturating_add(inv),
                    p.green().saturating_add(inv),
                    p.blue().saturating_add(inv),
                ]);
            }
            image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut out), 88)
                .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
                .map_err(err)?;
        }
    }
    Ok(out)
}
