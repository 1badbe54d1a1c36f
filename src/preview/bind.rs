//! Binding: applies a product's preview bindings and a selection to a parsed template, producing a safe SVG document.
//!
//! The template is parsed once (roxmltree, no DTD) into a small owned tree. Each render writes that
//! tree back out as SVG text with the bound changes applied; every attribute value and text node is
//! escaped on the way out, so customer text is always character data, never markup. Image
//! references are rewritten to catalog paths (`assets/...`) that the renderer's resolver looks up in
//! memory; anything else (absolute paths, `file:`, URLs) is dropped.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::catalog::expr::Val;
use crate::catalog::model::{
    Align, Binding, ColorSource, Fit, ImageFit, OptId, OptionKind, Preview, Product, TextBinding,
    Value,
};
use crate::rules::selection::Selection;

use super::PreviewError;

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Most lines a wrapped text may take.
const MAX_LINES: usize = 64;
/// Most characters of customer text that reach the template (text options are bounded earlier;
/// this keeps the renderer's work bounded even for a selection built by hand).
const MAX_TEXT_CHARS: usize = 10_000;
const LINE_HEIGHT: f32 = 1.2;

/// A template parsed once: an owned element tree.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    root: Elem,
    /// Width of the template's user space (viewBox, else width), for default text boxes.
    view_width: f32,
}

#[derive(Debug, Clone)]
struct Elem {
    /// Qualified name as it will be written (`text`, `image`, ...).
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    /// Index of the binding for this element's id, if any.
    binding: Option<usize>,
}

#[derive(Debug, Clone)]
enum Node {
    Elem(Elem),
    Text(String),
}

/// A font the text bindings can use: its family, weight and style, and the face for measuring.
#[derive(Debug, Clone)]
pub(crate) struct FontFace {
    pub family: String,
    pub weight: u16,
    pub italic: bool,
    pub data: std::sync::Arc<Vec<u8>>,
}

impl Template {
    /// Parses `text` (the template at catalog path `path`) and attaches the preview's bindings.
    pub(crate) fn parse(
        path: &str,
        text: &str,
        preview: &Preview,
    ) -> Result<Template, PreviewError> {
        crate::catalog::preview::check_xml_depth(text, crate::catalog::preview::MAX_SVG_DEPTH)
            .map_err(|reason| PreviewError::Template {
                template: path.to_owned(),
                reason,
            })?;
        let opts = roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 200_000,
        };
        let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| {
            PreviewError::Template {
                template: path.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let ids: HashMap<&str, usize> = preview
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| (b.element.as_str(), i))
            .collect();
        let dir: String = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let root =
            convert(doc.root_element(), &ids, &dir, 0).ok_or_else(|| PreviewError::Template {
                template: path.to_owned(),
                reason: "the template nests too deeply".into(),
            })?;
        let view_width = root
            .attr("viewBox")
            .and_then(|vb| vb.split([' ', ',']).filter(|s| !s.is_empty()).nth(2))
            .and_then(|w| w.parse::<f32>().ok())
            .or_else(|| root.attr("width").and_then(|w| w.parse().ok()))
            .unwrap_or(preview.width as f32);
        Ok(Template { root, view_width })
    }
}

impl Elem {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        match self.attrs.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.to_owned(), value)),
        }
    }
}

fn convert(
    n: roxmltree::Node<'_, '_>,
    ids: &HashMap<&str, usize>,
    dir: &str,
    depth: usize,
) -> Option<Elem> {
    if depth > crate::catalog::preview::MAX_SVG_DEPTH {
        return None;
    }
    let tag = n.tag_name();
    let name = match tag.namespace() {
        Some(SVG_NS) | None => tag.name().to_owned(),
        // Elements of other vocabularies (editor metadata) are not rendered by usvg anyway.
        Some(_) => format!("bespoke-ignored-{}", tag.name()),
    };
    let mut attrs = Vec::new();
    for a in n.attributes() {
        let key = match a.namespace() {
            None => a.name().to_owned(),
            Some(XLINK_NS) if a.name() == "href" => "href".to_owned(),
            Some(XML_NS) => format!("xml:{}", a.name()),
            Some(_) => continue,
        };
        let value = if key == "href" {
            match resolve_href(dir, a.value()) {
                Some(v) => v,
                None => continue,
            }
        } else {
            a.value().to_owned()
        };
        attrs.push((key, value));
    }
    let mut children = Vec::new();
    for c in n.children() {
        if c.is_element() {
            children.push(Node::Elem(convert(c, ids, dir, depth + 1)?));
        } else if c.is_text()
            && let Some(t) = c.text()
        {
            children.push(Node::Text(t.to_owned()));
        }
    }
    let binding = n.attribute("id").and_then(|id| ids.get(id).copied());
    Some(Elem {
        name,
        attrs,
        children,
        binding,
    })
}

