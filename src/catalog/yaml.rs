//! The YAML layer: parses one file into a spanned node tree (serde-saphyr), with size, depth and alias budgets.
//!
//! Nothing downstream of the loader sees this tree: `resolve` turns it into the typed model.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::{DuplicateKeyPolicy, MergeKeyPolicy};
use serde_saphyr::{Budget, Options, Spanned};

use super::diagnostic::{Code, Diagnostic, FileId, SourceMap, Span};

/// Largest YAML file the loader accepts.
pub const MAX_YAML_BYTES: usize = 1024 * 1024;
/// Deepest nesting of sequences and mappings.
pub const MAX_DEPTH: usize = 64;
/// Most alias references in one file.
pub const MAX_ALIASES: usize = 1_000;
/// Most parser events in one file (bounds alias expansion too).
pub const MAX_EVENTS: usize = 200_000;

/// A YAML node with its location. Scalars keep the exact source text they were written as.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    /// A number that is not an integer (or does not fit one); the raw text is kept.
    Float(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// The name of this kind, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a decimal number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The scalar's text as the merchant wrote it (numbers and booleans included).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(s) | NodeKind::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }
}

// ---- raw deserialization (serde-saphyr → RawNode) ----

#[derive(Debug)]
struct RawNode(Spanned<RawKind>);

