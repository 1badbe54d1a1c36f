//! The catalog's files as an in-memory set (relative path → bytes), read from a directory with bounds, or built in memory.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file read (YAML, templates, images, fonts), except table files.
pub const MAX_ASSET_BYTES: u64 = 16 * 1024 * 1024;
/// Largest table file read (`rules/*.csv`, `rules/*.tsv`): a million rows of a dozen cells.
pub const MAX_TABLE_BYTES: u64 = 64 * 1024 * 1024;

/// The size limit of a catalog file, by its kind.
pub fn max_bytes(rel_path: &str) -> u64 {
    if super::table_file::is_table_file(rel_path) {
        MAX_TABLE_BYTES
    } else {
        MAX_ASSET_BYTES
    }
}
/// Most files read from one catalog directory.
pub const MAX_FILES: usize = 10_000;
/// Deepest directory nesting walked.
const MAX_DIR_DEPTH: usize = 16;

/// The folders a catalog directory is made of.
pub const FOLDERS: [&str; 3] = ["catalog", "rules", "assets"];

/// Why a catalog directory could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not a catalog directory (it has none of catalog/, rules/, assets/)")]
    NotACatalog(PathBuf),
    #[error("{0}: more than {MAX_FILES} files")]
    TooManyFiles(PathBuf),
}

/// Files of a catalog, keyed by their path relative to the catalog directory, with `/` separators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, Vec<u8>>,
    /// Files that were too large to read: path → size. The loader reports them.
    oversized: BTreeMap<String, u64>,
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), bytes.into());
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn oversized(&self) -> impl Iterator<Item = (&str, u64)> {
        self.oversized.iter().map(|(p, s)| (p.as_str(), *s))
    }

    /// The size of `path` when it was left unread for being too large.
    pub fn oversized_len(&self, path: &str) -> Option<u64> {
        self.oversized.get(path).copied()
    }

    /// Every path, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Paths directly or indirectly under `folder/` with one of the extensions.
    pub fn under<'a>(
        &'a self,
        folder: &'a str,
        exts: &'a [&'a str],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.paths().filter(move |p| {
            p.strip_prefix(folder).is_some_and(|r| r.starts_with('/'))
                && exts.iter().any(|e| p.ends_with(e))
        })
    }

    /// Writes every file below `root` (creating folders). Paths must be safe relative paths.
    pub fn write_to(&self, root: &Path) -> std::io::Result<()> {
        for (path, bytes) in &self.files {
            if !super::preview::safe_path(path) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("unsafe path {path}"),
                ));
            }
            let target = root.join(path);
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::write(target, bytes)?;
        }
        Ok(())
    }

    /// Reads `catalog/`, `rules/` and `assets/` below `root`. Symbolic links are not followed.
    pub fn from_dir(root: &Path) -> Result<FileSet, FilesError> {
        let mut set = FileSet::new();
        let mut found = false;
        for folder in FOLDERS {
            let dir = root.join(folder);
            if dir.is_dir() {
                found = true;
                walk(&dir, folder, 0, &mut set)?;
            }
        }
        if !found {
            return Err(FilesError::NotACatalog(root.to_path_buf()));
        }
        Ok(set)
    }
}

fn walk(dir: &Path, rel: &str, depth: usize, set: &mut FileSet) -> Result<(), FilesError> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let io = |source| FilesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(|source| FilesError::Io {
            path: path.clone(),
            source,
        })?;
        let rel_path = format!("{rel}/{name}");
        if meta.is_dir() {
            walk(&path, &rel_path, depth + 1, set)?;
        } else if meta.is_file() {
            if set.files.len() + set.oversized.len() >= MAX_FILES {
                return Err(FilesError::TooManyFiles(dir.to_path_buf()));
            }
            let limit = max_bytes(&rel_path);
            if meta.len() > limit {
                set.oversized.insert(rel_path, meta.len());
                continue;
            }
            let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            fs::File::open(&path)
                .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
                .map_err(|source| FilesError::Io {
                    path: path.clone(),
                    source,
                })?;
            set.files.insert(rel_path, bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table file over `MAX_TABLE_BYTES` (too large to write in a test: recorded as the
    /// directory walk records it) is reported once at the file and, where a rule uses it, as
    /// unreadable: never as empty.
    #[test]
    fn an_oversized_table_file_is_reported_as_too_large() {
        let mut set = FileSet::new();
        set.insert(
            "catalog/car.yaml",
            "id: car\nname: Car\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/car.yaml]\noptions:\n  engine: { type: choice, values: [petrol, electric] }\n",
        );
        set.insert(
            "rules/car.yaml",
            "constraints:\n  - id: variants\n    message: No.\n    table: rules/car.csv\n    allow: true\n",
        );
        set.oversized
            .insert("rules/car.csv".into(), MAX_TABLE_BYTES + 1);
        let r = super::super::load(&set);
        let messages: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains(&format!(
                "over the limit of {MAX_TABLE_BYTES} bytes for table files"
            ))),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("the table file `rules/car.csv` cannot be read")),
            "{messages:?}"
        );
        assert!(
            !messages.iter().any(|m| m.contains("empty")),
            "{messages:?}"
        );
    }
}
