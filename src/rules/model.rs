//! The compiled constraint model: one finite-domain variable per option, constraints as compressed tables (or checked expressions).

use std::collections::BTreeMap;

use crate::catalog::expr::{Expr, Val};
use crate::catalog::model::{
    CellRef, Constraint, ConstraintForm, OptId, OptionKind, Product, Table, Value,
};

/// A bitset over a variable's domain indices.
pub type Bits = Vec<u64>;

pub fn words_for(size: usize) -> usize {
    size.div_ceil(64).max(1)
}

pub fn full_bits(size: usize) -> Bits {
    let mut b = vec![0u64; words_for(size)];
    for i in 0..size {
        b[i / 64] |= 1 << (i % 64);
    }
    b
}

pub fn bit(b: &[u64], i: usize) -> bool {
    b.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

pub fn set_bit(b: &mut [u64], i: usize) {
    if let Some(w) = b.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

pub fn count_bits(b: &[u64]) -> usize {
    b.iter().map(|w| w.count_ones() as usize).sum()
}

pub fn iter_bits(b: &[u64]) -> impl Iterator<Item = usize> + '_ {
    b.iter().enumerate().flat_map(|(wi, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let t = w.trailing_zeros() as usize;
            w &= w - 1;
            Some(wi * 64 + t)
        })
    })
}

/// How a variable's domain indices map to option values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarKind {
    /// Indices `0..n` are the choice values.
    Choice { n: usize },
    /// 0 = false, 1 = true.
    Bool,
    /// Index `i` is `min + i * step`, for `i < n`.
    Int { min: i64, step: i64, n: usize },
    /// Index `i` is the text length `lengths[i]`.
    Text { lengths: Vec<u32> },
}

/// One variable of the model (one per option, in option order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub opt: OptId,
    pub kind: VarKind,
    /// Whether the last index means "unset".
    pub optional: bool,
    pub size: usize,
}

impl Var {
    fn new(opt: OptId, kind: &OptionKind, required: bool) -> Var {
        let (kind, optional) = match kind {
            OptionKind::Choice(c) => (VarKind::Choice { n: c.values.len() }, !required),
            OptionKind::Boolean { .. } => (VarKind::Bool, false),
            OptionKind::Integer(r) => (
                VarKind::Int {
                    min: r.min,
                    step: r.step,
                    n: usize::try_from(r.len()).unwrap_or(0),
                },
                !required,
            ),
            OptionKind::Quantity(r) => (
                VarKind::Int {
                    min: r.min,
                    step: r.step,
                    n: usize::try_from(r.len()).unwrap_or(0),
                },
                false,
            ),
            OptionKind::Text(t) => {
                let lo = if required {
                    t.min_len.max(1)
                } else {
                    t.min_len
                };
                let mut lengths: Vec<u32> = Vec::new();
                if !required && t.min_len > 0 {
                    lengths.push(0);
                }
                lengths.extend(lo..=t.max_len);
                (VarKind::Text { lengths }, false)
            }
            // An upload takes part by presence only: one "given" value (its id is always 64
            // characters long), plus "unset" unless required.
            OptionKind::Upload(_) => (VarKind::Text { lengths: vec![64] }, !required),
        };
        let base = match &kind {
            VarKind::Choice { n } | VarKind::Int { n, .. } => *n,
            VarKind::Bool => 2,
            VarKind::Text { lengths } => lengths.len(),
        };
        Var {
            opt,
            kind,
            optional,
            size: base + usize::from(optional),
        }
    }

    /// The index that means "unset", if the option is optional.
    pub fn unset(&self) -> Option<usize> {
        self.optional.then(|| self.size - 1)
    }

