//! Bespoke: a product-customization configurator backend.
//!
//! See ARCHITECTURE.md for the map: `catalog` loads YAML into a typed model; `cli` drives it.

pub mod app;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod merchant;
pub mod orders;
pub mod preview;
pub mod pricing;
pub mod recommend;
pub mod rules;
