//! Customer uploads: decodes PNG/JPEG/WebP with byte and pixel limits (under the process's decode budget), re-encodes as PNG, names it by content hash, and stores it with the original bytes in a `BlobStore`.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::blob::{Blob, BlobError, BlobKind, BlobStore, FsBlobStore};
use super::budget::{BudgetExceeded, DecodeBudget};

/// Bounds on an uploaded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Largest accepted width and height, in pixels.
    pub max_side: u32,
    /// Most memory the decoder may allocate, in bytes.
    pub max_alloc: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 10 * 1024 * 1024,
            max_side: 4096,
            max_alloc: 128 * 1024 * 1024,
        }
    }
}

/// An accepted upload: re-encoded PNG bytes named by their SHA-256, and the bytes as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Hex SHA-256 of `bytes`; the value a selection refers to the upload by.
    pub id: String,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
    /// The file exactly as the customer sent it.
    pub original: Vec<u8>,
    /// Its content type (`image/png`, `image/jpeg` or `image/webp`).
    pub original_type: &'static str,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the file is empty")]
    Empty,
    #[error("only PNG, JPEG and WebP images are accepted")]
    UnsupportedType,
    #[error("the image is {width}x{height} pixels; the limit is {limit} on each side")]
    TooManyPixels { width: u32, height: u32, limit: u32 },
    #[error("the image exceeds the decoding limits")]
    LimitsExceeded,
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
    #[error("`{0}` is not an upload id")]
    BadId(String),
    #[error(transparent)]
    Busy(#[from] BudgetExceeded),
    #[error("storage failed: {0}")]
    Store(#[from] BlobError),
}

/// Checks, decodes and re-encodes an uploaded image. Metadata is dropped by the re-encoding.
pub fn accept(bytes: &[u8], limits: &UploadLimits) -> Result<Upload, UploadError> {
    accept_within(bytes, limits, None)
}

/// Bytes a decode of a `width`×`height` image holds at once: the decoded buffer
/// (`decoded_bytes`), its RGBA copy, and the PNG being encoded from it (at most about as large).
pub fn decode_cost(width: u32, height: u32, decoded_bytes: u64) -> u64 {
    let rgba = u64::from(width) * u64::from(height) * 4;
    decoded_bytes.saturating_add(rgba.saturating_mul(2))
}

/// As [`accept`], holding the decode's memory against `budget` (refused with
/// [`UploadError::Busy`] when it is spent): the image's header is read first, so the decode's
/// size is known before anything large is allocated.
pub fn accept_within(
    bytes: &[u8],
    limits: &UploadLimits,
    budget: Option<&Arc<DecodeBudget>>,
) -> Result<Upload, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(UploadError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| UploadError::UnsupportedType)?;
    if !matches!(
        format,
        image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP
    ) {
        return Err(UploadError::UnsupportedType);
    }
    if format == image::ImageFormat::Jpeg && !jpeg_complete(bytes) {
        return Err(UploadError::Corrupt("the JPEG data is truncated".into()));
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(limits.max_side);
    lim.max_image_height = Some(limits.max_side);
    lim.max_alloc = Some(limits.max_alloc);
    reader.limits(lim.clone());
    let decoder = reader.into_decoder().map_err(map_err)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    let decoded = image::ImageDecoder::total_bytes(&decoder);
    drop(decoder);
    if w > limits.max_side || h > limits.max_side {
        return Err(UploadError::TooManyPixels {
            width: w,
            height: h,
            limit: limits.max_side,
        });
    }
    let _permit = budget
        .map(|b| b.try_acquire(decode_cost(w, h, decoded)))
        .transpose()?;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(lim);
    let img = reader.decode().map_err(map_err)?.into_rgba8();
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| UploadError::Corrupt(e.to_string()))?;
    Ok(Upload {
        id: hex(&Sha256::digest(&out)),
        content_type: "image/png",
        width: img.width(),
        height: img.height(),
        bytes: out,
        original: bytes.to_vec(),
        original_type: match format {
            image::ImageFormat::Jpeg => "image/jpeg",
            image::ImageFormat::WebP => "image/webp",
            _ => "image/png",
        },
    })
}

