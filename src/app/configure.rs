//! The configure use case and its typed answer: availability per option (in the product's order, with labels, swatches and image URLs) with the reasons for what is unavailable, validation, price (quote or exact range), repair, completion and the preview URL; shared by the HTTP API and `bespoke configure --json`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppError;
use super::values::{Choices, OptionValue, value_label};
use crate::catalog::model::{OptId, OptionKind, Product, Value};
use crate::rules::{
    Engine, Explain, Explanation, OptionAvailability, Propagation, Repair, Selection,
};

/// Query parameters of a preview URL that are not choices; choices are `o.<option>=<value>`
/// (an option id never contains a dot), so no option name can collide with them.
pub const PREVIEW_CHOICE_PREFIX: &str = "o.";

/// The preview URL of a selection, pinned to the product version (cacheable forever).
pub fn preview_url(product: &Product, choices: &Choices, width: u32) -> String {
    let w = width.to_string();
    let mut q: Vec<(String, String)> = vec![
        ("v".to_owned(), product.version.clone()),
        ("width".to_owned(), w),
    ];
    q.extend(
        choices
            .set()
            .map(|(k, v)| (format!("{PREVIEW_CHOICE_PREFIX}{k}"), v.as_text())),
    );
    let query = serde_urlencoded::to_string(&q).unwrap_or_default();
    format!("/v1/products/{}/preview?{query}", product.id)
}

/// The URL of a choice value's image (`values[].image` in the catalog), pinned to the product
/// version: immutable, cacheable forever.
pub fn value_image_url(product: &Product, option: &str, value: &str) -> String {
    format!(
        "/v1/products/{}/options/{option}/values/{value}/image?v={}",
        product.id, product.version
    )
}

/// A rule named in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleRef {
    pub id: String,
    /// The merchant's message, written for shoppers.
    pub message: String,
}

/// A customer's choice named in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChoiceRef {
    pub option: String,
    pub value: OptionValue,
    /// The value as a shopper reads it (the choice value's label, "Yes"/"No", the text).
    pub label: String,
}

/// Why something is unavailable: rules and the customer's choices that together exclude it.
/// Minimal: without any one of them, it would be available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    pub rules: Vec<RuleRef>,
    /// The choices involved, in the order they were made (empty when the rules alone exclude it).
    pub choices: Vec<ChoiceRef>,
}

impl Reason {
    pub fn of(product: &Product, sel: &Selection, e: &Explanation) -> Reason {
        Reason {
            rules: e
                .rules
                .iter()
                .filter_map(|&r| product.constraints.get(r))
                .map(|c| RuleRef {
                    id: c.id.clone(),
                    message: c.message.clone(),
                })
                .collect(),
            choices: sel
                .choices
                .iter()
                .filter(|(o, _)| e.choices.contains(o))
                .map(|(o, v)| ChoiceRef {
                    option: product.options[*o].id.clone(),
                    value: OptionValue::of(product, *o, v),
                    label: value_label(product, *o, v),
                })
                .collect(),
        }
    }
}

/// An option's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptionType {
    Choice,
    Boolean,
    Integer,
    Quantity,
    Text,
    Upload,
}

impl OptionType {
    pub fn of(kind: &OptionKind) -> OptionType {
        match kind {
            OptionKind::Choice(_) => OptionType::Choice,
            OptionKind::Boolean { .. } => OptionType::Boolean,
            OptionKind::Integer(_) => OptionType::Integer,
            OptionKind::Quantity(_) => OptionType::Quantity,
            OptionKind::Text(_) => OptionType::Text,
            OptionKind::Upload(_) => OptionType::Upload,
        }
    }
}

/// Whether something (leaving an option unset, giving an upload) is still possible, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Availability {
    pub available: bool,
    /// When unavailable: why.
    pub reason: Option<Reason>,
    /// When unavailable: the reason was not worked out within this answer's time (`reason` is
    /// null); `POST /v1/products/{id}/explain` gives it.
    pub reason_deferred: bool,
}

