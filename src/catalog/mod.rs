//! The catalog: loads product and rules YAML into a resolved, typed, versioned model, with diagnostics.
//!
//! Entry points: [`load_dir`] and [`load`] (from an in-memory [`FileSet`]). Loading never stops at the
//! first problem: it returns every usable product together with every diagnostic.

pub mod bom;
pub mod diagnostic;
pub mod expr;
pub mod files;
mod load;
pub mod model;
pub mod money;
pub mod preview;
pub mod print_area;
pub mod product;
mod read;
pub mod rules_file;
pub mod table_file;
pub mod yaml;

pub use diagnostic::{Code, Diagnostic, Severity, SourceMap, Span};
pub use files::{FileSet, FilesError};
pub use load::{LoadResult, load, load_dir, version_of};
pub use model::*;
