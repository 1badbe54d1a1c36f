//! Analysis for merchants: impossible products, dead and forced values, redundant rules, conflicting defaults, and the configuration count; reported as diagnostics by `bespoke check`.

use num_bigint::BigUint;

use super::engine::{Elem, Engine, EngineError, Explanation};
use super::sat::SatModel;
use super::selection::Selection;
use super::solver::{Budget, OutOfWork, Solver};
use crate::catalog::LoadResult;
use crate::catalog::diagnostic::{Code, Diagnostic};
use crate::catalog::model::{OptId, OptionKind, Product};

/// Default work limit for analysing one product in `bespoke check`.
pub const ANALYSIS_WORK_LIMIT: u64 = 50_000_000;

/// Most work the configuration count gets within analysis (the other checks get the engine's
/// full work limit each); at most the engine's own limit.
pub const COUNT_WORK_LIMIT: u64 = 1_000_000;

/// Solutions (one domain index per variable) found along the way.
type Solutions = Vec<Vec<usize>>;

/// What analysis found about one product.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// The product has no valid configuration: a minimal set of conflicting rules.
    pub impossible: Option<Explanation>,
    /// Values no configuration can have: (option, domain index, why).
    pub dead: Vec<(OptId, usize, Explanation)>,
    /// Options every configuration sets to the same value: (option, domain index).
    pub forced: Vec<(OptId, usize)>,
    /// Rules implied by the others (indices into `product.constraints`).
    pub redundant: Vec<usize>,
    /// The defaults together violate the rules: the options and rules involved.
    pub conflicting_defaults: Option<Explanation>,
    /// The number of valid configurations, if counting finished.
    pub count: Option<BigUint>,
    /// Checks that stopped at the work limit (their findings are partial).
    pub incomplete: Vec<&'static str>,
}

impl Engine {
    /// Analyses the product within the engine's work limit. Checks that run out of work are
    /// listed in `incomplete`; what they found before stopping is still reported.
    pub fn analyze(&self) -> Result<Analysis, EngineError> {
        let mut a = Analysis::default();
        let all: Vec<Elem> = (0..self.model.cons.len()).map(Elem::Rule).collect();
        let mut budget = self.budget();
        match self.feasible(&[], &all, &mut budget) {
            Ok(true) => {}
            Ok(false) => {
                match self.conflict(&[], &mut budget) {
                    Ok((e, _)) => a.impossible = Some(e),
                    Err(OutOfWork) => a.incomplete.push("impossible-product explanation"),
                }
                return Ok(a);
            }
            Err(OutOfWork) => return Err(self.limit("analyze")),
        }
        // Dead and forced values: availability with nothing chosen.
        let mut budget = self.budget();
        let mut solutions: Vec<Vec<usize>> = Vec::new();
        if let Some(sat) = self.sat.as_ref().filter(|s| s.is_boolean()) {
            match self.sat_dead_forced(sat, &mut a, &mut budget) {
                Ok(sols) => solutions = sols,
                Err((sols, OutOfWork)) => {
                    solutions = sols;
                    a.incomplete.push("dead and forced values");
                }
            }
        } else {
            match self.propagate_with(&Selection::default(), &mut budget) {
                Ok(p) => {
                    for oa in &p.options {
                        let var = &self.model.vars[oa.option];
                        for (i, e) in &oa.unavailable {
                            if Some(*i) != var.unset() {
                                a.dead.push((oa.option, *i, e.clone()));
                            }
                        }
                        if var.size > 1
                            && oa.available.len() == 1
                            && Some(oa.available[0]) != var.unset()
                        {
                            a.forced.push((oa.option, oa.available[0]));
                        }
                    }
                }
                Err(OutOfWork) => a.incomplete.push("dead and forced values"),
            }
        }
        // Conflicting defaults.
        let mut budget = self.budget();
        let defaults: Vec<(usize, usize)> = self
            .defaults()
            .iter()
            .enumerate()
            .filter_map(|(v, d)| {
                d.filter(|&i| Some(i) != self.model.vars[v].unset())
                    .map(|i| (v, i))
            })
            .collect();
        let defaults_sel: Vec<Elem> = defaults.iter().map(|&(v, i)| Elem::Choice(v, i)).collect();
        let mut elems = all.clone();
        elems.extend(defaults_sel);
        match self.feasible(&[], &elems, &mut budget) {
            Ok(true) => {}
            Ok(false) => match self.conflict(&defaults, &mut budget) {
                Ok((e, _)) => a.conflicting_defaults = Some(e),
                Err(OutOfWork) => a.incomplete.push("conflicting defaults"),
            },
            Err(OutOfWork) => a.incomplete.push("conflicting defaults"),
        }
        // Redundant rules: implied by all the others.
        let mut budget = self.budget();
        let redundant = match self.sat.as_ref().filter(|s| s.is_boolean()) {
            Some(sat) => sat.redundant(&self.model, &solutions, &mut budget),
            None => self.redundant(&mut budget),
        };
        match redundant {
            Ok(r) => a.redundant = r,
            Err((partial, OutOfWork)) => {
                a.redundant = partial;
                a.incomplete.push("redundant rules");
            }
        }
        // The count has its own, smaller share: exact counting is #P-hard, and on a large loose
        // model (thousands of Boolean options) no share finishes, so a larger one would only
        // make analysis slower before reporting the count as incomplete.
        let mut budget = Budget::new(self.work_limit.min(COUNT_WORK_LIMIT));
        match self.count_with(&Selection::default(), &mut budget) {
            Ok(n) => a.count = Some(n),
            Err(OutOfWork) => a.incomplete.push("configuration count"),
        }
        Ok(a)
    }

