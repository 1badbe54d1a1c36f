//! Customer uploads: decodes PNG/JPEG/WebP with byte and pixel limits, re-encodes as PNG, names it by content hash, and stores it.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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

/// An accepted upload: re-encoded PNG bytes named by their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Hex SHA-256 of `bytes`; the value a selection refers to the upload by.
    pub id: String,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
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
    #[error("storage failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks, decodes and re-encodes an uploaded image. Metadata is dropped by the re-encoding.
pub fn accept(bytes: &[u8], limits: &UploadLimits) -> Result<Upload, UploadError> {
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
    let (w, h) = reader.into_dimensions().map_err(map_err)?;
    if w > limits.max_side || h > limits.max_side {
        return Err(UploadError::TooManyPixels {
            width: w,
            height: h,
            limit: limits.max_side,
        });
    }
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

/// Uploads as files `<root>/<id>.png`.
#[derive(Debug, Clone)]
pub struct FsUploadStore {
    root: PathBuf,
}

impl FsUploadStore {
    /// A store rooted at `root` (created if missing), e.g. `./data/uploads`.
    pub fn new(root: impl Into<PathBuf>) -> Result<FsUploadStore, UploadError> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(FsUploadStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, id: &str) -> Result<PathBuf, UploadError> {
        if !is_upload_id(id) {
            return Err(UploadError::BadId(id.chars().take(80).collect()));
        }
        Ok(self.root.join(format!("{id}.png")))
    }
}

impl UploadStore for FsUploadStore {
    fn put(&self, upload: &Upload) -> Result<(), UploadError> {
        let path = self.path(&upload.id)?;
        if path.exists() {
            return Ok(());
        }
        let tmp = self.root.join(format!(
            ".{}.{}.tmp",
            upload.id,
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::write(&tmp, &upload.bytes)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, UploadError> {
        let path = self.path(id)?;
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
