//! A declarative FDTD simulation in TOML (`rftwin fdtd run FILE.toml`): grid, materials, shapes,
//! thin PEC wires and sheets, boundaries, lumped elements and sources, probes and the run mode.
//! Parsed with `deny_unknown_fields`, then validated in one pass that names the file, the key and
//! the fix; the result is plain typed data the solver trusts.

use std::path::Path;

use serde::Deserialize;

use super::lumped::LumpedSpec;
use super::operator::{Boundary, CpmlParams};
use super::sim::{SimulationSpec, SteadyState};
use super::source::Waveform;
use crate::error::{Error, Result};
use crate::grid::{Comp, Grid, Material, Shape, ShapeKind, VoxelModel};

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
    pub axis: String,
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
    pub normal: String,
    pub at_m: f64,
    pub min_m: [f64; 3],
    pub max_m: [f64; 3],
}

/// Boundaries per face: "pec", "pmc" or "cpml".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryCfg {
    #[serde(default = "cpml_pair")]
    pub x: [String; 2],
    #[serde(default = "cpml_pair")]
    pub y: [String; 2],
    #[serde(default = "cpml_pair")]
    pub z: [String; 2],
    #[serde(default = "eight")]
    pub cpml_layers: usize,
}

fn cpml_pair() -> [String; 2] {
    ["cpml".into(), "cpml".into()]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementCfg {
    pub name: String,
    /// "resistor", "capacitor", "inductor", "rlc", "port" (voltage source + series R) or "current".
    pub kind: String,
    /// Edge direction "x", "y" or "z".
    pub axis: String,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeCfg {
    pub name: String,
    /// "E" or "H".
    pub field: String,
    /// Probe box (default: the whole grid).
    pub min_m: Option<[f64; 3]>,
    pub max_m: Option<[f64; 3]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCfg {
    /// "cw" (steady state at `freq_hz`) or "pulse" (broadband, DFT at `freqs_hz`).
    pub mode: String,
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

/// How to run a parsed simulation.
#[derive(Clone, Debug)]
pub enum RunMode {
    Cw {
        freq_hz: f64,
        steady: SteadyState,
    },
    Pulse {
        freqs_hz: Vec<f64>,
        decay_db: f64,
        max_steps: usize,
    },
}

/// A probe request in node indices.
#[derive(Clone, Debug)]
pub struct ProbeReq {
    pub name: String,
    pub kind: super::dft::FieldKind,
    pub region: [std::ops::Range<usize>; 3],
}

/// A validated simulation file.
pub struct Parsed {
    pub spec: SimulationSpec,
    pub mode: RunMode,
    pub probes: Vec<ProbeReq>,
    /// Port names and reference impedances (for S11).
    pub ports: Vec<(String, f64)>,
}

fn axis_of(s: &str, file: &str, key: &str) -> Result<usize> {
    match s {
        "x" | "X" => Ok(0),
        "y" | "Y" => Ok(1),
        "z" | "Z" => Ok(2),
        _ => Err(Error::input(
            file,
            key,
            format!("unknown axis '{s}'"),
            "use \"x\", \"y\" or \"z\"",
        )),
    }
}

/// Reads and validates a simulation TOML.
pub fn load(path: &Path) -> Result<Parsed> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: file.clone(),
        err: e,
    })?;
    let cfg: SimFile = toml::from_str(&text).map_err(|e| toml_parse_error(&file, &text, &e))?;
    parse(cfg, &file)
}

/// `line L, column C` (1-based) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, col)
}

/// A TOML error of a simulation file: the key the parser names (else "(toml)"), the message, the line
/// and column where the parser points (omitted when it does not), and the fix.
fn toml_parse_error(file: &str, text: &str, e: &toml::de::Error) -> Error {
    let msg = e.message().trim().to_string();
    let key = msg
        .split('`')
        .nth(1)
        .map_or_else(|| "(toml)".to_string(), |k| k.to_string());
    let at = e
        .span()
        .map(|s| {
            let (l, c) = line_col(text, s.start);
            format!(" at line {l}, column {c}")
        })
        .unwrap_or_default();
    let fix = if msg.contains("unknown field") {
        "remove or correct the key; see README 'fdtd run' for the keys"
    } else {
        "fix the TOML there; see README 'fdtd run' for the keys"
    };
    Error::input(file, &key, format!("{msg}{at}"), fix)
}

