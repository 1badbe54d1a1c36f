//! app: placeholder module until its issue lands.