/// One value of a choice or boolean option, with everything needed to draw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValueState {
    pub value: OptionValue,
    pub label: String,
    pub description: Option<String>,
    /// `#rrggbb`.
    pub swatch: Option<String>,
    /// The value's image (`values[].image`), as a URL pinned to the product version.
    pub image: Option<String>,
    pub sku: Option<String>,
    /// Surcharge, as a decimal string in the product's currency.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Whether choosing it still extends to a valid configuration.
    pub available: bool,
    /// When unavailable: why.
    pub reason: Option<Reason>,
    /// When unavailable: the reason was not worked out within this answer's time (`reason` is
    /// null); `POST /v1/products/{id}/explain` gives it.
    pub reason_deferred: bool,
}

/// A number (integer, quantity) or text length that is excluded, at an edge of the feasible set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Excluded {
    /// The number, or for text options the length in characters.
    pub value: i64,
    /// Why (null when deferred).
    pub reason: Option<Reason>,
    /// The reason was not worked out within this answer's time; `POST
    /// /v1/products/{id}/explain` gives it.
    pub reason_deferred: bool,
}

/// The feasible numbers of an integer or quantity option, or the feasible text lengths of a
/// text option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RangeState {
    /// Smallest feasible value (null: none is feasible).
    pub min: Option<i64>,
    /// Largest feasible value (null: none is feasible).
    pub max: Option<i64>,
    pub step: i64,
    /// The declared range, whatever the rules allow.
    pub declared_min: i64,
    pub declared_max: i64,
    /// `characters` for text lengths, else the option's unit (e.g. `cm`), if any.
    pub unit: Option<String>,
    /// Every feasible value, when they are not all the steps from `min` to `max`.
    pub values: Option<Vec<i64>>,
    /// Values just past each end or hole of the feasible set, each with why.
    pub excluded: Vec<Excluded>,
}

/// The static input rules of a text option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TextInput {
    pub min_length: u32,
    pub max_length: u32,
    /// Allowed characters, as a regular-expression class body (e.g. `A-Za-z0-9 .,`).
    pub charset: Option<String>,
    /// A regular expression the whole text must match.
    pub pattern: Option<String>,
}

/// One option's state under the selection.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OptionState {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    /// The group (UI section) the option belongs to.
    pub group: Option<String>,
    #[serde(rename = "type")]
    pub kind: OptionType,
    pub required: bool,
    /// The customer's choice, if any.
    pub selected: Option<OptionValue>,
    pub default: Option<OptionValue>,
    /// Choice and boolean options: every value, available or not (empty for other kinds).
    pub values: Vec<ValueState>,
    /// Integer, quantity and text options: the feasible numbers or text lengths.
    pub range: Option<RangeState>,
    /// Text options: the input rules.
    pub text: Option<TextInput>,
    /// Optional options: whether leaving it unset is still possible (null for required ones).
    pub unset: Option<Availability>,
    /// Upload options: whether giving an image is still possible.
    pub upload: Option<Availability>,
    /// Boolean (when on), text and upload (when given) options: the flat price, as a decimal string.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Integer options: price per unit; text options: price per character.
    #[schema(value_type = Option<String>)]
    pub price_per_unit: Option<Decimal>,
    /// For an open option: the value earlier customers' orders suggest, always one of the
    /// available values (null when the option is chosen, history cannot speak for it, or the
    /// selection conflicts).
    pub recommended: Option<Recommended>,
}

/// A recommended value of an open option, learned from order history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Recommended {
    /// One of the option's available values (null: leave the optional option unset).
    pub value: Option<OptionValue>,
    /// In [0, 1]: the value's share of the evidence among the available values (1 when it is
    /// the only one).
    pub confidence: f64,
}

/// Validity of the selection as a finished configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidationView {
    pub valid: bool,
    /// Required options without a value.
    pub missing: Vec<String>,
    pub violations: Vec<ViolationView>,
}

/// A rule the selection breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ViolationView {
    pub rule: String,
    pub message: String,
    pub options: Vec<String>,
}

