//! Request and response bodies of the HTTP API (serde + validator + utoipa schemas).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// Most options a selection may name.
pub const MAX_CHOICES: usize = 512;

/// Option id → value (string, number or boolean), **in the order the customer chose them**
/// (oldest first): repairs keep the most recent choices. `null` means "not chosen".
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(value_type = Object, example = json!({"size": "M", "color": "white", "sleeve_print": true}))]
pub struct Choices(pub Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Choices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Choices;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping option ids to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Choices, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    if out.len() >= MAX_CHOICES {
                        return Err(serde::de::Error::custom(format!(
                            "a selection names at most {MAX_CHOICES} options"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Choices(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Choices {
    /// As text pairs for `Selection::parse` (null values skipped).
    pub fn pairs(&self) -> Result<Vec<(String, String)>, crate::app::AppError> {
        let mut seen = std::collections::HashSet::new();
        let mut map = serde_json::Map::new();
        for (k, v) in &self.0 {
            if !seen.insert(k.as_str()) {
                return Err(crate::app::AppError::BadRequest(format!(
                    "`{k}` appears twice in the selection"
                )));
            }
            map.insert(k.clone(), v.clone());
        }
        // `map` may be sorted; keep the order the client sent.
        let mut pairs = crate::app::choices_from_json(&map)?;
        let rank = |k: &str| self.0.iter().position(|(x, _)| x == k);
        pairs.sort_by_key(|(k, _)| rank(k));
        Ok(pairs)
    }
}

/// A configure request.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureRequest {
    #[serde(default)]
    pub selection: Choices,
    /// Units ordered (for products with a quantity option).
    #[validate(range(min = 1, max = 1_000_000_000))]
    pub quantity: Option<i64>,
}

/// The answer to a configure request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigureResponse {
    pub product: String,
    /// The product's content version (pin it in preview URLs and orders).
    pub version: String,
    /// Whether the selection extends to at least one valid configuration.
    pub consistent: bool,
    /// When inconsistent: a minimal set of rules and choices that conflict.
    #[schema(value_type = Object)]
    pub conflict: serde_json::Value,
    /// Per option: `available` values (or `min`/`max` for numbers and text lengths) and
    /// `unavailable` values, each with its explanation (`rules` and `choices`).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// Validity of the selection as a finished configuration: violations and missing options.
    #[schema(value_type = Object)]
    pub validation: serde_json::Value,
    /// The quote of a complete selection, or the price range (`min`, `max`) while partial.
    #[schema(value_type = Object)]
    pub price: serde_json::Value,
    /// For a conflicting selection: the choices to drop (keeping the most recent) and replacements.
    #[schema(value_type = Object)]
    pub repair: serde_json::Value,
    /// A full valid configuration extending the selection (defaults first), if any.
    #[schema(value_type = Object)]
    pub completion: serde_json::Value,
    /// The preview image of this selection.
    pub preview_url: Option<String>,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub catalog_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}
