//! Preview sections: checks the SVG template, its element ids, the bindings, the shipped fonts and (through `print_area.rs`) the print areas.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::{Code, Span};
use super::expr::did_you_mean;
use super::files::FileSet;
use super::model::{
    Align, Binding, Color, ColorSource, Fit, FontRef, OptionDef, OptionKind, Preview, ScaleBinding,
    TextBinding,
};
use super::read::{Cx, Fields};
use super::rules_file::check_expr;
use super::yaml::{Node, NodeKind};

const PREVIEW_KEYS: &[&str] = &["template", "size", "bind", "print_areas"];
const BIND_KEYS: &[&str] = &[
    "fill",
    "stroke",
    "visible",
    "image",
    "text",
    "font",
    "font_size",
    "align",
    "fit",
    "scale",
    "upload",
];
const MAX_PREVIEW_SIDE: i64 = 10_000;

/// Fonts shipped under `assets/fonts/`: full name (e.g. `DejaVu Sans Bold`) → file path.
#[derive(Debug, Clone, Default)]
pub struct Fonts {
    pub by_name: BTreeMap<String, String>,
}

impl Fonts {
    pub fn scan(files: &FileSet) -> Fonts {
        let mut by_name = BTreeMap::new();
        for path in files.under("assets/fonts", &[".ttf", ".otf", ".TTF", ".OTF"]) {
            let Some(bytes) = files.get(path) else {
                continue;
            };
            let Ok(face) = ttf_parser::Face::parse(bytes, 0) else {
                continue;
            };
            for name in face.names() {
                if name.name_id == ttf_parser::name_id::FULL_NAME
                    && name.is_unicode()
                    && let Some(n) = name.to_string()
                {
                    by_name.entry(n).or_insert_with(|| path.to_owned());
                }
            }
        }
        Fonts { by_name }
    }
}

/// A path inside the catalog directory: relative, `/`-separated, no `..`.
pub fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.contains(':')
        && p.split('/')
            .all(|seg| !seg.is_empty() && seg != ".." && seg != ".")
}

/// Checks that `path` is inside `folder/` and exists; reports E026/E018 at `node`.
pub fn check_file_ref(
    cx: &mut Cx<'_>,
    files: &FileSet,
    node: &Node,
    path: &str,
    folder: &str,
    what: &str,
) -> bool {
    if !safe_path(path) || !path.starts_with(&format!("{folder}/")) {
        cx.error(
            Code::PathEscape,
            node.span,
            format!("{what} `{path}` is not inside {folder}/"),
            Some(format!(
                "write a relative path inside the catalog directory, e.g. `{folder}/...`"
            )),
        );
        return false;
    }
    if let Some(size) = files.oversized_len(path) {
        cx.error(
            Code::TooLarge,
            node.span,
            format!(
                "{what} `{path}` cannot be read: it is {size} bytes, over the limit of {} bytes",
                super::files::max_bytes(path)
            ),
            Some("make the file smaller".into()),
        );
        return false;
    }
    if !files.contains(path) {
        let candidates: Vec<&str> = files
            .paths()
            .filter(|p| p.starts_with(&format!("{folder}/")))
            .collect();
        let help = candidates
            .iter()
            .map(|c| (strsim::normalized_levenshtein(path, c), *c))
            .filter(|(score, _)| *score > 0.75)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| format!("did you mean `{s}`?"));
        cx.error(
            Code::MissingFile,
            node.span,
            format!("{what} `{path}` does not exist"),
            help,
        );
        return false;
    }
    true
}

/// The ids of every element in an SVG, and the asset files it references.
#[derive(Debug, Default)]
pub struct SvgInfo {
    pub ids: BTreeSet<String>,
    pub hrefs: Vec<String>,
}

/// Deepest element nesting an SVG may have (templates, images): real artwork nests a few dozen
/// levels; XML parsers and SVG converters recurse per level, so a file nested thousands deep
/// would overflow a thread's stack. Checked before any parser sees the file, by every entry
/// point (`bespoke check`, admin check, reload, the watcher, rendering), so they all agree.
pub const MAX_SVG_DEPTH: usize = 256;

