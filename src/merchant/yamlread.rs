//! Typed reading of spanned YAML nodes for merchant files (rule tests): keys, scalars and lists, recording diagnostics instead of stopping.

use crate::catalog::expr::did_you_mean;
use crate::catalog::yaml::{Node, NodeKind};
use crate::catalog::{Code, Diagnostic, Span};

/// Collects diagnostics while reading.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    pub diags: Vec<Diagnostic>,
}

impl Reader {
    pub fn error(&mut self, code: Code, span: Span, msg: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::new(code, span, msg);
        if let Some(h) = help {
            d = d.with_help(h);
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

    /// The entries of a mapping with string keys; duplicates and non-string keys are reported.
    pub fn entries<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<Vec<(String, &'n Node, &'n Node)>> {
        let NodeKind::Map(items) = &node.kind else {
            self.wrong_type(node, "a mapping", what);
            return None;
        };
        let mut out: Vec<(String, &Node, &Node)> = Vec::with_capacity(items.len());
        for (k, v) in items {
            let Some(key) = k.scalar_text() else {
                self.wrong_type(k, "a plain key", &format!("a key of {what}"));
                continue;
            };
            if let Some((_, first, _)) = out.iter().find(|(x, _, _)| *x == key) {
                let first = first.span;
                self.diags.push(
                    Diagnostic::new(
                        Code::DuplicateKey,
                        k.span,
                        format!("`{key}` appears twice in {what}"),
                    )
                    .with_label(first, "first here"),
                );
                continue;
            }
            out.push((key, k, v));
        }
        Some(out)
    }

    /// Like `entries`, but only the allowed keys are kept; others are reported as unknown.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Vec<(String, &'n Node, &'n Node)>> {
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
        Some(kept)
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

    /// A scalar's text (strings, numbers and booleans as written).
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        let t = node.scalar_text();
        if t.is_none() {
            self.wrong_type(node, "a single value", what);
        }
        t
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

    /// A list of scalars, or one scalar standing for a one-element list.
    pub fn texts(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        match &node.kind {
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|n| self.text(n, what).map(|t| (t, n.span)))
                .collect(),
            _ => self
                .text(node, what)
                .map(|t| vec![(t, node.span)])
                .unwrap_or_default(),
        }
    }
}

/// Finds an entry by key.
pub(crate) fn get<'n>(entries: &[(String, &'n Node, &'n Node)], key: &str) -> Option<&'n Node> {
    entries
        .iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, _, v)| *v)
}
