//! Lexer and recursive-descent parser for the rule expression language, producing an untyped AST with byte spans.

use std::fmt;

/// A byte range within the expression text.
pub type Range = (usize, usize);

#[derive(Debug, Clone, PartialEq)]
pub struct SExpr {
    pub kind: SKind,
    pub range: Range,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SKind {
    /// A number literal as written (`42`, `0.0045`).
    Num(String),
    /// A quoted string literal.
    Str(String),
    /// An option id or value id.
    Name(String),
    Bool(bool),
    Call {
        func: String,
        func_range: Range,
        args: Vec<SExpr>,
    },
    List(Vec<SExpr>),
    Neg(Box<SExpr>),
    Not(Box<SExpr>),
    Binary {
        op: BinOp,
        lhs: Box<SExpr>,
        rhs: Box<SExpr>,
    },
    In {
        negated: bool,
        lhs: Box<SExpr>,
        list: Vec<SExpr>,
        list_range: Range,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        })
    }
}

/// A syntax error with the byte range it concerns and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub range: Range,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    Word(String),
    Op(&'static str),
    End,
}

/// Longest expression text accepted, and deepest nesting: a pathological rule cannot exhaust the stack.
pub const MAX_EXPR_LEN: usize = 4096;
pub const MAX_NESTING: usize = 64;

