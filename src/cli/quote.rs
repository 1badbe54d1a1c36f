//! `bespoke quote`: the exact, explained price of a complete selection, or the price range of a partial one; with the variant SKU and bill of materials of the selection (or of its default completion).

use std::io::Write;

use crate::catalog::model::Value;
use crate::pricing::{self, PriceRange, Quote};
use crate::rules::Engine;

use super::{Common, EXIT_CATALOG_ERRORS, EXIT_OK, EXIT_USAGE};

/// Arguments of `bespoke quote`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuoteArgs {
    /// The product id.
    pub(crate) product: String,
    /// Choices as option=value. Left-out options make the selection partial: the range of
    /// totals over its valid completions is printed, with the quote of the default completion.
    pub(crate) choices: Vec<String>,
    /// The quantity (the product's quantity option; its default when omitted).
    #[arg(long)]
    pub(crate) quantity: Option<i64>,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Runs `bespoke quote`.
pub fn run(args: QuoteArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match go(&args, out, err) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

fn go(args: &QuoteArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), u8> {
    let cat = super::load_catalog(&args.common, err)?;
    let product = super::find_product(&cat, &args.product, err)?;
    let mut sel = super::parse_choices(&product, &args.choices, err)?;
    if let Some(n) = args.quantity {
        let Some(q) = product.quantity_option() else {
            if n == 1 {
                return quote_and_print(args, &product, sel, out, err);
            }
            let _ = writeln!(
                err,
                "error: `{}` has no quantity option; it is sold one at a time",
                product.id
            );
            return Err(EXIT_USAGE);
        };
        let qid = product.options.get(q).map_or("quantity", |o| o.id.as_str());
        if sel.get(q).is_some() {
            let _ = writeln!(
                err,
                "error: `{qid}` is chosen twice (--quantity and {qid}=)"
            );
            return Err(EXIT_USAGE);
        }
        let pairs = [(qid.to_owned(), n.to_string())];
        match crate::rules::Selection::parse(&product, &pairs) {
            Ok(q) => sel.choices.extend(q.choices),
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return Err(EXIT_USAGE);
            }
        }
    }
    quote_and_print(args, &product, sel, out, err)
}

fn quote_and_print(
    args: &QuoteArgs,
    product: &std::sync::Arc<crate::catalog::Product>,
    mut sel: crate::rules::Selection,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), u8> {
    let engine = Engine::new(product.clone()).with_work_limit(args.common.work_limit);
    let fail = |err: &mut dyn Write, e: &dyn std::fmt::Display| {
        let _ = writeln!(err, "error: {e}");
        EXIT_CATALOG_ERRORS
    };
    // An unchosen quantity is its default, in the quote and in the range alike.
    if let Some(q) = product.quantity_option()
        && sel.get(q).is_none()
    {
        let d = match product.options.get(q).map(|o| (&o.default, &o.kind)) {
            Some((Some(Value::Int(n)), _)) => *n,
            Some((_, crate::catalog::OptionKind::Quantity(r))) => r.min,
            _ => 1,
        };
        sel.choices.push((q, Value::Int(d)));
    }
    let validation = engine.validate(&sel);
    if validation.missing.is_empty() {
        if !validation.valid {
            let rules: Vec<String> = validation
                .violations
                .iter()
                .filter_map(|v| product.constraints.get(v.rule))
                .map(|c| format!("{} ({})", c.message, c.id))
                .collect();
            let _ = writeln!(
                err,
                "error: the selection breaks the rules: {}",
                rules.join("; ")
            );
            return Err(EXIT_CATALOG_ERRORS);
        }
        let q = pricing::quote(product, &sel).map_err(|e| fail(err, &e))?;
        let bom = crate::orders::bill(product, &sel).map_err(|e| fail(err, &e))?;
        if args.common.json {
            let mut doc = serde_json::to_value(&q).unwrap_or_default();
            doc["product"] = serde_json::json!(product.id);
            doc["complete"] = serde_json::json!(true);
            fulfilment_json(&mut doc, product, &sel, &bom);
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        } else {
            let _ = write!(out, "{}", quote_text(&product.name, &q));
            let _ = write!(out, "{}", fulfilment_text(product, &sel, &bom));
        }
        return Ok(());
    }
    let range = pricing::range(&engine, &sel).map_err(|e| fail(err, &e))?;
    let completion = engine
        .complete(&sel)
        .map_err(|e| fail(err, &e))?
        .ok_or_else(|| fail(err, &pricing::PricingError::NoCompletion))?;
    let completed = crate::rules::Selection {
        choices: engine
            .model
            .vars
            .iter()
            .zip(&completion)
            .filter_map(|(var, &i)| {
                // Keep the customer's own values (texts keep their characters).
                match sel.get(var.opt) {
                    Some(v) => Some((var.opt, v.clone())),
                    None => var.value(i).map(|v| (var.opt, v)),
                }
            })
            .collect(),
    };
    let q = pricing::quote(product, &completed).map_err(|e| fail(err, &e))?;
    let bom = crate::orders::bill(product, &completed).map_err(|e| fail(err, &e))?;
    if args.common.json {
        let mut doc = serde_json::to_value(&q).unwrap_or_default();
        doc["product"] = serde_json::json!(product.id);
        doc["complete"] = serde_json::json!(false);
        doc["min"] = serde_json::json!(range.min.to_string());
        doc["max"] = serde_json::json!(range.max.to_string());
        fulfilment_json(&mut doc, product, &completed, &bom);
        doc["completion"] = serde_json::Value::Object(
            completed
                .choices
                .iter()
                .filter(|(o, _)| sel.get(*o).is_none())
                .filter_map(|(o, v)| {
                    let opt = product.options.get(*o)?;
                    // The engine completes texts by length only: an empty text is "".
                    let text = match (&opt.kind, v) {
                        (crate::catalog::OptionKind::Text(_), Value::Int(0)) => String::new(),
                        (crate::catalog::OptionKind::Text(_), Value::Int(n)) => {
                            format!("<{n} characters>")
                        }
                        _ => crate::rules::selection::value_text(product, *o, v),
                    };
                    Some((opt.id.clone(), serde_json::json!(text)))
                })
                .collect(),
        );
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = write!(out, "{}", range_text(&range));
        let _ = writeln!(out, "With the defaults for the rest:");
        let _ = write!(out, "{}", quote_text(&product.name, &q));
        let _ = write!(out, "{}", fulfilment_text(product, &completed, &bom));
    }
    Ok(())
}

