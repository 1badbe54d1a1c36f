//! What an order is and freezes: the new-order request the app layer hands to storage (with its
//! idempotency key and request fingerprint), the stored order, its events, feed pages, and the
//! bounds every stored field is checked against.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Status, Timestamp};

/// Longest Idempotency-Key accepted (printable ASCII).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// Longest identifier / reference field (product id, product and catalog version, preview ref,
/// customer ref, fingerprint, design id, each filled option id).
pub const MAX_REF_LEN: usize = 255;
/// Largest serialized JSON document stored per field (selection, quote, metadata, fulfilment).
pub const MAX_JSON_BYTES: usize = 256 * 1024;
/// Longest note on a status transition, in characters.
pub const MAX_NOTE_LEN: usize = 2000;
/// Most orders returned in one feed page.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// A request field outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} bytes")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must be printable ASCII")]
    NotPrintable { field: &'static str },
}

/// An order to store, as the app layer built it after re-validating and re-pricing.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// The client's Idempotency-Key: one key, one order.
    pub idempotency_key: String,
    /// A digest of the normalized request body (see [`fingerprint`]); the same key with a
    /// different fingerprint is a conflict.
    pub fingerprint: String,
    pub product_id: String,
    /// The catalog version (hash) the order was validated and priced against.
    pub catalog_version: String,
    /// The frozen, normalized selection.
    pub selection: serde_json::Value,
    /// The quote with its breakdown, as computed by the server.
    pub quote: serde_json::Value,
    pub preview_ref: Option<String>,
    pub customer_ref: Option<String>,
    /// Free-form customer metadata (a JSON object or null).
    pub metadata: serde_json::Value,
    /// The saved design the order was placed from, if any (a reference: designs expire).
    pub design_id: Option<String>,
    /// The option ids the server filled with defaults when completing the customer's selection.
    pub filled: Vec<String>,
    /// What fulfilment needs, frozen at placement (option labels and SKUs, variant SKU, bill of
    /// materials; written by `app::orders`); null when there is none.
    pub fulfilment: serde_json::Value,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// UUID v7, hyphenated lowercase: time-ordered, so the feed lists oldest first.
    pub id: String,
    pub status: Status,
    /// Starts at 1 and grows by one on each transition: compare it to update (If-Match / ETag).
    pub version: i64,
    pub idempotency_key: String,
    pub product_id: String,
    pub catalog_version: String,
    pub selection: serde_json::Value,
    pub quote: serde_json::Value,
    pub preview_ref: Option<String>,
    pub customer_ref: Option<String>,
    pub metadata: serde_json::Value,
    pub design_id: Option<String>,
    pub filled: Vec<String>,
    /// Null for orders stored before fulfilment data existed.
    pub fulfilment: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One entry of an order's history: its creation (`from` is `None`) or a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderEvent {
    pub order_id: String,
    /// The order's version after this event (1 for creation).
    pub version: i64,
    pub from: Option<Status>,
    pub to: Status,
    pub note: Option<String>,
    pub at: Timestamp,
}

/// Which orders a feed lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<Status>,
}

/// One page of a feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items follow: pass it back to get them.
    pub next_cursor: Option<String>,
}

/// Checks a required text field: not empty, at most `max` bytes.
pub(crate) fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), SpecError> {
    if s.is_empty() {
        Err(SpecError::Empty { field })
    } else if s.len() > max {
        Err(SpecError::TooLong { field, max })
    } else {
        Ok(())
    }
}

