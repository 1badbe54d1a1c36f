//! Request bodies of the storefront API (serde + validator + utoipa schemas); the answers are the typed views of `app`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::values::{Choices, OptionValue};

/// A configure request.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureRequest {
    /// The choices so far, in the order the customer made them.
    #[serde(default)]
    pub selection: Choices,
    /// Units ordered (for products with a quantity option; or give the quantity option itself).
    #[validate(range(min = 1, max = 1_000_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
    /// The shop's opaque reference of the shopper: their own past orders weigh more in the
    /// recommendations.
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub customer_ref: Option<String>,
}

/// A value to explain under a selection (for a value whose reason a configure answer deferred).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The choices so far, in the order the customer made them (as sent to configure).
    #[serde(default)]
    pub selection: Choices,
    /// Units ordered (as in configure).
    #[validate(range(min = 1, max = 1_000_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
    /// The option whose value to explain.
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub option: String,
    /// The value (null: leaving the option unset).
    pub value: Option<OptionValue>,
}

/// A design to save: a configuration for the cart.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignRequest {
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub product: String,
    /// The choices, in the order made; options left out are completed with defaults as
    /// configure's `completion` does.
    #[serde(default)]
    pub selection: Choices,
    #[validate(range(min = 1, max = 1_000_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
    /// The `version` (or `catalog_version`) configure answered with: the design is priced and
    /// kept at that version. Default: the serving one.
    #[serde(alias = "catalog_version")]
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub version: Option<String>,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub catalog_version: String,
    pub database: Option<String>,
}
