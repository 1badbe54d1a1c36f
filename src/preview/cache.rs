//! The preview cache: content-hash keys (product version, render-relevant values, size, format) and a bounded moka cache that coalesces identical renders.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::catalog::model::Value;

use super::{PreviewError, RenderRequest, Rendered};

/// The identity of a preview image: a hex SHA-256. Also its ETag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PreviewKey(String);

impl PreviewKey {
    /// Hashes everything that determines the image. Each field is length-prefixed, so no two
    /// different inputs share an encoding.
    pub(crate) fn new(
        product: &str,
        version: &str,
        values: &[(usize, Option<Value>)],
        req: &RenderRequest,
    ) -> PreviewKey {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(b"bespoke-preview-v1");
        field(product.as_bytes());
        field(version.as_bytes());
        for (opt, v) in values {
            field(&(*opt as u64).to_le_bytes());
            match v {
                None => field(b"unset"),
                Some(Value::Choice(i)) => {
                    field(b"c");
                    field(&(*i as u64).to_le_bytes());
                }
                Some(Value::Bool(b)) => field(if *b { b"t" } else { b"f" }),
                Some(Value::Int(n)) => {
                    field(b"i");
                    field(&n.to_le_bytes());
                }
                Some(Value::Text(s)) => {
                    field(b"s");
                    field(s.as_bytes());
                }
            }
        }
        field(&req.width.to_le_bytes());
        field(req.format.name().as_bytes());
        let digest = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        PreviewKey(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PreviewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bounded cache of encoded previews, weighed by their size in bytes.
pub(crate) struct Cache {
    inner: moka::sync::Cache<PreviewKey, Rendered>,
    /// Lookups answered from the cache, and renders (misses), for `/metrics`.
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Cache {
    pub(crate) fn new(max_bytes: u64) -> Cache {
        Cache {
            inner: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_k: &PreviewKey, v: &Rendered| {
                    u32::try_from(v.bytes.len()).unwrap_or(u32::MAX)
                })
                .build(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached image for `key`, or renders it once; concurrent callers with the same key wait
    /// for that one render. Errors are not cached.
    pub(crate) fn get_or_render(
        &self,
        key: &PreviewKey,
        render: impl FnOnce() -> Result<Rendered, PreviewError>,
    ) -> Result<Rendered, PreviewError> {
        let mut rendered = false;
        let out = self
            .inner
            .try_get_with_by_ref(key, || {
                rendered = true;
                render()
            })
            .map_err(|e: Arc<PreviewError>| (*e).clone());
        let counter = if rendered { &self.misses } else { &self.hits };
        counter.fetch_add(1, Ordering::Relaxed);
        out
    }

    /// The cached image for `key`, if it has been rendered (never renders; a miss here is
    /// counted when the render happens).
    pub(crate) fn get(&self, key: &PreviewKey) -> Option<Rendered> {
        let found = self.inner.get(key);
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Lookups answered from the cache, and renders, since the cache was made.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn entries(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }
}
