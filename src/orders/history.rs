//! Sales history, the pure part: what a sale is (`NewSale`, a stored `Sale` and its
//! `SaleSource`), a history import (`ImportInfo`), the history's position (`HistoryState`), and
//! their bounds. `db` persists them; recommendations learn from them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Timestamp;
use super::spec::{MAX_REF_LEN, SpecError, check_json, check_text};

/// Most sales in one history import (a 64 MiB history file holds about a million rows).
pub const MAX_IMPORT_SALES: usize = 1_000_000;
/// Largest `count` of one sale (the same configuration sold this many times). Keeps sums over a
/// whole history (at most `MAX_IMPORT_SALES` rows per import) far from `i64` overflow.
pub const MAX_SALE_COUNT: i64 = 1_000_000;
/// Most sales returned in one history page.
pub const MAX_HISTORY_PAGE: u32 = 10_000;

/// A sale to store in the history: one sold configuration of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSale {
    pub product_id: String,
    /// The catalog version (hash) the sale was validated against; `None` for imported sales.
    pub catalog_version: Option<String>,
    /// The sold values in the order chosen: a JSON array of `[option id, value]` pairs, values
    /// typed as JSON strings, integers or booleans (orders placed before selections were
    /// ordered store an object of option id → value instead).
    pub selection: serde_json::Value,
    /// How many times this configuration sold: 1..=`MAX_SALE_COUNT`.
    pub count: i64,
    /// The customer's opaque reference, if known (the only customer data the history holds).
    pub customer_ref: Option<String>,
}

/// Where a stored sale came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleSource {
    /// An order placed through the API (one row per order, written with it).
    Order,
    /// A row of a merchant's history import.
    Import,
}

/// A source name that is not `order` or `import`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sale source {0:?} (expected order or import)")]
pub struct UnknownSaleSource(pub String);

impl SaleSource {
    /// The stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            SaleSource::Order => "order",
            SaleSource::Import => "import",
        }
    }
}

impl fmt::Display for SaleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SaleSource {
    type Err = UnknownSaleSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "order" => Ok(SaleSource::Order),
            "import" => Ok(SaleSource::Import),
            other => Err(UnknownSaleSource(other.to_owned())),
        }
    }
}

/// A stored sale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sale {
    /// Increasing in commit order: a reader that has seen a sale has seen every sale with a
    /// smaller id (see `Db::history`).
    pub id: i64,
    pub product_id: String,
    pub catalog_version: Option<String>,
    /// As stored: see [`NewSale::selection`].
    pub selection: serde_json::Value,
    pub count: i64,
    pub customer_ref: Option<String>,
    pub source: SaleSource,
    /// The order this sale is (source `order`).
    pub order_id: Option<String>,
    /// The import this sale came with (source `import`).
    pub import_id: Option<i64>,
    pub created_at: Timestamp,
}

/// A stored history import: one file's content for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportInfo {
    pub id: i64,
    pub product_id: String,
    /// SHA-256 (hex) of the imported file's bytes: the same content is imported once per product.
    pub content_sha256: String,
    pub file_name: Option<String>,
    /// How many sales the import stored.
    pub rows: i64,
    pub created_at: Timestamp,
}

/// Where the history stands: what a reader needs to poll it incrementally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HistoryState {
    /// The greatest sale id issued so far (0 before the first); every sale up to it that still
    /// exists is readable.
    pub last_sale_id: i64,
    /// How many deletions (of a customer's history) removed sales so far: when it changes, sales
    /// a reader already learned from are gone, so it should read the history again.
    pub erasures: i64,
}

impl NewSale {
    /// Checks every field against its bound (storage calls this before writing).
    pub fn validate(&self) -> Result<(), SpecError> {
        check_text("product_id", &self.product_id, MAX_REF_LEN)?;
        if let Some(v) = &self.catalog_version {
            check_text("catalog_version", v, MAX_REF_LEN)?;
        }
        if let Some(r) = &self.customer_ref {
            check_text("customer_ref", r, MAX_REF_LEN)?;
        }
        if !(self.selection.is_array() || self.selection.is_object()) {
            // Not a list of choices (null, a number, a string): no choice at all.
            return Err(SpecError::Empty { field: "selection" });
        }
        check_json("selection", &self.selection)?;
        check_count(self.count)
    }
}