/// Resolves an `href` of the template to a catalog path, keeping fragment and data references.
/// Returns `None` (the reference is dropped) for anything outside assets/ or not relative.
fn resolve_href(dir: &str, href: &str) -> Option<String> {
    if href.starts_with('#') || href.starts_with("data:") {
        return Some(href.to_owned());
    }
    crate::catalog::preview::resolve_asset_path(dir, href)
}

/// The effective value of each option for rendering: the selection's choice, else the default.
pub(crate) fn effective(product: &Product, sel: &Selection, opt: OptId) -> Option<Value> {
    sel.get(opt)
        .cloned()
        .or_else(|| product.options.get(opt).and_then(|o| o.default.clone()))
        .or_else(|| match product.options.get(opt).map(|o| &o.kind) {
            Some(OptionKind::Boolean { .. }) => Some(Value::Bool(false)),
            _ => None,
        })
}

fn val_of(v: &Value) -> Val {
    match v {
        Value::Choice(i) => Val::Choice(*i),
        Value::Bool(b) => Val::Bool(*b),
        Value::Int(n) => Val::Int(*n),
        Value::Text(s) => Val::Int(i64::try_from(s.chars().count()).unwrap_or(i64::MAX)),
    }
}

/// The options that change the rendered image, in option order.
pub(crate) fn relevant_options(preview: &Preview) -> Vec<OptId> {
    let mut set = BTreeSet::new();
    for b in &preview.bindings {
        for c in [&b.fill, &b.stroke].into_iter().flatten() {
            if let ColorSource::Swatch(o) = c {
                set.insert(*o);
            }
        }
        if let Some(e) = &b.visible {
            e.options(&mut set);
        }
        set.extend(b.image);
        if let Some(t) = &b.text {
            set.insert(t.option);
        }
        if let Some(s) = &b.scale {
            set.insert(s.by);
        }
        set.extend(b.upload);
    }
    set.into_iter().collect()
}