    /// The evaluator's view of domain index `i` (`None` = unset).
    pub fn val(&self, i: usize) -> Option<Val> {
        if Some(i) == self.unset() {
            return None;
        }
        match &self.kind {
            VarKind::Choice { .. } => Some(Val::Choice(i)),
            VarKind::Bool => Some(Val::Bool(i == 1)),
            VarKind::Int { min, step, .. } => {
                let i = i64::try_from(i).ok()?;
                Some(Val::Int(min.checked_add(step.checked_mul(i)?)?))
            }
            VarKind::Text { lengths } => lengths.get(i).map(|&l| Val::Int(i64::from(l))),
        }
    }

    /// The model value at index `i` (`None` = unset). Text is reported by length only.
    pub fn value(&self, i: usize) -> Option<Value> {
        match self.val(i)? {
            Val::Choice(c) => Some(Value::Choice(c)),
            Val::Bool(b) => Some(Value::Bool(b)),
            Val::Int(n) => Some(Value::Int(n)),
        }
    }

    /// The domain index of a value (text by its length in characters).
    pub fn index_of(&self, v: &Value) -> Option<usize> {
        match (&self.kind, v) {
            (VarKind::Choice { n }, Value::Choice(c)) => (*c < *n).then_some(*c),
            (VarKind::Bool, Value::Bool(b)) => Some(usize::from(*b)),
            (VarKind::Int { min, step, n }, Value::Int(x)) => {
                let d = x.checked_sub(*min)?;
                if d < 0 || d % step != 0 {
                    return None;
                }
                let i = usize::try_from(d / step).ok()?;
                (i < *n).then_some(i)
            }
            (VarKind::Text { lengths }, Value::Text(s)) => {
                let len = u32::try_from(s.chars().count()).ok()?;
                lengths.iter().position(|&l| l == len)
            }
            (VarKind::Text { lengths }, Value::Int(len)) => {
                lengths.iter().position(|&l| i64::from(l) == *len)
            }
            _ => None,
        }
    }
}

/// A compiled constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Con {
    /// Variables (sorted).
    pub scope: Vec<usize>,
    pub kind: ConKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConKind {
    /// A compressed table: the constraint holds iff some row matches, where a row gives, for each
    /// scope variable, a set of allowed indices.
    Table(Rows),
    /// A negative compressed table: the constraint holds iff no row matches.
    /// Used when the complement of a rule is much smaller than the rule (e.g. `forbid` tables).
    NegTable(Rows),
    /// An expression too large to tabulate: checked when at most one scope variable is unfixed.
    Check(Expr),
}

/// The rows of a compressed table, row-major: each row is the concatenation of its cells' words
/// (the cell of scope variable `j` starts at `cell_off[j]` and has that variable's word count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    pub words: Vec<u64>,
    pub nrows: usize,
    pub row_words: usize,
    pub cell_off: Vec<usize>,
}

impl Rows {
    pub fn row(&self, r: usize) -> &[u64] {
        &self.words[r * self.row_words..(r + 1) * self.row_words]
    }

    /// The cell of scope variable `j` in `row` (from its first word on; zip it with the domain).
    pub fn cell<'a>(&self, row: &'a [u64], j: usize) -> &'a [u64] {
        &row[self.cell_off[j]..]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u64]> {
        (0..self.nrows).map(|r| self.row(r))
    }

    /// Whether some row contains every variable's index, as `index` reads it (a variable it
    /// has no index for is in no row).
    pub fn matches(&self, scope: &[usize], index: impl Fn(usize) -> Option<usize>) -> bool {
        self.iter().any(|row| {
            scope
                .iter()
                .enumerate()
                .all(|(j, &v)| index(v).is_some_and(|i| bit(self.cell(row, j), i)))
        })
    }
}

/// Bounds on compile work: a rule that would expand beyond these stays a checked expression.
const ROW_CAP: usize = 4096;
const ENUM_CAP: u64 = 1 << 16;

/// The compiled model of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub vars: Vec<Var>,
    /// One compiled constraint per product constraint, same index.
    pub cons: Vec<Con>,
    /// Constraints per variable.
    pub var_cons: Vec<Vec<usize>>,
    /// Word offset of each variable's domain in a domain vector.
    pub offset: Vec<usize>,
    pub nwords: Vec<usize>,
    pub total_words: usize,
    /// The full domains (what `initial()` returns), computed once.
    pub initial_domains: Vec<u64>,
    /// The variable owning each word of a domain vector.
    pub word_var: Vec<u32>,
}

