//! Merchant tools over whole catalogs: rule tests (`tests`), change impact between two catalog versions (`diff`) and import of shop CSV exports (`csv`).
//!
//! Pure logic: no file IO. The CLI (`src/cli/merchant.rs`) reads the files and prints the reports.

pub mod csv;
pub mod diff;
pub mod tests;
mod yamlread;
