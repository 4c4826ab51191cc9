//! Implants: parametric implant models, their placement in a phantom, rasterisation onto a fine
//! local grid, the lead transfer function (ISO/TS 10974 Tier 3 style) and the worst-case search.
//!
//! - [`model`]: implant files (`phantoms/implants/*.toml`) and the metal table;
//! - [`placement`]: position and orientation in the phantom, the wall-distance check, the world-space
//!   geometry ([`placement::PlacedImplant`]) and the local grid's options;
//! - [`raster`]: the one function that puts an implant onto an FDTD grid ([`raster::add_implant`]) and
//!   the local fine-grid voxel model ([`raster::local_model`]);
//! - [`tf`]: the transfer function S(l) by reciprocity, the tip estimate ∫ S E_tan dl and its
//!   calibration;
//! - [`search`]: the worst-case sweep over positions, orientations and path variants;
//! - [`lead_validation`]: validation of leads against the stored transmission-line and tip references
//!   (`tests/data/lead_tl`, `tests/data/lead_tip`);
//! - [`run`] and [`command`]: the `rftwin implant place | tf | search` commands.

pub mod command;
pub mod lead_validation;
pub mod local;
pub mod model;
pub mod placement;
pub mod raster;
pub mod run;
pub mod search;
pub mod tf;
pub mod validation;

pub use model::{metal, metal_table, Implant, ImplantKind, Insulation, Metal};
