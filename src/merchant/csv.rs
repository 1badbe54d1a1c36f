//! Import from a shop's product CSV (Shopify or WooCommerce export): options and values per variant, variant prices and SKUs become a product YAML whose sold combinations are a table constraint and whose prices are price rules.
//!
//! The mapping is documented in docs/merchant.md ("Importing a shop CSV"). Like the other
//! importers, the output is ordinary catalog YAML that the loader checks; names are mapped to
//! ids by the same rule (`rules::import::map_option_names` / `map_value_names`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::catalog::FileSet;
use crate::rules::import::{Renamed, map_option_names, map_value_names};

/// Largest CSV accepted.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Most rows read.
pub const MAX_ROWS: usize = 100_000;
/// Most options (CSV option / attribute columns) per product.
pub const MAX_OPTIONS: usize = 64;
/// Largest YAML file written (the loader's limit is 1 MiB; we stay 1/8 below it).
pub const MAX_OUTPUT_BYTES: usize = 896 * 1024;
/// Currency of imported products (shop exports do not name one); edit it after importing.
pub const CURRENCY: &str = "EUR";
/// Minor units of [`CURRENCY`]: prices with more decimals are refused.
const MINOR_UNITS: u32 = 2;
/// Id of the table constraint holding the sold combinations.
pub const TABLE_ID: &str = "sold-variants";

/// Why a CSV could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("the CSV is {0} bytes; the limit is {MAX_INPUT_BYTES}")]
    TooLarge(usize),
    #[error("the CSV does not parse: {0}")]
    Syntax(String),
    #[error("the CSV has no {0} column")]
    MissingColumn(&'static str),
    #[error("row {row}: {message}")]
    Row { row: usize, message: String },
    #[error("{0}")]
    Products(String),
    #[error("no variant has option values and a price")]
    NoVariants,
    #[error("`{0}` is not a valid product id ([a-z0-9][a-z0-9-]*, at most 64 characters)")]
    ProductId(String),
    #[error("the product would be {0} bytes of YAML, over the loader's limit; split it")]
    Output(usize),
}

/// One sold variant: a value id per option (in option order), its SKU and price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// CSV row (1-based, the header is row 1).
    pub row: usize,
    pub values: Vec<String>,
    pub sku: Option<String>,
    pub price: Decimal,
}

/// One option as imported: its id, its source name and its values (id, source name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedOption {
    pub id: String,
    pub name: String,
    pub values: Vec<(String, String)>,
}

/// The result of an import: the product and its variants, and the YAML to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvImport {
    pub id: String,
    pub name: String,
    pub options: Vec<ImportedOption>,
    pub variants: Vec<Variant>,
    pub base_price: Decimal,
    /// Whether every combination of values is sold (then no table constraint is written).
    pub all_combinations: bool,
    pub renamed: Vec<Renamed>,
    pub notes: Vec<String>,
    pub product_yaml: String,
    pub rules_yaml: String,
}

impl CsvImport {
    /// `catalog/<id>.yaml` and `rules/<id>.yaml`, relative to the catalog directory.
    pub fn files(&self) -> FileSet {
        let mut f = FileSet::new();
        f.insert(
            format!("catalog/{}.yaml", self.id),
            self.product_yaml.clone(),
        );
        f.insert(format!("rules/{}.yaml", self.id), self.rules_yaml.clone());
        f
    }

    /// Notes, then every rename, as text (empty when there is nothing to say).
    pub fn report(&self) -> String {
        let mut s = String::new();
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        for r in &self.renamed {
            s.push_str(&format!(
                "renamed {} `{}` to `{}`\n",
                r.what, r.source, r.id
            ));
        }
        s
    }
}

fn is_product_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Column positions found in the header.
#[derive(Debug, Default)]
struct Columns {
    /// Shopify `Handle`: groups rows into products.
    handle: Option<usize>,
    /// `Title` (Shopify) or `Name` (WooCommerce).
    title: Option<usize>,
    /// WooCommerce `Type` (`variable`, `variation`, `simple`).
    kind: Option<usize>,
    sku: Option<usize>,
    price: Option<usize>,
    /// (option number, name column, value column).
    options: Vec<(u32, Option<usize>, Option<usize>)>,
}

fn option_column(h: &str) -> Option<(u32, bool)> {
    // Shopify: "Option1 Name" / "Option1 Value"; WooCommerce: "Attribute 1 name" / "Attribute 1 value(s)".
    let rest = h
        .strip_prefix("option")
        .or_else(|| h.strip_prefix("attribute"))?
        .trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: u32 = digits.parse().ok()?;
    let tail = rest[digits.len()..].trim();
    match tail {
        "name" => Some((n, true)),
        "value" | "value(s)" | "values" => Some((n, false)),
        _ => None,
    }
}

