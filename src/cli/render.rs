//! `bespoke render`: renders a product's preview for a selection to an image file (or print resolution with --dpi).

use std::io::Write;
use std::path::PathBuf;

use super::{Common, EXIT_OK, EXIT_USAGE, find_product, load_catalog, parse_choices};
use crate::catalog::FileSet;
use crate::preview::{ImageFormat, Previewer, RenderRequest};

/// Exit code when the preview cannot be rendered.
const EXIT_RENDER: u8 = 3;

/// Arguments of `bespoke render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The product id.
    pub(crate) product: String,
    /// Choices as option=value (unset options show their default).
    pub(crate) choices: Vec<String>,
    /// Output width in pixels (64–2048); the height keeps the template's aspect ratio.
    #[arg(long, default_value_t = 800)]
    pub(crate) width: u32,
    /// Output format: png, webp or jpeg.
    #[arg(long, default_value = "png")]
    pub(crate) format: String,
    /// Render for print at this resolution (72–600 dpi, PNG) instead of an interactive preview.
    #[arg(long)]
    pub(crate) dpi: Option<u32>,
    /// The output file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// Runs `bespoke render`.
pub fn run(args: RenderArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match render(&args, out, err) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

fn render(args: &RenderArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), u8> {
    let Some(format) = ImageFormat::parse(&args.format) else {
        let _ = writeln!(
            err,
            "error: unknown format `{}`; use png, webp or jpeg",
            args.format
        );
        return Err(EXIT_USAGE);
    };
    let cat = load_catalog(&args.common, err)?;
    let product = find_product(&cat, &args.product, err)?;
    let selection = parse_choices(&product, &args.choices, err)?;
    let files = FileSet::from_dir(&args.common.catalog).map_err(|e| {
        let _ = writeln!(err, "error: {e}");
        EXIT_USAGE
    })?;
    let fail = |e: crate::preview::PreviewError, err: &mut dyn Write| {
        let _ = writeln!(err, "error: {e}");
        EXIT_RENDER
    };
    let previewer = Previewer::new(&cat, &files).map_err(|e| fail(e, err))?;
    let result = match args.dpi {
        Some(dpi) => previewer.render_print(&product, &selection, dpi),
        None => previewer.render(
            &product,
            &selection,
            &RenderRequest {
                width: args.width,
                format,
            },
        ),
    };
    let img = result.map_err(|e| fail(e, err))?;
    if let Err(e) = std::fs::write(&args.out, &img.bytes) {
        let _ = writeln!(err, "error: cannot write {}: {e}", args.out.display());
        return Err(EXIT_RENDER);
    }
    if args.common.json {
        let doc = serde_json::json!({
            "file": args.out.display().to_string(),
            "content_type": img.content_type,
            "width": img.width,
            "height": img.height,
            "bytes": img.bytes.len(),
            "etag": img.etag,
        });
        let _ = writeln!(out, "{doc}");
    } else {
        let _ = writeln!(
            out,
            "wrote {} ({}x{} {}, {} bytes, etag {})",
            args.out.display(),
            img.width,
            img.height,
            img.content_type,
            img.bytes.len(),
            img.etag
        );
    }
    Ok(())
}