/// Checks that an XML text nests elements at most `limit` deep (the root element is level 1),
/// without parsing it (a linear
/// scan that skips comments, CDATA, processing instructions, declarations and quoted attribute
/// values). Malformed XML is left for the parser to report.
pub fn check_xml_depth(text: &str, limit: usize) -> Result<(), String> {
    let b = text.as_bytes();
    let (mut i, mut depth) = (0usize, 0usize);
    let skip_to = |from: usize, end: &[u8]| -> usize {
        b.get(from..)
            .and_then(|rest| rest.windows(end.len()).position(|w| w == end))
            .map_or(b.len(), |p| from + p + end.len())
    };
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = skip_to(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_to(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_to(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            i = skip_to(i + 2, b">");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_to(i + 2, b">");
        } else {
            // A start tag: find its end outside quoted attribute values.
            let mut j = i + 1;
            let mut quote: Option<u8> = None;
            while j < b.len() {
                match (quote, b[j]) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, c @ (b'"' | b'\'')) => quote = Some(c),
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            // An element is one level below its parent, whether it has content or not.
            if depth + 1 > limit {
                return Err(format!("elements are nested more than {limit} levels deep"));
            }
            let self_closing = j > i + 1 && b.get(j - 1) == Some(&b'/');
            if !self_closing {
                depth += 1;
            }
            i = j + 1;
        }
    }
    Ok(())
}

pub fn svg_info(text: &str) -> Result<SvgInfo, String> {
    check_xml_depth(text, MAX_SVG_DEPTH)?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 200_000,
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())?;
    if doc.root_element().tag_name().name() != "svg" {
        return Err(format!(
            "the root element is <{}>, not <svg>",
            doc.root_element().tag_name().name()
        ));
    }
    let mut info = SvgInfo::default();
    for n in doc.descendants().filter(roxmltree::Node::is_element) {
        if let Some(id) = n.attribute("id") {
            info.ids.insert(id.to_owned());
        }
        for a in n.attributes() {
            if a.name() == "href" {
                info.hrefs.push(a.value().to_owned());
            }
        }
    }
    Ok(info)
}

