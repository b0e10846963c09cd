//! Which letter each scanned page belongs to.
