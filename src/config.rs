//! Settings: one value loaded explicitly (flags, environment, defaults) and passed down.