/// Whether a JPEG's last scan is followed by an end-of-image marker. The decoder fills a
/// truncated scan with grey instead of failing, so truncation is caught here.
fn jpeg_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((last_sos, last_eoi), (Some(s), Some(e)) if e > s)
}

fn map_err(e: image::ImageError) -> UploadError {
    match e {
        image::ImageError::Limits(_) => UploadError::LimitsExceeded,
        image::ImageError::Unsupported(_) => UploadError::UnsupportedType,
        other => UploadError::Corrupt(other.to_string()),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `id` has the shape of an upload id (64 lowercase hex digits).
pub fn is_upload_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where accepted uploads are kept, by id.
pub trait UploadStore: Send + Sync {
    /// Stores an upload (idempotent: the same content has the same id).
    fn put(&self, upload: &Upload) -> Result<(), UploadError>;
    /// The stored PNG bytes of an upload, if present.
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, UploadError>;
    /// Whether an upload is stored.
    fn contains(&self, id: &str) -> Result<bool, UploadError> {
        self.get(id).map(|b| b.is_some())
    }
}

/// Uploads in a [`BlobStore`]: the normalised PNG as [`BlobKind::Upload`], the bytes as sent as
/// [`BlobKind::Original`], both under the upload id. The original is stored first, so a
/// stored upload always has one; the first original that produced an id is the one kept.
#[derive(Debug, Clone)]
pub struct StoredUploads {
    blobs: Arc<dyn BlobStore>,
}

fn checked_id(id: &str) -> Result<(), UploadError> {
    if is_upload_id(id) {
        Ok(())
    } else {
        Err(UploadError::BadId(id.chars().take(80).collect()))
    }
}

impl StoredUploads {
    pub fn new(blobs: Arc<dyn BlobStore>) -> StoredUploads {
        StoredUploads { blobs }
    }

    /// The bytes the customer sent for an upload, with their content type.
    pub fn original(&self, id: &str) -> Result<Option<Blob>, UploadError> {
        checked_id(id)?;
        Ok(self.blobs.get(BlobKind::Original, id)?)
    }

    /// Deletes an upload (its normalised image first, so it is unknown from then on, then its
    /// original); `true` when anything was stored.
    pub fn delete(&self, id: &str) -> Result<bool, UploadError> {
        checked_id(id)?;
        let upload = self.blobs.delete(BlobKind::Upload, id)?;
        let original = self.blobs.delete(BlobKind::Original, id)?;
        Ok(upload || original)
    }
}

impl UploadStore for StoredUploads {
    fn put(&self, upload: &Upload) -> Result<(), UploadError> {
        checked_id(&upload.id)?;
        self.blobs.put(
            BlobKind::Original,
            &upload.id,
            upload.original_type,
            &upload.original,
        )?;
        self.blobs.put(
            BlobKind::Upload,
            &upload.id,
            upload.content_type,
            &upload.bytes,
        )?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, UploadError> {
        checked_id(id)?;
        Ok(self.blobs.get(BlobKind::Upload, id)?.map(|b| b.bytes))
    }

    fn contains(&self, id: &str) -> Result<bool, UploadError> {
        checked_id(id)?;
        Ok(self.blobs.contains(BlobKind::Upload, id)?)
    }
}

/// Uploads as files under a directory ([`FsBlobStore`]: `<root>/uploads/<id>.png`, the
/// originals under `<root>/originals/`). Single node only.
#[derive(Debug, Clone)]
pub struct FsUploadStore(StoredUploads);

impl FsUploadStore {
    /// A store rooted at `root` (created if missing), e.g. `./data`.
    pub fn new(root: impl Into<PathBuf>) -> Result<FsUploadStore, UploadError> {
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(root)?);
        Ok(FsUploadStore(StoredUploads::new(blobs)))
    }

    pub fn stored(&self) -> &StoredUploads {
        &self.0
    }
}

impl UploadStore for FsUploadStore {
    fn put(&self, upload: &Upload) -> Result<(), UploadError> {
        self.0.put(upload)
    }

    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, UploadError> {
        self.0.get(id)
    }

    fn contains(&self, id: &str) -> Result<bool, UploadError> {
        self.0.contains(id)
    }
}
