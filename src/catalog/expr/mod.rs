//! The rule expression language: typed expressions over a product's options, their typechecker and evaluator.
//!
//! `parse` turns text into an untyped tree; `Checker` resolves names against a product's options and
//! produces [`Expr`] (boolean) and [`Term`] (arithmetic) values that the engine, pricing and previews use.

pub mod parse;

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::diagnostic::Code;
use super::model::{OptId, OptionDef, OptionKind};
use parse::{BinOp, Range, SExpr, SKind};

/// A typed boolean expression. Atoms that read an unset option are false.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    Const(bool),
    /// A boolean option is true.
    Bool(OptId),
    /// The option has a value (`is_set(text)` is lowered to `len(text) > 0`).
    IsSet(OptId),
    /// The choice option's value is one of these value indices (sorted, deduplicated).
    ChoiceIn(OptId, Vec<usize>),
    Cmp(CmpOp, Term, Term),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn holds<T: Ord>(self, a: T, b: T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// A typed arithmetic term. Integer everywhere except decimal constants in price formulas.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    Int(i64),
    Dec(Decimal),
    /// The value of an integer or quantity option.
    Opt(OptId),
    /// The length in characters of a text option.
    Len(OptId),
    Add(Box<Term>, Box<Term>),
    Sub(Box<Term>, Box<Term>),
    Mul(Box<Term>, Box<Term>),
    Neg(Box<Term>),
}

/// The value an evaluator sees for one option. Text options are seen through their length and
/// are always set (`Int(0)` when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val {
    Choice(usize),
    Bool(bool),
    Int(i64),
}

impl Expr {
    /// The options this expression reads.
    pub fn options(&self, out: &mut BTreeSet<OptId>) {
        match self {
            Expr::Const(_) => {}
            Expr::Bool(o) | Expr::IsSet(o) | Expr::ChoiceIn(o, _) => {
                out.insert(*o);
            }
            Expr::Cmp(_, a, b) => {
                a.options(out);
                b.options(out);
            }
            Expr::Not(e) => e.options(out),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| e.options(out)),
        }
    }

    /// Evaluates with `get(opt)` giving each option's value (`None` when unset).
    /// Integer overflow makes the comparison false (and is reported by analysis).
    pub fn eval(&self, get: &dyn Fn(OptId) -> Option<Val>) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Bool(o) => get(*o) == Some(Val::Bool(true)),
            Expr::IsSet(o) => get(*o).is_some(),
            Expr::ChoiceIn(o, vs) => {
                matches!(get(*o), Some(Val::Choice(v)) if vs.binary_search(&v).is_ok())
            }
            Expr::Cmp(op, a, b) => match (a.eval_int(get), b.eval_int(get)) {
                (Some(x), Some(y)) => op.holds(x, y),
                _ => false,
            },
            Expr::Not(e) => !e.eval(get),
            Expr::And(es) => es.iter().all(|e| e.eval(get)),
            Expr::Or(es) => es.iter().any(|e| e.eval(get)),
        }
    }
}

impl Term {
    pub fn options(&self, out: &mut BTreeSet<OptId>) {
        match self {
            Term::Int(_) | Term::Dec(_) => {}
            Term::Opt(o) | Term::Len(o) => {
                out.insert(*o);
            }
            Term::Add(a, b) | Term::Sub(a, b) | Term::Mul(a, b) => {
                a.options(out);
                b.options(out);
            }
            Term::Neg(a) => a.options(out),
        }
    }

    /// Integer evaluation; `None` when an option is unset, on overflow, or for decimal constants.
    pub fn eval_int(&self, get: &dyn Fn(OptId) -> Option<Val>) -> Option<i64> {
        match self {
            Term::Int(n) => Some(*n),
            Term::Dec(_) => None,
            Term::Opt(o) | Term::Len(o) => match get(*o) {
                Some(Val::Int(n)) => Some(n),
                _ => None,
            },
            Term::Add(a, b) => a.eval_int(get)?.checked_add(b.eval_int(get)?),
            Term::Sub(a, b) => a.eval_int(get)?.checked_sub(b.eval_int(get)?),
            Term::Mul(a, b) => a.eval_int(get)?.checked_mul(b.eval_int(get)?),
            Term::Neg(a) => a.eval_int(get)?.checked_neg(),
        }
    }

