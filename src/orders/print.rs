//! An order's print files as storage keeps them: the state of the order's files (pending, ready, failed), each file's metadata (area, format, pixels, micrometres, dpi, SHA-256, blob id), and what an order's creation records (files rendered inline, or a job).

use std::fmt;
use std::str::FromStr;

use super::Timestamp;

/// Attempts a print job gets before its order's files are marked failed: a render that fails
/// three times with the same input (pinned catalog version, frozen selection) will fail again.
pub const MAX_PRINT_ATTEMPTS: i64 = 3;

/// Where an order's print files stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilesState {
    /// The print job has not finished yet.
    Pending,
    /// Every file is stored.
    Ready,
    /// The job gave up after [`MAX_PRINT_ATTEMPTS`] attempts (the reason is kept).
    Failed,
}

impl FilesState {
    pub fn as_str(self) -> &'static str {
        match self {
            FilesState::Pending => "pending",
            FilesState::Ready => "ready",
            FilesState::Failed => "failed",
        }
    }
}

/// A stored state name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown print files state `{0}`")]
pub struct UnknownFilesState(pub String);

impl FromStr for FilesState {
    type Err = UnknownFilesState;
    fn from_str(s: &str) -> Result<FilesState, UnknownFilesState> {
        [FilesState::Pending, FilesState::Ready, FilesState::Failed]
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFilesState(s.to_owned()))
    }
}

impl fmt::Display for FilesState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored print file: what production needs to check it against the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintFileMeta {
    /// The print area's id (the product's `print_areas[].id`).
    pub area: String,
    /// `png` or `svg`.
    pub format: String,
    /// Position of the area in the product's declaration (files list in that order).
    pub position: i64,
    /// Id of the bytes in the blob store (kind `print`): their hex SHA-256.
    pub blob_id: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub width_px: i64,
    pub height_px: i64,
    /// The file's physical size (trim plus bleed on both sides), in micrometres: exact for
    /// every size given in whole hundredths of a millimetre.
    pub width_um: i64,
    pub height_um: i64,
    pub bleed_um: i64,
    pub dpi: i64,
}

/// What an order's creation records about its print files, in the order's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintPlan {
    /// The files were rendered and stored before the order: it is created `ready` with them.
    Ready(Vec<PrintFileMeta>),
    /// A durable job renders them after the order is acknowledged.
    Job,
}

/// An order's print files as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintFiles {
    pub order_id: String,
    pub state: FilesState,
    /// Attempts the job made (0 for files rendered inline).
    pub attempts: i64,
    /// Why the last attempt failed (kept while a retry is pending, and when the job gave up).
    pub error: Option<String>,
    /// The files, by area position then format (empty until ready).
    pub files: Vec<PrintFileMeta>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A print job a worker holds: the order and the attempt number that fences its writes (a
/// worker whose lease expired and was taken over cannot complete the job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub order_id: String,
    pub attempt: i64,
}
