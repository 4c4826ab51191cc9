//! The twin: calibration of the coil model to measured B1+ maps (Long et al., IEEE TIM 71, 2022).
//! So far: the drive-weight fit by superposition of basis fields (`fit`) and the calibration of the
//! ideal-drive model's two linear-mode weights to a measured |B1+| map (`calibrate`).

pub mod basis;
pub mod calibrate;
pub mod fields;
pub mod fit;
pub mod full;
pub mod joint;
pub mod validation;

pub use basis::{
    cached_basis, compute_basis_request, default_cache_dir, Basis, BasisRequest, CacheOutcome, CellMaterials,
};
pub use calibrate::{calibrate, compute_basis, synthesize, Calibration};
pub use fields::TwinFields;
pub use fit::{fit_weights_magnitude, WeightFit};
pub use full::{calibrate_full, FullCalibration, FullOptions};
pub use joint::{JointFit, JointOptions};