impl Model {
    pub fn compile(product: &Product) -> Model {
        let vars: Vec<Var> = product
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| Var::new(i, &o.kind, o.required))
            .collect();
        // A table has no expression: it stays a table (below).
        let always = Expr::Const(true);
        let exprs: Vec<&Expr> = product
            .constraints
            .iter()
            .map(|c| c.expr.as_ref().unwrap_or(&always))
            .collect();
        let mut m =
            Self::from_parts_with(vars, &exprs, |m, k| match &product.constraints[k].form {
                // A table stays a table: its rows become compressed rows directly (never the
                // expression's normal form or an enumeration of its scope).
                ConstraintForm::Table(t) => Some(m.table_of(t)),
                _ => None,
            });
        m.index_constraints();
        m
    }

    /// The negation of a product constraint (what breaking the rule means), compiled.
    pub fn negation_of(&self, c: &Constraint) -> Con {
        match (&c.form, &c.expr) {
            (ConstraintForm::Table(t), _) => {
                let Con { scope, kind } = self.table_of(t);
                let kind = match kind {
                    ConKind::Table(rows) => ConKind::NegTable(rows),
                    ConKind::NegTable(rows) => ConKind::Table(rows),
                    other @ ConKind::Check(_) => other,
                };
                Con { scope, kind }
            }
            (_, Some(e)) => self.compile_expr(&Expr::Not(Box::new(e.clone()))),
            (_, None) => self.compile_expr(&Expr::Const(false)),
        }
    }

    /// A table constraint's compressed rows: allowed rows as a table, forbidden rows as a
    /// negative table; a cell `*` is every set value, a list its values' indices. A row with a
    /// cell no value matches is left out (it matches nothing). O(rows × cells).
    pub fn table_of(&self, t: &Table) -> Con {
        let mut scope: Vec<usize> = t
            .options
            .iter()
            .copied()
            .filter(|&o| o < self.vars.len())
            .collect();
        scope.sort_unstable();
        scope.dedup();
        let mut cell_off = Vec::with_capacity(scope.len());
        let mut row_words = 0;
        for &v in &scope {
            cell_off.push(row_words);
            row_words += self.nwords[v];
        }
        // Where each table column goes in a row (the scope is sorted, the table is not).
        let column_at: Vec<Option<usize>> = t
            .options
            .iter()
            .map(|o| scope.binary_search(o).ok())
            .collect();
        let mut words: Vec<u64> = Vec::with_capacity(t.len().saturating_mul(row_words));
        let mut row = vec![0u64; row_words];
        let mut nrows = 0;
        'rows: for cells in t.rows() {
            row.iter_mut().for_each(|w| *w = 0);
            for (cell, (&o, at)) in cells.zip(t.options.iter().zip(&column_at)) {
                let Some(j) = *at else {
                    continue 'rows;
                };
                let var = &self.vars[o];
                let bits = &mut row[cell_off[j]..cell_off[j] + self.nwords[o]];
                match cell {
                    CellRef::Any => {
                        for i in 0..var.size {
                            if Some(i) != var.unset() {
                                set_bit(bits, i);
                            }
                        }
                    }
                    CellRef::Values(vs) => {
                        for i in vs.iter().filter_map(|v| var.index_of(v)) {
                            set_bit(bits, i);
                        }
                    }
                }
                if bits.iter().all(|w| *w == 0) {
                    continue 'rows;
                }
            }
            words.extend_from_slice(&row);
            nrows += 1;
        }
        let rows = Rows {
            words,
            nrows,
            row_words,
            cell_off,
        };
        let kind = if t.allow {
            ConKind::Table(rows)
        } else {
            ConKind::NegTable(rows)
        };
        Con { scope, kind }
    }

    /// Builds a model from variables and constraint expressions (expressions index options = variables).
    pub fn from_parts(vars: Vec<Var>, exprs: &[&Expr]) -> Model {
        let mut m = Self::from_parts_with(vars, exprs, |_, _| None);
        m.index_constraints();
        m
    }

    /// The constraints per variable (`var_cons`), from `cons`.
    fn index_constraints(&mut self) {
        self.var_cons = vec![Vec::new(); self.vars.len()];
        for (ci, c) in self.cons.iter().enumerate() {
            for &v in &c.scope {
                self.var_cons[v].push(ci);
            }
        }
    }

    /// The model with constraint `k` compiled by `direct` when it gives one, else from its
    /// expression; `var_cons` is left for the caller.
    fn from_parts_with(
        vars: Vec<Var>,
        exprs: &[&Expr],
        direct: impl Fn(&Model, usize) -> Option<Con>,
    ) -> Model {
        let mut offset = Vec::with_capacity(vars.len());
        let mut nwords = Vec::with_capacity(vars.len());
        let mut total = 0;
        for v in &vars {
            offset.push(total);
            let w = words_for(v.size);
            nwords.push(w);
            total += w;
        }
        let mut m = Model {
            vars,
            cons: Vec::new(),
            var_cons: Vec::new(),
            offset,
            nwords,
            total_words: total,
            initial_domains: Vec::new(),
            word_var: Vec::new(),
        };
        for (v, &w) in m.nwords.iter().enumerate() {
            m.word_var
                .extend(std::iter::repeat_n(u32::try_from(v).unwrap_or(u32::MAX), w));
        }
        m.initial_domains = m.initial();
        m.cons = exprs
            .iter()
            .enumerate()
            .map(|(k, e)| direct(&m, k).unwrap_or_else(|| m.compile_expr(e)))
            .collect();
        m
    }

    /// Compiles an extra constraint (e.g. a negated rule for redundancy analysis).
    pub fn compile_expr(&self, e: &Expr) -> Con {
        let mut scope = std::collections::BTreeSet::new();
        e.options(&mut scope);
        let scope: Vec<usize> = scope.into_iter().filter(|&v| v < self.vars.len()).collect();
        let pos = self.dnf(e, false);
        let neg = self.dnf(e, true);
        match (pos, neg) {
            (Some(p), Some(n)) if n.len() * 4 < p.len() => return self.table(scope, n, false),
            (Some(p), _) => return self.table(scope, p, true),
            (None, Some(n)) => return self.table(scope, n, false),
            (None, None) => {}
        }
        if let Some(rows) = self.enumerate(e, &scope) {
            return self.table(scope, rows, true);
        }
        Con {
            scope,
            kind: ConKind::Check(e.clone()),
        }
    }

    /// Whether constraint `c` holds for a full assignment (one index per variable).
    pub fn holds(&self, c: &Con, assignment: &[usize]) -> bool {
        self.holds_by(c, |v| assignment.get(v).copied())
    }

    /// Whether `c` holds in `assignment` with variable `x` changed to index `i` (without
    /// copying the assignment: the single-change checks of a witness search make many).
    pub fn holds_changed(&self, c: &Con, assignment: &[usize], (x, i): (usize, usize)) -> bool {
        self.holds_by(c, |v| {
            if v == x {
                Some(i)
            } else {
                assignment.get(v).copied()
            }
        })
    }

    /// Whether `c` holds with each variable's index as `index` reads it.
    fn holds_by(&self, c: &Con, index: impl Fn(usize) -> Option<usize>) -> bool {
        match &c.kind {
            ConKind::Table(t) => t.matches(&c.scope, &index),
            ConKind::NegTable(t) => !t.matches(&c.scope, &index),
            ConKind::Check(e) => e.eval(&|o| self.vars.get(o)?.val(index(o)?)),
        }
    }

    /// The indices of scope variable `x` under which `c` holds when the other variables keep
    /// their values in `assignment` (one pass over a table's rows), as a bit set of `x`'s words.
    pub fn holding_values(&self, c: &Con, x: usize, assignment: &[usize]) -> Vec<u64> {
        let words = self.nwords.get(x).copied().unwrap_or(0);
        let size = self.vars.get(x).map_or(0, |v| v.size);
        let Some(j) = c.scope.iter().position(|&v| v == x) else {
            return full_bits(size);
        };
        let others_match = |t: &Rows, row: &[u64]| {
            c.scope
                .iter()
                .enumerate()
                .all(|(k, &v)| k == j || bit(t.cell(row, k), assignment[v]))
        };
        match &c.kind {
            ConKind::Table(t) => {
                let mut out = vec![0u64; words];
                for row in t.iter().filter(|row| others_match(t, row)) {
                    for (o, w) in out.iter_mut().zip(t.cell(row, j)) {
                        *o |= w;
                    }
                }
                out
            }
            ConKind::NegTable(t) => {
                let mut out = full_bits(size);
                for row in t.iter().filter(|row| others_match(t, row)) {
                    for (o, w) in out.iter_mut().zip(t.cell(row, j)) {
                        *o &= !w;
                    }
                }
                out
            }
            ConKind::Check(_) => {
                let mut out = vec![0u64; words];
                let mut a = assignment.to_vec();
                for i in 0..size {
                    a[x] = i;
                    if self.holds(c, &a) {
                        set_bit(&mut out, i);
                    }
                }
                out
            }
        }
    }

    /// The full initial domains.
    pub fn initial(&self) -> Vec<u64> {
        let mut d = vec![0u64; self.total_words];
        for (v, var) in self.vars.iter().enumerate() {
            for (k, w) in d[self.offset[v]..self.offset[v] + self.nwords[v]]
                .iter_mut()
                .enumerate()
            {
                let left = var.size.saturating_sub(k * 64);
                *w = if left >= 64 {
                    u64::MAX
                } else {
                    (1u64 << left) - 1
                };
            }
        }
        d
    }

    pub fn dom<'a>(&self, doms: &'a [u64], v: usize) -> &'a [u64] {
        &doms[self.offset[v]..self.offset[v] + self.nwords[v]]
    }

    fn table(&self, scope: Vec<usize>, rows: Vec<BTreeMap<usize, Bits>>, positive: bool) -> Con {
        let mut cell_off = Vec::with_capacity(scope.len());
        let mut row_words = 0;
        for &v in &scope {
            cell_off.push(row_words);
            row_words += self.nwords[v];
        }
        let mut flat = Vec::with_capacity(rows.len() * row_words);
        for row in &rows {
            for &v in &scope {
                match row.get(&v) {
                    Some(b) => flat.extend_from_slice(b),
                    None => flat.extend(full_bits(self.vars[v].size)),
                }
            }
        }
        let t = Rows {
            nrows: rows.len(),
            words: flat,
            row_words,
            cell_off,
        };
        let kind = if positive {
            ConKind::Table(t)
        } else {
            ConKind::NegTable(t)
        };
        Con { scope, kind }
    }

    /// The set of indices of variable `v` at which a single-variable expression holds.
    fn unary(&self, e: &Expr, v: usize, neg: bool) -> Bits {
        let var = &self.vars[v];
        let mut b = vec![0u64; self.nwords[v]];
        for i in 0..var.size {
            let val = var.val(i);
            let holds = e.eval(&|o| if o == v { val } else { None });
            if holds != neg {
                set_bit(&mut b, i);
            }
        }
        b
    }

    /// Disjunctive normal form as rows of per-variable sets; `None` if it would exceed the caps.
    fn dnf(&self, e: &Expr, neg: bool) -> Option<Vec<BTreeMap<usize, Bits>>> {
        let mut scope = std::collections::BTreeSet::new();
        e.options(&mut scope);
        if scope.len() == 1 {
            let v = *scope.iter().next()?;
            let b = self.unary(e, v, neg);
            return Some(if b.iter().all(|w| *w == 0) {
                Vec::new()
            } else {
                vec![BTreeMap::from([(v, b)])]
            });
        }
        match e {
            Expr::Const(b) => Some(if *b != neg {
                vec![BTreeMap::new()]
            } else {
                Vec::new()
            }),
            Expr::Not(inner) => self.dnf(inner, !neg),
            Expr::And(items) if !neg => self.conj(items, false),
            Expr::Or(items) if neg => self.conj(items, true),
            Expr::Or(items) | Expr::And(items) => {
                let mut out = Vec::new();
                for it in items {
                    out.extend(self.dnf(it, neg)?);
                    if out.len() > ROW_CAP {
                        return None;
                    }
                }
                Some(out)
            }
            Expr::Cmp(..) => {
                let scope: Vec<usize> = scope.into_iter().collect();
                let e2 = if neg {
                    Expr::Not(Box::new(e.clone()))
                } else {
                    e.clone()
                };
                self.enumerate(&e2, &scope)
            }
            Expr::Bool(_) | Expr::IsSet(_) | Expr::ChoiceIn(..) => None,
        }
    }

    fn conj(&self, items: &[Expr], neg: bool) -> Option<Vec<BTreeMap<usize, Bits>>> {
        let mut acc: Vec<BTreeMap<usize, Bits>> = vec![BTreeMap::new()];
        for it in items {
            let rows = self.dnf(it, neg)?;
            let mut next = Vec::new();
            for a in &acc {
                for r in &rows {
                    let mut m = a.clone();
                    let mut empty = false;
                    for (v, b) in r {
                        let e = m.entry(*v).or_insert_with(|| full_bits(self.vars[*v].size));
                        for (x, y) in e.iter_mut().zip(b) {
                            *x &= y;
                        }
                        if e.iter().all(|w| *w == 0) {
                            empty = true;
                            break;
                        }
                    }
                    if !empty {
                        next.push(m);
                        if next.len() > ROW_CAP {
                            return None;
                        }
                    }
                }
            }
            acc = next;
            if acc.is_empty() {
                break;
            }
        }
        Some(acc)
    }

    /// Tabulates an expression by enumerating all but its last variable; `None` if too large.
    fn enumerate(&self, e: &Expr, scope: &[usize]) -> Option<Vec<BTreeMap<usize, Bits>>> {
        let (&last, rest) = scope.split_last()?;
        let mut combos: u64 = 1;
        for &v in rest {
            combos = combos.checked_mul(self.vars[v].size as u64)?;
        }
        if combos.checked_mul(self.vars[last].size as u64)? > ENUM_CAP * 16 || combos > ENUM_CAP {
            return None;
        }
        let mut idx = vec![0usize; rest.len()];
        let mut rows = Vec::new();
        loop {
            let mut b = vec![0u64; self.nwords[last]];
            for i in 0..self.vars[last].size {
                let get = |o: usize| -> Option<Val> {
                    if o == last {
                        return self.vars[last].val(i);
                    }
                    rest.iter()
                        .position(|&r| r == o)
                        .and_then(|p| self.vars[o].val(idx[p]))
                };
                if e.eval(&get) {
                    set_bit(&mut b, i);
                }
            }
            if b.iter().any(|w| *w != 0) {
                let mut row = BTreeMap::new();
                for (p, &v) in rest.iter().enumerate() {
                    let mut cell = vec![0u64; self.nwords[v]];
                    set_bit(&mut cell, idx[p]);
                    row.insert(v, cell);
                }
                row.insert(last, b);
                rows.push(row);
                if rows.len() > ROW_CAP * 4 {
                    return None;
                }
            }
            // Odometer increment.
            let mut k = 0;
            loop {
                if k == rest.len() {
                    return Some(rows);
                }
                idx[k] += 1;
                if idx[k] < self.vars[rest[k]].size {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }
}

/// Values that every rule treats alike (interchangeable values, after Freuder 1991): swapping
/// one for another in any assignment changes no rule's verdict, so they are available together,
/// and an explanation of one (or one that uses a choice of one) is an explanation of each. A
/// table's rows decide it (two values are alike when every row's cell for the option holds both
/// or neither); an option read by a checked expression keeps every value on its own. An option
/// no rule reads has all its values in one class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classes {
    /// Per variable, per value: the smallest value of its class.
    rep: Vec<Vec<u32>>,
    /// Per variable: how many classes it has.
    count: Vec<usize>,
    /// Per variable, per value in a class of two or more: the class as a bitset over the
    /// domain (empty for a value alone in its class).
    wide: Vec<Vec<std::sync::Arc<[u64]>>>,
}

impl Classes {
    pub fn of(model: &Model) -> Classes {
        let mut out = Classes::default();
        for (v, var) in model.vars.iter().enumerate() {
            let size = var.size;
            let mut class: Vec<u32> = vec![0; size];
            let mut n = usize::from(size > 0);
            let checked = model.var_cons[v]
                .iter()
                .any(|&c| matches!(model.cons[c].kind, ConKind::Check(_)));
            if checked {
                class = (0..size).map(|i| i as u32).collect();
                n = size;
            }
            // Partition refinement: every cell splits each class into the values it holds and
            // those it does not.
            'rules: for &c in &model.var_cons[v] {
                let con = &model.cons[c];
                let (ConKind::Table(rows) | ConKind::NegTable(rows)) = &con.kind else {
                    continue;
                };
                let Some(j) = con.scope.iter().position(|&x| x == v) else {
                    continue;
                };
                for row in rows.iter() {
                    if n == size {
                        break 'rules;
                    }
                    let cell = rows.cell(row, j);
                    let mut map = vec![[u32::MAX; 2]; n];
                    let mut next = 0u32;
                    for (i, k) in class.iter_mut().enumerate() {
                        let slot = &mut map[*k as usize][usize::from(bit(cell, i))];
                        if *slot == u32::MAX {
                            *slot = next;
                            next += 1;
                        }
                        *k = *slot;
                    }
                    n = next as usize;
                }
            }
            let mut first: Vec<Option<u32>> = vec![None; n];
            let mut members: Vec<Vec<u64>> = vec![vec![0; words_for(size)]; n];
            let rep: Vec<u32> = class
                .iter()
                .enumerate()
                .map(|(i, &k)| {
                    set_bit(&mut members[k as usize], i);
                    *first[k as usize].get_or_insert(i as u32)
                })
                .collect();
            let members: Vec<std::sync::Arc<[u64]>> =
                members.into_iter().map(std::sync::Arc::from).collect();
            let wide = class
                .iter()
                .map(|&k| {
                    let m = &members[k as usize];
                    if count_bits(m) > 1 {
                        std::sync::Arc::clone(m)
                    } else {
                        std::sync::Arc::from(Vec::new())
                    }
                })
                .collect();
            out.rep.push(rep);
            out.count.push(n);
            out.wide.push(wide);
        }
        out
    }

    /// The value standing for `(v, i)`'s class (itself when the variable or value is unknown).
    pub fn rep(&self, (v, i): (usize, usize)) -> (usize, usize) {
        let r = self
            .rep
            .get(v)
            .and_then(|r| r.get(i))
            .map_or(i, |&r| r as usize);
        (v, r)
    }

    /// Whether `(v, i)` stands for its class.
    pub fn is_rep(&self, v: usize, i: usize) -> bool {
        self.rep((v, i)).1 == i
    }

    /// How many classes variable `v` has.
    pub fn count(&self, v: usize) -> usize {
        self.count.get(v).copied().unwrap_or(0)
    }

    /// Whether another value of `(v, i)`'s class is in `bits`.
    pub fn alike_in(&self, (v, i): (usize, usize), bits: &[u64]) -> bool {
        self.wide
            .get(v)
            .and_then(|w| w.get(i))
            .is_some_and(|m| m.iter().zip(bits).any(|(a, b)| a & b != 0))
    }
}
