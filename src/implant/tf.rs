//! Lead transfer function (placeholder, filled in below).