/// Resolves a product's `preview` section. Returns the preview and the asset files it uses.
pub fn read_preview(
    cx: &mut Cx<'_>,
    node: &Node,
    options: &[OptionDef],
    files: &FileSet,
    fonts: &Fonts,
) -> Option<(Preview, Vec<String>)> {
    let f = cx.fields(node, "`preview`", PREVIEW_KEYS)?;
    let before = cx.diags.len();
    let mut used = Vec::new();
    let tnode = cx.require(&f, "template", "`preview`")?;
    let template = cx.text(tnode, "`template`")?;
    if !template.ends_with(".svg") {
        cx.error(
            Code::BadTemplate,
            tnode.span,
            format!("`{template}` is not an .svg file"),
            None,
        );
        return None;
    }
    if !check_file_ref(cx, files, tnode, &template, "assets", "the template") {
        return None;
    }
    used.push(template.clone());
    let text = files
        .get(&template)
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let info = match svg_info(&text) {
        Ok(i) => i,
        Err(e) => {
            cx.error(
                Code::BadTemplate,
                tnode.span,
                format!("`{template}` is not usable SVG: {e}"),
                Some("open it in an SVG editor and save it as plain SVG".into()),
            );
            return None;
        }
    };
    let dir = template.rsplit_once('/').map_or("", |(d, _)| d);
    for href in &info.hrefs {
        if href.starts_with("data:") || href.starts_with('#') {
            continue;
        }
        let joined = resolve_asset_path(dir, href);
        match joined {
            Some(p) if files.contains(&p) => used.push(p),
            _ => cx.error(
                Code::BadTemplate,
                tnode.span,
                format!("`{template}` references `{href}`, which is not a file in assets/"),
                Some("templates may only use files inside assets/, by relative path; remote and absolute references are not loaded".into()),
            ),
        }
    }
    let (width, height) = read_size(cx, &f)?;
    let mut bindings = Vec::new();
    if let Some(bn) = f.get("bind") {
        for (el, kn, v) in cx.entries(bn, "`bind`")? {
            if !info.ids.contains(&el) {
                let help = did_you_mean(&el, info.ids.iter().map(String::as_str)).map_or_else(
                    || format!("add `id=\"{el}\"` to the element in {template}"),
                    |s| format!("did you mean `{s}`?"),
                );
                cx.error(
                    Code::UnknownElement,
                    kn.span,
                    format!("`{template}` has no element with id `{el}`"),
                    Some(help),
                );
                continue;
            }
            if let Some(b) = read_binding(cx, &el, kn.span, v, options, fonts, &mut used) {
                bindings.push(b);
            }
        }
    }
    let print_areas = match f.get("print_areas") {
        Some(an) => {
            match super::print_area::read_print_areas(cx, an, options, files, &template, &info) {
                Some((areas, files_used)) => {
                    used.extend(files_used);
                    areas
                }
                None => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    // Every SVG the preview draws is rendered by a recursive parser: bounded here, as at serve.
    for path in used
        .iter()
        .skip(1)
        .filter(|p| p.to_ascii_lowercase().ends_with(".svg"))
    {
        let text = files
            .get(path)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        if let Err(e) = check_xml_depth(&text, MAX_SVG_DEPTH) {
            cx.error(
                Code::BadTemplate,
                tnode.span,
                format!("`{path}`, which the preview draws, is not usable SVG: {e}"),
                Some("open it in an SVG editor and save it as plain SVG".into()),
            );
        }
    }
    if cx.diags[before..].iter().any(|d| d.is_error()) {
        return None;
    }
    used.sort();
    used.dedup();
    Some((
        Preview {
            template,
            width,
            height,
            bindings,
            print_areas,
        },
        used,
    ))
}

/// Resolves a template's relative reference against the template's folder to a catalog path
/// under `assets/`; `None` for anything else (schemes such as `file:` or `http:`, absolute paths,
/// backslashes, `..` that leaves the catalog or assets/). Shared by the loader's checks and the
/// preview binder, so both accept exactly the same references.
pub fn resolve_asset_path(dir: &str, href: &str) -> Option<String> {
    if href.contains(':') || href.starts_with('/') || href.contains('\\') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in href.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let p = parts.join("/");
    p.starts_with("assets/").then_some(p)
}

fn read_size(cx: &mut Cx<'_>, f: &Fields<'_>) -> Option<(u32, u32)> {
    let n = cx.require(f, "size", "`preview`")?;
    let items = cx.seq(n, "`size`")?;
    let dims: Vec<i64> = items
        .iter()
        .filter_map(|i| {
            if let NodeKind::Int(v) = i.kind {
                Some(v)
            } else {
                None
            }
        })
        .collect();
    match dims.as_slice() {
        [w, h] if (1..=MAX_PREVIEW_SIDE).contains(w) && (1..=MAX_PREVIEW_SIDE).contains(h) => {
            Some((u32::try_from(*w).ok()?, u32::try_from(*h).ok()?))
        }
        _ => {
            cx.error(
                Code::WrongType,
                n.span,
                "`size` must be [width, height] in pixels",
                Some(format!(
                    "e.g. `size: [800, 800]`, each between 1 and {MAX_PREVIEW_SIDE}"
                )),
            );
            None
        }
    }
}

fn option_attr(
    cx: &mut Cx<'_>,
    n: &Node,
    options: &[OptionDef],
    attr: &str,
    what: &str,
) -> Option<usize> {
    let t = cx.text(n, what)?;
    let Some((opt, a)) = t.split_once('.') else {
        cx.error(
            Code::InvalidBinding,
            n.span,
            format!("{what} must be `option.{attr}`, not `{t}`"),
            None,
        );
        return None;
    };
    let Some(i) = options.iter().position(|o| o.id == opt) else {
        let help = did_you_mean(opt, options.iter().map(|o| o.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"));
        cx.error(
            Code::UnknownOption,
            n.span,
            format!("unknown option `{opt}`"),
            help,
        );
        return None;
    };
    if a != attr {
        cx.error(
            Code::InvalidBinding,
            n.span,
            format!("{what} reads `.{attr}`, not `.{a}`"),
            None,
        );
        return None;
    }
    let OptionKind::Choice(c) = &options[i].kind else {
        cx.error(
            Code::InvalidBinding,
            n.span,
            format!("`{opt}` is not a choice option; only choice values have a {attr}"),
            None,
        );
        return None;
    };
    let missing: Vec<&str> = c
        .values
        .iter()
        .filter(|v| {
            if attr == "swatch" {
                v.swatch.is_none()
            } else {
                v.image.is_none()
            }
        })
        .map(|v| v.id.as_str())
        .collect();
    if !missing.is_empty() {
        cx.error(
            Code::InvalidBinding,
            n.span,
            format!(
                "{what} reads `{opt}.{attr}`, but these values have no {attr}: {}",
                missing.join(", ")
            ),
            Some(format!("give every value of `{opt}` a `{attr}:`")),
        );
        return None;
    }
    Some(i)
}

fn read_binding(
    cx: &mut Cx<'_>,
    element: &str,
    span: Span,
    node: &Node,
    options: &[OptionDef],
    fonts: &Fonts,
    used: &mut Vec<String>,
) -> Option<Binding> {
    let what = format!("the binding of `{element}`");
    let f = cx.fields(node, &what, BIND_KEYS)?;
    let before = cx.diags.len();
    let color = |cx: &mut Cx<'_>, key: &str| -> Option<ColorSource> {
        let n = f.get(key)?;
        let t = n.scalar_text().unwrap_or_default();
        if t.starts_with('#') {
            let c = Color::parse(&t);
            if c.is_none() {
                cx.error(
                    Code::InvalidColor,
                    n.span,
                    format!("`{t}` is not a colour"),
                    Some("write `#rrggbb`".into()),
                );
            }
            return c.map(ColorSource::Literal);
        }
        option_attr(cx, n, options, "swatch", &format!("`{key}`")).map(ColorSource::Swatch)
    };
    let fill = color(cx, "fill");
    let stroke = color(cx, "stroke");
    let visible = f
        .get("visible")
        .and_then(|n| cx.expr(n, "`visible`"))
        .and_then(|src| check_expr(cx, options, &src, false));
    let image = f
        .get("image")
        .and_then(|n| option_attr(cx, n, options, "image", "`image`"));
    if let Some(o) = image
        && let OptionKind::Choice(c) = &options[o].kind
    {
        used.extend(c.values.iter().filter_map(|v| v.image.clone()));
    }
    let text = match f.get("text") {
        Some(n) => {
            let t = cx.text(n, "`text`")?;
            match options.iter().position(|o| o.id == t) {
                Some(i) if matches!(options[i].kind, OptionKind::Text(_)) => {
                    let font = f.get("font").and_then(|fnode| {
                        let name = cx.text(fnode, "`font`")?;
                        match fonts.by_name.get(&name) {
                            Some(file) => {
                                used.push(file.clone());
                                Some(FontRef {
                                    name,
                                    file: file.clone(),
                                })
                            }
                            None => {
                                let help =
                                    did_you_mean(&name, fonts.by_name.keys().map(String::as_str))
                                        .map_or_else(
                                            || {
                                                format!(
                                                    "the shipped fonts are: {}",
                                                    fonts
                                                        .by_name
                                                        .keys()
                                                        .cloned()
                                                        .collect::<Vec<_>>()
                                                        .join(", ")
                                                )
                                            },
                                            |s| format!("did you mean `{s}`?"),
                                        );
                                cx.error(
                                    Code::UnknownFont,
                                    fnode.span,
                                    format!("the font `{name}` is not shipped in assets/fonts"),
                                    Some(help),
                                );
                                None
                            }
                        }
                    });
                    let font_size = f.get("font_size").and_then(|n| match n.kind {
                        NodeKind::Int(v) if (1..=1000).contains(&v) => u32::try_from(v).ok(),
                        _ => {
                            cx.error(
                                Code::InvalidBinding,
                                n.span,
                                "`font_size` must be a whole number of pixels from 1 to 1000",
                                None,
                            );
                            None
                        }
                    });
                    let align = match f.get("align").and_then(|n| n.scalar_text()).as_deref() {
                        None | Some("center") => Align::Center,
                        Some("start") => Align::Start,
                        Some("end") => Align::End,
                        Some(o) => {
                            cx.error(
                                Code::InvalidBinding,
                                f.get("align").map_or(span, |n| n.span),
                                format!("`align` must be start, center or end, not `{o}`"),
                                None,
                            );
                            Align::Center
                        }
                    };
                    let fit = match f.get("fit").and_then(|n| n.scalar_text()).as_deref() {
                        None | Some("shrink") => Fit::Shrink,
                        Some("wrap") => Fit::Wrap,
                        Some("none") => Fit::None,
                        Some(o) => {
                            cx.error(
                                Code::InvalidBinding,
                                f.get("fit").map_or(span, |n| n.span),
                                format!("`fit` must be shrink, wrap or none, not `{o}`"),
                                None,
                            );
                            Fit::Shrink
                        }
                    };
                    Some(TextBinding {
                        option: i,
                        font,
                        font_size,
                        align,
                        fit,
                    })
                }
                Some(i) => {
                    cx.error(
                        Code::InvalidBinding,
                        n.span,
                        format!(
                            "`text` needs a text option; `{t}` is a {} option",
                            options[i].kind.type_name()
                        ),
                        None,
                    );
                    None
                }
                None => {
                    let help = did_you_mean(&t, options.iter().map(|o| o.id.as_str()))
                        .map(|s| format!("did you mean `{s}`?"));
                    cx.error(
                        Code::UnknownOption,
                        n.span,
                        format!("unknown option `{t}`"),
                        help,
                    );
                    None
                }
            }
        }
        None => {
            for k in ["font", "font_size", "align", "fit"] {
                if let Some(ks) = f.key_span(k) {
                    cx.error(
                        Code::InvalidBinding,
                        ks,
                        format!("`{k}` only applies with `text`"),
                        Some("add `text: <text option>` or remove it".into()),
                    );
                }
            }
            None
        }
    };
    let scale = f.get("scale").and_then(|n| read_scale(cx, n, options));
    let upload = f.get("upload").and_then(|n| {
        let name = cx.text(n, "`upload`")?;
        match options.iter().position(|o| o.id == name) {
            Some(i) if matches!(options[i].kind, OptionKind::Upload(_)) => Some(i),
            Some(i) => {
                cx.error(
                    Code::InvalidBinding,
                    n.span,
                    format!(
                        "`upload` needs an upload option; `{name}` is a {} option",
                        options[i].kind.type_name()
                    ),
                    None,
                );
                None
            }
            None => {
                let help = did_you_mean(&name, options.iter().map(|o| o.id.as_str()))
                    .map(|s| format!("did you mean `{s}`?"));
                cx.error(
                    Code::UnknownOption,
                    n.span,
                    format!("unknown option `{name}`"),
                    help,
                );
                None
            }
        }
    });
    if cx.diags[before..].iter().any(|d| d.is_error()) {
        return None;
    }
    Some(Binding {
        element: element.to_owned(),
        fill,
        stroke,
        visible,
        image,
        text,
        scale,
        upload,
        span,
    })
}

fn read_scale(cx: &mut Cx<'_>, n: &Node, options: &[OptionDef]) -> Option<ScaleBinding> {
    let f = cx.fields(n, "`scale`", &["by", "from"])?;
    let by = cx.require(&f, "by", "`scale`")?;
    let name = cx.text(by, "`by`")?;
    let Some(i) = options.iter().position(|o| o.id == name) else {
        let help = did_you_mean(&name, options.iter().map(|o| o.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"));
        cx.error(
            Code::UnknownOption,
            by.span,
            format!("unknown option `{name}`"),
            help,
        );
        return None;
    };
    if !matches!(
        options[i].kind,
        OptionKind::Integer(_) | OptionKind::Quantity(_)
    ) {
        cx.error(
            Code::InvalidBinding,
            by.span,
            format!(
                "`scale` follows an integer option; `{name}` is a {} option",
                options[i].kind.type_name()
            ),
            None,
        );
        return None;
    }
    let from = cx.require(&f, "from", "`scale`")?;
    let items = cx.seq(from, "`from`")?;
    let milli: Vec<Option<i64>> = items
        .iter()
        .map(|it| {
            let t = it.scalar_text()?;
            let d: rust_decimal::Decimal = t.parse().ok()?;
            let m = (d * rust_decimal::Decimal::from(1000)).trunc();
            i64::try_from(m).ok().filter(|v| *v > 0 && *v <= 100_000)
        })
        .collect();
    match milli.as_slice() {
        [Some(lo), Some(hi)] => Some(ScaleBinding {
            by: i,
            from_milli: (*lo, *hi),
        }),
        _ => {
            cx.error(
                Code::InvalidBinding,
                from.span,
                "`from` must be [low, high] positive scale factors, e.g. [0.5, 1.5]",
                None,
            );
            None
        }
    }
}
