//! The twin: calibration of the coil model to measured B1+ maps (Long et al., IEEE TIM 71, 2022).
//! So far: the drive-weight fit by superposition of basis fields (`fit`).

pub mod fit;

pub use fit::{fit_weights_magnitude, WeightFit};
