//! 3-D FDTD engine: Yee scheme on a rectilinear grid, single-precision fields, f64 accumulators.
//!
//! Structure (after openEMS): the [`operator::Operator`] holds every coefficient, computed once from
//! the voxel model; [`engine`] is the bare E/H update; everything else — PMC faces, CPML, lumped
//! elements, sources, DFT probes — is an [`extension::Extension`] hooked around the update.
//! [`sim::Simulation`] ties them together and runs to a steady state or an energy decay.

pub mod config;
pub mod cpml;
pub mod dft;
pub mod engine;
pub mod extension;
pub mod fields;
pub mod lumped;
pub mod operator;
pub mod pmc;
pub mod run_file;
pub mod sim;
pub mod source;
pub mod tfsf;
pub mod thinwire;
pub mod validation;
pub mod yee;

pub use dft::{DftProbe, FieldKind, TimeProbe};
pub use extension::{Extension, Probe, StepCtx};
pub use fields::{Fields, Layout};
pub use lumped::{Lumped, LumpedSpec};
pub use operator::{Boundary, CourantReference, CpmlParams, Operator, OperatorSpec};
pub use sim::{Progress, ProgressFn, RunStats, Simulation, SimulationSpec, SteadyState};
pub use source::{SourceSpec, Waveform};
pub use tfsf::{IncidentField, PlaneWave, Tfsf, TfsfSpec};
pub use thinwire::{BareSpan, Insulation, Staircase, ThinWire, WireCurrentProbe, WireEdge};
pub use yee::YeeVector;
