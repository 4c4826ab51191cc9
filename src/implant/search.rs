//! Worst-case search (placeholder).