/// Range checks of the numbers the solver trusts (all problems at once): finite coordinates,
/// non-negative material and element values, run settings in their meaningful ranges.
fn check_numbers(cfg: &SimFile, file: &str) -> Result<()> {
    let mut p = crate::spec::Problems::new(file);
    let finite3 = |p: &mut crate::spec::Problems, key: String, v: &[f64; 3]| {
        if v.iter().any(|x| !x.is_finite()) {
            p.add(
                &key,
                format!("{v:?} is not three finite numbers"),
                "give finite coordinates in metres",
            );
        }
    };
    finite3(&mut p, "grid.origin_m".into(), &cfg.grid.origin_m);
    for (i, m) in cfg.materials.iter().enumerate() {
        if !(m.eps_r >= 1.0) || !m.eps_r.is_finite() {
            p.add(
                &format!("materials[{i}].eps_r"),
                format!(
                    "relative permittivity {} of '{}' is below 1 or not finite",
                    m.eps_r, m.name
                ),
                "give eps_r >= 1 (1 for air, about 80 for water-based gel)",
            );
        }
        for (k, v, unit) in [
            ("sigma_s_per_m", m.sigma_s_per_m, "S/m"),
            ("density_kg_per_m3", m.density_kg_per_m3, "kg/m^3"),
        ] {
            if !(v >= 0.0) || !v.is_finite() {
                p.add(
                    &format!("materials[{i}].{k}"),
                    format!("{v} {unit} of '{}' is negative or not finite", m.name),
                    format!("give a value >= 0 in {unit}"),
                );
            }
        }
    }
    for (i, s) in cfg.shapes.iter().enumerate() {
        if let Some(b) = &s.box_ {
            finite3(&mut p, format!("shapes[{i}].box.min_m"), &b.min_m);
            finite3(&mut p, format!("shapes[{i}].box.max_m"), &b.max_m);
        }
        if let Some(c) = &s.cylinder {
            finite3(&mut p, format!("shapes[{i}].cylinder.centre_m"), &c.centre_m);
            if !(c.start_m.is_finite() && c.end_m.is_finite() && c.end_m > c.start_m) {
                p.add(
                    &format!("shapes[{i}].cylinder.end_m"),
                    format!(
                        "start_m {} .. end_m {} is not a finite, increasing range",
                        c.start_m, c.end_m
                    ),
                    "give start_m < end_m in metres along the axis",
                );
            }
        }
        if let Some(sp) = &s.sphere {
            finite3(&mut p, format!("shapes[{i}].sphere.centre_m"), &sp.centre_m);
        }
    }
    for (i, w) in cfg.wires.iter().enumerate() {
        finite3(&mut p, format!("wires[{i}].from_m"), &w.from_m);
        finite3(&mut p, format!("wires[{i}].to_m"), &w.to_m);
    }
    for (i, e) in cfg.elements.iter().enumerate() {
        finite3(&mut p, format!("elements[{i}].at_m"), &e.at_m);
        for (k, v, unit) in [("r_ohm", e.r_ohm, "ohm"), ("l_h", e.l_h, "H")] {
            if !(v >= 0.0) || !v.is_finite() {
                p.add(
                    &format!("elements[{i}].{k}"),
                    format!("{v} {unit} of element '{}' is negative or not finite", e.name),
                    format!("give a value >= 0 in {unit}"),
                );
            }
        }
        if let Some(c) = e.c_f.filter(|c| !(*c > 0.0) || !c.is_finite()) {
            p.add(
                &format!("elements[{i}].c_f"),
                format!("{c} F of element '{}' is not a positive capacitance", e.name),
                "give a capacitance > 0 in farads, or leave c_f out (no capacitor)",
            );
        }
        if !e.amplitude.is_finite() || !e.phase_deg.is_finite() {
            p.add(
                &format!("elements[{i}].amplitude"),
                format!(
                    "amplitude {} / phase {} deg of element '{}' is not finite",
                    e.amplitude, e.phase_deg, e.name
                ),
                "give finite numbers (volts or amperes, degrees)",
            );
        }
    }
    let r = &cfg.run;
    if !(r.courant > 0.0 && r.courant <= 1.0) {
        p.add(
            "run.courant",
            format!("{} is outside (0, 1]: above 1 the scheme is unstable", r.courant),
            "leave it out (0.98) or give a value > 0 and <= 1",
        );
    }
    if !(r.tolerance > 0.0) || !r.tolerance.is_finite() {
        p.add(
            "run.tolerance",
            format!("{} is not a positive finite number", r.tolerance),
            "e.g. tolerance = 1e-3",
        );
    }
    if r.max_periods == 0 {
        p.add(
            "run.max_periods",
            "0 periods: the run could never reach a steady state",
            "e.g. max_periods = 400",
        );
    }
    if r.max_steps == 0 {
        p.add(
            "run.max_steps",
            "0 steps: the pulse could never be run",
            "e.g. max_steps = 200000",
        );
    }
    if !(r.decay_db > 0.0 && r.decay_db <= 300.0) {
        p.add(
            "run.decay_db",
            format!(
                "{} dB: decay_db is how far the field energy must fall (a positive number of dB); {} stops the run before the pulse has rung down",
                r.decay_db,
                if r.decay_db <= 0.0 { "zero or a negative value" } else { "this value" }
            ),
            "give a positive decay, e.g. decay_db = 50 (energy down by 50 dB), at most 300",
        );
    }
    for (k, v) in [
        ("run.freq_hz", r.freq_hz),
        ("run.f0_hz", r.f0_hz),
        ("run.bandwidth_hz", r.bandwidth_hz),
    ] {
        if let Some(x) = v.filter(|x| !x.is_finite()) {
            p.add(
                k,
                format!("{x} Hz is not finite"),
                "give a frequency in Hz, e.g. 63.87e6",
            );
        }
    }
    if r.freqs_hz.iter().any(|f| !f.is_finite()) {
        p.add(
            "run.freqs_hz",
            "a frequency is not finite",
            "give frequencies in Hz, e.g. [50e6, 64e6, 80e6]",
        );
    }
    p.finish()
}