impl ValidationView {
    pub fn of(product: &Product, v: &crate::rules::Validation) -> ValidationView {
        ValidationView {
            valid: v.valid,
            missing: v
                .missing
                .iter()
                .map(|&o| product.options[o].id.clone())
                .collect(),
            violations: v
                .violations
                .iter()
                .filter_map(|x| {
                    let c = product.constraints.get(x.rule)?;
                    Some(ViolationView {
                        rule: c.id.clone(),
                        message: c.message.clone(),
                        options: x
                            .options
                            .iter()
                            .map(|&o| product.options[o].id.clone())
                            .collect(),
                    })
                })
                .collect(),
        }
    }

    /// One line for a problem's `detail`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.violations.iter().map(|v| v.message.clone()).collect();
        if !self.missing.is_empty() {
            parts.push(format!("missing {}", self.missing.join(", ")));
        }
        parts.join("; ")
    }
}

/// The stage a price line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineStage {
    Unit,
    Tier,
    Order,
}

/// One line of a quote's breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuoteLine {
    /// `base`, `tier:<min>`, `<option>=<value>` or `rule:<id>`.
    pub source: String,
    pub label: String,
    pub stage: LineStage,
    /// For unit and tier lines: the amount per unit (`amount` = this × quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub unit_amount: Option<Decimal>,
    /// The line's share of the total (negative for reductions), as a decimal string.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// An exact, explained price: the `amount`s of `lines` sum exactly to `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    /// ISO 4217 code.
    pub currency: String,
    pub quantity: i64,
    /// The unit price after unit and tier stages, as a decimal string.
    #[schema(value_type = String)]
    pub unit: Decimal,
    #[schema(value_type = String)]
    pub total: Decimal,
    pub lines: Vec<QuoteLine>,
}

impl Quote {
    pub fn of(q: &crate::pricing::Quote) -> Quote {
        Quote {
            currency: q.currency.code().to_owned(),
            quantity: q.quantity,
            unit: q.unit,
            total: q.total,
            lines: q
                .lines
                .iter()
                .map(|l| QuoteLine {
                    source: l.source.to_string(),
                    label: l.label.clone(),
                    stage: match l.stage {
                        crate::pricing::LineStage::Unit => LineStage::Unit,
                        crate::pricing::LineStage::Tier => LineStage::Tier,
                        crate::pricing::LineStage::Order => LineStage::Order,
                    },
                    unit_amount: l.unit_amount,
                    amount: l.amount,
                })
                .collect(),
        }
    }
}

/// The exact lowest and highest total over every valid completion of a partial selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PriceRange {
    pub currency: String,
    /// The quantity priced: the chosen one, or the quantity option's default.
    pub quantity: i64,
    #[schema(value_type = String)]
    pub min: Decimal,
    #[schema(value_type = String)]
    pub max: Decimal,
}

/// Why a price is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PriceUnknown {
    pub reason: String,
}

/// The price of a selection: its quote when it is a complete valid configuration, the exact
/// range over its completions while it is partial, or `unknown` when the range's bounded work
/// ran out (the rest of the answer stands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Price {
    Quote(Quote),
    Range(PriceRange),
    Unknown(PriceUnknown),
}

/// What the server puts in place of a dropped choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Replacement {
    pub option: String,
    /// A value that works with the kept choices (null: leave it unset).
    pub value: Option<OptionValue>,
    pub label: Option<String>,
}

/// How to get out of a conflict: drop the oldest conflicting choices (the most recent are kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RepairView {
    /// The options whose choices are dropped.
    pub drop: Vec<String>,
    /// For each dropped option, a value that works with the kept choices.
    pub replace: Vec<Replacement>,
    /// The repaired selection (kept choices in their order, then the replacements): send it as
    /// the next selection to apply the repair in one step.
    pub selection: Choices,
}

