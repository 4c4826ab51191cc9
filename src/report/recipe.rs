//! Assessment recipes (`reports/*.toml`).
