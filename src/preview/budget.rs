//! The process-wide decode budget: a semaphore over the bytes that decoding images (uploads, and the uploads a preview draws) holds in memory at once; beyond it a decode is refused (503 with Retry-After) instead of queued.

use std::sync::{Arc, Mutex};

/// Seconds a client is asked to wait before retrying a decode the budget refused: decodes of
/// the largest accepted images take well under a second.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Default budget, in MiB (`--decode-budget-mb`): about three decodes of the largest accepted
/// image (4096 px a side: ~170 MB each) at once.
pub const DEFAULT_DECODE_BUDGET_MB: u64 = 512;

/// Why a decode was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server is decoding other images ({in_use} of {limit} bytes of its decode budget in use; \
     this one needs {needed}): retry in {RETRY_AFTER_SECS} s"
)]
pub struct BudgetExceeded {
    pub needed: u64,
    pub in_use: u64,
    pub limit: u64,
}

/// A byte budget shared by every decode in the process. A decode asks for what it will hold
/// (decoded pixels and the copies made of them) before it starts; it is admitted while the sum
/// stays within the limit, and always when nothing else is decoding (so an image larger than
/// the whole budget still goes through alone).
#[derive(Debug)]
pub struct DecodeBudget {
    limit: u64,
    in_use: Mutex<u64>,
}

/// Bytes held against a [`DecodeBudget`]; given back when dropped.
#[derive(Debug)]
pub struct DecodePermit {
    budget: Arc<DecodeBudget>,
    bytes: u64,
}

impl DecodeBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<DecodeBudget> {
        Arc::new(DecodeBudget {
            limit,
            in_use: Mutex::new(0),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes held now.
    pub fn in_use(&self) -> u64 {
        match self.in_use.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    /// Holds `bytes` until the permit is dropped, or refuses at once.
    pub fn try_acquire(self: &Arc<Self>, bytes: u64) -> Result<DecodePermit, BudgetExceeded> {
        let mut used = match self.in_use.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if *used > 0 && used.saturating_add(bytes) > self.limit {
            return Err(BudgetExceeded {
                needed: bytes,
                in_use: *used,
                limit: self.limit,
            });
        }
        *used = used.saturating_add(bytes);
        Ok(DecodePermit {
            budget: Arc::clone(self),
            bytes,
        })
    }
}

impl Drop for DecodePermit {
    fn drop(&mut self) {
        let mut used = match self.budget.in_use.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *used = used.saturating_sub(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_within_the_limit_and_alone_beyond_it() {
        let b = DecodeBudget::new(100);
        let one = b.try_acquire(60).ok();
        assert!(one.is_some());
        assert!(b.try_acquire(50).is_err());
        let two = b.try_acquire(40).ok();
        assert!(two.is_some());
        drop((one, two));
        assert_eq!(b.in_use(), 0);
        let big = b.try_acquire(1000).ok();
        assert!(big.is_some(), "alone, anything is admitted");
        assert!(b.try_acquire(1).is_err());
    }
}
