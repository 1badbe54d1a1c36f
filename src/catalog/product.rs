//! Product files: resolves one product YAML (options, defaults, groups, tiers) into the typed model.

use rust_decimal::Decimal;

use super::diagnostic::{Code, Diagnostic, Span};
use super::expr::did_you_mean;
use super::model::{
    ChoiceSpec, ChoiceValue, Color, Group, ImageFit, IntSpec, OptionDef, OptionKind, QuantityTier,
    TextSpec, TierEffect, UploadSpec, Value,
};
use super::money::Currency;
use super::read::{Cx, Fields, IdKind};
use super::yaml::{Node, NodeKind};

pub const PRODUCT_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "currency",
    "base_price",
    "rules",
    "groups",
    "quantity_tiers",
    "options",
    "preview",
    "sku",
    "bom",
];
const COMMON_KEYS: &[&str] = &[
    "type",
    "label",
    "description",
    "group",
    "required",
    "default",
];
const TYPES: &[&str] = &["choice", "boolean", "integer", "text", "quantity", "upload"];
/// `bom` is read by `bom.rs`, once every option is known.
const VALUE_KEYS: &[&str] = &[
    "label",
    "description",
    "swatch",
    "image",
    "sku",
    "price",
    "bom",
];
/// Most values an integer option may range over, and most choice values.
pub const MAX_DOMAIN: u64 = 100_000;
/// Longest text option.
pub const MAX_TEXT_LEN: i64 = 1000;

/// The product header: what is read before options.
#[derive(Debug)]
pub struct Header {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: Currency,
    pub base_price: Decimal,
}

/// Reads the header. Returns the header if complete, and the currency to keep checking with.
pub fn read_header(cx: &mut Cx<'_>, f: &Fields<'_>) -> (Option<Header>, Currency) {
    let id = cx
        .require(f, "id", "a product")
        .and_then(|n| cx.id(n, IdKind::Product, "product id"));
    let name = cx
        .require(f, "name", "a product")
        .and_then(|n| cx.text(n, "`name`"));
    let description = f
        .get("description")
        .and_then(|n| cx.text(n, "`description`"));
    let currency = cx.require(f, "currency", "a product").and_then(|n| {
        let code = cx.text(n, "`currency`")?;
        let c = Currency::from_code(&code);
        if c.is_none() {
            let help = if Currency::from_code(&code.to_ascii_uppercase()).is_some() {
                format!(
                    "currency codes are upper case: `{}`",
                    code.to_ascii_uppercase()
                )
            } else {
                "use a three-letter ISO 4217 code such as EUR, USD, GBP or JPY".to_owned()
            };
            cx.error(
                Code::UnknownCurrency,
                n.span,
                format!("`{code}` is not an ISO 4217 currency"),
                Some(help),
            );
        }
        c
    });
    let base_price = match (cx.require(f, "base_price", "a product"), currency) {
        (Some(n), Some(c)) => cx.amount(n, c, "`base_price`"),
        _ => None,
    };
    let check_with = currency.unwrap_or_else(Currency::lenient);
    let header = (|| {
        Some(Header {
            id: id?,
            name: name?,
            description,
            currency: currency?,
            base_price: base_price?,
        })
    })();
    (header, check_with)
}

pub fn read_groups(cx: &mut Cx<'_>, node: Option<&Node>) -> Vec<Group> {
    let Some(node) = node else { return Vec::new() };
    let Some(entries) = cx.entries(node, "`groups`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, kn, v) in entries {
        if !IdKind::Rule.check(&k) {
            cx.id(kn, IdKind::Rule, "group id");
            continue;
        }
        if let Some(label) = cx.text(v, "a group label") {
            out.push(Group { id: k, label });
        }
    }
    out
}

