//! http: placeholder module until its issue lands.