    /// Exact decimal evaluation (price formulas); `None` when an option is unset or on overflow.
    pub fn eval_decimal(&self, get: &dyn Fn(OptId) -> Option<Val>) -> Option<Decimal> {
        match self {
            Term::Int(n) => Some(Decimal::from(*n)),
            Term::Dec(d) => Some(*d),
            Term::Opt(o) | Term::Len(o) => match get(*o) {
                Some(Val::Int(n)) => Some(Decimal::from(n)),
                _ => None,
            },
            Term::Add(a, b) => a.eval_decimal(get)?.checked_add(b.eval_decimal(get)?),
            Term::Sub(a, b) => a.eval_decimal(get)?.checked_sub(b.eval_decimal(get)?),
            Term::Mul(a, b) => a.eval_decimal(get)?.checked_mul(b.eval_decimal(get)?),
            Term::Neg(a) => Some(-a.eval_decimal(get)?),
        }
    }

    pub fn has_decimal(&self) -> bool {
        match self {
            Term::Dec(_) => true,
            Term::Int(_) | Term::Opt(_) | Term::Len(_) => false,
            Term::Add(a, b) | Term::Sub(a, b) | Term::Mul(a, b) => {
                a.has_decimal() || b.has_decimal()
            }
            Term::Neg(a) => a.has_decimal(),
        }
    }
}

/// A problem found while typechecking, located within the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub code: Code,
    pub range: Range,
    pub message: String,
    pub help: Option<String>,
}

/// Typechecks expressions against one product's options.
#[derive(Debug)]
pub struct Checker<'a> {
    pub options: &'a [OptionDef],
    /// Whether decimal literals are allowed (price formulas only).
    pub allow_decimals: bool,
}

/// Suggests the closest candidate to `name`, if one is close enough.
pub fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase());
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

enum Typed {
    Bool(Expr),
    Term(Term),
    /// A choice option, only usable in comparisons.
    Choice(OptId),
    /// A text option, only usable through `len()` and `is_set()`.
    Text(OptId),
}

impl<'a> Checker<'a> {
    fn err(
        range: Range,
        code: Code,
        message: impl Into<String>,
        help: Option<String>,
    ) -> CheckError {
        CheckError {
            code,
            range,
            message: message.into(),
            help,
        }
    }

    fn find(&self, name: &str) -> Option<OptId> {
        self.options.iter().position(|o| o.id == name)
    }

