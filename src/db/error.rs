//! DbError: every way a storage call fails, typed so the HTTP layer can map each to a status.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::orders::{IllegalTransition, SpecError, Status};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No such order or catalog version (404).
    #[error("not found")]
    NotFound,
    /// The Idempotency-Key was already used with a different request body (409 / 422).
    #[error("idempotency key already used for a different request (order {existing_order})")]
    IdempotencyConflict { existing_order: String },
    /// The order changed since the caller read it (412 on If-Match); `current` is its version now.
    #[error("order version is {current}, not the expected one")]
    VersionConflict { current: i64 },
    /// The status machine forbids the move (409 / 422).
    #[error("an order cannot go from {from} to {to}")]
    IllegalTransition { from: Status, to: Status },
    /// The cursor was not issued by this server (400).
    #[error("invalid cursor")]
    BadCursor,
    /// A field is outside its bounds (400 / 422).
    #[error("invalid input: {0}")]
    Invalid(#[from] SpecError),
    /// A bounded collection is full (e.g. `MAX_WEBHOOKS` registered webhooks).
    #[error("at most {max} {what}")]
    TooMany { what: &'static str, max: usize },
    /// The database URL is not one we can use.
    #[error("bad database URL: {0}")]
    BadUrl(String),
    /// The database cannot be reached now, or is busy (503; retry later).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Running the embedded migrations failed.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// A stored row cannot be read back (a bug or a hand edit).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other database error (500).
    #[error("database error: {0}")]
    Backend(String),
}

impl From<IllegalTransition> for DbError {
    fn from(e: IllegalTransition) -> Self {
        DbError::IllegalTransition {
            from: e.from,
            to: e.to,
        }
    }
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

impl From<DieselError> for DbError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => DbError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                DbError::Unavailable(info.message().to_owned())
            }
            DieselError::DatabaseError(_, ref info) if is_busy(&e) => {
                DbError::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => DbError::Unavailable(e.to_string()),
            DieselError::DeserializationError(d) => DbError::Corrupt(d.to_string()),
            other => DbError::Backend(other.to_string()),
        }
    }
}

/// Whether SQLite refused because another connection holds a lock it needs.
pub(crate) fn is_busy(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(_, info)
        if info.message().contains("database is locked")
            || info.message().contains("database is busy"))
}

/// Whether a diesel error is a unique-constraint violation (a lost insert race).
pub(crate) fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}