fn lex(src: &str) -> Result<Vec<(Tok, Range)>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                out.push((Tok::Num(src[start..i].to_owned()), (start, i)));
            } else if i < bytes.len()
                && (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' || bytes[i] == b'-')
            {
                // A value id that starts with a digit, like `2xl` or `3-pack`.
                while i < bytes.len() && word_char(bytes[i]) {
                    i += 1;
                }
                out.push((Tok::Word(src[start..i].to_owned()), (start, i)));
            } else {
                out.push((Tok::Num(src[start..i].to_owned()), (start, i)));
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && word_char(bytes[i]) {
                i += 1;
            }
            out.push((Tok::Word(src[start..i].to_owned()), (start, i)));
            continue;
        }
        if c == b'"' || c == b'\'' {
            let quote = c;
            i += 1;
            let content_start = i;
            while i < bytes.len() && bytes[i] != quote {
                i += 1;
            }
            if i >= bytes.len() {
                return Err(ParseError {
                    message: "this string is never closed".into(),
                    range: (start, bytes.len()),
                    help: Some(format!("add a closing {}", quote as char)),
                });
            }
            out.push((Tok::Str(src[content_start..i].to_owned()), (start, i + 1)));
            i += 1;
            continue;
        }
        let two = src.get(i..i + 2).unwrap_or("");
        let op: Option<&'static str> = match two {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" | "||" => {
                return Err(ParseError {
                    message: format!("`{two}` is not an operator here"),
                    range: (i, i + 2),
                    help: Some(format!(
                        "write `{}`",
                        if two == "&&" { "and" } else { "or" }
                    )),
                });
            }
            _ => None,
        };
        if let Some(op) = op {
            out.push((Tok::Op(op), (i, i + 2)));
            i += 2;
            continue;
        }
        let op: &'static str = match c {
            b'<' => "<",
            b'>' => ">",
            b'+' => "+",
            b'-' => "-",
            b'*' => "*",
            b'(' => "(",
            b')' => ")",
            b'[' => "[",
            b']' => "]",
            b',' => ",",
            b'=' => {
                return Err(ParseError {
                    message: "`=` is not a comparison".into(),
                    range: (i, i + 1),
                    help: Some("write `==` to compare".into()),
                });
            }
            b'!' => {
                return Err(ParseError {
                    message: "`!` is not an operator here".into(),
                    range: (i, i + 1),
                    help: Some("write `not` to negate, or `!=` to compare".into()),
                });
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ParseError {
                    message: format!("unexpected character `{ch}`"),
                    range: (i, i + ch.len_utf8()),
                    help: Some(
                        "quote values that contain special characters: \"like this\"".into(),
                    ),
                });
            }
        };
        out.push((Tok::Op(op), (i, i + 1)));
        i += 1;
    }
    out.push((Tok::End, (src.len(), src.len())));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Range)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::End, |t| &t.0)
    }
    fn range(&self) -> Range {
        self.toks.get(self.pos).map_or((0, 0), |t| t.1)
    }
    fn bump(&mut self) -> (Tok, Range) {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::End, (0, 0)));
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Tok::Op(x) if *x == o)
    }
    fn expect_op(&mut self, o: &str, help: &str) -> Result<Range, ParseError> {
        if self.is_op(o) {
            Ok(self.bump().1)
        } else {
            Err(self.unexpected(&format!("expected `{o}`"), Some(help)))
        }
    }
    fn unexpected(&self, what: &str, help: Option<&str>) -> ParseError {
        let found = match self.peek() {
            Tok::End => "the end of the expression".to_owned(),
            Tok::Num(n) => format!("`{n}`"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Op(o) => format!("`{o}`"),
        };
        ParseError {
            message: format!("{what}, found {found}"),
            range: self.range(),
            help: help.map(str::to_owned),
        }
    }
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ParseError {
                message: format!("the expression nests deeper than {MAX_NESTING} levels"),
                range: self.range(),
                help: Some("split it into several rules".into()),
            });
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<SExpr, ParseError> {
        self.enter()?;
        let r = self.or();
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<SExpr, ParseError> {
        let mut lhs = self.and()?;
        while self.is_word("or") {
            self.bump();
            let rhs = self.and()?;
            lhs = binary(BinOp::Or, lhs, rhs);
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<SExpr, ParseError> {
        let mut lhs = self.not()?;
        while self.is_word("and") {
            self.bump();
            let rhs = self.not()?;
            lhs = binary(BinOp::And, lhs, rhs);
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<SExpr, ParseError> {
        if self.is_word("not") {
            let (_, r) = self.bump();
            self.enter()?;
            let inner = self.not();
            self.depth -= 1;
            let inner = inner?;
            let range = (r.0, inner.range.1);
            return Ok(SExpr {
                kind: SKind::Not(Box::new(inner)),
                range,
            });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<SExpr, ParseError> {
        let lhs = self.sum()?;
        let op = match self.peek() {
            Tok::Op("==") => Some(BinOp::Eq),
            Tok::Op("!=") => Some(BinOp::Ne),
            Tok::Op("<") => Some(BinOp::Lt),
            Tok::Op("<=") => Some(BinOp::Le),
            Tok::Op(">") => Some(BinOp::Gt),
            Tok::Op(">=") => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let rhs = self.sum()?;
            return Ok(binary(op, lhs, rhs));
        }
        let negated = if self.is_word("not")
            && matches!(self.toks.get(self.pos + 1), Some((Tok::Word(w), _)) if w == "in")
        {
            self.bump();
            true
        } else {
            false
        };
        if self.is_word("in") {
            self.bump();
            let (list, list_range) = self.list()?;
            let range = (lhs.range.0, list_range.1);
            return Ok(SExpr {
                kind: SKind::In {
                    negated,
                    lhs: Box::new(lhs),
                    list,
                    list_range,
                },
                range,
            });
        }
        Ok(lhs)
    }

    fn list(&mut self) -> Result<(Vec<SExpr>, Range), ParseError> {
        self.enter()?;
        let r = self.list_inner();
        self.depth -= 1;
        r
    }

    fn list_inner(&mut self) -> Result<(Vec<SExpr>, Range), ParseError> {
        let start = self.expect_op("[", "`in` takes a list: `size in [S, M, L]`")?;
        let mut items = Vec::new();
        if !self.is_op("]") {
            loop {
                items.push(self.unary()?);
                if self.is_op(",") {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        let end = self.expect_op(
            "]",
            "separate list items with `,` and close the list with `]`",
        )?;
        Ok((items, (start.0, end.1)))
    }

    fn sum(&mut self) -> Result<SExpr, ParseError> {
        let mut lhs = self.product()?;
        loop {
            let op = if self.is_op("+") {
                BinOp::Add
            } else if self.is_op("-") {
                BinOp::Sub
            } else {
                break;
            };
            self.bump();
            let rhs = self.product()?;
            lhs = binary(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn product(&mut self) -> Result<SExpr, ParseError> {
        let mut lhs = self.unary()?;
        while self.is_op("*") {
            self.bump();
            let rhs = self.unary()?;
            lhs = binary(BinOp::Mul, lhs, rhs);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<SExpr, ParseError> {
        if self.is_op("-") {
            let (_, r) = self.bump();
            self.enter()?;
            let inner = self.unary();
            self.depth -= 1;
            let inner = inner?;
            let range = (r.0, inner.range.1);
            return Ok(SExpr {
                kind: SKind::Neg(Box::new(inner)),
                range,
            });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<SExpr, ParseError> {
        let (tok, range) = (self.peek().clone(), self.range());
        match tok {
            Tok::Num(n) => {
                self.bump();
                Ok(SExpr { kind: SKind::Num(n), range })
            }
            Tok::Str(s) => {
                self.bump();
                Ok(SExpr { kind: SKind::Str(s), range })
            }
            Tok::Word(w) if w == "true" || w == "false" => {
                self.bump();
                Ok(SExpr { kind: SKind::Bool(w == "true"), range })
            }
            Tok::Word(w) if matches!(w.as_str(), "and" | "or" | "not" | "in") => Err(self.unexpected(
                "expected a value, an option or `(`",
                Some("`and`, `or`, `not` and `in` are keywords; quote a value with that name: \"in\""),
            )),
            Tok::Word(w) => {
                self.bump();
                if self.is_op("(") {
                    self.bump();
                    let mut args = Vec::new();
                    if !self.is_op(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.is_op(",") {
                                self.bump();
                                continue;
                            }
                            break;
                        }
                    }
                    let end = self.expect_op(")", "close the call with `)`")?;
                    return Ok(SExpr { kind: SKind::Call { func: w, func_range: range, args }, range: (range.0, end.1) });
                }
                Ok(SExpr { kind: SKind::Name(w), range })
            }
            Tok::Op("(") => {
                self.bump();
                let inner = self.expr()?;
                let end = self.expect_op(")", "close the parenthesis")?;
                Ok(SExpr { kind: inner.kind, range: (range.0, end.1) })
            }
            Tok::Op("[") => {
                let (items, r) = self.list()?;
                Ok(SExpr { kind: SKind::List(items), range: r })
            }
            _ => Err(self.unexpected("expected a value, an option or `(`", None)),
        }
    }
}

fn binary(op: BinOp, lhs: SExpr, rhs: SExpr) -> SExpr {
    let range = (lhs.range.0, rhs.range.1);
    SExpr {
        kind: SKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        range,
    }
}

/// Parses an expression. The error carries the byte range of the offending token.
pub fn parse(src: &str) -> Result<SExpr, ParseError> {
    if src.len() > MAX_EXPR_LEN {
        return Err(ParseError {
            message: format!(
                "the expression is {} bytes long; the limit is {MAX_EXPR_LEN}",
                src.len()
            ),
            range: (0, 0),
            help: Some("split it into several rules".into()),
        });
    }
    if src.trim().is_empty() {
        return Err(ParseError {
            message: "the expression is empty".into(),
            range: (0, 0),
            help: None,
        });
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if !matches!(p.peek(), Tok::End) {
        return Err(p.unexpected(
            "expected an operator or the end of the expression",
            Some("names may contain `-`: put spaces around `-` to subtract (`width_cm - 10`)"),
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &SExpr) -> String {
        match &e.kind {
            SKind::Num(n) => n.clone(),
            SKind::Str(s) => format!("{s:?}"),
            SKind::Name(n) => n.clone(),
            SKind::Bool(b) => b.to_string(),
            SKind::Call { func, args, .. } => {
                format!(
                    "{func}({})",
                    args.iter().map(show).collect::<Vec<_>>().join(", ")
                )
            }
            SKind::List(items) => format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            SKind::Neg(i) => format!("(-{})", show(i)),
            SKind::Not(i) => format!("(not {})", show(i)),
            SKind::Binary { op, lhs, rhs } => format!("({} {op} {})", show(lhs), show(rhs)),
            SKind::In {
                negated, lhs, list, ..
            } => format!(
                "({} {}in [{}])",
                show(lhs),
                if *negated { "not " } else { "" },
                list.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    #[test]
    fn precedence() {
        let e = parse("a == b or not c and w * h + 2 <= 60000").unwrap();
        assert_eq!(
            show(&e),
            "((a == b) or ((not c) and (((w * h) + 2) <= 60000)))"
        );
        let e = parse("size not in [XS, \"S\", 2xl, 42] and len(t) > 3").unwrap();
        assert_eq!(
            show(&e),
            "((size not in [XS, \"S\", 2xl, 42]) and (len(t) > 3))"
        );
        assert_eq!(show(&parse("black-matte").unwrap()), "black-matte");
        assert_eq!(show(&parse("w - 10").unwrap()), "(w - 10)");
        assert_eq!(show(&parse("-(a)").unwrap()), "(-a)");
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = parse("a = b").unwrap_err();
        assert_eq!(e.range, (2, 3));
        let e = parse("a == ").unwrap_err();
        assert!(e.message.contains("end of the expression"), "{e:?}");
        let e = parse("(a == b").unwrap_err();
        assert!(e.message.contains("expected `)`"), "{e:?}");
        let e = parse("a && b").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write `and`"));
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(parse(&deep).is_err());
        let nots = "not ".repeat(500) + "a";
        assert!(parse(&nots).is_err());
        let lists = format!("a in {}{}", "[".repeat(500), "]".repeat(500));
        assert!(parse(&lists).is_err());
        assert!(parse(&nots).is_err());
    }
}
