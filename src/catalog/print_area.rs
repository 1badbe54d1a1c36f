//! Print areas (`preview.print_areas`): ids, physical size in millimetres (constants or terms over the options), bleed, resolution and the artwork's source element or SVG, checked with located diagnostics.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::diagnostic::Code;
use super::expr::{Term, Val, did_you_mean};
use super::files::FileSet;
use super::model::{AreaSource, OptionDef, PrintArea, Value};
use super::preview::{SvgInfo, check_file_ref, svg_info};
use super::read::{Cx, IdKind};
use super::rules_file::check_term;
use super::yaml::{Node, NodeKind};

const AREA_KEYS: &[&str] = &[
    "id",
    "width_mm",
    "height_mm",
    "bleed_mm",
    "element",
    "template",
    "dpi",
];

/// Lowest print resolution an area may declare, in dots per inch.
pub const MIN_PRINT_DPI: i64 = 72;
/// Highest print resolution an area may declare, in dots per inch (fine-art giclée printers
/// address 600 dpi; more only multiplies pixels).
pub const MAX_PRINT_DPI: i64 = 600;
/// Largest bleed, in millimetres (print shops ask for 2–5 mm; 50 mm leaves room for wraps).
pub const MAX_BLEED_MM: i64 = 50;
/// Largest trim side an area may have, in millimetres (10 m: banners); the pixel budget bounds
/// the files themselves.
pub const MAX_SIDE_MM: i64 = 10_000;
/// Most print areas a product may declare.
pub const MAX_AREAS: usize = 16;

