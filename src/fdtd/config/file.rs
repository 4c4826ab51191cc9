//! The simulation file as written (`rftwin fdtd run FILE.toml`): serde structs and enums with
//! `deny_unknown_fields`, defaults as documented in README 'fdtd run'. Validation is in the parent
//! module.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFile {
    pub grid: GridCfg,
    /// Name of the material filling the grid (default: built-in "air").
    #[serde(default)]
    pub background: Option<String>,
    #[serde(default)]
    pub materials: Vec<MaterialCfg>,
    #[serde(default)]
    pub shapes: Vec<ShapeCfg>,
    #[serde(default)]
    pub wires: Vec<WireCfg>,
    #[serde(default)]
    pub sheets: Vec<SheetCfg>,
    #[serde(default)]
    pub boundaries: BoundaryCfg,
    #[serde(default)]
    pub elements: Vec<ElementCfg>,
    #[serde(default)]
    pub probes: Vec<ProbeCfg>,
    pub run: RunCfg,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridCfg {
    pub cells: [usize; 3],
    pub cell_size_m: [f64; 3],
    #[serde(default)]
    pub origin_m: [f64; 3],
    /// Run even when the cells resolve the shortest wavelength with fewer than 6 cells (the run
    /// still warns below 15).
    #[serde(default)]
    pub allow_coarse_grid: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialCfg {
    pub name: String,
    #[serde(default = "one")]
    pub eps_r: f64,
    #[serde(default)]
    pub sigma_s_per_m: f64,
    #[serde(default)]
    pub density_kg_per_m3: f64,
    #[serde(default)]
    pub pec: bool,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeCfg {
    pub name: String,
    pub material: String,
    #[serde(rename = "box")]
    pub box_: Option<BoxCfg>,
    pub cylinder: Option<CylinderCfg>,
    pub sphere: Option<SphereCfg>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxCfg {
    pub min_m: [f64; 3],
    pub max_m: [f64; 3],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CylinderCfg {
    pub axis: AxisName,
    pub centre_m: [f64; 3],
    pub radius_m: f64,
    pub start_m: f64,
    pub end_m: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SphereCfg {
    pub centre_m: [f64; 3],
    pub radius_m: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireCfg {
    pub from_m: [f64; 3],
    pub to_m: [f64; 3],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetCfg {
    pub normal: AxisName,
    pub at_m: f64,
    pub min_m: [f64; 3],
    pub max_m: [f64; 3],
}

/// An axis (a cylinder's axis, a sheet's normal, an element's edge direction): "x", "y" or "z"
/// (capitals accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum AxisName {
    #[serde(rename = "x", alias = "X")]
    X,
    #[serde(rename = "y", alias = "Y")]
    Y,
    #[serde(rename = "z", alias = "Z")]
    Z,
}

impl AxisName {
    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The boundary of one face of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundaryName {
    Pec,
    Pmc,
    Cpml,
}

/// Boundaries per face: "pec", "pmc" or "cpml".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryCfg {
    #[serde(default = "cpml_pair")]
    pub x: [BoundaryName; 2],
    #[serde(default = "cpml_pair")]
    pub y: [BoundaryName; 2],
    #[serde(default = "cpml_pair")]
    pub z: [BoundaryName; 2],
    #[serde(default = "eight")]
    pub cpml_layers: usize,
}

fn cpml_pair() -> [BoundaryName; 2] {
    [BoundaryName::Cpml, BoundaryName::Cpml]
}
fn eight() -> usize {
    8
}

impl Default for BoundaryCfg {
    fn default() -> Self {
        Self {
            x: cpml_pair(),
            y: cpml_pair(),
            z: cpml_pair(),
            cpml_layers: 8,
        }
    }
}

/// What a lumped element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    Resistor,
    Capacitor,
    Inductor,
    Rlc,
    /// A voltage source with a series resistance (`r_ohm`); its S11 is reported.
    Port,
    /// An ideal current source, alone or across the element's R-L-C branch.
    Current,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementCfg {
    pub name: String,
    pub kind: ElementKind,
    /// Edge direction.
    pub axis: AxisName,
    /// Start point of the edge (snapped to the nearest node).
    pub at_m: [f64; 3],
    #[serde(default)]
    pub r_ohm: f64,
    #[serde(default)]
    pub l_h: f64,
    pub c_f: Option<f64>,
    /// Source amplitude for ports (V) and current sources (A).
    #[serde(default = "one")]
    pub amplitude: f64,
    #[serde(default)]
    pub phase_deg: f64,
}

/// The field a probe records: "E" or "H" (lower case accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum FieldName {
    #[serde(rename = "E", alias = "e")]
    E,
    #[serde(rename = "H", alias = "h")]
    H,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeCfg {
    pub name: String,
    pub field: FieldName,
    /// Probe box (default: the whole grid).
    pub min_m: Option<[f64; 3]>,
    pub max_m: Option<[f64; 3]>,
}

/// "cw" (steady state at `freq_hz`) or "pulse" (broadband, DFT at `freqs_hz`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Cw,
    Pulse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCfg {
    pub mode: ModeName,
    pub freq_hz: Option<f64>,
    #[serde(default)]
    pub freqs_hz: Vec<f64>,
    /// Pulse centre and -20 dB bandwidth (defaults: centre of freqs_hz, their span x 1.5).
    pub f0_hz: Option<f64>,
    pub bandwidth_hz: Option<f64>,
    #[serde(default = "courant")]
    pub courant: f64,
    #[serde(default = "tol")]
    pub tolerance: f64,
    #[serde(default = "max_periods")]
    pub max_periods: usize,
    #[serde(default = "decay_db")]
    pub decay_db: f64,
    #[serde(default = "max_steps")]
    pub max_steps: usize,
}

fn courant() -> f64 {
    0.98
}
fn tol() -> f64 {
    1e-3
}
fn max_periods() -> usize {
    400
}
fn decay_db() -> f64 {
    50.0
}
fn max_steps() -> usize {
    200_000
}
