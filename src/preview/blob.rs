//! Blob storage: the `BlobStore` interface (bytes keyed by kind and id, with content type, size, SHA-256 and creation time) and its directory implementation; the database one is `db::DbBlobStore`.
//!
//! Customer uploads (their original bytes and the normalised PNG previews use) and orders'
//! print files go through one [`BlobStore`]. The database store (default) lets every instance
//! on the same database answer the same; [`FsBlobStore`] keeps files under a local directory and
//! is for a single node only. No HTTP and no SQL here.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// The largest blob a store accepts, in bytes: an order's print file at the largest print size
/// (8192 px a side) is a PNG of 256 MiB at worst; uploads are far smaller (8 MiB originals,
/// normalised PNGs of at most 4096 px a side).
pub const MAX_BLOB_BYTES: usize = 256 << 20;

/// Longest id a blob may have, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 127;

/// What a blob is; each kind has its own id space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// An accepted upload, re-encoded as PNG (what previews and print files draw); id: the
    /// SHA-256 of these bytes.
    Upload,
    /// The bytes a customer uploaded, exactly as sent; id: the id of their normalised upload.
    Original,
    /// An order's print files: the storefront mock-up (PNG; id: the preview's content reference,
    /// `<key>-print<dpi>`) and the print areas' files (PNG, SVG and PDF; id: their hex SHA-256).
    Print,
}

impl BlobKind {
    pub const ALL: [BlobKind; 3] = [BlobKind::Upload, BlobKind::Original, BlobKind::Print];

    /// The name stored in the database and used for the directory store's folders' stems.
    pub fn as_str(self) -> &'static str {
        match self {
            BlobKind::Upload => "upload",
            BlobKind::Original => "original",
            BlobKind::Print => "print",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<BlobKind> {
        BlobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The directory store's folder for this kind (`uploads`, `originals`, `prints`).
    fn folder(self) -> &'static str {
        match self {
            BlobKind::Upload => "uploads",
            BlobKind::Original => "originals",
            BlobKind::Print => "prints",
        }
    }
}

/// What is known of a stored blob besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub kind: BlobKind,
    pub id: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: SystemTime,
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub info: BlobInfo,
    pub bytes: Vec<u8>,
}

/// A blob in a listing: its id and when it was stored. Listings are ordered by
/// (`created_at`, `id`), and one entry is the cursor the next page starts after.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    pub created_at: SystemTime,
    pub id: String,
}

/// Why a blob store call failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("`{0}` is not a blob id")]
    BadId(String),
    #[error("`{0}` is not a content type")]
    BadContentType(String),
    #[error("the blob is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("stored blob {kind} `{id}` does not match its checksum")]
    Corrupt { kind: &'static str, id: String },
    #[error("blob storage failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("blob storage is unavailable: {0}")]
    Unavailable(String),
}

/// Bytes keyed by kind and id. Object-safe and thread-safe: shared as `Arc<dyn BlobStore>`.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores a blob unless one is stored under the same kind and id (then the stored one is
    /// kept: ids name content, and a value once given is never rewritten). `true` when this
    /// call stored it.
    fn put(
        &self,
        kind: BlobKind,
        id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<bool, BlobError>;
    /// A stored blob, checked against its SHA-256.
    fn get(&self, kind: BlobKind, id: &str) -> Result<Option<Blob>, BlobError>;
    /// Whether a blob is stored.
    fn contains(&self, kind: BlobKind, id: &str) -> Result<bool, BlobError>;
    /// Deletes a blob; `true` when one was stored.
    fn delete(&self, kind: BlobKind, id: &str) -> Result<bool, BlobError>;
    /// Blobs of `kind` created before `before`, oldest first (by creation time, then id),
    /// starting after `after` (a previous page's last entry), at most `limit`.
    fn list_older_than(
        &self,
        kind: BlobKind,
        before: SystemTime,
        after: Option<&Listed>,
        limit: usize,
    ) -> Result<Vec<Listed>, BlobError>;
}

/// Checks an id: 1–128 characters of `0-9`, `a-z` and `-` (hex digests and preview references).
pub fn check_id(id: &str) -> Result<(), BlobError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BlobError::BadId(id.chars().take(80).collect()))
    }
}

