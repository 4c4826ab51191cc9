//! Regression comparison of result directories.