/// Validates a parsed simulation file (`file` names it in errors).
pub fn parse(cfg: SimFile, file: &str) -> Result<Parsed> {
    check_numbers(&cfg, file)?;
    let keyed = |e: Error, key: &str| match e {
        Error::Input { what, fix, .. } => Error::input(file, key, what, fix),
        other => other,
    };
    for a in 0..3 {
        if cfg.grid.cells[a] < 3 {
            return Err(Error::input(
                file,
                "grid.cells",
                format!("{} cells along {} is too few", cfg.grid.cells[a], ["x", "y", "z"][a]),
                "give at least 3 cells per axis",
            ));
        }
    }
    // The resource guard, before anything is allocated: fields and operator, plus whole-grid probes.
    let freqs = match cfg.run.mode.as_str() {
        "pulse" => cfg.run.freqs_hz.len() as u64,
        _ => 1,
    };
    let full_probes = cfg.probes.iter().filter(|p| p.min_m.is_none() && p.max_m.is_none()).count() as u64;
    let d_max = cfg.grid.cell_size_m.iter().copied().fold(0.0, f64::max);
    crate::resources::check_bytes(
        file,
        "grid.cells",
        &format!(
            "a grid of {} x {} x {} cells",
            cfg.grid.cells[0], cfg.grid.cells[1], cfg.grid.cells[2]
        ),
        crate::resources::fdtd_bytes(cfg.grid.cells, (full_probes * freqs).div_ceil(2)),
        |r| {
            let f = crate::resources::coarsen_factor(r);
            if f.is_finite() {
                format!(
                    "use fewer cells (grid.cells about {:?}) with cells of {} m (grid.cell_size_m), or a smaller box; RFTWIN_MAX_MEMORY overrides the available memory",
                    cfg.grid.cells.map(|c| (c as f64 / f).floor() as usize),
                    crate::resources::fmt_sig(crate::resources::round_up(d_max * f))
                )
            } else {
                "use far fewer cells (grid.cells) with larger cells (grid.cell_size_m)".into()
            }
        },
    )?;
    let grid = Grid::uniform(cfg.grid.origin_m, cfg.grid.cell_size_m, cfg.grid.cells)
        .map_err(|e| keyed(e, "grid.cell_size_m"))?;

    // Materials: built-in air and pec, then the file's.
    let mut mats: Vec<Material> = vec![Material::vacuum(), Material::pec("pec")];
    for (i, m) in cfg.materials.iter().enumerate() {
        if mats.iter().any(|x| x.name == m.name) {
            return Err(Error::input(
                file,
                &format!("materials[{i}].name"),
                format!("material '{}' defined twice (air and pec are built in)", m.name),
                "give each material a unique name",
            ));
        }
        mats.push(Material {
            name: m.name.clone(),
            eps_r: m.eps_r,
            sigma_s_per_m: m.sigma_s_per_m,
            density_kg_per_m3: m.density_kg_per_m3,
            pec: m.pec,
        });
    }
    let bg_name = cfg.background.clone().unwrap_or_else(|| "air".into());
    let bg = mats.iter().position(|m| m.name == bg_name).ok_or_else(|| {
        Error::input(
            file,
            "background",
            format!("unknown material '{bg_name}'"),
            format!(
                "use one of: {}",
                mats.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let mut model = VoxelModel::new(grid, mats[bg].clone()).map_err(|e| keyed(e, "background"))?;
    for (i, m) in mats.iter().enumerate() {
        if i != bg {
            model
                .add_material(m.clone())
                .map_err(|e| keyed(e, &format!("materials[{}]", i.saturating_sub(2))))?;
        }
    }
    for (si, s) in cfg.shapes.iter().enumerate() {
        let key = format!("shapes[{si}]");
        let mat = model
            .material_index(&s.material)
            .map_err(|e| keyed(e, &format!("{key}.material")))?;
        let kinds = [s.box_.is_some(), s.cylinder.is_some(), s.sphere.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if kinds != 1 {
            return Err(Error::input(
                file,
                &key,
                format!(
                    "shape '{}' needs exactly one of box, cylinder, sphere (has {kinds})",
                    s.name
                ),
                "give one geometry table",
            ));
        }
        let kind = if let Some(b) = &s.box_ {
            if (0..3).any(|a| !(b.max_m[a] > b.min_m[a])) {
                return Err(Error::input(
                    file,
                    &format!("{key}.box"),
                    "max_m must exceed min_m on every axis",
                    "swap or fix the corners",
                ));
            }
            ShapeKind::Box {
                min_m: b.min_m,
                max_m: b.max_m,
            }
        } else if let Some(c) = &s.cylinder {
            if !(c.radius_m > 0.0) {
                return Err(Error::input(
                    file,
                    &format!("{key}.cylinder.radius_m"),
                    "radius must be > 0",
                    "give a positive radius",
                ));
            }
            ShapeKind::Cylinder {
                axis: axis_of(&c.axis, file, &format!("{key}.cylinder.axis"))?,
                centre_m: c.centre_m,
                radius_m: c.radius_m,
                start_m: c.start_m,
                end_m: c.end_m,
            }
        } else {
            let sp = s.sphere.as_ref().unwrap();
            if !(sp.radius_m > 0.0) {
                return Err(Error::input(
                    file,
                    &format!("{key}.sphere.radius_m"),
                    "radius must be > 0",
                    "give a positive radius",
                ));
            }
            ShapeKind::Sphere {
                centre_m: sp.centre_m,
                radius_m: sp.radius_m,
            }
        };
        let n = model.fill(&Shape::new(&s.name, kind), mat)?;
        if n == 0 {
            return Err(Error::input(
                file,
                &key,
                format!("shape '{}' covers no cell centre", s.name),
                "enlarge it or move it inside the grid",
            ));
        }
    }
    for (wi, w) in cfg.wires.iter().enumerate() {
        model
            .pec_wire(w.from_m, w.to_m)
            .map_err(|e| keyed(e, &format!("wires[{wi}]")))?;
    }
    for (si, s) in cfg.sheets.iter().enumerate() {
        let a = axis_of(&s.normal, file, &format!("sheets[{si}].normal"))?;
        model
            .pec_sheet(Comp::from_index(a), s.at_m, s.min_m, s.max_m)
            .map_err(|e| keyed(e, &format!("sheets[{si}]")))?;
    }

    let mut boundaries: [[Boundary; 2]; 3] = std::array::from_fn(|_| [Boundary::Pec, Boundary::Pec]);
    for (a, pair) in [&cfg.boundaries.x, &cfg.boundaries.y, &cfg.boundaries.z]
        .iter()
        .enumerate()
    {
        for s in 0..2 {
            boundaries[a][s] = match pair[s].as_str() {
                "pec" => Boundary::Pec,
                "pmc" => Boundary::Pmc,
                "cpml" => Boundary::Cpml(CpmlParams::layers(cfg.boundaries.cpml_layers)),
                other => {
                    return Err(Error::input(
                        file,
                        &format!("boundaries.{}[{s}]", ["x", "y", "z"][a]),
                        format!("unknown boundary '{other}'"),
                        "use \"pec\", \"pmc\" or \"cpml\"",
                    ));
                }
            };
        }
    }

    // Run mode and waveforms.
    let r = &cfg.run;
    // Unit waveform for a given phase; amplitudes live in the element.
    let (mode, wave): (RunMode, Box<dyn Fn(f64) -> Waveform>) = match r.mode.as_str() {
        "cw" => {
            let f = r.freq_hz.ok_or_else(|| {
                Error::input(
                    file,
                    "run.freq_hz",
                    "CW mode needs freq_hz",
                    "add freq_hz = 63.87e6 (for example)",
                )
            })?;
            if !(f > 0.0) {
                return Err(Error::input(
                    file,
                    "run.freq_hz",
                    format!("frequency {f} is not positive"),
                    "give a frequency > 0",
                ));
            }
            if !(r.tolerance > 0.0) {
                return Err(Error::input(
                    file,
                    "run.tolerance",
                    "tolerance must be > 0",
                    "e.g. 1e-3",
                ));
            }
            (
                RunMode::Cw {
                    freq_hz: f,
                    steady: SteadyState {
                        tol: r.tolerance,
                        min_periods: 4,
                        max_periods: r.max_periods,
                    },
                },
                Box::new(move |ph| Waveform::Cw {
                    freq_hz: f,
                    amplitude: 1.0,
                    phase_rad: ph,
                    ramp_periods: 3.0,
                }),
            )
        }
        "pulse" => {
            if r.freqs_hz.is_empty() || r.freqs_hz.iter().any(|f| !(*f > 0.0)) {
                return Err(Error::input(
                    file,
                    "run.freqs_hz",
                    "pulse mode needs positive DFT frequencies",
                    "add freqs_hz = [50e6, 64e6, 80e6] (for example)",
                ));
            }
            let lo = r.freqs_hz.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = r.freqs_hz.iter().cloned().fold(0.0, f64::max);
            let f0 = r.f0_hz.unwrap_or(0.5 * (lo + hi));
            let bw = r.bandwidth_hz.unwrap_or(((hi - lo) * 1.5).max(0.5 * f0));
            if !(bw > 0.0) || !(f0 >= 0.0) {
                return Err(Error::input(
                    file,
                    "run.bandwidth_hz",
                    "bandwidth must be > 0 and f0 >= 0",
                    "fix f0_hz / bandwidth_hz",
                ));
            }
            (
                RunMode::Pulse {
                    freqs_hz: r.freqs_hz.clone(),
                    decay_db: r.decay_db,
                    max_steps: r.max_steps,
                },
                Box::new(move |_ph| Waveform::GaussPulse {
                    f0_hz: f0,
                    bandwidth_hz: bw,
                }),
            )
        }
        other => {
            return Err(Error::input(
                file,
                "run.mode",
                format!("unknown mode '{other}'"),
                "use \"cw\" or \"pulse\"",
            ))
        }
    };

    let snap = |p: [f64; 3]| -> Option<[usize; 3]> {
        let g = &model.grid;
        let mut out = [0; 3];
        for a in 0..3 {
            let ax = &g.axes[a];
            if p[a] < ax.start() - 1e-9 || p[a] > ax.end() + 1e-9 {
                return None;
            }
            out[a] = ax.nearest_node(p[a]);
        }
        Some(out)
    };

    let mut spec = SimulationSpec::new(model.clone());
    spec.boundaries = boundaries;
    spec.courant = r.courant;
    let mut ports = Vec::new();
    for (ei, e) in cfg.elements.iter().enumerate() {
        let key = format!("elements[{ei}]");
        let c = axis_of(&e.axis, file, &format!("{key}.axis"))?;
        let node = snap(e.at_m).ok_or_else(|| {
            Error::input(
                file,
                &format!("{key}.at_m"),
                format!("element '{}' at {:?} lies outside the grid", e.name, e.at_m),
                "move it inside the grid bounds",
            )
        })?;
        let ph = e.phase_deg.to_radians();
        {
            {
                let mut l = LumpedSpec {
                    name: e.name.clone(),
                    comp: c,
                    node,
                    r_ohm: e.r_ohm,
                    l_h: e.l_h,
                    c_f: e.c_f,
                    source: None,
                    current: None,
                    parallel_g_s: 0.0,
                };
                match e.kind.as_str() {
                    "resistor" | "capacitor" | "inductor" | "rlc" => {}
                    "current" => {
                        // Ideal current source, alone or across the element's R-L-C branch.
                        if e.r_ohm == 0.0 && e.l_h == 0.0 && e.c_f.is_none() {
                            l.r_ohm = f64::INFINITY;
                        }
                        l.current = Some((e.amplitude, wave(ph)));
                    }
                    "port" => {
                        if !(e.r_ohm > 0.0) {
                            return Err(Error::input(
                                file,
                                &format!("{key}.r_ohm"),
                                "a port needs an internal resistance > 0",
                                "set r_ohm = 50.0",
                            ));
                        }
                        l.source = Some((e.amplitude, wave(ph)));
                        ports.push((e.name.clone(), e.r_ohm));
                    }
                    other => {
                        return Err(Error::input(
                            file,
                            &format!("{key}.kind"),
                            format!("unknown element kind '{other}'"),
                            "use resistor, capacitor, inductor, rlc, port or current",
                        ))
                    }
                }
                spec.lumped.push(l);
            }
        }
    }
    match &mode {
        RunMode::Cw { freq_hz, .. } => {
            spec.cw_freq_hz = Some(*freq_hz);
            spec.port_freqs_hz = vec![*freq_hz];
        }
        RunMode::Pulse { freqs_hz, .. } => spec.port_freqs_hz = freqs_hz.clone(),
    }
    if spec.sources.is_empty() && !spec.lumped.iter().any(|l| l.source.is_some() || l.current.is_some()) {
        return Err(Error::input(
            file,
            "elements",
            "nothing drives the simulation",
            "add an element of kind \"port\" or \"current\"",
        ));
    }

    let n = model.grid.dims();
    let mut probes = Vec::new();
    for (pi, p) in cfg.probes.iter().enumerate() {
        let key = format!("probes[{pi}]");
        let kind = match p.field.as_str() {
            "E" | "e" => super::dft::FieldKind::E,
            "H" | "h" => super::dft::FieldKind::H,
            other => {
                return Err(Error::input(
                    file,
                    &format!("{key}.field"),
                    format!("unknown field '{other}'"),
                    "use \"E\" or \"H\"",
                ))
            }
        };
        let region = match (p.min_m, p.max_m) {
            (None, None) => [0..n[0] + 1, 0..n[1] + 1, 0..n[2] + 1],
            (Some(lo), Some(hi)) => {
                let (a, b) = (snap(lo), snap(hi));
                match (a, b) {
                    (Some(a), Some(b)) if (0..3).all(|x| b[x] >= a[x]) => {
                        [a[0]..b[0] + 1, a[1]..b[1] + 1, a[2]..b[2] + 1]
                    }
                    _ => {
                        return Err(Error::input(
                            file,
                            &key,
                            format!(
                                "probe '{}' box {lo:?}..{hi:?} lies outside the grid or is inverted",
                                p.name
                            ),
                            "keep min_m <= max_m inside the grid bounds",
                        ));
                    }
                }
            }
            _ => {
                return Err(Error::input(
                    file,
                    &key,
                    "give both min_m and max_m, or neither (whole grid)",
                    "add the missing corner",
                ))
            }
        };
        if probes.iter().any(|q: &ProbeReq| q.name == p.name) {
            return Err(Error::input(
                file,
                &format!("{key}.name"),
                format!("probe name '{}' used twice", p.name),
                "give each probe a unique name",
            ));
        }
        probes.push(ProbeReq {
            name: p.name.clone(),
            kind,
            region,
        });
    }
    spec.allow_coarse_grid = cfg.grid.allow_coarse_grid;
    spec.cell_key = (file.to_string(), "grid.cell_size_m".into());
    spec.check_resolution()?;
    Ok(Parsed {
        spec,
        mode,
        probes,
        ports,
    })
}

/// Builds the simulation and its DFT probes; solver errors are reported against `file`.
pub fn build(parsed: &Parsed, file: &str) -> Result<(super::sim::Simulation, Vec<super::dft::DftProbe>)> {
    let rekey = |e: Error| match e {
        Error::Input {
            source_name,
            key,
            what,
            fix,
        } => Error::input(file, &format!("{source_name}: {key}"), what, fix),
        other => other,
    };
    let sim = super::sim::Simulation::new(parsed.spec.clone()).map_err(rekey)?;
    let (freqs, every) = match &parsed.mode {
        RunMode::Cw { freq_hz, .. } => (vec![*freq_hz], sim.op.steps_per_period.unwrap_or(4) / 4),
        RunMode::Pulse { freqs_hz, .. } => (freqs_hz.clone(), 1),
    };
    let mut probes = Vec::new();
    for p in &parsed.probes {
        probes.push(
            super::dft::DftProbe::new(
                &sim.op,
                &p.name,
                p.kind,
                &[0, 1, 2],
                p.region.clone(),
                &freqs,
                every.max(1),
            )
            .map_err(rekey)?,
        );
    }
    Ok((sim, probes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_of_a_byte_offset() {
        let t = "a = 1\nbé = 2\n[run]\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (1, 5));
        assert_eq!(line_col(t, 6), (2, 1));
        // "é" is two bytes, one column.
        assert_eq!(line_col(t, 9), (2, 3));
        assert_eq!(line_col(t, 1000), (4, 1));
    }

    #[test]
    fn every_number_problem_is_reported_at_once() {
        let text = r#"
[grid]
cells = [8, 8, 8]
cell_size_m = [0.01, 0.01, 0.01]
[[materials]]
name = "gel"
eps_r = 0.5
sigma_s_per_m = -1.0
[[elements]]
name = "feed"
kind = "port"
axis = "z"
at_m = [0.02, 0.02, 0.02]
r_ohm = 50.0
[run]
mode = "pulse"
freqs_hz = [1e8]
decay_db = -40.0
courant = 1.5
"#;
        let cfg: SimFile = toml::from_str(text).unwrap();
        let e = parse(cfg, "sim.toml").err().expect("refused");
        let m = e.to_string();
        for w in [
            "4 problems",
            "materials[0].eps_r",
            "materials[0].sigma_s_per_m",
            "run.decay_db",
            "run.courant",
        ] {
            assert!(m.contains(w), "lacks {w:?}: {m}");
        }
    }
}
