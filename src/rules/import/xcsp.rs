//! XCSP 2.1 import: every variable becomes a choice option over its domain's integers, every extension constraint an `allow` (supports) or `forbid` (conflicts) table.

use std::collections::{BTreeMap, BTreeSet};

use roxmltree::{Document, Node, ParsingOptions};

use super::{
    ImportError, Imported, MAX_CELLS, MAX_CONSTRAINTS, MAX_DOMAIN_VALUES, MAX_TOTAL_VALUES,
    MAX_VARIABLES, Renamed, check_input, finish, map_option_names, map_value_names, short,
};
use crate::rules::generate::{Cell, Form, Kind, Model, Opt, Rule};

/// Most XML nodes read.
const MAX_XML_NODES: u32 = 4_000_000;
/// Widest relation accepted.
const MAX_ARITY: usize = 1_000;

#[derive(Debug)]
struct Domain {
    name: String,
    /// Sorted, distinct.
    values: Vec<i64>,
    /// Value ids, parallel to `values`.
    ids: Vec<String>,
    used: bool,
}

#[derive(Debug)]
struct Relation {
    name: String,
    arity: usize,
    supports: bool,
    /// Tuples, flattened (`arity` values each).
    tuples: Vec<i64>,
}

/// Imports an XCSP 2.1 instance (`<instance>` with `<domains>`, `<variables>`, `<relations>`
/// and `<constraints>`). Only extension constraints are supported: a constraint whose
/// `reference` names a relation with `semantics="supports"` becomes an `allow` table, one with
/// `semantics="conflicts"` a `forbid` table. Predicates, global constraints, soft relations and
/// XCSP3 give [`ImportError::Unsupported`]. Each variable becomes a required choice option whose
/// values are its domain's integers in increasing order (`[0, 1, 2]`, negative `-3` as `_3`);
/// tuples holding a value outside a variable's domain can never match and are dropped (noted).
pub fn import_xcsp(text: &str, product_id: &str) -> Result<Imported, ImportError> {
    check_input(text, product_id)?;
    let doc = Document::parse_with_options(
        text,
        ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_XML_NODES,
        },
    )
    .map_err(|e| ImportError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "instance" {
        return Err(ImportError::Invalid(format!(
            "the root element is <{}>, not <instance>",
            short(root.tag_name().name())
        )));
    }
    if root
        .attribute("format")
        .is_some_and(|f| f.to_ascii_uppercase().starts_with("XCSP3"))
    {
        return Err(ImportError::Unsupported(
            "XCSP3 instances (only XCSP 2.1 is supported)".into(),
        ));
    }
    let section = |name: &str| {
        root.children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
    };
    let mut notes: Vec<String> = Vec::new();

    // Domains.
    let mut domains: Vec<Domain> = Vec::new();
    let mut domain_index: BTreeMap<String, usize> = BTreeMap::new();
    for d in elements(section("domains"), "domain")? {
        let name = attr(d, "name", "a <domain>")?;
        let values = parse_domain(&all_text(d), name)?;
        if let Some(nb) = d.attribute("nbValues")
            && nb.trim().parse::<usize>().ok() != Some(values.len())
        {
            notes.push(format!(
                "domain {:?} declares nbValues={:?} but holds {} values",
                short(name),
                short(nb),
                values.len()
            ));
        }
        if domain_index
            .insert(name.to_owned(), domains.len())
            .is_some()
        {
            return Err(ImportError::Invalid(format!(
                "two domains are named {:?}",
                short(name)
            )));
        }
        let texts: Vec<String> = values.iter().map(i64::to_string).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        domains.push(Domain {
            name: name.to_owned(),
            ids: map_value_names(&refs),
            values,
            used: false,
        });
    }

    // Variables.
    let mut var_names: Vec<String> = Vec::new();
    let mut var_domain: Vec<usize> = Vec::new();
    let mut var_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut total_values = 0usize;
    for v in elements(section("variables"), "variable")? {
        let name = attr(v, "name", "a <variable>")?;
        let dom = attr(v, "domain", "a <variable>")?;
        let Some(&di) = domain_index.get(dom) else {
            return Err(ImportError::Invalid(format!(
                "variable {:?} uses the undeclared domain {:?}",
                short(name),
                short(dom)
            )));
        };
        if var_names.len() >= MAX_VARIABLES {
            return Err(ImportError::TooLarge(format!(
                "more than {MAX_VARIABLES} variables"
            )));
        }
        total_values += domains[di].values.len();
        if total_values > MAX_TOTAL_VALUES {
            return Err(ImportError::TooLarge(format!(
                "the variables' domains hold more than {MAX_TOTAL_VALUES} values in all"
            )));
        }
        if var_index.insert(name.to_owned(), var_names.len()).is_some() {
            return Err(ImportError::Invalid(format!(
                "two variables are named {:?}",
                short(name)
            )));
        }
        if domains[di].values.is_empty() {
            return Err(ImportError::Invalid(format!(
                "variable {:?} has an empty domain",
                short(name)
            )));
        }
        domains[di].used = true;
        var_names.push(name.to_owned());
        var_domain.push(di);
    }
    if var_names.is_empty() {
        return Err(ImportError::Invalid(
            "the instance has no variables (a product needs at least one option)".into(),
        ));
    }

    // Relations and predicates.
    let mut relations: BTreeMap<String, Relation> = BTreeMap::new();
    let mut cells_read = 0usize;
    for r in elements(section("relations"), "relation")? {
        let rel = parse_relation(r, &mut cells_read, &mut notes)?;
        if relations.contains_key(&rel.name) {
            return Err(ImportError::Invalid(format!(
                "two relations are named {:?}",
                short(&rel.name)
            )));
        }
        relations.insert(rel.name.clone(), rel);
    }
    let predicates: BTreeSet<String> = elements(section("predicates"), "predicate")?
        .iter()
        .filter_map(|p| p.attribute("name").map(str::to_owned))
        .collect();

    // Names.
    let refs: Vec<&str> = var_names.iter().map(String::as_str).collect();
    let option_ids = map_option_names(&refs);
    let mut renamed: Vec<Renamed> = Vec::new();
    for (src, id) in var_names.iter().zip(&option_ids) {
        if src != id {
            renamed.push(Renamed {
                what: "variable".into(),
                source: src.clone(),
                id: id.clone(),
            });
        }
    }
    for d in domains.iter().filter(|d| d.used) {
        for (v, id) in d.values.iter().zip(&d.ids) {
            if v.to_string() != *id {
                renamed.push(Renamed {
                    what: format!("value of domain {}", short(&d.name)),
                    source: v.to_string(),
                    id: id.clone(),
                });
            }
        }
    }

    // Constraints.
    let mut rules: Vec<Rule> = Vec::new();
    let (mut dropped, mut emitted_cells, mut empty_allow) = (0usize, 0usize, 0usize);
    let (mut n_allow, mut n_forbid) = (0usize, 0usize);
    for (ci, c) in elements(section("constraints"), "constraint")?
        .into_iter()
        .enumerate()
    {
        if ci >= MAX_CONSTRAINTS {
            return Err(ImportError::TooLarge(format!(
                "more than {MAX_CONSTRAINTS} constraints"
            )));
        }
        let cname = c.attribute("name").unwrap_or("");
        let label = if cname.is_empty() {
            format!("#{}", ci + 1)
        } else {
            format!("{:?}", short(cname))
        };
        let reference = attr(c, "reference", "a <constraint>")?;
        if let Some(g) = reference.strip_prefix("global:") {
            return Err(ImportError::Unsupported(format!(
                "constraint {label} is the global constraint {:?}; only extension (table) constraints are supported",
                short(g)
            )));
        }
        let Some(rel) = relations.get(reference) else {
            if predicates.contains(reference) {
                return Err(ImportError::Unsupported(format!(
                    "constraint {label} uses the predicate {:?}; intensional constraints are not supported, only extension (table) constraints",
                    short(reference)
                )));
            }
            return Err(ImportError::Invalid(format!(
                "constraint {label} refers to {:?}, which is no relation",
                short(reference)
            )));
        };
        let mut scope: Vec<usize> = Vec::new();
        for name in attr(c, "scope", "a <constraint>")?.split_whitespace() {
            let Some(&v) = var_index.get(name) else {
                return Err(ImportError::Invalid(format!(
                    "constraint {label} names the undeclared variable {:?}",
                    short(name)
                )));
            };
            scope.push(v);
        }
        if scope.is_empty() {
            return Err(ImportError::Invalid(format!(
                "constraint {label} has an empty scope"
            )));
        }
        if let Some(a) = c.attribute("arity")
            && a.trim().parse::<usize>().ok() != Some(scope.len())
        {
            return Err(ImportError::Invalid(format!(
                "constraint {label} declares arity {:?} but its scope has {} variables",
                short(a),
                scope.len()
            )));
        }
        if rel.arity != scope.len() {
            return Err(ImportError::Invalid(format!(
                "constraint {label} has {} variables but its relation {:?} has arity {}",
                scope.len(),
                short(&rel.name),
                rel.arity
            )));
        }
        // Columns: the scope's distinct variables; a repeated variable must take equal values.
        let mut columns: Vec<usize> = Vec::new();
        let mut column_of: Vec<usize> = Vec::with_capacity(scope.len());
        for &v in &scope {
            match columns.iter().position(|&x| x == v) {
                Some(i) => column_of.push(i),
                None => {
                    column_of.push(columns.len());
                    columns.push(v);
                }
            }
        }
        let mut seen: BTreeSet<Vec<usize>> = BTreeSet::new();
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        'tuples: for t in rel.tuples.chunks(rel.arity.max(1)) {
            let mut row: Vec<Option<usize>> = vec![None; columns.len()];
            for (pos, &value) in t.iter().enumerate() {
                let col = column_of[pos];
                let dom = &domains[var_domain[columns[col]]];
                let Ok(vi) = dom.values.binary_search(&value) else {
                    dropped += 1;
                    continue 'tuples;
                };
                match row[col] {
                    Some(prev) if prev != vi => continue 'tuples,
                    _ => row[col] = Some(vi),
                }
            }
            let row: Vec<usize> = row.into_iter().map(|x| x.unwrap_or(0)).collect();
            if !seen.insert(row.clone()) {
                continue;
            }
            emitted_cells += row.len();
            if emitted_cells > MAX_CELLS {
                return Err(ImportError::TooLarge(format!(
                    "the tables would hold more than {MAX_CELLS} cells"
                )));
            }
            rows.push(
                row.iter()
                    .zip(&columns)
                    .map(|(&vi, &v)| {
                        let ids = &domains[var_domain[v]].ids;
                        Cell::Values(vec![ids.get(vi).cloned().unwrap_or_default()])
                    })
                    .collect(),
            );
        }
        if rel.supports {
            n_allow += 1;
            if rows.is_empty() {
                empty_allow += 1;
            }
        } else {
            n_forbid += 1;
        }
        rules.push(Rule {
            id: format!("c{}", ci + 1),
            message: format!(
                "XCSP constraint {label} on relation {:?} ({}).",
                short(&rel.name),
                if rel.supports {
                    "supports"
                } else {
                    "conflicts"
                }
            ),
            form: Form::Table {
                options: columns.iter().map(|&v| option_ids[v].clone()).collect(),
                allow: rel.supports,
                rows,
            },
        });
    }
    notes.insert(
        0,
        format!(
            "{} variables, {} constraints ({n_allow} supports → allow tables, {n_forbid} conflicts → forbid tables)",
            var_names.len(),
            rules.len()
        ),
    );
    if dropped > 0 {
        notes.push(format!(
            "{dropped} tuples hold a value outside their variable's domain and are dropped (they can never match)"
        ));
    }
    if empty_allow > 0 {
        notes.push(format!(
            "{empty_allow} supports constraints admit no tuple: the instance has no solution"
        ));
    }
    let unused = predicates.len();
    if unused > 0 {
        notes.push(format!(
            "{unused} predicates are declared; no constraint uses them"
        ));
    }
    let name = section("presentation")
        .and_then(|p| p.attribute("name"))
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| "Imported XCSP instance".to_owned(), short);
    let model = Model {
        id: product_id.to_owned(),
        name,
        description: Some("Imported from XCSP 2.1.".into()),
        comment: vec![format!(
            "Imported from XCSP 2.1 by bespoke::rules::import::import_xcsp: {} variables, {} constraints.",
            var_names.len(),
            rules.len()
        )],
        groups: Vec::new(),
        options: var_names
            .iter()
            .zip(&option_ids)
            .zip(&var_domain)
            .map(|((src, id), &di)| Opt {
                id: id.clone(),
                label: (src != id).then(|| short(src)),
                group: None,
                kind: Kind::Choice {
                    values: domains[di].ids.clone(),
                    required: true,
                },
            })
            .collect(),
        rules,
    };
    finish(&model, renamed, notes)
}

