//! Birdcage RF coils: definitions from TOML (`config`), phantoms (`phantom`), partial inductances of
//! straight strips and filaments (`inductance`), the lumped-circuit model that tunes a coil and
//! gives its mode spectrum (`circuit`, after BirdcageBuilder, Chin et al. 2002), the FDTD model of a
//! coil (`fdtd_model`, `resonant`) and its run to steady-state fields (`run`: E, B1+ and B1−, input
//! power), with the B1 algebra on FDTD phasors (`field`).
//!
//! ```no_run
//! use rftwin::coil::{circuit, CoilConfig};
//! let coil = CoilConfig::load(std::path::Path::new("coils/body_1p5t_hp16.toml"))?;
//! let t = circuit::tune(&coil)?;
//! println!("C = {:.3} pF, m=1 at {:.3} MHz", t.capacitance_f.unwrap() * 1e12, t.homogeneous_mode_hz / 1e6);
//! # Ok::<(), rftwin::error::Error>(())
//! ```

pub mod circuit;
pub mod command;
pub mod config;
pub mod cosim;
pub mod cosim_symmetry;
pub mod cosim_validation;
pub mod fdtd_model;
pub mod field;
pub mod field_validation;
pub mod inductance;
pub mod phantom;
pub mod resonant;
pub mod run;
pub mod spectrum;
pub mod validation;

pub use circuit::{tune, tune_with, CircuitModel, CircuitOptions, Mode, ModeKind, Tuning};
pub use config::{CapSetting, CoilConfig, CoilType, Drive, Port, PortElement, Shield};
pub use fdtd_model::DEFAULT_COARSE_CELL_M;
pub use field::{b1_minus, b1_plus, e_magnitude};
pub use phantom::{PhantomConfig, PhantomMaterial, PhantomShape};