/// Reads `print_areas:` of a preview section whose template is `template` (its text `text` and
/// element ids `info`). Returns the areas and the files they add to the product's version.
pub fn read_print_areas(
    cx: &mut Cx<'_>,
    node: &Node,
    options: &[OptionDef],
    files: &FileSet,
    template: &str,
    info: &SvgInfo,
) -> Option<(Vec<PrintArea>, Vec<String>)> {
    let items = cx.seq(node, "`print_areas`")?;
    let before = cx.diags.len();
    if items.len() > MAX_AREAS {
        cx.error(
            Code::InvalidBinding,
            node.span,
            format!(
                "{} print areas declared; at most {MAX_AREAS} are allowed",
                items.len()
            ),
            None,
        );
        return None;
    }
    let mut areas = Vec::new();
    let mut used = Vec::new();
    let mut ids = BTreeSet::new();
    let template_text = files
        .get(template)
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    for item in items {
        let Some(f) = cx.fields(item, "a print area", AREA_KEYS) else {
            continue;
        };
        let Some(id) = cx
            .require(&f, "id", "a print area")
            .and_then(|n| cx.id(n, IdKind::Rule, "print area id"))
        else {
            continue;
        };
        if !ids.insert(id.clone()) {
            cx.error(
                Code::DuplicateId,
                f.get("id").map_or(item.span, |n| n.span),
                format!("the print area `{id}` is declared twice"),
                None,
            );
            continue;
        }
        let what = format!("the print area `{id}`");
        let width = cx
            .require(&f, "width_mm", &what)
            .and_then(|n| size_term(cx, n, options, "`width_mm`"));
        let height = cx
            .require(&f, "height_mm", &what)
            .and_then(|n| size_term(cx, n, options, "`height_mm`"));
        let bleed = match f.get("bleed_mm") {
            None => Some(Decimal::ZERO),
            Some(n) => {
                match number(n) {
                    Some(d) if d >= Decimal::ZERO && d <= Decimal::from(MAX_BLEED_MM) => Some(d),
                    _ => {
                        cx.error(
                        Code::WrongType,
                        n.span,
                        format!("`bleed_mm` must be a number of millimetres from 0 to {MAX_BLEED_MM}"),
                        Some("e.g. `bleed_mm: 3`".into()),
                    );
                        None
                    }
                }
            }
        };
        let dpi = cx.require(&f, "dpi", &what).and_then(|n| match n.kind {
            NodeKind::Int(v) if (MIN_PRINT_DPI..=MAX_PRINT_DPI).contains(&v) => {
                u32::try_from(v).ok()
            }
            _ => {
                cx.error(
                    Code::WrongType,
                    n.span,
                    format!("`dpi` must be a whole number from {MIN_PRINT_DPI} to {MAX_PRINT_DPI}"),
                    Some("e.g. `dpi: 150` (large prints) or `dpi: 300` (small ones)".into()),
                );
                None
            }
        });
        let source = match (f.get("element"), f.get("template")) {
            (Some(en), None) => cx.text(en, "`element`").and_then(|el| {
                if info.ids.contains(&el) {
                    match element_box(&template_text, &el) {
                        Ok(b) => Some((AreaSource::Element(el), b)),
                        Err(e) => {
                            cx.error(
                                Code::InvalidBinding,
                                en.span,
                                format!("the element `{el}` of `{template}` has no box: {e}"),
                                Some("give it numeric `x`, `y`, `width` and `height`, or make it a group of such elements".into()),
                            );
                            None
                        }
                    }
                } else {
                    let help = did_you_mean(&el, info.ids.iter().map(String::as_str))
                        .map_or_else(
                            || format!("add `id=\"{el}\"` to the element in {template}"),
                            |s| format!("did you mean `{s}`?"),
                        );
                    cx.error(
                        Code::UnknownElement,
                        en.span,
                        format!("`{template}` has no element with id `{el}`"),
                        Some(help),
                    );
                    None
                }
            }),
            (None, Some(tn)) => cx.text(tn, "`template`").and_then(|path| {
                if !path.ends_with(".svg") {
                    cx.error(
                        Code::BadTemplate,
                        tn.span,
                        format!("`{path}` is not an .svg file"),
                        None,
                    );
                    return None;
                }
                if !check_file_ref(cx, files, tn, &path, "assets", "the print template") {
                    return None;
                }
                let text = files
                    .get(&path)
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                let parsed = svg_info(&text).and_then(|i| {
                    if i.hrefs.iter().any(|h| !h.starts_with('#')) {
                        return Err("it references other files; print templates must be self-contained".into());
                    }
                    root_box(&text)
                });
                match parsed {
                    Ok(b) => {
                        used.push(path.clone());
                        Some((AreaSource::Template(path), b))
                    }
                    Err(e) => {
                        cx.error(
                            Code::BadTemplate,
                            tn.span,
                            format!("`{path}` is not usable SVG: {e}"),
                            Some("open it in an SVG editor and save it as plain SVG with a viewBox".into()),
                        );
                        None
                    }
                }
            }),
            _ => {
                cx.error(
                    Code::MissingKey,
                    item.span,
                    format!("{what} needs exactly one of `element` or `template`"),
                    Some("`element: <id in the preview template>` or `template: assets/....svg`".into()),
                );
                None
            }
        };
        if let (Some(w), Some(h), Some(bleed), Some(dpi), Some((source, artwork_box))) =
            (width, height, bleed, dpi, source)
        {
            let span = f.get("id").map_or(item.span, |n| n.span);
            // The defaults must give a printable size: a term that cannot is a typo.
            for (t, key) in [(&w, "width_mm"), (&h, "height_mm")] {
                let v = t.eval_decimal(&|o| default_val(options, o));
                if !v.is_some_and(|v| v > Decimal::ZERO && v <= Decimal::from(MAX_SIDE_MM)) {
                    cx.error(
                        Code::InvalidBinding,
                        f.get(key).map_or(span, |n| n.span),
                        format!(
                            "`{key}` of the print area `{id}` is not between 0 and {MAX_SIDE_MM} mm with the options' defaults"
                        ),
                        Some("write millimetres, e.g. `width_cm * 10` for an option in centimetres".into()),
                    );
                }
            }
            areas.push(PrintArea {
                id,
                width_mm: w,
                height_mm: h,
                bleed_mm: bleed,
                dpi,
                source,
                artwork_box,
                span,
            });
        }
    }
    if cx.diags[before..].iter().any(|d| d.is_error()) {
        return None;
    }
    Some((areas, used))
}