/// A full valid configuration extending the selection: every value the customer gave is kept
/// as given, the rest is filled (defaults first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Completion {
    /// The customer's choices, in their order, then the filled options in the product's order.
    pub selection: Choices,
    /// The options the server filled.
    pub filled: Vec<String>,
    /// Text and upload options the rules need but only the customer can give (the completion is
    /// an order only once they are given). Empty when `selection` can be ordered as it is.
    pub needs_input: Vec<String>,
}

/// What `options` is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityBasis {
    /// The selection as sent (it is consistent).
    Selection,
    /// The choices the repair keeps (the selection conflicts): a UI can show what is still
    /// possible and offer the repair instead of greying out everything.
    RepairedSelection,
}

/// The answer to configure.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Configuration {
    pub product: String,
    /// The product's content version: pin it in orders and designs (as `version`).
    pub version: String,
    /// The catalog version serving this answer (also accepted by orders and designs).
    pub catalog_version: String,
    /// Whether the selection extends to at least one valid configuration.
    pub consistent: bool,
    /// When inconsistent: a minimal set of rules and choices that conflict.
    pub conflict: Option<Reason>,
    pub availability: AvailabilityBasis,
    /// Every option, in the product's order.
    pub options: Vec<OptionState>,
    pub validation: ValidationView,
    /// Null when the selection conflicts.
    pub price: Option<Price>,
    /// For a conflicting selection: the repair.
    pub repair: Option<RepairView>,
    /// For a consistent selection: a full valid configuration extending it.
    pub completion: Option<Completion>,
    /// The preview image of this selection, pinned to the product version.
    pub preview_url: Option<String>,
    /// The recommended values together: a valid configuration that keeps every value the
    /// customer gave ("complete it for me", personally); null in a conflict.
    pub recommended_completion: Option<Completion>,
}

/// Whose history recommendations come from, for one configure call.
#[derive(Debug, Clone, Copy)]
pub struct Personalize<'a> {
    pub recommender: &'a crate::recommend::Recommender,
    /// The customer's opaque reference: their own past orders weigh more.
    pub customer: Option<&'a str>,
}

/// The price of a selection (see [`Price`]); `None` when nothing extends it.
pub fn price(
    engine: &Engine,
    sel: &Selection,
    valid: bool,
    consistent: bool,
) -> Result<Option<Price>, AppError> {
    if valid {
        let q = crate::pricing::quote(&engine.product, sel).map_err(AppError::Pricing)?;
        Ok(Some(Price::Quote(Quote::of(&q))))
    } else if consistent {
        match crate::pricing::range(engine, sel) {
            Ok(r) => Ok(Some(Price::Range(PriceRange {
                currency: r.currency.code().to_owned(),
                quantity: r.quantity,
                min: r.min,
                max: r.max,
            }))),
            Err(crate::pricing::PricingError::NoCompletion) => Ok(None),
            Err(e @ crate::pricing::PricingError::WorkLimit { .. }) => {
                Ok(Some(Price::Unknown(PriceUnknown {
                    reason: e.to_string(),
                })))
            }
            Err(e) => Err(AppError::Pricing(e)),
        }
    } else {
        Ok(None)
    }
}

/// The completion of `sel`: the engine's full configuration (domain indices) with the
/// customer's own values put back (the engine sees texts by length and uploads by presence).
pub fn completion(engine: &Engine, sel: &Selection, solution: &[usize]) -> Completion {
    let p = &engine.product;
    let mut selection = Choices::of(p, sel);
    let mut filled = Vec::new();
    let mut needs_input = Vec::new();
    for (o, opt) in p.options.iter().enumerate() {
        if sel.get(o).is_some() {
            continue;
        }
        let Some(&i) = solution.get(o) else { continue };
        let Some(var) = engine.model.vars.get(o) else {
            continue;
        };
        let Some(v) = var.value(i) else {
            // Unset.
            continue;
        };
        if matches!((&opt.kind, &v), (OptionKind::Text(_), Value::Int(0))) {
            // An empty text: not given.
            continue;
        }
        let value = match (&opt.kind, v) {
            (OptionKind::Text(_) | OptionKind::Upload(_), v) => {
                // Only the default text (at the length the engine chose) can be filled.
                match &opt.default {
                    Some(Value::Text(d))
                        if var.index_of(&Value::Text(d.clone())) == Some(i)
                            && !matches!(opt.kind, OptionKind::Upload(_)) =>
                    {
                        OptionValue::Text(d.clone())
                    }
                    _ => {
                        let _ = v;
                        needs_input.push(opt.id.clone());
                        continue;
                    }
                }
            }
            (_, v) => OptionValue::of(p, o, &v),
        };
        filled.push(opt.id.clone());
        selection.0.push((opt.id.clone(), Some(value)));
    }
    Completion {
        selection,
        filled,
        needs_input,
    }
}