#[derive(Debug)]
enum RawKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    BigInt,
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(RawNode, RawNode)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<RawKind>::deserialize(d).map(RawNode)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = RawKind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawKind, E> {
        Ok(RawKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawKind, E> {
        Ok(RawKind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::BigInt, RawKind::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::BigInt, RawKind::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::BigInt, RawKind::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawKind, E> {
        Ok(RawKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawKind, E> {
        Ok(RawKind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawKind, E> {
        Ok(RawKind::Str(v))
    }
    fn visit_unit<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_none<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawKind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<RawNode>()? {
            items.push(item);
        }
        Ok(RawKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<RawNode>()? {
            let v = map.next_value::<RawNode>()?;
            entries.push((k, v));
        }
        Ok(RawKind::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_aliases = MAX_ALIASES;
    budget.max_events = MAX_EVENTS;
    budget.max_anchors = MAX_ALIASES;
    budget.max_nodes = MAX_EVENTS;
    budget.max_total_scalar_bytes = MAX_YAML_BYTES * 4;
    budget.max_documents = 1;
    let mut o = Options::default();
    o.budget = Some(budget);
    // Duplicates are reported by `convert`, with both locations, instead of stopping the parse.
    o.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    o.strict_booleans = true; // `NO`, `yes`, `on` stay strings
    o.leading_zero_numbers_as_strings = true; // `007` stays "007"
    o.underscored_numbers_as_strings = true;
    o.reject_unsupported_tags = true; // `!foo bar` is an error, not "bar"
    o.merge_keys = MergeKeyPolicy::Error; // `<<` would hide duplicate and unknown keys
    o.with_snippet = false;
    o.alias_limits.max_replay_stack_depth = 16;
    o.alias_limits.max_total_replayed_events = MAX_EVENTS;
    o
}

/// Parses YAML text into a spanned tree. On failure, returns one diagnostic that locates the problem.
pub fn parse(sources: &SourceMap, file: FileId) -> Result<Node, Diagnostic> {
    let text = sources.text(file);
    if text.len() > MAX_YAML_BYTES {
        return Err(Diagnostic::new(
            Code::TooLarge,
            Span::file_start(file),
            format!(
                "this file is {} bytes; the limit for a YAML file is {} bytes",
                text.len(),
                MAX_YAML_BYTES
            ),
        )
        .with_help("split the product or its rules into several files"));
    }
    if text.trim().is_empty() {
        return Ok(Node {
            kind: NodeKind::Null,
            span: Span::file_start(file),
        });
    }
    // The spanned tree costs tens of KiB of stack per nesting level in debug builds: parse on a
    // thread with a large stack so the depth budget, not the stack, is what stops deep input.
    let parsed = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("yaml-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || {
                serde_saphyr::from_str_with_options::<RawNode>(text, options())
            })
            .ok()
            .and_then(|h| h.join().ok())
    });
    match parsed {
        Some(Ok(raw)) => Ok(convert(sources, file, raw)),
        Some(Err(e)) => Err(error_diagnostic(sources, file, &e)),
        None => Err(Diagnostic::new(
            Code::YamlLimit,
            Span::file_start(file),
            "the YAML parser could not run on this file",
        )
        .with_help("the file may be too deeply nested; simplify it")),
    }
}

/// Stack size of the parsing thread.
const PARSE_STACK: usize = 32 * 1024 * 1024;

fn error_diagnostic(sources: &SourceMap, file: FileId, e: &serde_saphyr::Error) -> Diagnostic {
    let span = match e.location() {
        Some(loc) if loc.line() > 0 => {
            let start = loc
                .span()
                .byte_offset()
                .and_then(|o| usize::try_from(o).ok())
                .unwrap_or_else(|| sources.offset_of(file, loc.line(), loc.column()));
            sources.span(file, start, start)
        }
        _ => Span::file_start(file),
    };
    let is_budget = matches!(e, serde_saphyr::Error::Budget { .. })
        || matches!(e, serde_saphyr::Error::AliasReplayStackDepthExceeded { .. });
    let mut msg = e.to_string();
    // serde-saphyr appends " at line X, column Y"; our span carries that already.
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    let msg = msg.lines().next().unwrap_or("").trim().to_owned();
    let lower = msg.to_ascii_lowercase();
    // The parser's own nesting limit (deeper than the budget's, but met first on some input).
    let nesting = lower.contains("recursion limit");
    if is_budget
        || nesting
        || lower.contains("budget")
        || lower.contains("alias") && lower.contains("limit")
    {
        let what = if nesting || lower.contains("depth") {
            format!("the document nests deeper than {MAX_DEPTH} levels")
        } else if lower.contains("events") || lower.contains("nodes") || lower.contains("replay") {
            format!(
                "the document expands to more than {MAX_EVENTS} nodes (an alias counts each time it is used)"
            )
        } else if lower.contains("alias") || lower.contains("anchor") {
            format!("the document uses more than {MAX_ALIASES} aliases or anchors")
        } else {
            msg.clone()
        };
        Diagnostic::new(Code::YamlLimit, span, format!("YAML limit exceeded: {what}")).with_help(
            format!(
                "catalog files may nest at most {MAX_DEPTH} levels, use at most {MAX_ALIASES} aliases and {MAX_EVENTS} nodes"
            ),
        )
    } else {
        Diagnostic::new(Code::YamlSyntax, span, format!("invalid YAML: {msg}"))
            .with_help("check the indentation and the brackets and quotes around this point")
    }
}

fn convert(sources: &SourceMap, file: FileId, raw: RawNode) -> Node {
    let Spanned {
        value, referenced, ..
    } = raw.0;
    let s = referenced.span();
    let start = s
        .byte_offset()
        .and_then(|o| usize::try_from(o).ok())
        .unwrap_or_else(|| sources.offset_of(file, referenced.line(), referenced.column()));
    let len = s
        .byte_len()
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(0);
    let span = sources.span(file, start, start + len);
    let raw_text = || {
        sources
            .text(file)
            .get(span.start..span.end)
            .map(str::trim)
            .unwrap_or("")
            .to_owned()
    };
    let kind = match value {
        RawKind::Null => NodeKind::Null,
        RawKind::Bool(b) => NodeKind::Bool(b),
        RawKind::Int(i) => NodeKind::Int(i),
        RawKind::Float(f) => {
            let t = raw_text();
            NodeKind::Float(if t.is_empty() { f.to_string() } else { t })
        }
        RawKind::BigInt => NodeKind::Float(raw_text()),
        RawKind::Str(s) => NodeKind::Str(s),
        RawKind::Seq(items) => NodeKind::Seq(
            items
                .into_iter()
                .map(|n| convert(sources, file, n))
                .collect(),
        ),
        RawKind::Map(entries) => NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(sources, file, k), convert(sources, file, v)))
                .collect(),
        ),
    };
    Node { kind, span }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Diagnostic> {
        let mut sm = SourceMap::default();
        let f = sm.add("t.yaml", text);
        parse(&sm, f)
    }

    #[test]
    fn spans_and_duplicates() {
        let n = parse_str("a: 1\nb:\n  c: \"x\"\na: 2.50\n").unwrap();
        let NodeKind::Map(m) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(m.len(), 3, "duplicates are passed through");
        assert_eq!(m[2].0.span.line, 4);
        assert_eq!(m[2].1.kind, NodeKind::Float("2.50".into()));
        let NodeKind::Map(inner) = &m[1].1.kind else {
            panic!()
        };
        assert_eq!((inner[0].1.span.line, inner[0].1.span.column), (3, 6));
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_str(&y).unwrap_err();
        assert_eq!(e.code, Code::YamlLimit, "{e:?}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // Run on a small (2 MiB) stack, like a server worker: the parse thread must absorb the depth.
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(|| {
                for depth in [63usize, 64, 65, 100, 10_000, 100_000] {
                    let seq = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                    let map = format!("{}x{}", "{a: ".repeat(depth), "}".repeat(depth));
                    for y in [seq, map] {
                        match parse_str(&y) {
                            Ok(_) => assert!(depth <= MAX_DEPTH, "depth {depth} accepted"),
                            Err(e) => assert!(
                                e.code == Code::YamlLimit && e.message.contains("nests deeper"),
                                "depth {depth}: {e:?}"
                            ),
                        }
                    }
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn yaml_1_1_surprises_are_avoided() {
        let n = parse_str("a: NO\nb: 007\nc: 1_000\n").unwrap();
        let NodeKind::Map(m) = &n.kind else { panic!() };
        assert_eq!(m[0].1.kind, NodeKind::Str("NO".into()));
        assert_eq!(m[1].1.kind, NodeKind::Str("007".into()));
        assert_eq!(m[2].1.kind, NodeKind::Str("1_000".into()));
        assert!(parse_str("a: !foo bar\n").is_err());
        assert!(parse_str("base: &b {x: 1}\nc:\n  <<: *b\n").is_err());
    }

    #[test]
    fn syntax_error_is_located() {
        let e = parse_str("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(e.code, Code::YamlSyntax);
        assert!(e.span.line >= 1);
    }
}