/// The child elements named `child` of an optional section; any other element is an error.
fn elements<'a, 'i>(
    section: Option<Node<'a, 'i>>,
    child: &str,
) -> Result<Vec<Node<'a, 'i>>, ImportError> {
    let Some(s) = section else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for n in s.children().filter(Node::is_element) {
        if n.tag_name().name() != child {
            return Err(ImportError::Invalid(format!(
                "<{}> holds a <{}>; expected <{child}>",
                s.tag_name().name(),
                short(n.tag_name().name())
            )));
        }
        out.push(n);
    }
    Ok(out)
}

fn attr<'a>(n: Node<'a, '_>, name: &str, what: &str) -> Result<&'a str, ImportError> {
    n.attribute(name).ok_or_else(|| {
        let pos = n.document().text_pos_at(n.range().start);
        ImportError::Invalid(format!(
            "{what} at line {} has no `{name}` attribute",
            pos.row
        ))
    })
}

/// The text of an element (all its text children).
fn all_text(n: Node<'_, '_>) -> String {
    n.children()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect()
}

/// Parses `0..3 7 9` into sorted distinct values, within [`MAX_DOMAIN_VALUES`].
fn parse_domain(text: &str, name: &str) -> Result<Vec<i64>, ImportError> {
    let mut values: BTreeSet<i64> = BTreeSet::new();
    let bad = |tok: &str| {
        ImportError::Invalid(format!(
            "domain {:?}: `{}` is not an integer or a range `a..b`",
            short(name),
            short(tok)
        ))
    };
    let too_large = || {
        ImportError::TooLarge(format!(
            "domain {:?} holds more than {MAX_DOMAIN_VALUES} values",
            short(name)
        ))
    };
    for tok in text.split_whitespace() {
        if let Some((a, b)) = tok.split_once("..") {
            let a: i64 = a.parse().map_err(|_| bad(tok))?;
            let b: i64 = b.parse().map_err(|_| bad(tok))?;
            if b < a {
                return Err(ImportError::Invalid(format!(
                    "domain {:?}: the range `{}` is empty",
                    short(name),
                    short(tok)
                )));
            }
            if i128::from(b) - i128::from(a) >= MAX_DOMAIN_VALUES as i128 {
                return Err(too_large());
            }
            for v in a..=b {
                values.insert(v);
            }
        } else {
            values.insert(tok.parse().map_err(|_| bad(tok))?);
        }
        if values.len() > MAX_DOMAIN_VALUES {
            return Err(too_large());
        }
    }
    Ok(values.into_iter().collect())
}