/// The repair's typed view, with the repaired selection.
pub fn repair_view(engine: &Engine, sel: &Selection, r: &Repair) -> RepairView {
    let p = &engine.product;
    let mut kept = Choices::of(
        p,
        &Selection {
            choices: sel
                .choices
                .iter()
                .filter(|(o, _)| !r.drop.contains(o))
                .cloned()
                .collect(),
        },
    );
    let replace: Vec<Replacement> = r
        .replace
        .iter()
        .map(|(o, v)| {
            let opt = &p.options[*o];
            // Texts and uploads are the customer's: never invented.
            let v = v
                .as_ref()
                .filter(|_| !matches!(opt.kind, OptionKind::Text(_) | OptionKind::Upload(_)));
            Replacement {
                option: opt.id.clone(),
                value: v.map(|v| OptionValue::of(p, *o, v)),
                label: v.map(|v| value_label(p, *o, v)),
            }
        })
        .collect();
    for x in &replace {
        if let Some(v) = &x.value {
            kept.0.push((x.option.clone(), Some(v.clone())));
        }
    }
    RepairView {
        drop: r.drop.iter().map(|&o| p.options[o].id.clone()).collect(),
        replace,
        selection: kept,
    }
}

fn option_state(
    engine: &Engine,
    sel: &Selection,
    basis: &Selection,
    oa: &OptionAvailability,
) -> OptionState {
    let p = &engine.product;
    let o = oa.option;
    let opt = &p.options[o];
    let var = &engine.model.vars[o];
    let reason_of = |i: usize| {
        oa.unavailable
            .iter()
            .find(|(x, _)| *x == i)
            .map(|(_, e)| Reason::of(p, basis, e))
    };
    let deferred = |i: usize| oa.deferred.contains(&i);
    let unset = var.unset().map(|u| Availability {
        available: oa.available.contains(&u),
        reason: if oa.available.contains(&u) {
            None
        } else {
            reason_of(u)
        },
        reason_deferred: deferred(u),
    });
    let mut state = OptionState {
        id: opt.id.clone(),
        label: opt.label.clone(),
        description: opt.description.clone(),
        group: opt.group.clone(),
        kind: OptionType::of(&opt.kind),
        required: opt.required,
        selected: sel.get(o).map(|v| OptionValue::of(p, o, v)),
        default: opt.default.as_ref().map(|v| OptionValue::of(p, o, v)),
        values: Vec::new(),
        range: None,
        text: None,
        unset,
        upload: None,
        price: None,
        price_per_unit: None,
        recommended: None,
    };
    let value_state = |i: usize, v: Value| {
        let available = oa.available.contains(&i);
        ValueState {
            value: OptionValue::of(p, o, &v),
            label: value_label(p, o, &v),
            description: None,
            swatch: None,
            image: None,
            sku: None,
            price: None,
            available,
            reason: if available { None } else { reason_of(i) },
            reason_deferred: deferred(i),
        }
    };
    match &opt.kind {
        OptionKind::Choice(c) => {
            state.values = c
                .values
                .iter()
                .enumerate()
                .map(|(i, cv)| ValueState {
                    description: cv.description.clone(),
                    swatch: cv.swatch.map(|s| s.to_hex()),
                    image: cv
                        .image
                        .as_ref()
                        .map(|_| value_image_url(p, &opt.id, &cv.id)),
                    sku: cv.sku.clone(),
                    price: cv.price,
                    ..value_state(i, Value::Choice(i))
                })
                .collect();
        }
        OptionKind::Boolean { price } => {
            state.values = [false, true]
                .into_iter()
                .filter_map(|b| {
                    let i = var.index_of(&Value::Bool(b))?;
                    Some(value_state(i, Value::Bool(b)))
                })
                .collect();
            state.price = *price;
        }
        OptionKind::Upload(u) => {
            let given = (0..var.size).find(|&i| Some(i) != var.unset());
            state.upload = given.map(|i| Availability {
                available: oa.available.contains(&i),
                reason: if oa.available.contains(&i) {
                    None
                } else {
                    reason_of(i)
                },
                reason_deferred: deferred(i),
            });
            state.price = u.price;
        }
        OptionKind::Integer(_) | OptionKind::Quantity(_) | OptionKind::Text(_) => {
            let number = |i: usize| match var.value(i) {
                Some(Value::Int(n)) => Some(n),
                _ => None,
            };
            let mut nums: Vec<i64> = oa.available.iter().filter_map(|&i| number(i)).collect();
            nums.sort_unstable();
            let (step, declared_min, declared_max, unit) = match &opt.kind {
                OptionKind::Integer(r) | OptionKind::Quantity(r) => {
                    state.price_per_unit = r.price_per_unit;
                    (r.step, r.min, r.max, opt.unit.clone())
                }
                OptionKind::Text(t) => {
                    state.text = Some(TextInput {
                        min_length: t.min_len,
                        max_length: t.max_len,
                        charset: t.charset.clone(),
                        pattern: t.pattern.clone(),
                    });
                    state.price = t.price;
                    state.price_per_unit = t.price_per_char;
                    (
                        1,
                        i64::from(t.min_len),
                        i64::from(t.max_len),
                        Some("characters".to_owned()),
                    )
                }
                _ => (1, 0, 0, None),
            };
            let contiguous = nums.windows(2).all(|w| w[1] - w[0] == step);
            let mut excluded: Vec<Excluded> = oa
                .unavailable
                .iter()
                .filter_map(|(i, e)| {
                    Some(Excluded {
                        value: number(*i)?,
                        reason: Some(Reason::of(p, basis, e)),
                        reason_deferred: false,
                    })
                })
                .chain(oa.deferred.iter().filter_map(|&i| {
                    Some(Excluded {
                        value: number(i)?,
                        reason: None,
                        reason_deferred: true,
                    })
                }))
                .collect();
            excluded.sort_by_key(|x| x.value);
            state.range = Some(RangeState {
                min: nums.first().copied(),
                max: nums.last().copied(),
                step,
                declared_min,
                declared_max,
                unit,
                values: (!contiguous).then(|| nums.clone()),
                excluded,
            });
        }
    }
    state
}