    /// Dead and forced values with the SAT back end: which values some solution has (see
    /// `SatModel::liveness`), and for each dead value a minimal set of rules excluding it.
    /// Returns the solutions found (for the redundancy check), also on running out of work.
    fn sat_dead_forced(
        &self,
        sat: &SatModel,
        a: &mut Analysis,
        budget: &mut Budget,
    ) -> Result<Solutions, (Solutions, OutOfWork)> {
        let live = match sat.liveness(budget) {
            Ok(l) => l,
            Err((l, e)) => return Err((l.solutions, e)),
        };
        self.shared.remember(live.solutions.clone());
        let all: Vec<Elem> = (0..self.model.cons.len()).map(Elem::Rule).collect();
        for (v, var) in self.model.vars.iter().enumerate() {
            let possible = live.possible[v];
            for (i, &p) in possible.iter().enumerate() {
                if p || Some(i) == var.unset() {
                    continue;
                }
                let why = self.sat_quickxplain(&[(v, i)], &[], false, &all, budget);
                match why {
                    Some(Ok(elems)) => a.dead.push((var.opt, i, rules_only(&elems))),
                    Some(Err(e)) => return Err((live.solutions, e)),
                    None => {}
                }
            }
            let open: Vec<usize> = (0..2).filter(|&i| possible[i]).collect();
            if let [only] = open.as_slice()
                && Some(*only) != var.unset()
            {
                a.forced.push((var.opt, *only));
            }
        }
        Ok(live.solutions)
    }

    fn redundant(&self, budget: &mut Budget) -> Result<Vec<usize>, (Vec<usize>, OutOfWork)> {
        let mut out: Vec<usize> = Vec::new();
        let n = self.model.cons.len();
        for r in 0..n {
            // Rule r is redundant if the others (minus rules already found redundant, so that two
            // equivalent rules are not both reported) admit no configuration that breaks it.
            let mut active = vec![true; n];
            active[r] = false;
            for &x in &out {
                active[x] = false;
            }
            let neg = [self.model.negation_of(&self.product.constraints[r])];
            let mut s = Solver::new(&self.model, self.model.initial())
                .with_active(active)
                .with_extra(&neg);
            match s.solve(&[], budget) {
                Ok(None) => out.push(r),
                Ok(Some(_)) => {}
                Err(e) => return Err((out, e)),
            }
        }
        Ok(out)
    }
}

/// The explanation made of the rules among the elements.
fn rules_only(elems: &[Elem]) -> Explanation {
    let mut rules: Vec<usize> = elems
        .iter()
        .filter_map(|e| match e {
            Elem::Rule(r) => Some(*r),
            Elem::Choice(..) => None,
        })
        .collect();
    rules.sort_unstable();
    Explanation {
        rules,
        choices: Vec::new(),
    }
}