/// Reads the options map. Returns `None` if any option has an error.
pub fn read_options(
    cx: &mut Cx<'_>,
    node: &Node,
    currency: Currency,
    groups: &[Group],
) -> Option<Vec<OptionDef>> {
    let entries = cx.entries(node, "`options`")?;
    if entries.is_empty() {
        cx.error(
            Code::MissingKey,
            node.span,
            "a product needs at least one option",
            None,
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    let mut quantity: Option<Span> = None;
    for (id, kn, v) in entries {
        let id_ok = cx.id(kn, IdKind::Option, "option id").is_some();
        match read_option(cx, &id, kn.span, v, currency, groups) {
            Some(o) if id_ok => {
                if let OptionKind::Quantity(_) = o.kind {
                    if let Some(first) = quantity {
                        cx.push(
                            Diagnostic::new(
                                Code::InvalidQuantity,
                                kn.span,
                                "a product has at most one quantity option",
                            )
                            .with_label(first, "the first quantity option")
                            .with_help("use an `integer` option for other counts"),
                        );
                        ok = false;
                    }
                    quantity = Some(kn.span);
                }
                out.push(o);
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_option(
    cx: &mut Cx<'_>,
    id: &str,
    id_span: Span,
    node: &Node,
    currency: Currency,
    groups: &[Group],
) -> Option<OptionDef> {
    let what = format!("option `{id}`");
    let NodeKind::Map(_) = node.kind else {
        cx.wrong_type(node, "a mapping with at least `type:`", &what);
        return None;
    };
    // Read `type` first: it decides which keys are allowed.
    let ty = node_get(node, "type");
    let Some(ty_node) = ty else {
        cx.error(
            Code::MissingKey,
            node.span,
            format!("{what} has no `type`"),
            Some(format!("add `type:` with one of: {}", TYPES.join(", "))),
        );
        return None;
    };
    let ty_text = cx.text(ty_node, "`type`")?;
    let specific: &[&str] = match ty_text.as_str() {
        "choice" => &["values", "price"],
        "boolean" => &["price"],
        "integer" => &["min", "max", "step", "unit", "price_per_unit"],
        "text" => &[
            "min_length",
            "max_length",
            "charset",
            "pattern",
            "price",
            "price_per_char",
        ],
        "quantity" => &["min", "max", "step"],
        "upload" => &["price", "fit"],
        other => {
            let help = did_you_mean(other, TYPES.iter().copied()).map_or_else(
                || format!("the types are: {}", TYPES.join(", ")),
                |s| format!("did you mean `{s}`?"),
            );
            cx.error(
                Code::WrongType,
                ty_node.span,
                format!("unknown option type `{other}`"),
                Some(help),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(specific).copied().collect();
    let f = cx.fields(node, &what, &allowed)?;
    let before = cx.diags.len();
    let label = f
        .get("label")
        .and_then(|n| cx.text(n, "`label`"))
        .unwrap_or_else(|| id.to_owned());
    let description = f
        .get("description")
        .and_then(|n| cx.text(n, "`description`"));
    let group = f.get("group").and_then(|n| {
        let g = cx.text(n, "`group`")?;
        if groups.iter().any(|x| x.id == g) {
            return Some(g);
        }
        let help = if groups.is_empty() {
            format!("declare it in the product: `groups: {{ {g}: Label }}`")
        } else {
            did_you_mean(&g, groups.iter().map(|x| x.id.as_str())).map_or_else(
                || {
                    format!(
                        "the groups are: {}",
                        groups
                            .iter()
                            .map(|x| x.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                |s| format!("did you mean `{s}`?"),
            )
        };
        cx.error(
            Code::UnknownGroup,
            n.span,
            format!("unknown group `{g}`"),
            Some(help),
        );
        None
    });
    let required_default = matches!(
        ty_text.as_str(),
        "choice" | "integer" | "quantity" | "boolean"
    );
    let required = f
        .get("required")
        .and_then(|n| cx.bool(n, "`required`"))
        .unwrap_or(required_default);
    let kind = match ty_text.as_str() {
        "choice" => read_choice(cx, &f, &what, currency).map(OptionKind::Choice),
        "boolean" => Some(OptionKind::Boolean {
            price: f
                .get("price")
                .and_then(|n| cx.amount(n, currency, "`price`")),
        }),
        "integer" => read_range(cx, &f, &what, currency, None).map(OptionKind::Integer),
        "quantity" => read_range(cx, &f, &what, currency, Some(1)).map(OptionKind::Quantity),
        "upload" => read_upload(cx, &f, currency).map(OptionKind::Upload),
        _ => read_text(cx, &f, &what, currency, required).map(OptionKind::Text),
    };
    let kind = kind?;
    if ty_text == "boolean" && f.get("required").is_some() && !required {
        // A boolean always has a value (false unless chosen); "optional" changes nothing.
    }
    if ty_text == "quantity" && !required {
        cx.error(
            Code::InvalidQuantity,
            f.key_span("required").unwrap_or(node.span),
            "the quantity is always required",
            None,
        );
        return None;
    }
    let default = match f.get("default") {
        Some(n) => Some(read_default(cx, n, id, &kind)?),
        None => match kind {
            OptionKind::Boolean { .. } => Some(Value::Bool(false)),
            OptionKind::Quantity(r) => Some(Value::Int(r.min)),
            _ => None,
        },
    };
    // The unit shown beside a number (integer and quantity options; read by `read_range`).
    let unit = f
        .get("unit")
        .filter(|_| matches!(kind, OptionKind::Integer(_) | OptionKind::Quantity(_)))
        .and_then(|n| match &n.kind {
            NodeKind::Str(s) => Some(s.clone()),
            _ => None,
        });
    if cx.diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(OptionDef {
        id: id.to_owned(),
        label,
        description,
        group,
        required: required || ty_text == "boolean",
        default,
        kind,
        unit,
        span: id_span,
    })
}

fn node_get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.kind {
        NodeKind::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn read_choice(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    what: &str,
    currency: Currency,
) -> Option<ChoiceSpec> {
    let values_node = cx.require(f, "values", what)?;
    let mut values: Vec<ChoiceValue> = Vec::new();
    let mut ok = true;
    let push = |cx: &mut Cx<'_>, v: ChoiceValue, values: &mut Vec<ChoiceValue>| {
        if let Some(first) = values.iter().find(|x| x.id == v.id) {
            cx.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    v.span,
                    format!("value `{}` appears twice in {what}", v.id),
                )
                .with_label(first.span, "first listed here"),
            );
            return false;
        }
        values.push(v);
        true
    };
    match &values_node.kind {
        NodeKind::Seq(items) => {
            for it in items {
                let Some(id) = cx.id(it, IdKind::Value, "value id") else {
                    ok = false;
                    continue;
                };
                let v = ChoiceValue {
                    id: id.clone(),
                    label: id,
                    description: None,
                    swatch: None,
                    image: None,
                    sku: None,
                    price: None,
                    span: it.span,
                };
                ok &= push(cx, v, &mut values);
            }
            if let Some(pn) = f.get("price")
                && let Some(entries) = cx.entries(pn, "`price`")
            {
                for (k, kn, v) in entries {
                    match values.iter_mut().find(|x| x.id == k) {
                        Some(val) => {
                            val.price = cx.amount(v, currency, &format!("the price of `{k}`"))
                        }
                        None => {
                            let help = did_you_mean(&k, values.iter().map(|x| x.id.as_str()))
                                .map(|s| format!("did you mean `{s}`?"));
                            cx.error(
                                Code::UnknownValue,
                                kn.span,
                                format!("`{k}` is not a value of {what}"),
                                help,
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        NodeKind::Map(_) => {
            if let Some(span) = f.key_span("price") {
                cx.error(
                    Code::UnknownKey,
                    span,
                    format!("{what} lists its values as a map; `price` belongs inside each value"),
                    Some("write `value: { price: \"2.00\" }`".into()),
                );
                ok = false;
            }
            for (k, kn, v) in cx.entries(values_node, &format!("the values of {what}"))? {
                if cx.id(kn, IdKind::Value, "value id").is_none() {
                    ok = false;
                    continue;
                }
                let mut val = ChoiceValue {
                    id: k.clone(),
                    label: k.clone(),
                    description: None,
                    swatch: None,
                    image: None,
                    sku: None,
                    price: None,
                    span: kn.span,
                };
                if v.kind != NodeKind::Null {
                    let Some(vf) = cx.fields(v, &format!("value `{k}`"), VALUE_KEYS) else {
                        ok = false;
                        continue;
                    };
                    if let Some(n) = vf.get("label") {
                        val.label = cx.text(n, "`label`").unwrap_or(k.clone());
                    }
                    val.description = vf
                        .get("description")
                        .and_then(|n| cx.text(n, "`description`"));
                    val.sku = vf.get("sku").and_then(|n| cx.text(n, "`sku`"));
                    if let Some(n) = vf.get("swatch") {
                        let t = cx.text(n, "`swatch`").unwrap_or_default();
                        val.swatch = Color::parse(&t);
                        if val.swatch.is_none() {
                            cx.error(Code::InvalidColor, n.span, format!("`{t}` is not a colour"), Some("write colours as `#rrggbb`, e.g. \"#1f2a44\" (quote it: `#` starts a YAML comment)".into()));
                            ok = false;
                        }
                    }
                    if let Some(n) = vf.get("image") {
                        val.image = cx.text(n, "`image`");
                        if let Some(p) = &val.image {
                            // Existence is checked by the loader, which knows the files.
                            val.image = Some(p.clone());
                        }
                    }
                    if let Some(n) = vf.get("price") {
                        val.price = cx.amount(n, currency, "`price`");
                        ok &= val.price.is_some();
                    }
                }
                ok &= push(cx, val, &mut values);
            }
        }
        _ => {
            cx.wrong_type(
                values_node,
                "a list of values or a map of values",
                "`values`",
            );
            return None;
        }
    }
    if values.is_empty() && ok {
        cx.error(
            Code::InvalidRange,
            values_node.span,
            format!("{what} has no values"),
            Some("list at least one value".into()),
        );
        return None;
    }
    if values.len() as u64 > MAX_DOMAIN {
        cx.error(
            Code::InvalidRange,
            values_node.span,
            format!("{what} has more than {MAX_DOMAIN} values"),
            None,
        );
        return None;
    }
    ok.then_some(ChoiceSpec { values })
}

fn read_range(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    what: &str,
    currency: Currency,
    default_min: Option<i64>,
) -> Option<IntSpec> {
    let min = match (f.get("min"), default_min) {
        (Some(n), _) => cx.int(n, "`min`")?,
        (None, Some(d)) => d,
        (None, None) => {
            cx.require(f, "min", what);
            return None;
        }
    };
    let max_node = cx.require(f, "max", what)?;
    let max = cx.int(max_node, "`max`")?;
    let step = match f.get("step") {
        Some(n) => {
            let s = cx.int(n, "`step`")?;
            if s <= 0 {
                cx.error(
                    Code::InvalidRange,
                    n.span,
                    "`step` must be at least 1",
                    None,
                );
                return None;
            }
            s
        }
        None => 1,
    };
    if default_min.is_some() && min < 1 {
        cx.error(
            Code::InvalidRange,
            f.get("min").map_or(f.node.span, |n| n.span),
            "a quantity starts at 1 or more",
            None,
        );
        return None;
    }
    if max < min {
        cx.error(
            Code::InvalidRange,
            max_node.span,
            format!("`max` ({max}) is below `min` ({min})"),
            None,
        );
        return None;
    }
    let span = max.checked_sub(min).unwrap_or(i64::MAX);
    if span % step != 0 {
        let lo = max - span % step;
        cx.error(
            Code::InvalidRange,
            max_node.span,
            format!("`max` ({max}) cannot be reached from `min` ({min}) in steps of {step}"),
            Some(format!(
                "use `max: {lo}` or `max: {}`",
                lo.saturating_add(step)
            )),
        );
        return None;
    }
    if (span / step) as u64 >= MAX_DOMAIN {
        cx.error(
            Code::InvalidRange,
            max_node.span,
            format!("{what} ranges over more than {MAX_DOMAIN} values"),
            Some("raise `step` or narrow the range".into()),
        );
        return None;
    }
    if let Some(n) = f.get("unit") {
        cx.text(n, "`unit`")?;
    }
    let price_per_unit = match f.get("price_per_unit") {
        Some(n) => Some(cx.amount(n, currency, "`price_per_unit`")?),
        None => None,
    };
    Some(IntSpec {
        min,
        max,
        step,
        price_per_unit,
    })
}

fn read_text(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    what: &str,
    currency: Currency,
    required: bool,
) -> Option<TextSpec> {
    let min = match f.get("min_length") {
        Some(n) => cx.int(n, "`min_length`")?,
        None => 0,
    };
    let max_node = cx.require(f, "max_length", what)?;
    let max = cx.int(max_node, "`max_length`")?;
    if min < 0 || !(1..=MAX_TEXT_LEN).contains(&max) || min > max {
        cx.error(
            Code::InvalidRange,
            max_node.span,
            format!("the length range {min}..{max} is not valid"),
            Some(format!(
                "use 0 ≤ min_length ≤ max_length ≤ {MAX_TEXT_LEN}, with max_length ≥ 1"
            )),
        );
        return None;
    }
    if required && min == 0 {
        // A required text has at least one character; the engine reads min_len accordingly.
    }
    let charset = match f.get("charset") {
        Some(n) => {
            let c = cx.text(n, "`charset`")?;
            if c.is_empty() || regex_lite::Regex::new(&format!("^[{c}]*$")).is_err() {
                cx.error(
                    Code::InvalidText,
                    n.span,
                    format!("`{c}` is not a valid character set"),
                    Some("write the characters and ranges allowed, as inside [...]: `A-Za-z0-9 .,!?`".into()),
                );
                return None;
            }
            Some(c)
        }
        None => None,
    };
    let pattern = match f.get("pattern") {
        Some(n) => {
            let p = cx.text(n, "`pattern`")?;
            if let Err(e) = regex_lite::Regex::new(&format!("^(?:{p})$")) {
                let first = e.to_string().lines().last().unwrap_or("").trim().to_owned();
                cx.error(
                    Code::InvalidText,
                    n.span,
                    format!("`pattern` is not a valid regular expression: {first}"),
                    None,
                );
                return None;
            }
            Some(p)
        }
        None => None,
    };
    let price = match f.get("price") {
        Some(n) => Some(cx.amount(n, currency, "`price`")?),
        None => None,
    };
    let price_per_char = match f.get("price_per_char") {
        Some(n) => Some(cx.amount(n, currency, "`price_per_char`")?),
        None => None,
    };
    let min_len = u32::try_from(min).unwrap_or(0);
    let max_len = u32::try_from(max).unwrap_or(0);
    Some(TextSpec {
        min_len,
        max_len,
        charset,
        pattern,
        unit_label: None,
        price,
        price_per_char,
    })
}

/// Whether a text is a valid value of a text option (printable characters, length, charset,
/// pattern).
pub fn text_allowed(spec: &TextSpec, required: bool, text: &str) -> Result<(), String> {
    // Before any merchant rule: customer text is bound into SVG (XML) templates and print
    // files, where these characters cannot appear, whatever the option's charset says.
    if let Some((bad, what)) = text.chars().find_map(|c| unprintable(c).map(|w| (c, w))) {
        return Err(format!(
            "contains U+{:04X}, {what}, which cannot be printed",
            u32::from(bad)
        ));
    }
    let n = text.chars().count();
    let min = if required {
        spec.min_len.max(1)
    } else {
        spec.min_len
    };
    if n > spec.max_len as usize {
        return Err(format!(
            "is {n} characters long; the most is {}",
            spec.max_len
        ));
    }
    if n < min as usize && (n != 0 || required) {
        return Err(format!("is {n} characters long; the least is {min}"));
    }
    if let Some(c) = &spec.charset
        && let Ok(re) = regex_lite::Regex::new(&format!("[{c}]"))
        && let Some(bad) = text
            .chars()
            .find(|ch| !re.is_match(ch.encode_utf8(&mut [0; 4])))
    {
        return Err(format!(
            "contains `{bad}`, which is not allowed (allowed: {c})"
        ));
    }
    if let Some(p) = &spec.pattern
        && n > 0
        && let Ok(re) = regex_lite::Regex::new(&format!("^(?:{p})$"))
        && !re.is_match(text)
    {
        return Err(format!("does not match the pattern `{p}`"));
    }
    Ok(())
}

/// Why `c` can never be part of a customer text, or `None` when it can: it must be a `Char` of
/// XML 1.0 (no control characters other than tab, LF and CR; no U+FFFE or U+FFFF) and not a
/// Unicode noncharacter (U+FDD0–U+FDEF, and the last two code points of every plane).
fn unprintable(c: char) -> Option<&'static str> {
    let u = u32::from(c);
    if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
        Some("a control character")
    } else if (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE {
        Some("a Unicode noncharacter")
    } else {
        None
    }
}

fn read_default(cx: &mut Cx<'_>, n: &Node, id: &str, kind: &OptionKind) -> Option<Value> {
    let bad = |cx: &mut Cx<'_>, msg: String, help: Option<String>| {
        cx.error(Code::InvalidDefault, n.span, msg, help);
        None
    };
    match kind {
        OptionKind::Choice(c) => {
            let t = cx.text(n, "`default`")?;
            match c.index_of(&t) {
                Some(i) => Some(Value::Choice(i)),
                None => {
                    let help = did_you_mean(&t, c.values.iter().map(|v| v.id.as_str()))
                        .map_or_else(
                            || {
                                format!(
                                    "the values are: {}",
                                    c.values
                                        .iter()
                                        .map(|v| v.id.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            },
                            |s| format!("did you mean `{s}`?"),
                        );
                    bad(
                        cx,
                        format!("the default `{t}` is not a value of `{id}`"),
                        Some(help),
                    )
                }
            }
        }
        OptionKind::Boolean { .. } => match n.kind {
            NodeKind::Bool(b) => Some(Value::Bool(b)),
            _ => bad(
                cx,
                format!("the default of the boolean `{id}` must be `true` or `false`"),
                None,
            ),
        },
        OptionKind::Integer(r) | OptionKind::Quantity(r) => match n.kind {
            NodeKind::Int(v) if r.contains(v) => Some(Value::Int(v)),
            NodeKind::Int(v) => bad(
                cx,
                format!("the default {v} is not a value of `{id}`"),
                Some(format!(
                    "`{id}` takes {} to {} in steps of {}",
                    r.min, r.max, r.step
                )),
            ),
            _ => bad(
                cx,
                format!("the default of `{id}` must be a whole number"),
                None,
            ),
        },
        OptionKind::Upload(_) => bad(
            cx,
            format!("`{id}` is an upload option and cannot have a default"),
            Some("remove `default:`; the customer supplies the image".into()),
        ),
        OptionKind::Text(spec) => {
            let t = cx.text(n, "`default`")?;
            match text_allowed(spec, false, &t) {
                Ok(()) => Some(Value::Text(t)),
                Err(why) => bad(cx, format!("the default text {why}"), None),
            }
        }
    }
}

/// Reads an upload option's `price` and `fit` (contain or cover; contain by default).
fn read_upload(cx: &mut Cx<'_>, f: &Fields<'_>, currency: Currency) -> Option<UploadSpec> {
    let price = f
        .get("price")
        .and_then(|n| cx.amount(n, currency, "`price`"));
    let fit = match f.get("fit") {
        None => ImageFit::Contain,
        Some(n) => match n.scalar_text().as_deref() {
            Some("contain") => ImageFit::Contain,
            Some("cover") => ImageFit::Cover,
            other => {
                cx.error(
                    Code::WrongType,
                    n.span,
                    format!(
                        "`fit` must be contain or cover, not `{}`",
                        other.unwrap_or("?")
                    ),
                    None,
                );
                return None;
            }
        },
    };
    Some(UploadSpec { price, fit })
}

/// Reads `quantity_tiers`: ascending `min`, each with `unit_price` or `discount`.
pub fn read_tiers(
    cx: &mut Cx<'_>,
    node: Option<&Node>,
    currency: Currency,
) -> Option<Vec<QuantityTier>> {
    let Some(node) = node else {
        return Some(Vec::new());
    };
    let items = cx.seq(node, "`quantity_tiers`")?;
    let mut out: Vec<QuantityTier> = Vec::new();
    let mut ok = true;
    for it in items {
        let Some(f) = cx.fields(it, "a quantity tier", &["min", "unit_price", "discount"]) else {
            ok = false;
            continue;
        };
        let Some(min) = cx
            .require(&f, "min", "a quantity tier")
            .and_then(|n| cx.int(n, "`min`"))
        else {
            ok = false;
            continue;
        };
        let effect = match (f.get("unit_price"), f.get("discount")) {
            (Some(n), None) => cx
                .amount(n, currency, "`unit_price`")
                .map(TierEffect::UnitPrice),
            (None, Some(n)) => cx.percent(n, "`discount`").map(TierEffect::Discount),
            _ => {
                cx.error(
                    Code::InvalidTiers,
                    it.span,
                    "a tier needs exactly one of `unit_price` or `discount`",
                    None,
                );
                None
            }
        };
        let Some(effect) = effect else {
            ok = false;
            continue;
        };
        if min < 1 {
            cx.error(
                Code::InvalidTiers,
                it.span,
                format!("a tier starts at a quantity of 1 or more, not {min}"),
                None,
            );
            ok = false;
            continue;
        }
        if let Some(prev) = out.last()
            && min <= prev.min
        {
            cx.push(
                Diagnostic::new(
                    Code::InvalidTiers,
                    it.span,
                    format!("tiers must rise: {min} follows {}", prev.min),
                )
                .with_label(prev.span, "the previous tier")
                .with_help("list tiers by ascending `min`, each once"),
            );
            ok = false;
            continue;
        }
        out.push(QuantityTier {
            min,
            effect,
            span: it.span,
        });
    }
    ok.then_some(out)
}