/// Options' states from a propagation (of `basis`, the selection or what its repair keeps).
pub fn option_states(
    engine: &Engine,
    sel: &Selection,
    basis: &Selection,
    prop: &Propagation,
) -> Vec<OptionState> {
    let mut states: Vec<(OptId, OptionState)> = prop
        .options
        .iter()
        .map(|oa| (oa.option, option_state(engine, sel, basis, oa)))
        .collect();
    states.sort_by_key(|(o, _)| *o);
    states.into_iter().map(|(_, s)| s).collect()
}

/// The whole configure answer for a parsed selection.
pub fn configure(
    engine: &Engine,
    catalog_version: &str,
    sel: &Selection,
    personalize: Option<Personalize<'_>>,
    explain: Explain,
) -> Result<Configuration, AppError> {
    let p = &engine.product;
    let prop = engine.propagate_explaining(sel, explain)?;
    let val = engine.validate(sel);
    let (basis, availability_prop, repair, completion_view) = if prop.consistent {
        let completion = engine
            .complete(sel)?
            .map(|sol| completion(engine, sel, &sol));
        (sel.clone(), None, None, completion)
    } else {
        let r = engine.repair(sel)?;
        let kept = Selection {
            choices: sel
                .choices
                .iter()
                .filter(|(o, _)| !r.drop.contains(o))
                .cloned()
                .collect(),
        };
        let kept_prop = engine.propagate_explaining(&kept, explain)?;
        let view = repair_view(engine, sel, &r);
        (kept, Some(kept_prop), Some(view), None)
    };
    let shown = availability_prop.as_ref().unwrap_or(&prop);
    let price = price(engine, sel, val.valid, prop.consistent)?;
    let mut options = option_states(engine, sel, &basis, shown);
    let mut recommended_completion = None;
    if let Some(pz) = personalize
        && prop.consistent
    {
        let recs = pz.recommender.recommend(engine, sel, &prop, pz.customer);
        for (state, r) in options.iter_mut().zip(&recs.options) {
            state.recommended = r.as_ref().map(|r| Recommended {
                value: r.value.as_ref().map(|v| OptionValue::of(p, r.option, v)),
                confidence: r.confidence.clamp(0.0, 1.0),
            });
        }
        recommended_completion = pz
            .recommender
            .recommended_completion(engine, sel, &recs)?
            .map(|sol| completion(engine, sel, &sol));
    }
    Ok(Configuration {
        product: p.id.clone(),
        version: p.version.clone(),
        catalog_version: catalog_version.to_owned(),
        consistent: prop.consistent,
        conflict: prop.conflict.as_ref().map(|e| Reason::of(p, sel, e)),
        availability: if availability_prop.is_some() {
            AvailabilityBasis::RepairedSelection
        } else {
            AvailabilityBasis::Selection
        },
        options,
        validation: ValidationView::of(p, &val),
        price,
        repair,
        completion: completion_view,
        preview_url: p
            .preview
            .as_ref()
            .map(|_| preview_url(p, &Choices::of(p, sel), PREVIEW_WIDTH)),
        recommended_completion,
    })
}