fn columns(header: &csv::StringRecord) -> Columns {
    let mut c = Columns::default();
    let mut opts: BTreeMap<u32, (Option<usize>, Option<usize>)> = BTreeMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
        match h.as_str() {
            "handle" => c.handle = Some(i),
            "title" | "name" => c.title = c.title.or(Some(i)),
            "type" => c.kind = Some(i),
            "variant sku" | "sku" => c.sku = c.sku.or(Some(i)),
            "variant price" | "regular price" | "price" => c.price = c.price.or(Some(i)),
            _ => {
                if let Some((n, is_name)) = option_column(&h) {
                    let e = opts.entry(n).or_default();
                    if is_name {
                        e.0 = Some(i);
                    } else {
                        e.1 = Some(i);
                    }
                }
            }
        }
    }
    c.options = opts.into_iter().map(|(n, (a, b))| (n, a, b)).collect();
    c
}

/// Parses a price: a plain decimal with at most the currency's minor units.
fn price(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1
        && !t.starts_with('.');
    let d = if ok { Decimal::from_str(t).ok() } else { None };
    match d {
        Some(mut d) if d.scale() <= MINOR_UNITS => {
            d.rescale(MINOR_UNITS);
            Ok(d)
        }
        Some(_) => Err(format!("price `{t}` has more than {MINOR_UNITS} decimals")),
        None => Err(format!("`{t}` is not a price (write it as 19.90)")),
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Imports a product from a Shopify- or WooCommerce-style CSV. When the CSV holds several
/// products, the one whose handle (mapped like an id) is `product_id` is imported.
pub fn import_csv(text: &str, product_id: &str) -> Result<CsvImport, CsvError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(CsvError::TooLarge(text.len()));
    }
    if !is_product_id(product_id) {
        return Err(CsvError::ProductId(product_id.to_owned()));
    }
    let text = text.trim_start_matches('\u{feff}');
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = rd
        .headers()
        .map_err(|e| CsvError::Syntax(e.to_string()))?
        .clone();
    let cols = columns(&header);
    let price_col = cols.price.ok_or(CsvError::MissingColumn(
        "price (`Variant Price` or `Regular price`)",
    ))?;
    if cols.options.iter().all(|(_, _, v)| v.is_none()) {
        return Err(CsvError::MissingColumn(
            "option value (`Option1 Value` or `Attribute 1 value(s)`)",
        ));
    }
    if cols.options.len() > MAX_OPTIONS {
        return Err(CsvError::Row {
            row: 1,
            message: format!("more than {MAX_OPTIONS} option columns"),
        });
    }
    let mut rows: Vec<(usize, csv::StringRecord)> = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(CsvError::Row {
                row: i + 2,
                message: format!("more than {MAX_ROWS} rows"),
            });
        }
        let rec = rec.map_err(|e| CsvError::Syntax(e.to_string()))?;
        rows.push((i + 2, rec));
    }
    let cell = |rec: &csv::StringRecord, c: Option<usize>| -> String {
        c.and_then(|c| rec.get(c)).unwrap_or("").trim().to_owned()
    };
    // Group rows into products: by Shopify handle (a row without one continues the previous
    // product); without handles the file is one product.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (k, (_, rec)) in rows.iter().enumerate() {
        let h = cell(rec, cols.handle);
        let target = if h.is_empty() {
            groups.len().checked_sub(1)
        } else {
            group_of.get(&h).copied()
        };
        match target {
            Some(i) => groups[i].1.push(k),
            None => {
                group_of.insert(h.clone(), groups.len());
                groups.push((h, vec![k]));
            }
        }
    }
    let chosen: Vec<usize> = if groups.len() <= 1 {
        groups.pop().map(|(_, m)| m).unwrap_or_default()
    } else {
        let handles: Vec<String> = groups.iter().map(|(h, _)| h.clone()).collect();
        let mapped = map_value_names(&handles.iter().map(String::as_str).collect::<Vec<_>>());
        match mapped
            .iter()
            .zip(&handles)
            .position(|(m, h)| *h == product_id || m.to_ascii_lowercase() == product_id)
        {
            Some(i) => groups.swap_remove(i).1,
            None => {
                return Err(CsvError::Products(format!(
                    "the CSV holds {} products ({}); name the one to import in --out, e.g. catalog/{}.yaml",
                    handles.len(),
                    handles.join(", "),
                    handles.first().map_or("", String::as_str)
                )));
            }
        }
    };
    let mut notes = Vec::new();
    // Option names: the first non-empty name per option column (Shopify puts them on the first
    // row of a product, WooCommerce on the parent and variation rows).
    let mut opt_names: Vec<Option<String>> = vec![None; cols.options.len()];
    let mut title = String::new();
    for &k in &chosen {
        let rec = &rows[k].1;
        for (j, (_, nc, _)) in cols.options.iter().enumerate() {
            let n = cell(rec, *nc);
            if opt_names[j].is_none() && !n.is_empty() {
                opt_names[j] = Some(n);
            }
        }
        let kind = cell(rec, cols.kind).to_ascii_lowercase();
        if title.is_empty() || kind == "variable" {
            let t = cell(rec, cols.title);
            if !t.is_empty() && kind != "variation" {
                title = t;
            }
        }
    }
    // Variant rows: a price and at least one option value; WooCommerce parent rows
    // (`variable`) list every value and are not variants.
    struct Raw {
        row: usize,
        values: Vec<String>,
        sku: Option<String>,
        price: Decimal,
    }
    let mut raws: Vec<Raw> = Vec::new();
    for &k in &chosen {
        let (row, rec) = &rows[k];
        let kind = cell(rec, cols.kind).to_ascii_lowercase();
        if kind == "variable" {
            continue;
        }
        let values: Vec<String> = cols
            .options
            .iter()
            .map(|(_, _, vc)| cell(rec, *vc))
            .collect();
        let p = cell(rec, Some(price_col));
        if values.iter().all(String::is_empty) {
            if !p.is_empty() {
                notes.push(format!(
                    "row {row}: a price without option values is not a variant; skipped"
                ));
            }
            continue;
        }
        let price = price(&p).map_err(|m| CsvError::Row {
            row: *row,
            message: m,
        })?;
        let sku = Some(cell(rec, cols.sku)).filter(|s| !s.is_empty());
        raws.push(Raw {
            row: *row,
            values,
            sku,
            price,
        });
    }
    if raws.is_empty() {
        return Err(CsvError::NoVariants);
    }
    // Options used by some variant, in column order.
    let used: Vec<usize> = (0..cols.options.len())
        .filter(|&j| raws.iter().any(|r| !r.values[j].is_empty()))
        .collect();
    for r in &raws {
        if let Some(&j) = used.iter().find(|&&j| r.values[j].is_empty()) {
            return Err(CsvError::Row {
                row: r.row,
                message: format!(
                    "no value for option {} ({})",
                    cols.options[j].0,
                    opt_names[j].as_deref().unwrap_or("unnamed")
                ),
            });
        }
    }
    let source_names: Vec<String> = used
        .iter()
        .map(|&j| {
            opt_names[j]
                .clone()
                .unwrap_or_else(|| format!("option{}", cols.options[j].0))
        })
        .collect();
    let opt_ids = map_option_names(&source_names.iter().map(String::as_str).collect::<Vec<_>>());
    let mut renamed = Vec::new();
    let mut options = Vec::new();
    for (k, &j) in used.iter().enumerate() {
        if opt_ids[k] != source_names[k] {
            renamed.push(Renamed {
                what: "option".into(),
                source: source_names[k].clone(),
                id: opt_ids[k].clone(),
            });
        }
        let mut vals: Vec<String> = Vec::new();
        let mut known: HashSet<&str> = HashSet::new();
        for r in &raws {
            if known.insert(r.values[j].as_str()) {
                vals.push(r.values[j].clone());
            }
        }
        let ids = map_value_names(&vals.iter().map(String::as_str).collect::<Vec<_>>());
        for (s, id) in vals.iter().zip(&ids) {
            if s != id {
                renamed.push(Renamed {
                    what: format!("value of {}", opt_ids[k]),
                    source: s.clone(),
                    id: id.clone(),
                });
            }
        }
        options.push(ImportedOption {
            id: opt_ids[k].clone(),
            name: source_names[k].clone(),
            values: ids.into_iter().zip(vals).collect(),
        });
    }
    // Variants with value ids; repeated combinations must agree on the price.
    let mut variants: Vec<Variant> = Vec::new();
    let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let lookup: Vec<HashMap<&str, &str>> = options
        .iter()
        .map(|o| {
            o.values
                .iter()
                .map(|(id, src)| (src.as_str(), id.as_str()))
                .collect()
        })
        .collect();
    for r in raws {
        let values: Vec<String> = used
            .iter()
            .zip(&lookup)
            .map(|(&j, l)| {
                l.get(r.values[j].as_str())
                    .map_or_else(String::new, |id| (*id).to_owned())
            })
            .collect();
        if let Some(&first) = seen.get(&values) {
            let v: &Variant = &variants[first];
            if v.price != r.price {
                return Err(CsvError::Row {
                    row: r.row,
                    message: format!(
                        "the same variant as row {} with another price ({} vs {})",
                        v.row, r.price, v.price
                    ),
                });
            }
            notes.push(format!(
                "row {}: the same variant as row {}; kept once",
                r.row, v.row
            ));
            continue;
        }
        seen.insert(values.clone(), variants.len());
        variants.push(Variant {
            row: r.row,
            values,
            sku: r.sku,
            price: r.price,
        });
    }
    let base_price = variants
        .iter()
        .map(|v| v.price)
        .min()
        .unwrap_or(Decimal::ZERO);
    let combos = options
        .iter()
        .try_fold(1usize, |acc, o| acc.checked_mul(o.values.len()));
    let all_combinations = combos == Some(variants.len());
    let name = if title.is_empty() {
        product_id.to_owned()
    } else {
        title
    };
    let mut imp = CsvImport {
        id: product_id.to_owned(),
        name,
        options,
        variants,
        base_price,
        all_combinations,
        renamed,
        notes,
        product_yaml: String::new(),
        rules_yaml: String::new(),
    };
    imp.product_yaml = product_yaml(&imp);
    imp.rules_yaml = rules_yaml(&imp);
    let size = imp.product_yaml.len().max(imp.rules_yaml.len());
    if size > MAX_OUTPUT_BYTES {
        return Err(CsvError::Output(size));
    }
    Ok(imp)
}

