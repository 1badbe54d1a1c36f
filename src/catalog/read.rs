//! Typed reading of spanned YAML nodes that records every problem as a diagnostic instead of stopping.

use rust_decimal::Decimal;

use super::diagnostic::{Code, Diagnostic, SourceMap, Span};
use super::expr::did_you_mean;
use super::expr::parse::{self as expr_parse, SExpr};
use super::money::{self, Currency};
use super::yaml::{Node, NodeKind};

/// Collects diagnostics while reading one catalog.
#[derive(Debug)]
pub struct Cx<'s> {
    pub sources: &'s SourceMap,
    pub diags: Vec<Diagnostic>,
}

/// The entries of a YAML mapping whose keys were checked (known, not duplicated).
#[derive(Debug)]
pub struct Fields<'n> {
    pub node: &'n Node,
    pub entries: Vec<(String, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| *v)
    }

    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, k, _)| k.span)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Which naming rule an id follows (docs/catalog-format.md, "Names").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Product,
    Option,
    Value,
    Rule,
}

impl IdKind {
    /// Whether `s` follows this naming rule.
    pub fn check(self, s: &str) -> bool {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 64 {
            return false;
        }
        match self {
            IdKind::Product | IdKind::Rule => {
                (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            }
            IdKind::Option => {
                b[0].is_ascii_lowercase()
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
            }
            IdKind::Value => {
                (b[0].is_ascii_alphanumeric() || b[0] == b'_')
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                    && !matches!(s, "and" | "or" | "not" | "in" | "true" | "false")
            }
        }
    }

    fn rule_text(self) -> &'static str {
        match self {
            IdKind::Product => {
                "product ids use lower-case letters, digits and `-` (e.g. `classic-tee`)"
            }
            IdKind::Rule => {
                "rule and group ids use lower-case letters, digits and `-` (e.g. `heather-is-cotton`)"
            }
            IdKind::Option => {
                "option ids use lower-case letters, digits and `_`, starting with a letter (e.g. `front_text`)"
            }
            IdKind::Value => {
                "value ids use letters, digits, `_` and `-` (e.g. `XL`, `black-matte`, `42`) and are not keywords"
            }
        }
    }

    fn suggest(self, s: &str) -> String {
        let mut out = String::new();
        for c in s.trim().chars() {
            let c = match self {
                IdKind::Product | IdKind::Rule => c.to_ascii_lowercase(),
                IdKind::Option => c.to_ascii_lowercase(),
                IdKind::Value => c,
            };
            let ok = match self {
                IdKind::Product | IdKind::Rule => c.is_ascii_lowercase() || c.is_ascii_digit(),
                IdKind::Option => c.is_ascii_lowercase() || c.is_ascii_digit(),
                IdKind::Value => c.is_ascii_alphanumeric(),
            };
            if ok {
                out.push(c);
            } else {
                let sep = if self == IdKind::Option { '_' } else { '-' };
                if !out.ends_with(sep) && !out.is_empty() {
                    out.push(sep);
                }
            }
        }
        out.trim_end_matches(['-', '_']).to_owned()
    }
}

/// An expression read from YAML: its text, its parse, and where its text starts in the file.
#[derive(Debug, Clone)]
pub struct ExprSrc {
    pub text: String,
    pub parsed: SExpr,
    pub node_span: Span,
    /// File offset of the expression's first byte, when the text appears verbatim in the file.
    pub base: Option<usize>,
}

impl<'s> Cx<'s> {
    pub fn new(sources: &'s SourceMap) -> Self {
        Cx {
            sources,
            diags: Vec::new(),
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn error(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::new(code, span, message);
        if help.is_some() {
            d.help = help;
        }
        self.diags.push(d);
    }

    pub fn wrong_type(&mut self, node: &Node, expected: &str, what: &str) {
        self.error(
            Code::WrongType,
            node.span,
            format!("{what} must be {expected}, found {}", node.kind.describe()),
            None,
        );
    }

    /// Reads a mapping with a fixed set of keys; reports wrong types, duplicates and unknown keys.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let entries = self.entries(node, what)?;
        let mut kept = Vec::with_capacity(entries.len());
        for (k, kn, v) in entries {
            if allowed.contains(&k.as_str()) {
                kept.push((k, kn, v));
            } else {
                let help = did_you_mean(&k, allowed.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("the keys of {what} are: {}", allowed.join(", ")));
                self.error(
                    Code::UnknownKey,
                    kn.span,
                    format!("unknown key `{k}` in {what}"),
                    Some(help),
                );
            }
        }
        Some(Fields {
            node,
            entries: kept,
        })
    }

    /// Reads a mapping with free keys (e.g. option ids); reports wrong types and duplicates.
    pub fn entries<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<Vec<(String, &'n Node, &'n Node)>> {
        let NodeKind::Map(pairs) = &node.kind else {
            self.wrong_type(node, "a mapping (`key: value` lines)", what);
            return None;
        };
        let mut out: Vec<(String, &'n Node, &'n Node)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Some(key) = k.scalar_text() else {
                self.wrong_type(k, "a plain name", &format!("a key in {what}"));
                continue;
            };
            if let Some((_, first, _)) = out.iter().find(|(x, _, _)| *x == key) {
                let d = Diagnostic::new(
                    Code::DuplicateKey,
                    k.span,
                    format!("`{key}` appears twice in {what}"),
                )
                .with_label(first.span, "first defined here")
                .with_help("YAML keys must be unique: remove or rename one of them");
                self.push(d);
                continue;
            }
            out.push((key, k, v));
        }
        Some(out)
    }

