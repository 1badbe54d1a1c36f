//! Saved designs: a customer's configuration kept to come back to (the selection, its quote and
//! the options the server filled with defaults), pinned to the product and catalog versions it was
//! configured against, with an optional expiry. Pure types and bounds; `db` persists them.

use serde::Serialize;

use super::Timestamp;
use super::spec::{MAX_REF_LEN, SpecError, check_ids, check_json, check_text};

/// A design to store, as the app layer built it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDesign {
    pub product_id: String,
    /// The product's version (hash) the design was configured against.
    pub product_version: String,
    /// The catalog version (hash) that served that product version.
    pub catalog_version: String,
    /// The customer's selection, normalized.
    pub selection: serde_json::Value,
    /// The quote of the completed selection, as computed by the server.
    pub quote: serde_json::Value,
    /// The option ids the server filled with defaults when completing the selection.
    pub filled: Vec<String>,
    /// When the design stops being readable; `None` keeps it until deleted.
    pub expires_at: Option<Timestamp>,
}

/// A stored design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Design {
    /// UUID v7, hyphenated lowercase.
    pub id: String,
    pub product_id: String,
    pub product_version: String,
    pub catalog_version: String,
    pub selection: serde_json::Value,
    pub quote: serde_json::Value,
    pub filled: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl NewDesign {
    /// Checks every field against its bound (storage calls this before writing).
    pub fn validate(&self) -> Result<(), SpecError> {
        check_text("product_id", &self.product_id, MAX_REF_LEN)?;
        check_text("product_version", &self.product_version, MAX_REF_LEN)?;
        check_text("catalog_version", &self.catalog_version, MAX_REF_LEN)?;
        check_json("selection", &self.selection)?;
        check_json("quote", &self.quote)?;
        check_ids("filled", &self.filled)
    }
}

impl Design {
    /// Whether the design has expired at `now` (an expiry instant is already past).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::MAX_JSON_BYTES;
    use serde_json::json;

    fn design() -> NewDesign {
        NewDesign {
            product_id: "mug".into(),
            product_version: "ab".repeat(32),
            catalog_version: "cd".repeat(32),
            selection: json!({"color": "red"}),
            quote: json!({"total": "12.50"}),
            filled: vec!["size".into()],
            expires_at: None,
        }
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(design().validate(), Ok(()));
        let mut d = design();
        d.product_version = String::new();
        assert_eq!(
            d.validate(),
            Err(SpecError::Empty {
                field: "product_version"
            })
        );
        let mut d = design();
        d.catalog_version = "x".repeat(MAX_REF_LEN + 1);
        assert!(matches!(
            d.validate(),
            Err(SpecError::TooLong {
                field: "catalog_version",
                ..
            })
        ));
        let mut d = design();
        d.quote = json!({"blob": "x".repeat(MAX_JSON_BYTES)});
        assert!(matches!(
            d.validate(),
            Err(SpecError::TooLong { field: "quote", .. })
        ));
        let mut d = design();
        d.filled = vec![String::new()];
        assert_eq!(d.validate(), Err(SpecError::Empty { field: "filled" }));
    }

    #[test]
    fn expiry_is_inclusive() {
        let at = Timestamp::from_unix_micros(1_000);
        let d = Design {
            id: "x".into(),
            product_id: "mug".into(),
            product_version: "v".into(),
            catalog_version: "c".into(),
            selection: json!({}),
            quote: json!({}),
            filled: Vec::new(),
            created_at: Timestamp::from_unix_micros(0),
            expires_at: Some(at),
        };
        assert!(!d.is_expired(Timestamp::from_unix_micros(999)));
        assert!(d.is_expired(at));
        assert!(
            !Design {
                expires_at: None,
                ..d
            }
            .is_expired(Timestamp::from_unix_micros(i64::MAX))
        );
    }
}
