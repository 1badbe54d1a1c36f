//! orders: placeholder module until its issue lands.
