//! pricing: placeholder module until its issue lands.