    pub fn require<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_none() {
            self.error(
                Code::MissingKey,
                f.node.span,
                format!("{what} has no `{key}`"),
                Some(format!("add `{key}:`")),
            );
        }
        v
    }

    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ => {
                self.wrong_type(node, "a list", what);
                None
            }
        }
    }

    /// A scalar read as text (numbers and booleans as written).
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        let t = node.scalar_text();
        if t.is_none() {
            self.wrong_type(node, "text", what);
        }
        t
    }

    pub fn int(&mut self, node: &Node, what: &str) -> Option<i64> {
        match node.kind {
            NodeKind::Int(i) => Some(i),
            _ => {
                self.wrong_type(node, "a whole number", what);
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, "`true` or `false`", what);
                None
            }
        }
    }

    pub fn id(&mut self, node: &Node, kind: IdKind, what: &str) -> Option<String> {
        let s = self.text(node, what)?;
        if kind.check(&s) {
            Some(s)
        } else {
            let sug = kind.suggest(&s);
            let help = if sug.is_empty() || !kind.check(&sug) {
                kind.rule_text().to_owned()
            } else {
                format!("{}; for example `{sug}`", kind.rule_text())
            };
            self.error(
                Code::InvalidId,
                node.span,
                format!("`{s}` is not a valid {what}"),
                Some(help),
            );
            None
        }
    }

    pub fn amount(&mut self, node: &Node, currency: Currency, what: &str) -> Option<Decimal> {
        let text = match &node.kind {
            NodeKind::Str(s) | NodeKind::Float(s) => s.clone(),
            NodeKind::Int(i) => i.to_string(),
            _ => {
                self.wrong_type(node, "a money amount like \"19.00\"", what);
                return None;
            }
        };
        match money::parse_amount(&text, currency) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    Code::InvalidMoney,
                    node.span,
                    format!("invalid {what}: {e}"),
                    Some(format!(
                        "write amounts as decimal strings with at most {} decimals, e.g. \"19.00\"",
                        currency.minor_units()
                    )),
                );
                None
            }
        }
    }

    pub fn percent(&mut self, node: &Node, what: &str) -> Option<Decimal> {
        let Some(text) = node.scalar_text() else {
            self.wrong_type(node, "a percentage like `10%`", what);
            return None;
        };
        match money::parse_percent(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    Code::InvalidMoney,
                    node.span,
                    format!("invalid {what}: {e}"),
                    Some("write e.g. `10%` or `\"12.5%\"`".into()),
                );
                None
            }
        }
    }

    /// Reads and parses an expression; a syntax error is reported at its exact column.
    pub fn expr(&mut self, node: &Node, what: &str) -> Option<ExprSrc> {
        let text = match &node.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Bool(b) => b.to_string(),
            _ => {
                self.wrong_type(node, "an expression", what);
                return None;
            }
        };
        let src = self.sources.text(node.span.file);
        let base = src
            .get(node.span.start..node.span.end)
            .and_then(|slice| slice.find(text.as_str()))
            .map(|i| node.span.start + i);
        match expr_parse::parse(&text) {
            Ok(parsed) => Some(ExprSrc {
                text,
                parsed,
                node_span: node.span,
                base,
            }),
            Err(e) => {
                let span = self.expr_span(node.span, base, e.range);
                self.error(
                    Code::ExprSyntax,
                    span,
                    format!("in {what}: {}", e.message),
                    e.help,
                );
                None
            }
        }
    }

    /// The file span of a byte range inside an expression.
    pub fn expr_span(&self, node_span: Span, base: Option<usize>, range: (usize, usize)) -> Span {
        match base {
            Some(b) => self
                .sources
                .span(node_span.file, b + range.0, b + range.1.max(range.0)),
            None => node_span,
        }
    }
}