fn parse_relation(
    r: Node<'_, '_>,
    cells_read: &mut usize,
    notes: &mut Vec<String>,
) -> Result<Relation, ImportError> {
    let name = attr(r, "name", "a <relation>")?.to_owned();
    let arity_text = attr(r, "arity", "a <relation>")?;
    let arity: usize = arity_text
        .trim()
        .parse()
        .ok()
        .filter(|a| (1..=MAX_ARITY).contains(a))
        .ok_or_else(|| {
            ImportError::Invalid(format!(
                "relation {:?}: arity {:?} is not a whole number from 1 to {MAX_ARITY}",
                short(&name),
                short(arity_text)
            ))
        })?;
    let supports = match r.attribute("semantics").map(str::trim) {
        Some("supports") => true,
        Some("conflicts") => false,
        Some("soft") => {
            return Err(ImportError::Unsupported(format!(
                "relation {:?} is soft (weighted); only supports and conflicts are supported",
                short(&name)
            )));
        }
        Some(other) => {
            return Err(ImportError::Invalid(format!(
                "relation {:?}: unknown semantics {:?}",
                short(&name),
                short(other)
            )));
        }
        None => {
            return Err(ImportError::Invalid(format!(
                "relation {:?} has no `semantics` (supports or conflicts)",
                short(&name)
            )));
        }
    };
    let text = all_text(r);
    let mut tuples: Vec<i64> = Vec::new();
    let mut count = 0usize;
    if !text.trim().is_empty() {
        // Blank pieces (a trailing `|`) hold no tuple.
        for (i, t) in text.split('|').filter(|t| !t.trim().is_empty()).enumerate() {
            let mut n = 0usize;
            for tok in t.split_whitespace() {
                let v: i64 = tok.parse().map_err(|_| {
                    ImportError::Invalid(format!(
                        "relation {:?}, tuple {}: `{}` is not an integer",
                        short(&name),
                        i + 1,
                        short(tok)
                    ))
                })?;
                *cells_read += 1;
                if *cells_read > MAX_CELLS {
                    return Err(ImportError::TooLarge(format!(
                        "the relations hold more than {MAX_CELLS} values"
                    )));
                }
                tuples.push(v);
                n += 1;
            }
            if n != arity {
                return Err(ImportError::Invalid(format!(
                    "relation {:?}, tuple {}: {n} values for arity {arity}",
                    short(&name),
                    i + 1
                )));
            }
            count += 1;
        }
    }
    if let Some(nb) = r.attribute("nbTuples")
        && nb.trim().parse::<usize>().ok() != Some(count)
    {
        notes.push(format!(
            "relation {:?} declares nbTuples={:?} but holds {count} tuples",
            short(&name),
            short(nb)
        ));
    }
    Ok(Relation {
        name,
        arity,
        supports,
        tuples,
    })
}
