//! The order status machine: which statuses exist and exactly which transitions are legal.
//!
//! ```text
//! submitted ──▶ accepted ──▶ in_production ──▶ shipped
//!     │             │
//!     └──▶ cancelled ◀┘
//! ```
//! An order starts `submitted`. It can be cancelled until production starts; once in production
//! it can only ship (the goods are made to order). `shipped` and `cancelled` are terminal. A
//! transition to the same status is not a transition and is illegal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Accepted,
    InProduction,
    Shipped,
    Cancelled,
}

/// A status name that is not one of [`Status::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown order status {0:?} (expected one of submitted, accepted, in_production, shipped, cancelled)"
)]
pub struct UnknownStatus(pub String);

/// A transition the status machine forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: Status,
    pub to: Status,
}

impl Status {
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 5] = [
        Status::Submitted,
        Status::Accepted,
        Status::InProduction,
        Status::Shipped,
        Status::Cancelled,
    ];

    /// The status a new order has.
    pub const INITIAL: Status = Status::Submitted;

    /// The stable wire and storage name (`in_production`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Accepted => "accepted",
            Status::InProduction => "in_production",
            Status::Shipped => "shipped",
            Status::Cancelled => "cancelled",
        }
    }

    /// The statuses this one may legally move to.
    pub fn successors(self) -> &'static [Status] {
        match self {
            Status::Submitted => &[Status::Accepted, Status::Cancelled],
            Status::Accepted => &[Status::InProduction, Status::Cancelled],
            Status::InProduction => &[Status::Shipped],
            Status::Shipped | Status::Cancelled => &[],
        }
    }

    pub fn can_become(self, to: Status) -> bool {
        self.successors().contains(&to)
    }

    /// No transition leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }

    /// The new status, or why the move is illegal.
    pub fn transition(self, to: Status) -> Result<Status, IllegalTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for st in Status::ALL {
            assert_eq!(st.as_str().parse::<Status>(), Ok(st));
            assert_eq!(
                serde_json::to_value(st).ok(),
                Some(serde_json::Value::String(st.as_str().to_owned()))
            );
        }
        assert!("In_Production".parse::<Status>().is_err());
    }

    #[test]
    fn the_machine_is_exactly_the_documented_one() {
        let legal: Vec<(Status, Status)> = Status::ALL
            .into_iter()
            .flat_map(|a| Status::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        use Status::*;
        assert_eq!(
            legal,
            vec![
                (Submitted, Accepted),
                (Submitted, Cancelled),
                (Accepted, InProduction),
                (Accepted, Cancelled),
                (InProduction, Shipped),
            ]
        );
        assert!(Shipped.is_terminal() && Cancelled.is_terminal());
        assert_eq!(
            Shipped.transition(Cancelled),
            Err(IllegalTransition {
                from: Shipped,
                to: Cancelled
            })
        );
    }
}
