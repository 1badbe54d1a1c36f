//! Selections: a customer's choices (option = value, in the order they were made), parsed and checked against a product.

use crate::catalog::expr::did_you_mean;
use crate::catalog::model::{OptId, OptionKind, Product, Value};
use crate::catalog::product::text_allowed;

/// The customer's choices, oldest first. Each option appears at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub choices: Vec<(OptId, Value)>,
}

/// Why a selection cannot even be read: these are usage errors, not rule conflicts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("unknown option `{option}`{}", hint(.suggestion))]
    UnknownOption {
        option: String,
        suggestion: Option<String>,
    },
    #[error("`{value}` is not a value of `{option}`{}", hint(.suggestion))]
    UnknownValue {
        option: String,
        value: String,
        suggestion: Option<String>,
    },
    #[error("`{value}` is out of range for `{option}`: {range}")]
    OutOfRange {
        option: String,
        value: String,
        range: String,
    },
    #[error("the text for `{option}` {reason}")]
    InvalidText { option: String, reason: String },
    #[error(
        "the value of `{option}` must be an upload id (64 hex digits, as returned for an accepted upload)"
    )]
    InvalidUpload { option: String },
    #[error("`{option}` is chosen twice")]
    Repeated { option: String },
    #[error("the value of `{option}` must be {expected}")]
    WrongType {
        option: String,
        /// What the option's kind takes, e.g. "a JSON boolean (true or false)".
        expected: &'static str,
    },
}

fn hint(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

impl SelectionError {
    /// The option the error concerns.
    pub fn option(&self) -> &str {
        match self {
            SelectionError::UnknownOption { option, .. }
            | SelectionError::UnknownValue { option, .. }
            | SelectionError::OutOfRange { option, .. }
            | SelectionError::InvalidText { option, .. }
            | SelectionError::InvalidUpload { option }
            | SelectionError::Repeated { option }
            | SelectionError::WrongType { option, .. } => option,
        }
    }
}

impl Selection {
    /// Parses `option=value` pairs given as text (CLI, query strings), in the order given.
    /// The empty value `""` for an optional option means "explicitly unset" and is skipped.
    pub fn parse(
        product: &Product,
        pairs: &[(String, String)],
    ) -> Result<Selection, SelectionError> {
        let mut sel = Selection::default();
        for (name, raw) in pairs {
            let Some((i, opt)) = product.option(name) else {
                return Err(SelectionError::UnknownOption {
                    option: name.clone(),
                    suggestion: did_you_mean(name, product.options.iter().map(|o| o.id.as_str())),
                });
            };
            if sel.choices.iter().any(|(o, _)| *o == i) {
                return Err(SelectionError::Repeated {
                    option: name.clone(),
                });
            }
            let value = match &opt.kind {
                OptionKind::Choice(c) => match c.index_of(raw) {
                    Some(v) => Value::Choice(v),
                    None => {
                        return Err(SelectionError::UnknownValue {
                            option: name.clone(),
                            value: raw.clone(),
                            suggestion: did_you_mean(raw, c.values.iter().map(|v| v.id.as_str())),
                        });
                    }
                },
                OptionKind::Boolean { .. } => match raw.as_str() {
                    "true" | "yes" | "1" | "on" => Value::Bool(true),
                    "false" | "no" | "0" | "off" => Value::Bool(false),
                    _ => {
                        return Err(SelectionError::UnknownValue {
                            option: name.clone(),
                            value: raw.clone(),
                            suggestion: None,
                        });
                    }
                },
                OptionKind::Integer(r) | OptionKind::Quantity(r) => {
                    let range = format!("{} to {} in steps of {}", r.min, r.max, r.step);
                    match raw.trim().parse::<i64>() {
                        Ok(v) if r.contains(v) => Value::Int(v),
                        Ok(_) => {
                            return Err(SelectionError::OutOfRange {
                                option: name.clone(),
                                value: raw.clone(),
                                range,
                            });
                        }
                        Err(_) => {
                            return Err(SelectionError::UnknownValue {
                                option: name.clone(),
                                value: raw.clone(),
                                suggestion: None,
                            });
                        }
                    }
                }
                OptionKind::Text(t) => {
                    if let Err(reason) = text_allowed(t, opt.required, raw) {
                        return Err(SelectionError::InvalidText {
                            option: name.clone(),
                            reason,
                        });
                    }
                    Value::Text(raw.clone())
                }
                OptionKind::Upload(_) => {
                    let is_id = raw.len() == 64
                        && raw.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                    if !is_id {
                        return Err(SelectionError::InvalidUpload {
                            option: name.clone(),
                        });
                    }
                    Value::Text(raw.clone())
                }
            };
            sel.choices.push((i, value));
        }
        Ok(sel)
    }

    pub fn get(&self, opt: OptId) -> Option<&Value> {
        self.choices.iter().find(|(o, _)| *o == opt).map(|(_, v)| v)
    }

    /// This selection without the choice for `opt`.
    pub fn without(&self, opt: OptId) -> Selection {
        Selection {
            choices: self
                .choices
                .iter()
                .filter(|(o, _)| *o != opt)
                .cloned()
                .collect(),
        }
    }
}

/// Renders a value of an option as text (the inverse of `Selection::parse`).
pub fn value_text(product: &Product, opt: OptId, v: &Value) -> String {
    match (v, product.options.get(opt).map(|o| &o.kind)) {
        (Value::Choice(i), Some(OptionKind::Choice(c))) => c
            .values
            .get(*i)
            .map_or_else(|| i.to_string(), |x| x.id.clone()),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Int(n), _) => n.to_string(),
        (Value::Text(s), _) => s.clone(),
        (Value::Choice(i), _) => i.to_string(),
    }
}