/// Checks that a JSON document serializes to at most `MAX_JSON_BYTES`.
pub(crate) fn check_json(field: &'static str, v: &serde_json::Value) -> Result<(), SpecError> {
    // Counting bytes without building the string: a writer that stops counting past the bound.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_JSON_BYTES {
                return Err(std::io::Error::other("too long"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Counter(0), v).map_err(|_| SpecError::TooLong {
        field,
        max: MAX_JSON_BYTES,
    })
}

/// Checks a list of identifiers (stored as a JSON array): each one like a reference field, and
/// the whole array within `MAX_JSON_BYTES`.
pub(crate) fn check_ids(field: &'static str, ids: &[String]) -> Result<(), SpecError> {
    let mut bytes = 2usize; // []
    for id in ids {
        check_text(field, id, MAX_REF_LEN)?;
        // Quotes and a comma; escapes only make ids longer than this, and their own bound holds.
        bytes = bytes.saturating_add(id.len() + 3);
        if bytes > MAX_JSON_BYTES {
            return Err(SpecError::TooLong {
                field,
                max: MAX_JSON_BYTES,
            });
        }
    }
    Ok(())
}

impl NewOrder {
    /// Checks every field against its bound (storage calls this before writing).
    pub fn validate(&self) -> Result<(), SpecError> {
        check_text(
            "idempotency_key",
            &self.idempotency_key,
            MAX_IDEMPOTENCY_KEY_LEN,
        )?;
        if !self
            .idempotency_key
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(SpecError::NotPrintable {
                field: "idempotency_key",
            });
        }
        check_text("fingerprint", &self.fingerprint, MAX_REF_LEN)?;
        check_text("product_id", &self.product_id, MAX_REF_LEN)?;
        check_text("catalog_version", &self.catalog_version, MAX_REF_LEN)?;
        if let Some(r) = &self.preview_ref {
            check_text("preview_ref", r, MAX_REF_LEN)?;
        }
        if let Some(r) = &self.customer_ref {
            check_text("customer_ref", r, MAX_REF_LEN)?;
        }
        check_json("selection", &self.selection)?;
        check_json("quote", &self.quote)?;
        check_json("metadata", &self.metadata)?;
        check_json("fulfilment", &self.fulfilment)?;
        if let Some(d) = &self.design_id {
            check_text("design_id", d, MAX_REF_LEN)?;
        }
        check_ids("filled", &self.filled)
    }
}

/// Checks a transition note.
pub fn check_note(note: Option<&str>) -> Result<(), SpecError> {
    match note {
        Some(n) if n.chars().count() > MAX_NOTE_LEN => Err(SpecError::TooLong {
            field: "note",
            max: MAX_NOTE_LEN,
        }),
        _ => Ok(()),
    }
}

/// The request fingerprint: SHA-256 (hex) of the canonical JSON of a normalized request body.
/// Object keys are sorted (serde_json's map is ordered), so key order in the client's body does
/// not matter; everything else does.
pub fn fingerprint(normalized_body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(b"bespoke-order-request-v1\0");
    h.update(normalized_body.to_string().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> NewOrder {
        NewOrder {
            idempotency_key: "k-1".into(),
            fingerprint: "f".into(),
            product_id: "mug".into(),
            catalog_version: "abc".into(),
            selection: json!({"color": "red"}),
            quote: json!({"total": "12.50"}),
            preview_ref: None,
            customer_ref: Some("c-9".into()),
            metadata: json!(null),
            design_id: None,
            filled: vec!["lid".into()],
            fulfilment: json!(null),
        }
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(order().validate(), Ok(()));
        let mut o = order();
        o.idempotency_key = String::new();
        assert_eq!(
            o.validate(),
            Err(SpecError::Empty {
                field: "idempotency_key"
            })
        );
        o.idempotency_key = "k\u{7}".into();
        assert!(matches!(o.validate(), Err(SpecError::NotPrintable { .. })));
        o.idempotency_key = "k".repeat(MAX_IDEMPOTENCY_KEY_LEN + 1);
        assert!(matches!(o.validate(), Err(SpecError::TooLong { .. })));
        let mut o = order();
        o.metadata = json!({"blob": "x".repeat(MAX_JSON_BYTES)});
        assert_eq!(
            o.validate(),
            Err(SpecError::TooLong {
                field: "metadata",
                max: MAX_JSON_BYTES
            })
        );
        let mut o = order();
        o.design_id = Some(String::new());
        assert_eq!(o.validate(), Err(SpecError::Empty { field: "design_id" }));
        let mut o = order();
        o.filled = vec!["x".repeat(MAX_REF_LEN + 1)];
        assert!(matches!(
            o.validate(),
            Err(SpecError::TooLong {
                field: "filled",
                ..
            })
        ));
        o.filled = vec!["x".repeat(MAX_REF_LEN); MAX_JSON_BYTES / MAX_REF_LEN];
        assert!(matches!(
            o.validate(),
            Err(SpecError::TooLong {
                field: "filled",
                ..
            })
        ));
        assert!(check_note(Some(&"n".repeat(MAX_NOTE_LEN + 1))).is_err());
        assert!(check_note(Some("ok")).is_ok());
    }

    #[test]
    fn fingerprint_ignores_key_order_only() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap_or_default();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap_or_default();
        let c: serde_json::Value = serde_json::from_str(r#"{"b":[2,1],"a":1}"#).unwrap_or_default();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a).len(), 64);
    }
}