/// The upload ids a selection places into the template (bound upload options with a value).
pub(crate) fn upload_ids(product: &Product, preview: &Preview, sel: &Selection) -> Vec<String> {
    let mut ids: Vec<String> = preview
        .bindings
        .iter()
        .filter_map(|b| b.upload)
        .filter_map(|o| match effective(product, sel, o) {
            Some(Value::Text(id)) => Some(id),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Everything a render needs besides the template: product, selection and fonts.
pub(crate) struct BindCx<'a> {
    pub product: &'a Product,
    pub preview: &'a Preview,
    pub selection: &'a Selection,
    /// Shipped fonts by file path under assets/fonts.
    pub fonts: &'a HashMap<String, FontFace>,
}

impl BindCx<'_> {
    fn value(&self, opt: OptId) -> Option<Value> {
        effective(self.product, self.selection, opt)
    }

    fn swatch(&self, c: &ColorSource) -> Option<String> {
        match c {
            ColorSource::Literal(c) => Some(c.to_hex()),
            ColorSource::Swatch(o) => match (self.value(*o), &self.product.options.get(*o)?.kind) {
                (Some(Value::Choice(i)), OptionKind::Choice(spec)) => {
                    spec.values.get(i)?.swatch.map(|c| c.to_hex())
                }
                _ => None,
            },
        }
    }
}

/// Writes the template with the selection applied, as SVG text.
pub(crate) fn write_document(t: &Template, cx: &BindCx<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    write_elem(&mut out, &t.root, cx, t, true);
    out
}

fn write_elem(out: &mut String, e: &Elem, cx: &BindCx<'_>, t: &Template, root: bool) {
    let Some(b) = e.binding.and_then(|bi| cx.preview.bindings.get(bi)) else {
        write_tag(out, e, cx, t, root);
        return;
    };
    if let Some(expr) = &b.visible
        && !expr.eval(&|o| cx.value(o).as_ref().map(val_of))
    {
        return;
    }
    let mut e = e.clone();
    apply(&mut e, b, cx, t);
    write_tag(out, &e, cx, t, root);
}
fn apply(e: &mut Elem, b: &Binding, cx: &BindCx<'_>, t: &Template) {
    if b.visible.is_some() {
        e.set("visibility", "visible".into());
        e.attrs.retain(|(k, v)| !(k == "display" && v == "none"));
    }
    if let Some(c) = b.fill.as_ref().and_then(|c| cx.swatch(c)) {
        e.set("fill", c);
    }
    if let Some(c) = b.stroke.as_ref().and_then(|c| cx.swatch(c)) {
        e.set("stroke", c);
    }
    if let Some(o) = b.image
        && let (Some(Value::Choice(i)), Some(OptionKind::Choice(spec))) =
            (cx.value(o), cx.product.options.get(o).map(|d| &d.kind))
        && let Some(path) = spec.values.get(i).and_then(|v| v.image.as_ref())
    {
        e.set("href", path.clone());
    }
    if let Some(s) = &b.scale
        && let Some(Value::Int(v)) = cx.value(s.by)
        && let Some(OptionKind::Integer(r) | OptionKind::Quantity(r)) =
            cx.product.options.get(s.by).map(|d| &d.kind)
    {
        let (lo, hi) = (
            s.from_milli.0 as f64 / 1000.0,
            s.from_milli.1 as f64 / 1000.0,
        );
        let span = (r.max - r.min) as f64;
        let f = if span > 0.0 {
            lo + (hi - lo) * ((v - r.min) as f64 / span)
        } else {
            hi
        };
        let prev = e.attr("transform").unwrap_or("").to_owned();
        e.set(
            "transform",
            format!("{prev} scale({f:.4})").trim().to_owned(),
        );
    }
    if let Some(o) = b.upload
        && let (Some(Value::Text(id)), Some(OptionKind::Upload(spec))) =
            (cx.value(o), cx.product.options.get(o).map(|d| &d.kind))
    {
        e.set("href", format!("upload:{id}"));
        let par = match spec.fit {
            ImageFit::Contain => "xMidYMid meet",
            ImageFit::Cover => "xMidYMid slice",
        };
        e.set("preserveAspectRatio", par.into());
    }
    if let Some(tb) = &b.text {
        match cx.value(tb.option) {
            Some(Value::Text(text)) => set_text(e, tb, &text, cx, t),
            // An unset required text shows the template's placeholder ("YOUR TEXT"); an unset
            // optional text shows nothing.
            _ if cx
                .product
                .options
                .get(tb.option)
                .is_some_and(|o| !o.required) =>
            {
                e.children.clear();
            }
            _ => {}
        }
    }
}

/// Replaces a `<text>` element's content with the customer's text, laid out in its box.
fn set_text(e: &mut Elem, tb: &TextBinding, text: &str, cx: &BindCx<'_>, t: &Template) {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(MAX_TEXT_CHARS)
        .collect();
    let face = tb.font.as_ref().and_then(|f| cx.fonts.get(&f.file));
    if let Some(face) = face {
        e.set(
            "font-family",
            format!("'{}'", face.family.replace('\'', "")),
        );
        e.set("font-weight", face.weight.to_string());
        e.set(
            "font-style",
            if face.italic { "italic" } else { "normal" }.into(),
        );
    }
    let anchor = match tb.align {
        Align::Start => "start",
        Align::Center => "middle",
        Align::End => "end",
    };
    e.set("text-anchor", anchor.into());
    let x: f32 = e.attr("x").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let y: f32 = e.attr("y").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let box_w = e
        .attr("data-width")
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|w| *w > 0.0)
        .unwrap_or_else(|| match tb.align {
            Align::Start => t.view_width - x,
            Align::Center => 2.0 * x.min(t.view_width - x),
            Align::End => x,
        })
        .max(1.0);
    let box_h = e
        .attr("data-height")
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|h| *h > 0.0);
    let base = tb
        .font_size
        .map(|s| s as f32)
        .or_else(|| e.attr("font-size").and_then(|v| v.parse().ok()))
        .unwrap_or(16.0);
    let measure = |s: &str, size: f32| {
        face.map_or(s.chars().count() as f32 * size * 0.6, |f| {
            advance(f, s, size)
        })
    };
    let (size, lines) = match tb.fit {
        Fit::None => (base, vec![text]),
        Fit::Shrink => {
            let w = measure(&text, base);
            let size = if w > box_w { base * box_w / w } else { base };
            (size.max(0.5), vec![text])
        }
        Fit::Wrap => {
            let mut size = base;
            let mut lines = wrap(&text, box_w, |s| measure(s, size));
            for _ in 0..24 {
                let too_tall = box_h.is_some_and(|h| lines.len() as f32 * size * LINE_HEIGHT > h);
                if !too_tall && lines.len() <= MAX_LINES {
                    break;
                }
                size *= 0.85;
                lines = wrap(&text, box_w, |s| measure(s, size));
            }
            lines.truncate(MAX_LINES);
            (size.max(0.5), lines)
        }
    };
    e.set("font-size", format!("{size:.2}"));
    e.children.clear();
    if lines.len() <= 1 {
        e.children
            .push(Node::Text(lines.into_iter().next().unwrap_or_default()));
        return;
    }
    let lh = size * LINE_HEIGHT;
    let first = y - lh * (lines.len() as f32 - 1.0) / 2.0;
    for (i, line) in lines.into_iter().enumerate() {
        e.children.push(Node::Elem(Elem {
            name: "tspan".into(),
            attrs: vec![
                ("x".into(), format!("{x:.2}")),
                ("y".into(), format!("{:.2}", first + lh * i as f32)),
            ],
            children: vec![Node::Text(line)],
            binding: None,
        }));
    }
}