fn product_yaml(imp: &CsvImport) -> String {
    let mut s = String::new();
    s.push_str("# Imported from a shop CSV by `bespoke import csv`: one option per shop option, the sold\n");
    s.push_str(&format!(
        "# variants as the table `{TABLE_ID}` in rules/{}.yaml, variant prices as price rules there.\n",
        imp.id
    ));
    s.push_str(&format!("id: {}\n", imp.id));
    s.push_str(&format!("name: {}\n", q(&imp.name)));
    s.push_str(&format!("currency: {CURRENCY}\n"));
    s.push_str(&format!("base_price: \"{}\"\n", imp.base_price));
    s.push_str(&format!("rules: [rules/{}.yaml]\n", imp.id));
    s.push_str("options:\n");
    let one = imp.options.len() == 1;
    // With a single option, each value is one variant: value id -> SKU.
    let skus: HashMap<&str, &str> = if one {
        imp.variants
            .iter()
            .filter_map(|v| Some((v.values.first()?.as_str(), v.sku.as_deref()?)))
            .collect()
    } else {
        HashMap::new()
    };
    for o in &imp.options {
        s.push_str(&format!("  {}:\n", o.id));
        s.push_str("    type: choice\n");
        s.push_str(&format!("    label: {}\n", q(&o.name)));
        s.push_str("    values:\n");
        for (id, src) in &o.values {
            // With a single option a variant is a value: its SKU belongs to the value.
            let sku = if one {
                skus.get(id.as_str())
                    .map(|s| format!(", sku: {}", q(s)))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            s.push_str(&format!("      {}: {{ label: {}{sku} }}\n", q(id), q(src)));
        }
    }
    s
}

fn rules_yaml(imp: &CsvImport) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# Rules of `{}`, imported from a shop CSV by `bespoke import csv`.\n",
        imp.id
    ));
    if imp.all_combinations || imp.options.len() < 2 {
        s.push_str("# Every combination of values is sold, so no combination is ruled out.\n");
        s.push_str("constraints: []\n");
    } else {
        s.push_str("constraints:\n");
        s.push_str(&format!("  - id: {TABLE_ID}\n"));
        s.push_str(&format!(
            "    message: {}\n",
            q("This combination is not sold.")
        ));
        s.push_str(&format!(
            "    table: [{}]\n",
            imp.options
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        s.push_str("    allow:\n");
        for v in &imp.variants {
            let cells: Vec<String> = v.values.iter().map(|x| q(x)).collect();
            let sku = v
                .sku
                .as_deref()
                .map(|x| format!("   # SKU {x}"))
                .unwrap_or_default()
                .replace(['\n', '\r'], " ");
            s.push_str(&format!("      - [{}]{sku}\n", cells.join(", ")));
        }
    }
    let priced: Vec<&Variant> = imp
        .variants
        .iter()
        .filter(|v| v.price != imp.base_price)
        .collect();
    if priced.is_empty() {
        s.push_str("pricing: []\n");
        return s;
    }
    s.push_str(&format!(
        "# Each variant costs base_price ({}) plus its line below.\n",
        imp.base_price
    ));
    s.push_str("pricing:\n");
    for v in priced {
        let cond: Vec<String> = imp
            .options
            .iter()
            .zip(&v.values)
            .map(|(o, x)| format!("{} == {}", o.id, q(x)))
            .collect();
        let label = match &v.sku {
            Some(sku) => format!("Variant {sku}"),
            None => format!("Variant {}", v.values.join(" / ")),
        };
        s.push_str(&format!(
            "  - {{ id: variant-{}, label: {}, if: {}, add: \"{}\" }}\n",
            v.row,
            q(&label),
            q(&cond.join(" and ")),
            {
                let mut delta = v.price - imp.base_price;
                delta.rescale(MINOR_UNITS);
                delta
            }
        ));
    }
    s
}