/// An option's default as the evaluator sees it.
fn default_val(options: &[OptionDef], o: usize) -> Option<Val> {
    match options.get(o)?.default.as_ref()? {
        Value::Int(n) => Some(Val::Int(*n)),
        Value::Bool(b) => Some(Val::Bool(*b)),
        Value::Choice(i) => Some(Val::Choice(*i)),
        Value::Text(s) => Some(Val::Int(i64::try_from(s.chars().count()).ok()?)),
    }
}

/// A YAML number (or a string holding one) as a decimal.
fn number(n: &Node) -> Option<Decimal> {
    match &n.kind {
        NodeKind::Int(v) => Some(Decimal::from(*v)),
        NodeKind::Float(t) | NodeKind::Str(t) => t.trim().parse().ok(),
        _ => None,
    }
}

/// A size: a number of millimetres, or an arithmetic term over integer options.
fn size_term(cx: &mut Cx<'_>, n: &Node, options: &[OptionDef], what: &str) -> Option<Term> {
    if let Some(d) = number(n) {
        return Some(Term::Dec(d));
    }
    if !matches!(n.kind, NodeKind::Str(_)) {
        cx.wrong_type(n, "a number of millimetres or an expression", what);
        return None;
    }
    let src = cx.expr(n, what)?;
    check_term(cx, options, &src)
}

fn num_attr(n: roxmltree::Node<'_, '_>, name: &str) -> Option<f64> {
    let v = n.attribute(name)?.trim();
    let v = v.strip_suffix("px").unwrap_or(v);
    v.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// The box of an element with numeric `width` and `height` (`x`, `y` default to 0).
fn own_box(n: roxmltree::Node<'_, '_>) -> Option<[f64; 4]> {
    let w = num_attr(n, "width").filter(|w| *w > 0.0)?;
    let h = num_attr(n, "height").filter(|h| *h > 0.0)?;
    Some([
        num_attr(n, "x").unwrap_or(0.0),
        num_attr(n, "y").unwrap_or(0.0),
        w,
        h,
    ])
}

fn parse(text: &str) -> Result<roxmltree::Document<'_>, String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 200_000,
    };
    roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())
}

/// The box of the element `id` in an SVG text: its own (`x`, `y`, `width`, `height`), or for a
/// group the union of its direct children's boxes.
pub fn element_box(text: &str, id: &str) -> Result<[f64; 4], String> {
    let doc = parse(text)?;
    let el = doc
        .descendants()
        .find(|n| n.is_element() && n.attribute("id") == Some(id))
        .ok_or_else(|| format!("no element with id `{id}`"))?;
    if let Some(b) = own_box(el) {
        return Ok(b);
    }
    let boxes: Vec<[f64; 4]> = el.children().filter_map(own_box).collect();
    if boxes.is_empty() {
        return Err("neither it nor its children have a width and height".into());
    }
    let x0 = boxes.iter().map(|b| b[0]).fold(f64::INFINITY, f64::min);
    let y0 = boxes.iter().map(|b| b[1]).fold(f64::INFINITY, f64::min);
    let x1 = boxes
        .iter()
        .map(|b| b[0] + b[2])
        .fold(f64::NEG_INFINITY, f64::max);
    let y1 = boxes
        .iter()
        .map(|b| b[1] + b[3])
        .fold(f64::NEG_INFINITY, f64::max);
    Ok([x0, y0, x1 - x0, y1 - y0])
}

/// The user-space box of an SVG document: its `viewBox`, else `0 0 width height`.
pub fn root_box(text: &str) -> Result<[f64; 4], String> {
    let doc = parse(text)?;
    let root = doc.root_element();
    if let Some(vb) = root.attribute("viewBox") {
        let v: Vec<f64> = vb
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if let [x, y, w, h] = v.as_slice()
            && *w > 0.0
            && *h > 0.0
        {
            return Ok([*x, *y, *w, *h]);
        }
        return Err(format!("its viewBox `{vb}` is not four numbers"));
    }
    own_box(root)
        .map(|[_, _, w, h]| [0.0, 0.0, w, h])
        .ok_or_else(|| "it has neither a viewBox nor a width and height".into())
}
