//! Seeded generators of benchmark models (in progress).