/// Checks what a put is given: the id, the content type (visible ASCII) and the size bound.
pub fn check_put(id: &str, content_type: &str, bytes: &[u8]) -> Result<(), BlobError> {
    check_id(id)?;
    if content_type.is_empty()
        || content_type.len() > MAX_CONTENT_TYPE_LEN
        || !content_type.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(BlobError::BadContentType(
            content_type.chars().take(80).collect(),
        ));
    }
    if bytes.len() > MAX_BLOB_BYTES {
        return Err(BlobError::TooLarge {
            size: bytes.len(),
            limit: MAX_BLOB_BYTES,
        });
    }
    Ok(())
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::config::hex(&Sha256::digest(bytes))
}

/// The file extension the directory store gives a content type, and back.
const EXTENSIONS: [(&str, &str); 6] = [
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("pdf", "application/pdf"),
    ("jpg", "image/jpeg"),
    ("webp", "image/webp"),
    ("bin", "application/octet-stream"),
];

fn extension_of(content_type: &str) -> Option<&'static str> {
    EXTENSIONS
        .iter()
        .find(|(_, t)| *t == content_type)
        .map(|(e, _)| *e)
}

/// Blobs as files `<root>/<folder>/<id>.<ext>` (`uploads/`, `originals/`, `prints/`; the
/// extension carries the content type: png, jpg, webp, bin), written to a temporary file and
/// renamed into place. Single node only: another instance does not see these files.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store under `root` (its folders are created if missing), e.g. `./data`.
    pub fn new(root: impl Into<PathBuf>) -> Result<FsBlobStore, BlobError> {
        let root = root.into();
        for kind in BlobKind::ALL {
            std::fs::create_dir_all(root.join(kind.folder()))?;
        }
        Ok(FsBlobStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The stored file of a blob, with its content type, if any.
    fn find(&self, kind: BlobKind, id: &str) -> Result<Option<(PathBuf, &'static str)>, BlobError> {
        check_id(id)?;
        let dir = self.root.join(kind.folder());
        for (ext, content_type) in EXTENSIONS {
            let path = dir.join(format!("{id}.{ext}"));
            if path.is_file() {
                return Ok(Some((path, content_type)));
            }
        }
        Ok(None)
    }
}

fn not_found_is_none<T>(r: std::io::Result<T>) -> Result<Option<T>, BlobError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl BlobStore for FsBlobStore {
    fn put(
        &self,
        kind: BlobKind,
        id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<bool, BlobError> {
        check_put(id, content_type, bytes)?;
        let ext = extension_of(content_type)
            .ok_or_else(|| BlobError::BadContentType(content_type.to_owned()))?;
        if self.find(kind, id)?.is_some() {
            return Ok(false);
        }
        let dir = self.root.join(kind.folder());
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{id}.{}.tmp", uuid::Uuid::now_v7().simple()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, dir.join(format!("{id}.{ext}")))?;
        Ok(true)
    }

    fn get(&self, kind: BlobKind, id: &str) -> Result<Option<Blob>, BlobError> {
        let Some((path, content_type)) = self.find(kind, id)? else {
            return Ok(None);
        };
        let Some(bytes) = not_found_is_none(std::fs::read(&path))? else {
            return Ok(None);
        };
        let created_at = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Some(Blob {
            info: BlobInfo {
                kind,
                id: id.to_owned(),
                content_type: content_type.to_owned(),
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                created_at,
            },
            bytes,
        }))
    }

    fn contains(&self, kind: BlobKind, id: &str) -> Result<bool, BlobError> {
        Ok(self.find(kind, id)?.is_some())
    }

    fn delete(&self, kind: BlobKind, id: &str) -> Result<bool, BlobError> {
        let Some((path, _)) = self.find(kind, id)? else {
            return Ok(false);
        };
        Ok(not_found_is_none(std::fs::remove_file(path))?.is_some())
    }

    fn list_older_than(
        &self,
        kind: BlobKind,
        before: SystemTime,
        after: Option<&Listed>,
        limit: usize,
    ) -> Result<Vec<Listed>, BlobError> {
        let dir = self.root.join(kind.folder());
        let Some(entries) = not_found_is_none(std::fs::read_dir(&dir))? else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some((id, ext)) = name.rsplit_once('.') else {
                continue;
            };
            if name.starts_with('.') || extension_of_ext(ext).is_none() || check_id(id).is_err() {
                continue;
            }
            let Some(modified) = not_found_is_none(entry.metadata().and_then(|m| m.modified()))?
            else {
                continue;
            };
            let listed = Listed {
                created_at: modified,
                id: id.to_owned(),
            };
            if modified < before && after.is_none_or(|a| listed > *a) {
                found.push(listed);
            }
        }
        found.sort();
        found.truncate(limit);
        Ok(found)
    }
}

fn extension_of_ext(ext: &str) -> Option<&'static str> {
    EXTENSIONS.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t)
}