impl Configuration {
    /// Whether some unavailable value's reason was deferred (such an answer is not cached: the
    /// next identical request may explain more).
    pub fn deferred(&self) -> bool {
        self.options.iter().any(|o| {
            o.values.iter().any(|v| v.reason_deferred)
                || o.unset.as_ref().is_some_and(|u| u.reason_deferred)
                || o.upload.as_ref().is_some_and(|u| u.reason_deferred)
                || o.range
                    .as_ref()
                    .is_some_and(|r| r.excluded.iter().any(|x| x.reason_deferred))
        })
    }
}

/// Why one value is unavailable under a selection, or that it is available: the answer to
/// `POST /v1/products/{id}/explain`, for a value whose reason a configure answer deferred.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ValueReason {
    pub product: String,
    /// The product's content version that answered.
    pub version: String,
    pub option: String,
    /// The value asked about (null: leaving the option unset).
    pub value: Option<OptionValue>,
    /// Whether it still extends to a valid configuration (relative to the other choices when
    /// the option is chosen, as configure says).
    pub available: bool,
    /// When unavailable: why (minimal, as in configure answers).
    pub reason: Option<Reason>,
}

/// The width of the preview URLs that configure answers with, in pixels.
pub const PREVIEW_WIDTH: u32 = 512;

/// The configure cache's key of a request.
fn cache_key(
    product: &str,
    choices: &Choices,
    quantity: Option<i64>,
    customer: Option<&str>,
    generation: u64,
) -> String {
    // Serialising a map of strings, integers and booleans cannot fail.
    serde_json::to_string(&(product, choices, quantity, customer, generation)).unwrap_or_default()
}

impl super::App {
    /// A configure answer this version already gave for the same request, if any (cheap: no
    /// engine call, safe on an async worker).
    pub fn cached_configuration(
        &self,
        product: &str,
        choices: &Choices,
        quantity: Option<i64>,
        customer: Option<&str>,
    ) -> Option<std::sync::Arc<Configuration>> {
        let (_, generation) = self.recommender(product);
        self.snapshot()
            .configure_cache
            .get(&cache_key(product, choices, quantity, customer, generation))
    }

