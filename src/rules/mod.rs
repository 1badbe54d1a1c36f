//! The rules engine: compiles a product's constraints into a finite-domain model and answers propagate, validate, repair, complete, count and analyze.

pub mod engine;
pub mod generate;
pub mod import;
pub mod learned;
pub mod model;
mod pool;
mod reasons;
pub mod sat;
pub mod selection;
pub mod solver;

pub use engine::{
    Engine, EngineError, Explain, Explanation, OptionAvailability, Propagation, Repair, Validation,
    Violation, Warmed, Warmth,
};
pub use learned::{Export, Imported, LearnedError};
pub use selection::{Selection, SelectionError};
pub mod analyze;
pub mod count;
