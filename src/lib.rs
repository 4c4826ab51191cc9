//! rftwin: digital twin of an MRI birdcage RF body coil and implant RF-heating safety.
//!
//! The modules read as the physics pipeline; each depends only on those before it:
//! `grid` → `fdtd` → `coil` → `b1` → `twin` → `dosimetry` → `implant` → `report` → `cli`.
pub mod dosimetry;
pub mod error;
pub mod grid;
pub mod validate;
