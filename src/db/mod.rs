//! db: placeholder module until its issue lands.