fn rule_list(product: &Product, e: &Explanation) -> String {
    e.rules
        .iter()
        .filter_map(|&r| product.constraints.get(r))
        .map(|c| format!("`{}`", c.id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_name(product: &Product, engine: &Engine, opt: OptId, i: usize) -> String {
    match engine.model.vars[opt].value(i) {
        Some(v) => super::selection::value_text(product, opt, &v),
        None => "(unset)".to_owned(),
    }
}

/// Turns an analysis into located diagnostics.
pub fn diagnostics(engine: &Engine, a: &Analysis) -> Vec<Diagnostic> {
    let p = &engine.product;
    let mut out = Vec::new();
    if let Some(e) = &a.impossible {
        let mut d = Diagnostic::new(
            Code::ImpossibleProduct,
            p.span,
            format!(
                "`{}` has no valid configuration: its rules contradict each other",
                p.id
            ),
        )
        .with_help(format!("these rules cannot all hold: {}", rule_list(p, e)));
        for &r in &e.rules {
            if let Some(c) = p.constraints.get(r) {
                d = d.with_label(c.span, format!("`{}`", c.id));
            }
        }
        out.push(d);
    }
    for (opt, i, e) in &a.dead {
        let o = &p.options[*opt];
        let name = value_name(p, engine, *opt, *i);
        let span = match (&o.kind, engine.model.vars[*opt].value(*i)) {
            (OptionKind::Choice(c), Some(crate::catalog::model::Value::Choice(k))) => {
                c.values.get(k).map_or(o.span, |v| v.span)
            }
            _ => o.span,
        };
        let mut d = Diagnostic::new(
            Code::DeadValue,
            span,
            format!("`{}` = `{name}` can never be chosen", o.id),
        )
        .with_help(format!(
            "it is excluded by {}; remove the value or relax the rule",
            rule_list(p, e)
        ));
        for &r in &e.rules {
            if let Some(c) = p.constraints.get(r) {
                d = d.with_label(c.span, format!("`{}` excludes it", c.id));
            }
        }
        out.push(d);
    }
    for (opt, i) in &a.forced {
        let o = &p.options[*opt];
        out.push(
            Diagnostic::new(
                Code::ForcedValue,
                o.span,
                format!(
                    "`{}` is always `{}`: the rules leave no other choice",
                    o.id,
                    value_name(p, engine, *opt, *i)
                ),
            )
            .with_help("drop the option, or relax the rules that force it"),
        );
    }
    for &r in &a.redundant {
        if let Some(c) = p.constraints.get(r) {
            out.push(
                Diagnostic::new(Code::RedundantRule, c.span, format!("rule `{}` is implied by the other rules of `{}`", c.id, p.id))
                    .with_help("it never changes what customers can choose; remove it unless it documents intent"),
            );
        }
    }
    if let Some(e) = &a.conflicting_defaults {
        let names: Vec<String> = e
            .choices
            .iter()
            .map(|&o| format!("`{}`", p.options[o].id))
            .collect();
        let span = e.choices.first().map_or(p.span, |&o| p.options[o].span);
        let mut d = Diagnostic::new(
            Code::ConflictingDefaults,
            span,
            format!(
                "the defaults of {} break {}",
                names.join(", "),
                rule_list(p, e)
            ),
        )
        .with_help("a customer's first view would be invalid: change one of these defaults");
        for &o in e.choices.iter().skip(1) {
            d = d.with_label(p.options[o].span, "default involved");
        }
        out.push(d);
    }
    for what in &a.incomplete {
        out.push(
            Diagnostic::new(Code::AnalysisIncomplete, p.span, format!("analysis of `{}` stopped at its work limit: {what} not fully checked", p.id))
                .with_help("the product is usable; the rules may be too loose or too large to analyse exhaustively"),
        );
    }
    out
}

/// Runs analysis on every loaded product and adds its findings to the load result's diagnostics.
pub fn check_catalog(result: &mut LoadResult, work_limit: u64) {
    let Some(cat) = &result.catalog else { return };
    let mut extra = Vec::new();
    for p in cat.products() {
        let engine = Engine::new(p.clone()).with_work_limit(work_limit);
        match engine.analyze() {
            Ok(a) => extra.extend(diagnostics(&engine, &a)),
            Err(_) => extra.push(
                Diagnostic::new(
                    Code::AnalysisIncomplete,
                    p.span,
                    format!("analysis of `{}` stopped at its work limit", p.id),
                )
                .with_help(
                    "the product is usable; its rules are too large to analyse exhaustively",
                ),
            ),
        }
    }
    result.diagnostics.extend(extra);
    result.diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.start, a.code).cmp(&(b.span.file, b.span.start, b.code))
    });
}
