//! The twin: calibration of the coil model to measured B1+ maps (Long et al., IEEE TIM 71, 2022).
//!
//! - `basis`: the basis runs (forward/backward quadrature patterns of the ideal drive, combined into
//!   the cos/sin linear modes), kept with E, H, B1+ and source phasors, cached on disk in HDF5 keyed by
//!   a hash of all inputs; sub-cell (volume-fraction) rasterisation of the phantom.
//! - `fit`: the drive-weight fit of |B1+| by superposition (phase-retrieval start, LM, Jacobian SEs).
//! - `calibrate`: the weights-only calibration and the synthetic map generator.
//! - `joint`: the joint fit of weights, rigid phantom offset and gel sigma/eps (bounded LM,
//!   delta-method SEs, identifiability flags, residual bootstrap); `full`: the driver with cached
//!   basis runs, gel design runs and outer re-simulations at the fitted point.
//! - `fields`: [`TwinFields`], the fitted twin's E/H phasors and materials as later stages load them.
//! - `file`: [`TwinFile`], the twin directory's `twin.toml` (written and read only there).
//! - `command`: the `rftwin twin synth | fit` commands.
//! - `validation`: the `rftwin validate` cases of the twin.

pub mod basis;
pub mod calibrate;
pub mod circuit_fit;
pub mod command;
pub mod fields;
pub mod file;
pub mod fit;
pub mod full;
pub mod gate;
pub mod joint;
pub mod map_mask;
pub mod openems_fit;
pub mod stamp;
pub mod validation;

pub use basis::{
    cached_basis, compute_basis_request, default_cache_dir, Basis, BasisRequest, CacheOutcome, CellMaterials,
    PhantomAdjustment,
};
pub use calibrate::{calibrate, compute_basis, synthesize, Calibration};
pub use fields::{ideal_drive_fields, load_twin_dir, LoadedTwin, TwinFields};
pub use file::TwinFile;
pub use fit::{fit_weights_complex, fit_weights_magnitude, WeightFit};
pub use full::{calibrate_full, placed_phantom, AutoMask, FullCalibration, FullOptions};
pub use joint::{JointFit, JointOptions};
