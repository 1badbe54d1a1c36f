//! Timestamps: an instant in whole microseconds since the Unix epoch (UTC), shown as RFC 3339.

use std::fmt;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An instant, exact to the microsecond. Stored as an integer; serialized as RFC 3339 (`...Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_unix_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC, e.g. `2026-11-24T00:10:00.123456Z`; `None` beyond year 9999.
    pub fn to_rfc3339(self) -> Option<String> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_rfc3339() {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}us", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to_rfc3339() {
            Some(text) => s.serialize_str(&text),
            None => Err(serde::ser::Error::custom("timestamp out of RFC 3339 range")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_micros() {
        let t = Timestamp::from_unix_micros(1_795_478_400_123_456);
        assert_eq!(
            t.to_rfc3339().as_deref(),
            Some("2026-11-24T00:00:00.123456Z")
        );
        assert_eq!(
            Timestamp::from_unix_micros(0).to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(Timestamp::from_unix_micros(i64::MAX).to_rfc3339(), None);
    }
}