    /// Configure: availability with reasons, validity, price, repair, completion and preview
    /// URL of a selection, on the serving catalog version (answers are cached per version).
    pub fn configure(
        &self,
        product: &str,
        choices: &Choices,
        quantity: Option<i64>,
        customer: Option<&str>,
    ) -> Result<std::sync::Arc<Configuration>, AppError> {
        let snap = self.snapshot();
        let (recommender, generation) = self.recommender(product);
        let key = cache_key(product, choices, quantity, customer, generation);
        if let Some(c) = snap.configure_cache.get(&key) {
            return Ok(c);
        }
        let (p, engine) = snap.product(product)?;
        let sel = super::typed_selection(p, choices, quantity)?;
        self.check_uploads(p, &sel)?;
        let personalize = recommender.as_deref().map(|r| Personalize {
            recommender: r,
            customer,
        });
        let started = std::time::Instant::now();
        let explain = self
            .settings
            .explain_within
            .map_or(Explain::All, |w| Explain::Until(started + w));
        let answer = configure(engine, snap.version(), &sel, personalize, explain);
        self.metrics.engine_call("configure", started.elapsed());
        let answer = std::sync::Arc::new(answer?);
        if !answer.deferred() {
            snap.configure_cache
                .insert(key, std::sync::Arc::clone(&answer));
        }
        Ok(answer)
    }

    /// Why `value` of `option` (null: leaving it unset) is unavailable under a selection, or
    /// that it is available: the minimal reason, worked out on request (within the work limit,
    /// not the configure answer's time).
    pub fn explain(
        &self,
        product: &str,
        choices: &Choices,
        quantity: Option<i64>,
        option: &str,
        value: Option<&OptionValue>,
    ) -> Result<ValueReason, AppError> {
        let snap = self.snapshot();
        let (p, engine) = snap.product(product)?;
        let sel = super::typed_selection(p, choices, quantity)?;
        self.check_uploads(p, &sel)?;
        let Some(o) = p.options.iter().position(|x| x.id == option) else {
            // The same typed problem as an unknown option in a selection.
            return Err(crate::rules::SelectionError::UnknownOption {
                option: option.to_owned(),
                suggestion: crate::catalog::expr::did_you_mean(
                    option,
                    p.options.iter().map(|x| x.id.as_str()),
                ),
            }
            .into());
        };
        let var = &engine.model.vars[o];
        let index = match value {
            Some(v) => {
                // Read as a selection of that one value: the same typed errors as configure.
                let one = Choices(vec![(option.to_owned(), Some(v.clone()))]).parse(p)?;
                one.choices.first().and_then(|(_, v)| var.index_of(v))
            }
            None => var.unset(),
        };
        let Some(index) = index else {
            return Err(AppError::BadRequest(format!(
                "option `{option}` cannot take that value (a required option cannot be unset)"
            )));
        };
        let started = std::time::Instant::now();
        let e = engine.explain_value(&sel, o, index);
        self.metrics.engine_call("explain", started.elapsed());
        let e = e?;
        Ok(ValueReason {
            product: p.id.clone(),
            version: p.version.clone(),
            option: option.to_owned(),
            value: value.cloned(),
            available: e.is_none(),
            reason: e.map(|e| Reason::of(p, &sel, &e)),
        })
    }

    /// Every upload the selection names must be stored (else a 422, never a failed render later).
    pub fn check_uploads(&self, product: &Product, sel: &Selection) -> Result<(), AppError> {
        use crate::preview::upload::UploadStore;
        for (o, v) in &sel.choices {
            if let (Some(opt), Value::Text(id)) = (product.options.get(*o), v)
                && matches!(opt.kind, OptionKind::Upload(_))
            {
                let known = self
                    .uploads
                    .contains(id)
                    .map_err(|e| AppError::Unavailable(format!("upload store: {e}")))?;
                if !known {
                    return Err(AppError::UnknownUpload {
                        option: opt.id.clone(),
                        id: id.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}