    fn unknown_option(&self, name: &str, range: Range) -> CheckError {
        let help = did_you_mean(name, self.options.iter().map(|o| o.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                Some(format!(
                    "the options are: {}",
                    self.options
                        .iter()
                        .map(|o| o.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
        Self::err(
            range,
            Code::UnknownOption,
            format!("unknown option `{name}`"),
            help,
        )
    }

    /// Checks a boolean expression.
    pub fn check_bool(&self, e: &SExpr) -> Result<Expr, CheckError> {
        match self.typed(e)? {
            Typed::Bool(b) => Ok(b),
            Typed::Term(_) => Err(Self::err(
                e.range,
                Code::ExprType,
                "expected a condition, found a number",
                Some("compare it: `width_cm >= 40`".into()),
            )),
            Typed::Choice(o) => {
                let first = self
                    .choice_values(o)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "value".to_owned());
                Err(Self::err(
                    e.range,
                    Code::ExprType,
                    format!(
                        "the choice option `{}` is not a condition",
                        self.options[o].id
                    ),
                    Some(format!(
                        "compare it with a value: `{} == {first}`",
                        self.options[o].id
                    )),
                ))
            }
            Typed::Text(o) => Err(Self::err(
                e.range,
                Code::ExprType,
                format!(
                    "the text option `{}` is not a condition",
                    self.options[o].id
                ),
                Some(format!(
                    "use `is_set({0})` or `len({0}) > 0`",
                    self.options[o].id
                )),
            )),
        }
    }

    /// Checks an arithmetic expression (a price formula when decimals are allowed).
    pub fn check_term(&self, e: &SExpr) -> Result<Term, CheckError> {
        match self.typed(e)? {
            Typed::Term(t) => Ok(t),
            _ => Err(Self::err(
                e.range,
                Code::ExprType,
                "expected a number",
                Some("use integer options, `len(text)` and numbers".into()),
            )),
        }
    }

    fn choice_values(&self, o: OptId) -> Vec<String> {
        match &self.options[o].kind {
            OptionKind::Choice(c) => c.values.iter().map(|v| v.id.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn term(&self, e: &SExpr) -> Result<Term, CheckError> {
        match self.typed(e)? {
            Typed::Term(t) => Ok(t),
            Typed::Bool(_) => Err(Self::err(e.range, Code::ExprType, "expected a number, found a condition", None)),
            Typed::Choice(o) => Err(Self::err(
                e.range,
                Code::ExprType,
                format!("the choice option `{}` is not a number", self.options[o].id),
                Some("only integer and quantity options (and `len(text)`) take part in arithmetic and ordering".into()),
            )),
            Typed::Text(o) => Err(Self::err(
                e.range,
                Code::ExprType,
                format!("the text option `{}` is not a number", self.options[o].id),
                Some(format!("use `len({})`", self.options[o].id)),
            )),
        }
    }

    fn typed(&self, e: &SExpr) -> Result<Typed, CheckError> {
        match &e.kind {
            SKind::Bool(b) => Ok(Typed::Bool(Expr::Const(*b))),
            SKind::Num(n) => self.number(n, e.range).map(Typed::Term),
            SKind::Str(s) => Err(Self::err(
                e.range,
                Code::ExprType,
                format!("the string \"{s}\" can only be compared with a choice option"),
                Some("write `option == \"value\"`".into()),
            )),
            SKind::Name(n) => {
                let Some(o) = self.find(n) else {
                    return Err(self.unknown_option(n, e.range));
                };
                Ok(match &self.options[o].kind {
                    OptionKind::Boolean { .. } => Typed::Bool(Expr::Bool(o)),
                    OptionKind::Integer(_) | OptionKind::Quantity(_) => Typed::Term(Term::Opt(o)),
                    OptionKind::Choice(_) => Typed::Choice(o),
                    OptionKind::Text(_) => Typed::Text(o),
                    // An upload is read by presence only: its name means "an image is given".
                    OptionKind::Upload(_) => Typed::Bool(Expr::IsSet(o)),
                })
            }
            SKind::Call {
                func,
                func_range,
                args,
            } => self.call(func, *func_range, args, e.range),
            SKind::List(_) => Err(Self::err(
                e.range,
                Code::ExprType,
                "a list can only follow `in`",
                Some("write `option in [a, b]`".into()),
            )),
            SKind::Neg(inner) => Ok(Typed::Term(Term::Neg(Box::new(self.term(inner)?)))),
            SKind::Not(inner) => Ok(Typed::Bool(Expr::Not(Box::new(self.check_bool(inner)?)))),
            SKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            SKind::In {
                negated,
                lhs,
                list,
                list_range,
            } => {
                let inner = self.membership(lhs, list, *list_range)?;
                Ok(Typed::Bool(if *negated {
                    Expr::Not(Box::new(inner))
                } else {
                    inner
                }))
            }
        }
    }

    fn number(&self, n: &str, range: Range) -> Result<Term, CheckError> {
        if n.contains('.') {
            if !self.allow_decimals {
                return Err(Self::err(
                    range,
                    Code::ExprType,
                    format!("decimal number `{n}` in a constraint"),
                    Some("constraints work on whole numbers; decimals are allowed only in price formulas".into()),
                ));
            }
            return n.parse::<Decimal>().map(Term::Dec).map_err(|_| {
                Self::err(
                    range,
                    Code::ExprSyntax,
                    format!("`{n}` is not a valid decimal"),
                    None,
                )
            });
        }
        n.parse::<i64>().map(Term::Int).map_err(|_| {
            Self::err(
                range,
                Code::ExprSyntax,
                format!("`{n}` is too large"),
                Some("numbers must fit in 64 bits".into()),
            )
        })
    }

    fn call(
        &self,
        func: &str,
        func_range: Range,
        args: &[SExpr],
        range: Range,
    ) -> Result<Typed, CheckError> {
        let (is_len, is_set) = (func == "len", func == "is_set");
        if !is_len && !is_set {
            let help = did_you_mean(func, ["len", "is_set"]).map_or_else(
                || "the functions are `len(text_option)` and `is_set(option)`".to_owned(),
                |s| format!("did you mean `{s}`?"),
            );
            return Err(Self::err(
                func_range,
                Code::ExprSyntax,
                format!("unknown function `{func}`"),
                Some(help),
            ));
        }
        let [arg] = args else {
            return Err(Self::err(
                range,
                Code::ExprSyntax,
                format!("`{func}` takes exactly one option"),
                None,
            ));
        };
        let SKind::Name(name) = &arg.kind else {
            return Err(Self::err(
                arg.range,
                Code::ExprType,
                format!("`{func}` takes an option id"),
                None,
            ));
        };
        let o = self
            .find(name)
            .ok_or_else(|| self.unknown_option(name, arg.range))?;
        if is_set {
            // Text is seen through its length: set means non-empty.
            if matches!(self.options[o].kind, OptionKind::Text(_)) {
                return Ok(Typed::Bool(Expr::Cmp(
                    CmpOp::Gt,
                    Term::Len(o),
                    Term::Int(0),
                )));
            }
            return Ok(Typed::Bool(Expr::IsSet(o)));
        }
        match self.options[o].kind {
            OptionKind::Text(_) => Ok(Typed::Term(Term::Len(o))),
            ref k => Err(Self::err(
                arg.range,
                Code::ExprType,
                format!(
                    "`len` takes a text option; `{name}` is a {} option",
                    k.type_name()
                ),
                None,
            )),
        }
    }

    /// Resolves a literal as a value of choice option `o`.
    fn choice_value(&self, o: OptId, lit: &SExpr) -> Result<usize, CheckError> {
        let text = match &lit.kind {
            SKind::Name(s) | SKind::Str(s) | SKind::Num(s) => s.clone(),
            SKind::Bool(b) => b.to_string(),
            _ => {
                return Err(Self::err(
                    lit.range,
                    Code::ExprType,
                    format!("expected a value of `{}`", self.options[o].id),
                    None,
                ));
            }
        };
        let values = self.choice_values(o);
        if let Some(i) = values.iter().position(|v| *v == text) {
            return Ok(i);
        }
        if let SKind::Name(n) = &lit.kind
            && let Some(other) = self.find(n)
            && !matches!(self.options[other].kind, OptionKind::Choice(_))
        {
            return Err(Self::err(
                lit.range,
                Code::ExprType,
                format!(
                    "cannot compare the choice option `{}` with the {} option `{n}`",
                    self.options[o].id,
                    self.options[other].kind.type_name()
                ),
                None,
            ));
        }
        let help = did_you_mean(&text, values.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| {
                format!(
                    "the values of `{}` are: {}",
                    self.options[o].id,
                    values.join(", ")
                )
            });
        Err(Self::err(
            lit.range,
            Code::UnknownValue,
            format!("`{text}` is not a value of `{}`", self.options[o].id),
            Some(help),
        ))
    }

    fn membership(
        &self,
        lhs: &SExpr,
        list: &[SExpr],
        list_range: Range,
    ) -> Result<Expr, CheckError> {
        match self.typed(lhs)? {
            Typed::Choice(o) => {
                let mut vs = Vec::new();
                for item in list {
                    vs.push(self.choice_value(o, item)?);
                }
                vs.sort_unstable();
                vs.dedup();
                Ok(Expr::ChoiceIn(o, vs))
            }
            Typed::Term(t) => {
                if t.has_decimal() {
                    return Err(Self::err(
                        lhs.range,
                        Code::ExprType,
                        "decimals cannot be tested with `in`",
                        None,
                    ));
                }
                let mut alts = Vec::new();
                for item in list {
                    let it = self.term(item)?;
                    alts.push(Expr::Cmp(CmpOp::Eq, t.clone(), it));
                }
                Ok(Expr::Or(alts))
            }
            Typed::Bool(b) => {
                let mut alts = Vec::new();
                for item in list {
                    match item.kind {
                        SKind::Bool(true) => alts.push(b.clone()),
                        SKind::Bool(false) => alts.push(Expr::Not(Box::new(b.clone()))),
                        _ => {
                            return Err(Self::err(
                                item.range,
                                Code::ExprType,
                                "expected `true` or `false`",
                                None,
                            ));
                        }
                    }
                }
                Ok(Expr::Or(alts))
            }
            Typed::Text(o) => Err(Self::err(
                list_range,
                Code::ExprType,
                format!(
                    "the text option `{}` cannot be tested with `in`",
                    self.options[o].id
                ),
                Some(format!(
                    "constraints see text through `len({0})` and `is_set({0})`",
                    self.options[o].id
                )),
            )),
        }
    }

    fn binary(&self, op: BinOp, lhs: &SExpr, rhs: &SExpr) -> Result<Typed, CheckError> {
        match op {
            BinOp::And | BinOp::Or => {
                let (a, b) = (self.check_bool(lhs)?, self.check_bool(rhs)?);
                Ok(Typed::Bool(flatten(op == BinOp::And, a, b)))
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                let (a, b) = (Box::new(self.term(lhs)?), Box::new(self.term(rhs)?));
                Ok(Typed::Term(match op {
                    BinOp::Add => Term::Add(a, b),
                    BinOp::Sub => Term::Sub(a, b),
                    _ => Term::Mul(a, b),
                }))
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                self.comparison(op, lhs, rhs)
            }
        }
    }

    fn comparison(&self, op: BinOp, lhs: &SExpr, rhs: &SExpr) -> Result<Typed, CheckError> {
        let equality = matches!(op, BinOp::Eq | BinOp::Ne);
        let wrap = |e: Expr| {
            Typed::Bool(if op == BinOp::Ne {
                Expr::Not(Box::new(e))
            } else {
                e
            })
        };
        // Literal sides that are not option names are resolved against the other side's choice option.
        let choice_of = |e: &SExpr| match &e.kind {
            SKind::Name(n) => self
                .find(n)
                .filter(|&o| matches!(self.options[o].kind, OptionKind::Choice(_))),
            _ => None,
        };
        if let Some(o) = choice_of(lhs).or_else(|| choice_of(rhs)) {
            let (opt_side, other) = if choice_of(lhs).is_some() {
                (lhs, rhs)
            } else {
                (rhs, lhs)
            };
            if !equality {
                return Err(Self::err(
                    opt_side.range,
                    Code::ExprType,
                    format!("the choice option `{}` has no order", self.options[o].id),
                    Some("compare choices with `==`, `!=`, `in` or `not in`".into()),
                ));
            }
            if let Some(o2) = choice_of(other)
                && !self.choice_values(o).contains(&self.options[o2].id)
            {
                // Two choice options: equal when they hold the same value id.
                let (va, vb) = (self.choice_values(o), self.choice_values(o2));
                let mut alts = Vec::new();
                for (i, v) in va.iter().enumerate() {
                    if let Some(j) = vb.iter().position(|w| w == v) {
                        alts.push(Expr::And(vec![
                            Expr::ChoiceIn(o, vec![i]),
                            Expr::ChoiceIn(o2, vec![j]),
                        ]));
                    }
                }
                return Ok(wrap(Expr::Or(alts)));
            }
            let v = self.choice_value(o, other)?;
            return Ok(wrap(Expr::ChoiceIn(o, vec![v])));
        }
        let (a, b) = (self.typed(lhs)?, self.typed(rhs)?);
        match (a, b) {
            (Typed::Term(x), Typed::Term(y)) => {
                let cop = match op {
                    BinOp::Eq => CmpOp::Eq,
                    BinOp::Ne => CmpOp::Ne,
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                if x.has_decimal() || y.has_decimal() {
                    return Err(Self::err(
                        lhs.range,
                        Code::ExprType,
                        "decimals cannot be compared in conditions",
                        None,
                    ));
                }
                Ok(Typed::Bool(Expr::Cmp(cop, x, y)))
            }
            (Typed::Bool(x), Typed::Bool(y)) if equality => {
                // x == y  ≡  (x and y) or (not x and not y)
                let eq = Expr::Or(vec![
                    Expr::And(vec![x.clone(), y.clone()]),
                    Expr::And(vec![Expr::Not(Box::new(x)), Expr::Not(Box::new(y))]),
                ]);
                Ok(wrap(simplify(eq)))
            }
            (Typed::Bool(_), Typed::Bool(_)) => Err(Self::err(
                lhs.range,
                Code::ExprType,
                format!("conditions have no order; `{op}` needs numbers"),
                None,
            )),
            (Typed::Text(o), _) | (_, Typed::Text(o)) => Err(Self::err(
                if matches!(lhs.kind, SKind::Name(ref n) if n == &self.options[o].id) {
                    lhs.range
                } else {
                    rhs.range
                },
                Code::ExprType,
                format!(
                    "the text option `{}` cannot be compared",
                    self.options[o].id
                ),
                Some(format!(
                    "constraints see text through `len({0})` and `is_set({0})`",
                    self.options[o].id
                )),
            )),
            (Typed::Bool(_), _) | (_, Typed::Bool(_)) => Err(Self::err(
                (lhs.range.0, rhs.range.1),
                Code::ExprType,
                format!("cannot compare a condition with a number using `{op}`"),
                None,
            )),
            (Typed::Choice(_), _) | (_, Typed::Choice(_)) => Err(Self::err(
                (lhs.range.0, rhs.range.1),
                Code::ExprType,
                "cannot compare these values",
                None,
            )),
        }
    }
}

fn flatten(is_and: bool, a: Expr, b: Expr) -> Expr {
    let mut items = Vec::new();
    for e in [a, b] {
        match (is_and, e) {
            (true, Expr::And(v)) | (false, Expr::Or(v)) => items.extend(v),
            (_, e) => items.push(e),
        }
    }
    if is_and {
        Expr::And(items)
    } else {
        Expr::Or(items)
    }
}

/// Folds `x == true`-style comparisons: constant operands of and/or/not disappear.
fn simplify(e: Expr) -> Expr {
    match e {
        Expr::Not(inner) => match simplify(*inner) {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(x) => *x,
            other => Expr::Not(Box::new(other)),
        },
        Expr::And(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(simplify) {
                match i {
                    Expr::Const(true) => {}
                    Expr::Const(false) => return Expr::Const(false),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Expr::Const(true),
                1 => out.pop().unwrap_or(Expr::Const(true)),
                _ => Expr::And(out),
            }
        }
        Expr::Or(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(simplify) {
                match i {
                    Expr::Const(false) => {}
                    Expr::Const(true) => return Expr::Const(true),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Expr::Const(false),
                1 => out.pop().unwrap_or(Expr::Const(false)),
                _ => Expr::Or(out),
            }
        }
        other => other,
    }
}
