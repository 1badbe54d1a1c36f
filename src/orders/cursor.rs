//! Opaque feed cursors: a position in the order feed (after a given order id), safe to hand out.

use uuid::Uuid;

/// A position in the order feed: "after this order". Orders are listed by id, and ids are
/// UUID v7 (time-ordered), so a page boundary never moves when orders are inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    after: Uuid,
}

/// A cursor string that this server did not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct CursorError;

const PREFIX: &str = "o1.";
/// A cursor is short; anything longer is rejected before parsing.
const MAX_LEN: usize = 64;

impl Cursor {
    /// The position after the order with this id; `None` when the id is not a UUID.
    pub fn after(order_id: &str) -> Option<Cursor> {
        Uuid::try_parse(order_id).ok().map(|after| Cursor { after })
    }

    /// The order id this cursor is after, in the stored (hyphenated, lowercase) form.
    pub fn after_id(&self) -> String {
        self.after.hyphenated().to_string()
    }

    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", self.after.simple())
    }

    pub fn decode(text: &str) -> Result<Cursor, CursorError> {
        if text.len() > MAX_LEN {
            return Err(CursorError);
        }
        let hex = text.strip_prefix(PREFIX).ok_or(CursorError)?;
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(CursorError);
        }
        Uuid::try_parse(hex)
            .map(|after| Cursor { after })
            .map_err(|_| CursorError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(bytes in any::<[u8; 16]>()) {
            let id = Uuid::from_bytes(bytes).hyphenated().to_string();
            let c = Cursor::after(&id).ok_or(TestCaseError::fail("id"))?;
            let back = Cursor::decode(&c.encode()).map_err(|_| TestCaseError::fail("decode"))?;
            prop_assert_eq!(back.after_id(), id);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,80}") {
            let _ = Cursor::decode(&s);
        }
    }

    #[test]
    fn rejects_foreign_strings() {
        for bad in [
            "",
            "o1.",
            "abc",
            "o1.ZZZZ",
            "o2.0190f1a2b3c47d8e9f00112233445566",
            "o1.0190F1A2B3C47D8E9F00112233445566",
        ] {
            assert_eq!(Cursor::decode(bad), Err(CursorError), "{bad}");
        }
    }
}
