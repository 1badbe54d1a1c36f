//! Bespoke: a product-customization configurator backend.
//!
//! See ARCHITECTURE.md for the map: `catalog` loads YAML into a typed model; `cli` drives it.

pub mod catalog;
pub mod cli;
pub mod rules;