/// The advance width of `s` in the face at `size` pixels (no kerning; missing glyphs count as half an em).
fn advance(face: &FontFace, s: &str, size: f32) -> f32 {
    let Ok(f) = ttf_parser::Face::parse(&face.data, 0) else {
        return s.chars().count() as f32 * size * 0.6;
    };
    let upem = f32::from(f.units_per_em().max(1));
    let units: f32 = s
        .chars()
        .map(|c| {
            f.glyph_index(c)
                .and_then(|g| f.glyph_hor_advance(g))
                .map_or(upem / 2.0, f32::from)
        })
        .sum();
    units * size / upem
}

/// Greedy word wrap into lines no wider than `width`; a word wider than a line is broken by characters.
fn wrap(text: &str, width: f32, measure: impl Fn(&str) -> f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if cur.is_empty() {
            word.to_owned()
        } else {
            format!("{cur} {word}")
        };
        if measure(&candidate) <= width {
            cur = candidate;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if measure(word) <= width {
            cur = word.to_owned();
            continue;
        }
        for ch in word.chars() {
            cur.push(ch);
            if measure(&cur) > width && cur.chars().count() > 1 {
                cur.pop();
                lines.push(std::mem::take(&mut cur));
                cur.push(ch);
            }
        }
        if lines.len() > MAX_LINES * 4 {
            break;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

fn write_tag(out: &mut String, e: &Elem, cx: &BindCx<'_>, t: &Template, root: bool) {
    out.push('<');
    out.push_str(&e.name);
    if root {
        let _ = write!(out, " xmlns=\"{SVG_NS}\"");
    }
    for (k, v) in &e.attrs {
        if k == "xmlns" {
            continue;
        }
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_into(out, v);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Text(s) => escape_into(out, s),
            Node::Elem(child) => write_elem(out, child, cx, t, false),
        }
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

/// Escapes text for both attribute values and character data.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Writes the artwork of a print area, with the selection applied: the subtree of the element
/// `element` (preceded by the template's `<defs>` outside it, which its paint may refer to), or
/// with `None` every child of the template's root (a separate print template). The caller wraps
/// it in the area's own `<svg>`; ancestors' attributes and transforms do not apply.
pub(crate) fn write_area_content(
    t: &Template,
    cx: &BindCx<'_>,
    element: Option<&str>,
) -> Option<String> {
    let mut out = String::with_capacity(16 * 1024);
    match element {
        None => {
            for c in &t.root.children {
                match c {
                    Node::Text(s) => escape_into(&mut out, s),
                    Node::Elem(e) => write_elem(&mut out, e, cx, t, false),
                }
            }
        }
        Some(id) => {
            let el = find_elem(&t.root, id)?;
            let mut defs = Vec::new();
            collect_defs(&t.root, id, &mut defs);
            for d in defs {
                write_elem(&mut out, d, cx, t, false);
            }
            write_elem(&mut out, el, cx, t, false);
        }
    }
    Some(out)
}

fn find_elem<'t>(e: &'t Elem, id: &str) -> Option<&'t Elem> {
    if e.attr("id") == Some(id) {
        return Some(e);
    }
    e.children.iter().find_map(|c| match c {
        Node::Elem(child) => find_elem(child, id),
        Node::Text(_) => None,
    })
}

/// Every `<defs>` of the tree that is not inside the element `id`.
fn collect_defs<'t>(e: &'t Elem, id: &str, out: &mut Vec<&'t Elem>) {
    for c in &e.children {
        if let Node::Elem(child) = c {
            if child.attr("id") == Some(id) {
                continue;
            }
            if child.name == "defs" {
                out.push(child);
            } else {
                collect_defs(child, id, out);
            }
        }
    }
}