/// Adds `variant_sku` (null without a template) and `bom` (as orders show them) to a JSON answer.
fn fulfilment_json(
    doc: &mut serde_json::Value,
    product: &crate::catalog::Product,
    sel: &crate::rules::Selection,
    bom: &[crate::orders::BomLine],
) {
    doc["variant_sku"] = serde_json::json!(crate::orders::variant_sku(product, sel));
    let lines: Vec<_> = bom
        .iter()
        .map(crate::app::fulfilment::BomLineView::of)
        .collect();
    doc["bom"] = serde_json::to_value(lines).unwrap_or_default();
}

/// The variant SKU and bill of materials as text; empty when the product declares neither.
fn fulfilment_text(
    product: &crate::catalog::Product,
    sel: &crate::rules::Selection,
    bom: &[crate::orders::BomLine],
) -> String {
    let mut s = String::new();
    if let Some(sku) = crate::orders::variant_sku(product, sel) {
        s.push_str(&format!("Variant SKU: {sku}\n"));
    }
    if bom.is_empty() {
        return s;
    }
    s.push_str("Bill of materials:\n");
    let width = bom
        .iter()
        .map(|l| l.part.chars().count())
        .max()
        .unwrap_or(0);
    for l in bom {
        let from: Vec<String> = l.from.iter().map(ToString::to_string).collect();
        s.push_str(&format!(
            "  {:<width$}  {:>12} {:<4}  {}\n",
            l.part,
            l.quantity.to_string(),
            l.unit.as_deref().unwrap_or(""),
            from.join(", ")
        ));
    }
    s
}

fn range_text(r: &PriceRange) -> String {
    if r.min == r.max {
        format!("Price: {} {} (every valid completion)\n", r.min, r.currency)
    } else {
        format!(
            "From {} to {} {} (over every valid completion, quantity {})\n",
            r.min, r.max, r.currency, r.quantity
        )
    }
}

fn quote_text(name: &str, q: &Quote) -> String {
    let mut s = format!("{name} — quantity {}, {}\n", q.quantity, q.currency);
    let width = q
        .lines
        .iter()
        .map(|l| l.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    for l in &q.lines {
        let per = l
            .unit_amount
            .filter(|_| q.quantity != 1)
            .map(|u| format!("{u} × {}", q.quantity))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {:<width$}  {:>16}  {:>12}   {}\n",
            l.label, per, l.amount, l.source
        ));
    }
    s.push_str(&format!(
        "  {:<width$}  {:>16}  {:>12}\n",
        "Unit price", "", q.unit
    ));
    s.push_str(&format!(
        "  {:<width$}  {:>16}  {:>12} {}\n",
        "Total", "", q.total, q.currency
    ));
    s
}
