//! Fulfilment sections of a product file: the variant SKU template (`sku:`) and the bill of materials (`bom:` on the product and on choice values), read with located diagnostics.

use super::diagnostic::{Code, Span};
use super::expr::{Checker, Expr, Term, did_you_mean};
use super::model::{BomEntry, BomOrigin, OptionDef, OptionKind, SkuPart, SkuTemplate};
use super::read::{Cx, ExprSrc};
use super::yaml::{Node, NodeKind};

/// Keys of an entry in the product's `bom:` list.
const PRODUCT_ENTRY_KEYS: &[&str] = &["id", "part", "quantity", "unit", "if"];
/// Keys of an entry in a value's `bom:` list (the value is its condition).
const VALUE_ENTRY_KEYS: &[&str] = &["part", "quantity", "unit", "if"];
/// Longest part id and unit, in bytes: they are references for a warehouse, not prose.
const MAX_PART_LEN: usize = 64;
/// Most entries one product may declare (product and values together): a bill is resolved for
/// every order, so its size is bounded.
pub const MAX_BOM_ENTRIES: usize = 1000;

/// Reads `sku:`: literal text with `{option}` placeholders (`{{` and `}}` for braces).
/// `Some(None)` when absent; `None` when it has errors (reported).
pub fn read_sku(
    cx: &mut Cx<'_>,
    node: Option<&Node>,
    options: &[OptionDef],
) -> Option<Option<SkuTemplate>> {
    let Some(node) = node else {
        return Some(None);
    };
    let text = match &node.kind {
        NodeKind::Str(s) => s.clone(),
        _ => {
            cx.wrong_type(node, "text like \"DESK-{frame}-{width}\"", "`sku`");
            return None;
        }
    };
    let base = verbatim_base(cx, node, &text);
    let at = |cx: &Cx<'_>, a: usize, b: usize| cx.expr_span(node.span, base, (a, b));
    let mut parts: Vec<SkuPart> = Vec::new();
    let mut literal = String::new();
    let mut ok = true;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(char::from(bytes[i]));
            i += 2;
            continue;
        }
        if rest.starts_with('}') {
            let span = at(cx, i, i + 1);
            cx.error(
                Code::ExprSyntax,
                span,
                "`}` without a matching `{` in the SKU template",
                Some("write `}}` for a literal brace".into()),
            );
            ok = false;
            i += 1;
            continue;
        }
        if !rest.starts_with('{') {
            let c = rest.chars().next().unwrap_or(' ');
            literal.push(c);
            i += c.len_utf8();
            continue;
        }
        let Some(close) = rest.find('}') else {
            let span = at(cx, i, text.len());
            cx.error(
                Code::ExprSyntax,
                span,
                "`{` is not closed in the SKU template",
                Some("write `{option_id}`, or `{{` for a literal brace".into()),
            );
            ok = false;
            break;
        };
        let name = &rest[1..close];
        let (start, end) = (i + 1, i + close);
        i += close + 1;
        match options.iter().position(|o| o.id == name) {
            Some(o) if matches!(options[o].kind, OptionKind::Text(_) | OptionKind::Upload(_)) => {
                let span = at(cx, start, end);
                cx.error(
                    Code::ExprType,
                    span,
                    format!(
                        "the {} option `{name}` cannot be part of an SKU",
                        options[o].kind.type_name()
                    ),
                    Some("use choice, boolean, integer and quantity options".into()),
                );
                ok = false;
            }
            Some(o) => {
                if !literal.is_empty() {
                    parts.push(SkuPart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(SkuPart::Option(o));
            }
            None => {
                let span = at(cx, start, end);
                let help = did_you_mean(name, options.iter().map(|o| o.id.as_str()))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "the options are: {}",
                            options
                                .iter()
                                .map(|o| o.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                cx.error(
                    Code::UnknownOption,
                    span,
                    format!("unknown option `{name}` in the SKU template"),
                    Some(help),
                );
                ok = false;
            }
        }
    }
    if !literal.is_empty() {
        parts.push(SkuPart::Literal(literal));
    }
    if parts.is_empty() && ok {
        cx.error(
            Code::WrongType,
            node.span,
            "the SKU template is empty",
            Some("write e.g. `sku: \"DESK-{frame}-{width}x{depth}\"`".into()),
        );
        ok = false;
    }
    ok.then_some(Some(SkuTemplate { parts }))
}

/// Reads the product's `bom:` list and every choice value's `bom:` (found again under
/// `options`, whose keys `product.rs` already checked). `None` when any entry has errors.
pub fn read_bom(
    cx: &mut Cx<'_>,
    product_bom: Option<&Node>,
    options_node: &Node,
    options: &[OptionDef],
) -> Option<Vec<BomEntry>> {
    let mut out = Vec::new();
    let mut ok = true;
    let mut ids: Vec<(String, Span)> = Vec::new();
    if let Some(node) = product_bom {
        match cx.seq(node, "`bom`") {
            Some(items) => {
                for (i, it) in items.iter().enumerate() {
                    match read_entry(cx, it, options, None, i, &mut ids) {
                        Some(e) => out.push(e),
                        None => ok = false,
                    }
                }
            }
            None => ok = false,
        }
    }
    for (o, opt) in options.iter().enumerate() {
        let OptionKind::Choice(c) = &opt.kind else {
            continue;
        };
        let Some(values) = map_get(options_node, &opt.id).and_then(|n| map_get(n, "values")) else {
            continue;
        };
        for (v, value) in c.values.iter().enumerate() {
            let Some(bom) = map_get(values, &value.id).and_then(|n| map_get(n, "bom")) else {
                continue;
            };
            let what = format!("the `bom` of value `{}`", value.id);
            let Some(items) = cx.seq(bom, &what) else {
                ok = false;
                continue;
            };
            for (i, it) in items.iter().enumerate() {
                match read_entry(cx, it, options, Some((o, v)), i, &mut ids) {
                    Some(e) => out.push(e),
                    None => ok = false,
                }
            }
        }
    }
    if out.len() > MAX_BOM_ENTRIES {
        cx.error(
            Code::TooLarge,
            product_bom.map_or(options_node.span, |n| n.span),
            format!(
                "the product declares {} bill-of-materials entries, over the limit of {MAX_BOM_ENTRIES}",
                out.len()
            ),
            None,
        );
        ok = false;
    }
    ok.then_some(out)
}

fn read_entry(
    cx: &mut Cx<'_>,
    node: &Node,
    options: &[OptionDef],
    value: Option<(usize, usize)>,
    index: usize,
    ids: &mut Vec<(String, Span)>,
) -> Option<BomEntry> {
    let keys = if value.is_some() {
        VALUE_ENTRY_KEYS
    } else {
        PRODUCT_ENTRY_KEYS
    };
    let what = "a bill-of-materials entry";
    let before = cx.diags.len();
    let f = cx.fields(node, what, keys)?;
    let id = f.get("id").and_then(|n| {
        let id = cx.id(n, super::read::IdKind::Rule, "bom entry id")?;
        if let Some((_, first)) = ids.iter().find(|(x, _)| *x == id) {
            cx.push(
                super::diagnostic::Diagnostic::new(
                    Code::DuplicateId,
                    n.span,
                    format!("bom entry id `{id}` is used twice"),
                )
                .with_label(*first, "first used here"),
            );
            return None;
        }
        ids.push((id.clone(), n.span));
        Some(id)
    });
    let part = cx.require(&f, "part", what).and_then(|n| part_id(cx, n));
    let quantity = cx
        .require(&f, "quantity", what)
        .and_then(|n| quantity(cx, n, options));
    let unit = f.get("unit").and_then(|n| {
        let u = cx.text(n, "`unit`")?;
        if u.is_empty() || u.len() > MAX_PART_LEN {
            cx.error(
                Code::WrongType,
                n.span,
                format!("a unit is 1 to {MAX_PART_LEN} bytes of text"),
                None,
            );
            return None;
        }
        Some(u)
    });
    let condition = f.get("if").and_then(|n| {
        let src = cx.expr(n, "`if`")?;
        let checker = Checker {
            options,
            allow_decimals: false,
        };
        checked(cx, &src, checker.check_bool(&src.parsed))
    });
    if cx.diags[before..].iter().any(|d| d.is_error()) {
        return None;
    }
    let (origin, condition) = match value {
        Some((option, v)) => {
            let chosen = Expr::ChoiceIn(option, vec![v]);
            let condition = match condition {
                Some(c) => Expr::And(vec![chosen, c]),
                None => chosen,
            };
            (BomOrigin::Value { option, value: v }, Some(condition))
        }
        None => (
            BomOrigin::Product {
                id: id.unwrap_or_else(|| format!("bom[{index}]")),
            },
            condition,
        ),
    };
    Some(BomEntry {
        part: part?,
        quantity: quantity?,
        unit,
        condition,
        origin,
        span: node.span,
    })
}

/// A part id: letters, digits, `_`, `-`, `.` and `/`, starting with a letter or digit.
fn part_id(cx: &mut Cx<'_>, n: &Node) -> Option<String> {
    let p = cx.text(n, "`part`")?;
    let ok = p.len() <= MAX_PART_LEN
        && p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !ok {
        cx.error(
            Code::InvalidId,
            n.span,
            format!("`{p}` is not a valid part id"),
            Some(format!(
                "part ids use letters, digits, `_`, `-`, `.` and `/`, start with a letter or digit, and are at most {MAX_PART_LEN} bytes (e.g. `TOP-OAK`)"
            )),
        );
        return None;
    }
    Some(p)
}

/// A quantity: a number, or an exact numeric expression over options (decimals allowed).
fn quantity(cx: &mut Cx<'_>, n: &Node, options: &[OptionDef]) -> Option<Term> {
    let term = match &n.kind {
        NodeKind::Int(i) => Term::Int(*i),
        NodeKind::Float(s) => match s.parse() {
            Ok(d) => Term::Dec(d),
            Err(_) => {
                cx.error(
                    Code::ExprSyntax,
                    n.span,
                    format!("`{s}` is not an exact decimal"),
                    Some("write quantities like `4`, `0.5` or \"width * depth * 0.0001\"".into()),
                );
                return None;
            }
        },
        _ => {
            let src = cx.expr(n, "`quantity`")?;
            let checker = Checker {
                options,
                allow_decimals: true,
            };
            checked(cx, &src, checker.check_term(&src.parsed))?
        }
    };
    let mut read = std::collections::BTreeSet::new();
    term.options(&mut read);
    if read.is_empty()
        && term
            .eval_decimal(&|_| None)
            .is_some_and(|d| d.is_sign_negative() && !d.is_zero())
    {
        cx.error(
            Code::WrongType,
            n.span,
            "a quantity cannot be negative",
            None,
        );
        return None;
    }
    Some(term)
}

fn checked<T>(cx: &mut Cx<'_>, src: &ExprSrc, r: Result<T, super::expr::CheckError>) -> Option<T> {
    match r {
        Ok(t) => Some(t),
        Err(e) => {
            let span = cx.expr_span(src.node_span, src.base, e.range);
            cx.error(e.code, span, e.message, e.help);
            None
        }
    }
}

/// File offset of `text`'s first byte when it appears verbatim inside `node` (as `Cx::expr`).
fn verbatim_base(cx: &Cx<'_>, node: &Node, text: &str) -> Option<usize> {
    cx.sources
        .text(node.span.file)
        .get(node.span.start..node.span.end)
        .and_then(|slice| slice.find(text))
        .map(|i| node.span.start + i)
}

fn map_get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.kind {
        NodeKind::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}
