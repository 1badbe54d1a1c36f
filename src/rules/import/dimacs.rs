//! DIMACS CNF import: every variable becomes a boolean option, every clause a `require:` constraint (a one-row `forbid` table when it is long).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    ImportError, Imported, MAX_CELLS, MAX_CONSTRAINTS, MAX_VARIABLES, Renamed, check_input, finish,
    map_option_names, short,
};
use crate::rules::generate::{Cell, Form, Kind, Model, Opt, Rule};

/// Clauses with more distinct literals than this are written as a one-row `forbid` table (the
/// single assignment that falsifies every literal), which has no length limit, instead of an
/// expression (at most 4096 characters, and checked recursively).
pub const MAX_EXPR_LITERALS: usize = 32;

/// Imports a DIMACS CNF file (`p cnf V C`, clauses of non-zero literals ending in `0`, comments
/// `c …`). Variable `n` is named by a comment `c <n> <name>` (FeatureIDE also writes `c <n>$
/// <name>`), else `x<n>`; names are mapped to option ids by the rule in docs/import.md. Every
/// one of the `V` variables becomes a boolean option, used in a clause or not, so the valid
/// configurations are exactly the models of the formula. A `%` line ends the input (SATLIB).
pub fn import_dimacs(text: &str, product_id: &str) -> Result<Imported, ImportError> {
    check_input(text, product_id)?;
    let mut header: Option<(usize, usize)> = None;
    // Names from comments: variable → name.
    let mut named: BTreeMap<u64, String> = BTreeMap::new();
    let mut clauses: Vec<Vec<i64>> = Vec::new();
    let mut current: Vec<i64> = Vec::new();
    let mut literals = 0usize;
    let mut notes: Vec<String> = Vec::new();
    let mut ignored_names = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let syntax = |message: String| ImportError::Syntax {
            line: line_no,
            message,
        };
        if let Some(rest) = line.strip_prefix('c') {
            // A comment; `c <n> <name>` names variable n.
            let rest = rest.trim_start();
            let (num, name) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let num = num.strip_suffix('$').unwrap_or(num);
            let name = name.trim();
            match num.parse::<u64>() {
                Ok(n) if !name.is_empty() => {
                    if named.contains_key(&n) || named.len() >= MAX_VARIABLES {
                        ignored_names += 1;
                    } else {
                        named.insert(n, name.to_owned());
                    }
                }
                _ => {}
            }
            continue;
        }
        if line.starts_with('%') {
            notes.push(format!("line {line_no}: `%` ends the input (SATLIB style)"));
            break;
        }
        if let Some(rest) = line.strip_prefix('p') {
            if header.is_some() {
                return Err(syntax("a second `p` header".into()));
            }
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let [fmt, v, c] = parts[..] else {
                return Err(syntax(
                    "the header must read `p cnf <variables> <clauses>`".into(),
                ));
            };
            if fmt != "cnf" {
                return Err(ImportError::Unsupported(format!(
                    "line {line_no}: the `{}` format (only `p cnf` is supported)",
                    short(fmt)
                )));
            }
            let parse = |s: &str, what: &str| {
                s.parse::<u64>().map_err(|_| {
                    syntax(format!(
                        "the number of {what} `{}` is not a whole number",
                        short(s)
                    ))
                })
            };
            let (v, c) = (parse(v, "variables")?, parse(c, "clauses")?);
            if v > MAX_VARIABLES as u64 {
                return Err(ImportError::TooLarge(format!(
                    "{v} variables; the limit is {MAX_VARIABLES}"
                )));
            }
            if c > MAX_CONSTRAINTS as u64 {
                return Err(ImportError::TooLarge(format!(
                    "{c} clauses; the limit is {MAX_CONSTRAINTS}"
                )));
            }
            header = Some((v as usize, c as usize));
            continue;
        }
        let Some((vars, _)) = header else {
            return Err(syntax(
                "a clause before the `p cnf` header (or a line that is not DIMACS)".into(),
            ));
        };
        for tok in line.split_whitespace() {
            let lit: i64 = tok
                .parse()
                .map_err(|_| syntax(format!("`{}` is not a literal", short(tok))))?;
            if lit == 0 {
                if clauses.len() >= MAX_CONSTRAINTS {
                    return Err(ImportError::TooLarge(format!(
                        "more than {MAX_CONSTRAINTS} clauses"
                    )));
                }
                clauses.push(std::mem::take(&mut current));
                continue;
            }
            if lit.unsigned_abs() > vars as u64 {
                return Err(syntax(format!(
                    "literal {lit} names a variable beyond the {vars} the header declares"
                )));
            }
            literals += 1;
            if literals > MAX_CELLS {
                return Err(ImportError::TooLarge(format!(
                    "more than {MAX_CELLS} literals"
                )));
            }
            current.push(lit);
        }
    }
    let Some((vars, declared)) = header else {
        return Err(ImportError::Syntax {
            line: 1,
            message: "no `p cnf <variables> <clauses>` header".into(),
        });
    };
    if !current.is_empty() {
        if clauses.len() >= MAX_CONSTRAINTS {
            return Err(ImportError::TooLarge(format!(
                "more than {MAX_CONSTRAINTS} clauses"
            )));
        }
        notes.push("the last clause has no terminating 0; it is read as complete".into());
        clauses.push(current);
    }
    if vars == 0 {
        return Err(ImportError::Invalid(
            "the formula has no variables (a product needs at least one option)".into(),
        ));
    }
    notes.insert(0, format!("{vars} variables, {} clauses", clauses.len()));
    if declared != clauses.len() {
        notes.push(format!(
            "the header declares {declared} clauses; {} were read",
            clauses.len()
        ));
    }
    let out_of_range = named.keys().filter(|&&n| n == 0 || n > vars as u64).count();
    if out_of_range > 0 {
        notes.push(format!(
            "{out_of_range} name comments name no variable of 1..{vars} and are ignored"
        ));
    }
    if ignored_names > 0 {
        notes.push(format!(
            "{ignored_names} name comments rename an already named variable (or exceed {MAX_VARIABLES} names) and are ignored; the first name counts"
        ));
    }

    // Names.
    let sources: Vec<String> = (1..=vars)
        .map(|n| match named.get(&(n as u64)) {
            Some(name) => name.clone(),
            None => format!("x{n}"),
        })
        .collect();
    let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
    let ids = map_option_names(&refs);
    let mut renamed = Vec::new();
    for (n, (src, id)) in sources.iter().zip(&ids).enumerate() {
        if src != id {
            renamed.push(Renamed {
                what: format!("variable {}", n + 1),
                source: src.clone(),
                id: id.clone(),
            });
        }
    }
    let options: Vec<Opt> = sources
        .iter()
        .zip(&ids)
        .map(|(src, id)| Opt {
            id: id.clone(),
            label: (src != id).then(|| short(src)),
            group: None,
            kind: Kind::Boolean,
        })
        .collect();

    // Clauses.
    let id_of = |lit: i64| -> &str {
        usize::try_from(lit.unsigned_abs())
            .ok()
            .and_then(|n| ids.get(n.wrapping_sub(1)))
            .map_or("", String::as_str)
    };
    let mut rules = Vec::with_capacity(clauses.len());
    let (mut tables, mut empty) = (0usize, 0usize);
    for (i, clause) in clauses.iter().enumerate() {
        // Distinct literals in order; a clause with x and not x always holds.
        let mut seen: BTreeSet<i64> = BTreeSet::new();
        let lits: Vec<i64> = clause.iter().copied().filter(|&l| seen.insert(l)).collect();
        let tautology = lits.iter().find(|&&l| seen.contains(&-l)).copied();
        let form = if let Some(l) = tautology.filter(|_| lits.len() > MAX_EXPR_LITERALS) {
            let v = id_of(l);
            Form::Require(format!("{v} or not {v}"))
        } else if lits.is_empty() {
            empty += 1;
            Form::Require("false".into())
        } else if lits.len() <= MAX_EXPR_LITERALS {
            let parts: Vec<String> = lits
                .iter()
                .map(|&l| {
                    if l > 0 {
                        id_of(l).to_owned()
                    } else {
                        format!("not {}", id_of(l))
                    }
                })
                .collect();
            Form::Require(parts.join(" or "))
        } else {
            tables += 1;
            Form::Table {
                options: lits.iter().map(|&l| id_of(l).to_owned()).collect(),
                allow: false,
                rows: vec![
                    lits.iter()
                        .map(|&l| Cell::Values(vec![(l < 0).to_string()]))
                        .collect(),
                ],
            }
        };
        rules.push(Rule {
            id: format!("c{}", i + 1),
            message: format!("Clause {} of the CNF formula.", i + 1),
            form,
        });
    }
    if tables > 0 {
        notes.push(format!(
            "{tables} clauses of more than {MAX_EXPR_LITERALS} literals are written as one-row forbid tables"
        ));
    }
    if empty > 0 {
        notes.push(format!(
            "{empty} empty clauses: the formula has no model (`require: false`)"
        ));
    }
    let model = Model {
        id: product_id.to_owned(),
        name: format!("Imported CNF ({vars} variables, {} clauses)", clauses.len()),
        description: Some("Imported from DIMACS CNF.".into()),
        comment: vec![format!(
            "Imported from DIMACS CNF by bespoke::rules::import::import_dimacs: {vars} variables, {} clauses.",
            clauses.len()
        )],
        groups: Vec::new(),
        options,
        rules,
    };
    finish(&model, renamed, notes)
}