/// Checks a sale's count: at least 1, at most `MAX_SALE_COUNT`.
fn check_count(count: i64) -> Result<(), SpecError> {
    if count < 1 {
        Err(SpecError::Empty { field: "count" })
    } else if count > MAX_SALE_COUNT {
        Err(SpecError::TooLong {
            field: "count",
            max: usize::try_from(MAX_SALE_COUNT).unwrap_or(usize::MAX),
        })
    } else {
        Ok(())
    }
}

/// Checks a history import's identity and size: the product, the content digest (printable
/// ASCII), the optional file name, and at most `MAX_IMPORT_SALES` sales.
pub fn check_import(
    product_id: &str,
    content_sha256: &str,
    file_name: Option<&str>,
    sales: usize,
) -> Result<(), SpecError> {
    check_text("product_id", product_id, MAX_REF_LEN)?;
    check_text("content_sha256", content_sha256, MAX_REF_LEN)?;
    if !content_sha256.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(SpecError::NotPrintable {
            field: "content_sha256",
        });
    }
    if let Some(name) = file_name {
        check_text("file_name", name, MAX_REF_LEN)?;
    }
    if sales > MAX_IMPORT_SALES {
        return Err(SpecError::TooLong {
            field: "sales",
            max: MAX_IMPORT_SALES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::MAX_JSON_BYTES;
    use serde_json::json;

    fn sale() -> NewSale {
        NewSale {
            product_id: "mug".into(),
            catalog_version: None,
            selection: json!([["color", "red"], ["size", 12], ["lid", true]]),
            count: 1,
            customer_ref: Some("c-1".into()),
        }
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(sale().validate(), Ok(()));
        let mut s = sale();
        s.count = 0;
        assert_eq!(s.validate(), Err(SpecError::Empty { field: "count" }));
        s.count = MAX_SALE_COUNT;
        assert_eq!(s.validate(), Ok(()));
        s.count = MAX_SALE_COUNT + 1;
        assert!(matches!(
            s.validate(),
            Err(SpecError::TooLong { field: "count", .. })
        ));
        let mut s = sale();
        s.selection = json!(null);
        assert_eq!(s.validate(), Err(SpecError::Empty { field: "selection" }));
        s.selection = json!({"color": "red"});
        assert_eq!(s.validate(), Ok(()));
        s.selection = json!([["engraving", "x".repeat(MAX_JSON_BYTES)]]);
        assert!(matches!(
            s.validate(),
            Err(SpecError::TooLong {
                field: "selection",
                ..
            })
        ));
        let mut s = sale();
        s.customer_ref = Some(String::new());
        assert_eq!(
            s.validate(),
            Err(SpecError::Empty {
                field: "customer_ref"
            })
        );
        s.customer_ref = None;
        s.catalog_version = Some("v".repeat(MAX_REF_LEN + 1));
        assert!(matches!(
            s.validate(),
            Err(SpecError::TooLong {
                field: "catalog_version",
                ..
            })
        ));
    }

    #[test]
    fn imports_are_bounded() {
        let sha = "ab".repeat(32);
        assert_eq!(check_import("mug", &sha, Some("h.csv"), 3), Ok(()));
        assert_eq!(check_import("mug", &sha, None, MAX_IMPORT_SALES), Ok(()));
        assert!(matches!(
            check_import("mug", &sha, None, MAX_IMPORT_SALES + 1),
            Err(SpecError::TooLong { field: "sales", .. })
        ));
        assert_eq!(
            check_import("mug", "a b", None, 0),
            Err(SpecError::NotPrintable {
                field: "content_sha256"
            })
        );
        assert_eq!(
            check_import("", &sha, None, 0),
            Err(SpecError::Empty {
                field: "product_id"
            })
        );
        assert_eq!(
            check_import("mug", &sha, Some(""), 0),
            Err(SpecError::Empty { field: "file_name" })
        );
    }

    #[test]
    fn sources_round_trip_their_names() {
        for s in [SaleSource::Order, SaleSource::Import] {
            assert_eq!(s.as_str().parse::<SaleSource>(), Ok(s));
        }
        assert!("imported".parse::<SaleSource>().is_err());
    }
}
