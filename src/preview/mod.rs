//! preview: placeholder module until its issue lands.
