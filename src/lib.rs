//! rftwin: digital twin of an MRI birdcage RF body coil and implant RF-heating safety.
//!
//! The modules read as the physics pipeline; each depends only on those before it:
//! `grid` → `fdtd` → `coil` → `b1` → `twin` → `dosimetry` → `implant` → `report` → `assess` → `cli`.
//! `error`, `spec`, `numerics`, `io`, `resources`, `validation_case` and `plot` are shared plumbing
//! usable by all; `validate` collects every module's validation cases; `bench` holds the benchmark
//! workloads and `fuzzing` the fuzz targets.

// `!(x > 0.0)` is used on purpose: it also rejects NaN. Index loops over the three axes read
// better than iterator chains in the field code.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

pub mod error;
pub mod numerics;
pub mod spec;
pub mod grid;
pub mod fdtd;
pub mod coil;
pub mod b1;
pub mod twin;
pub mod dosimetry;
pub mod implant;
pub mod report;
pub mod assess;
pub mod io;
pub mod resources;
pub mod plot;
pub mod validation_case;
pub mod validate;
pub mod bench;
pub mod fuzzing;
pub mod cli;
