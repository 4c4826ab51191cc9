//! A declarative FDTD simulation in TOML (`rftwin fdtd run FILE.toml`): grid, materials, shapes,
//! thin PEC wires and sheets, boundaries, lumped elements and sources, probes and the run mode.
//! Parsed into serde structs and enums with `deny_unknown_fields` (an unknown key or value is named
//! with its line and column), then validated: every problem that needs no grid is reported at once,
//! then every problem of placing things on the grid, each as `file: key: what is wrong: how to fix`.
//! The result is plain typed data the solver trusts.

use std::path::Path;

use super::lumped::LumpedSpec;
use super::operator::{Boundary, CpmlParams};
use super::sim::{SimulationSpec, SteadyState};
use super::source::Waveform;
use crate::error::{Error, Result};
use crate::grid::{Comp, Grid, Material, Shape, ShapeKind, VoxelModel};
use crate::spec::Problems;

mod file;
pub use file::*;

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

/// Where the keys of a simulation file are documented (the fix of a TOML error).
const KEYS_FIX: &str = "see README 'fdtd run' for the keys";

/// Reads and validates a simulation TOML.
pub fn load(path: &Path) -> Result<Parsed> {
    crate::spec::load(path, from_toml_str)
}

/// Parses and validates simulation TOML text; `file` names it in errors.
pub fn from_toml_str(text: &str, file: &str) -> Result<Parsed> {
    let cfg: SimFile = toml::from_str(text).map_err(|e| crate::spec::toml_error_at(file, text, &e, KEYS_FIX))?;
    parse(cfg, file)
}

/// Validates a parsed simulation file (`file` names it in errors): first every problem that needs no
/// grid, all at once; then the memory guard; then every problem of placing the file's things on the
/// grid, all at once; last the resolution check.
pub fn parse(cfg: SimFile, file: &str) -> Result<Parsed> {
    let mut p = Problems::new(file);
    check_numbers(&cfg, &mut p);
    check_grid_and_materials(&cfg, &mut p);
    check_shapes(&cfg.shapes, &mut p);
    check_run(&cfg.run, &mut p);
    check_elements(&cfg.elements, &mut p);
    check_probes(&cfg.probes, &mut p);
    p.finish()?;

    check_memory(&cfg, file)?;
    let mut p = Problems::new(file);
    let model = build_model(&cfg, file, &mut p)?;
    let (mode, wave) = run_mode(&cfg.run);
    let mut spec = SimulationSpec::new(model.clone());
    spec.boundaries = boundaries(&cfg.boundaries);
    spec.courant = cfg.run.courant;
    let ports = place_elements(&cfg.elements, &model.grid, &*wave, &mut spec, &mut p);
    match &mode {
        RunMode::Cw { freq_hz, .. } => {
            spec.cw_freq_hz = Some(*freq_hz);
            spec.port_freqs_hz = vec![*freq_hz];
        }
        RunMode::Pulse { freqs_hz, .. } => spec.port_freqs_hz = freqs_hz.clone(),
    }
    let probes = place_probes(&cfg.probes, &model.grid, &mut p);
    p.finish()?;
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

/// A problem unless `v` is three finite numbers.
fn finite3(p: &mut Problems, key: String, v: &[f64; 3]) {
    if v.iter().any(|x| !x.is_finite()) {
        p.add(
            &key,
            format!("{v:?} is not three finite numbers"),
            "give finite coordinates in metres",
        );
    }
}

/// Range checks of the numbers the solver trusts: finite coordinates, non-negative material and
/// element values, run settings in their meaningful ranges.
fn check_numbers(cfg: &SimFile, p: &mut Problems) {
    finite3(p, "grid.origin_m".into(), &cfg.grid.origin_m);
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
            finite3(p, format!("shapes[{i}].box.min_m"), &b.min_m);
            finite3(p, format!("shapes[{i}].box.max_m"), &b.max_m);
        }
        if let Some(c) = &s.cylinder {
            finite3(p, format!("shapes[{i}].cylinder.centre_m"), &c.centre_m);
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
            finite3(p, format!("shapes[{i}].sphere.centre_m"), &sp.centre_m);
        }
    }
    for (i, w) in cfg.wires.iter().enumerate() {
        finite3(p, format!("wires[{i}].from_m"), &w.from_m);
        finite3(p, format!("wires[{i}].to_m"), &w.to_m);
    }
    check_element_numbers(&cfg.elements, p);
    check_run_numbers(&cfg.run, p);
}

/// Element values: finite position, R and L >= 0, C > 0 where given, finite amplitude and phase.
fn check_element_numbers(elements: &[ElementCfg], p: &mut Problems) {
    for (i, e) in elements.iter().enumerate() {
        finite3(p, format!("elements[{i}].at_m"), &e.at_m);
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
}

/// Run settings: Courant number in (0, 1], positive tolerance, periods, steps and decay, finite
/// frequencies.
fn check_run_numbers(r: &RunCfg, p: &mut Problems) {
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
}

/// The names of the built-in materials and then the file's, in the order the model holds them.
fn material_names(cfg: &SimFile) -> Vec<&str> {
    let mut names = vec!["air", "pec"];
    names.extend(cfg.materials.iter().map(|m| m.name.as_str()));
    names
}

/// At least 3 cells per axis; unique material names; a known background.
fn check_grid_and_materials(cfg: &SimFile, p: &mut Problems) {
    if let Some(a) = (0..3).find(|&a| cfg.grid.cells[a] < 3) {
        p.add(
            "grid.cells",
            format!("{} cells along {} is too few", cfg.grid.cells[a], ["x", "y", "z"][a]),
            "give at least 3 cells per axis",
        );
    }
    let names = material_names(cfg);
    for (i, m) in cfg.materials.iter().enumerate() {
        if names[..i + 2].contains(&m.name.as_str()) {
            p.add(
                &format!("materials[{i}].name"),
                format!("material '{}' defined twice (air and pec are built in)", m.name),
                "give each material a unique name",
            );
        }
    }
    let bg_name = cfg.background.as_deref().unwrap_or("air");
    if !names.contains(&bg_name) {
        p.add(
            "background",
            format!("unknown material '{bg_name}'"),
            format!("use one of: {}", names.join(", ")),
        );
    }
}

/// Each shape has exactly one geometry table, with its corners in order or a positive radius.
fn check_shapes(shapes: &[ShapeCfg], p: &mut Problems) {
    for (si, s) in shapes.iter().enumerate() {
        let key = format!("shapes[{si}]");
        let kinds = [s.box_.is_some(), s.cylinder.is_some(), s.sphere.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if kinds != 1 {
            p.add(
                &key,
                format!(
                    "shape '{}' needs exactly one of box, cylinder, sphere (has {kinds})",
                    s.name
                ),
                "give one geometry table",
            );
        } else if let Some(b) = &s.box_ {
            // Corners that are not finite are reported by check_numbers.
            let finite = b.min_m.iter().chain(&b.max_m).all(|x| x.is_finite());
            if finite && (0..3).any(|a| !(b.max_m[a] > b.min_m[a])) {
                p.add(
                    &format!("{key}.box"),
                    "max_m must exceed min_m on every axis",
                    "swap or fix the corners",
                );
            }
        } else {
            let (kind, r) = match (&s.cylinder, &s.sphere) {
                (Some(c), _) => ("cylinder", c.radius_m),
                (_, Some(sp)) => ("sphere", sp.radius_m),
                _ => unreachable!("one geometry table"),
            };
            if !(r > 0.0) {
                p.add(
                    &format!("{key}.{kind}.radius_m"),
                    "radius must be > 0",
                    "give a positive radius",
                );
            }
        }
    }
}

/// The pulse's centre frequency and bandwidth (defaults: the centre of `freqs_hz`, their span x 1.5
/// but at least half the centre).
fn pulse_band(r: &RunCfg) -> (f64, f64) {
    let lo = r.freqs_hz.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = r.freqs_hz.iter().cloned().fold(0.0, f64::max);
    let f0 = r.f0_hz.unwrap_or(0.5 * (lo + hi));
    let bw = r.bandwidth_hz.unwrap_or(((hi - lo) * 1.5).max(0.5 * f0));
    (f0, bw)
}

/// The run mode's own keys: a positive `freq_hz` for CW; positive `freqs_hz` and a valid band for a
/// pulse. (Values that are not finite are reported by check_run_numbers.)
fn check_run(r: &RunCfg, p: &mut Problems) {
    match r.mode {
        ModeName::Cw => match r.freq_hz {
            None => p.add(
                "run.freq_hz",
                "CW mode needs freq_hz",
                "add freq_hz = 63.87e6 (for example)",
            ),
            Some(f) if f.is_finite() && !(f > 0.0) => p.add(
                "run.freq_hz",
                format!("frequency {f} is not positive"),
                "give a frequency > 0",
            ),
            Some(_) => {}
        },
        ModeName::Pulse => {
            if r.freqs_hz.iter().any(|f| !f.is_finite()) {
                return;
            }
            if r.freqs_hz.is_empty() || r.freqs_hz.iter().any(|f| !(*f > 0.0)) {
                p.add(
                    "run.freqs_hz",
                    "pulse mode needs positive DFT frequencies",
                    "add freqs_hz = [50e6, 64e6, 80e6] (for example)",
                );
                return;
            }
            if [r.f0_hz, r.bandwidth_hz].iter().flatten().any(|x| !x.is_finite()) {
                return;
            }
            let (f0, bw) = pulse_band(r);
            if !(bw > 0.0) || !(f0 >= 0.0) {
                p.add(
                    "run.bandwidth_hz",
                    "bandwidth must be > 0 and f0 >= 0",
                    "fix f0_hz / bandwidth_hz",
                );
            }
        }
    }
}

/// Ports need an internal resistance; something must drive the simulation.
fn check_elements(elements: &[ElementCfg], p: &mut Problems) {
    for (ei, e) in elements.iter().enumerate() {
        // A negative or non-finite r_ohm is reported by check_element_numbers.
        if e.kind == ElementKind::Port && e.r_ohm == 0.0 {
            p.add(
                &format!("elements[{ei}].r_ohm"),
                "a port needs an internal resistance > 0",
                "set r_ohm = 50.0",
            );
        }
    }
    if !elements
        .iter()
        .any(|e| matches!(e.kind, ElementKind::Port | ElementKind::Current))
    {
        p.add(
            "elements",
            "nothing drives the simulation",
            "add an element of kind \"port\" or \"current\"",
        );
    }
}

/// Probe boxes with both corners or none; unique probe names.
fn check_probes(probes: &[ProbeCfg], p: &mut Problems) {
    for (pi, pr) in probes.iter().enumerate() {
        let key = format!("probes[{pi}]");
        if pr.min_m.is_some() != pr.max_m.is_some() {
            p.add(
                &key,
                "give both min_m and max_m, or neither (whole grid)",
                "add the missing corner",
            );
        }
        if probes[..pi].iter().any(|q| q.name == pr.name) {
            p.add(
                &format!("{key}.name"),
                format!("probe name '{}' used twice", pr.name),
                "give each probe a unique name",
            );
        }
    }
}

/// The resource guard, before anything is allocated: fields and operator, plus whole-grid probes.
fn check_memory(cfg: &SimFile, file: &str) -> Result<()> {
    let freqs = match cfg.run.mode {
        ModeName::Pulse => cfg.run.freqs_hz.len() as u64,
        ModeName::Cw => 1,
    };
    let full_probes = cfg
        .probes
        .iter()
        .filter(|p| p.min_m.is_none() && p.max_m.is_none())
        .count() as u64;
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
    )
}

/// A library's input error re-keyed to `key` of `file`.
fn keyed(file: &str, e: Error, key: &str) -> Error {
    match e {
        Error::Input { what, fix, .. } => Error::input(file, key, what, fix),
        other => other,
    }
}

/// The voxel model: the grid, built-in air and pec and the file's materials, then the shapes, wires
/// and sheets (the problems of placing them go to `p`).
fn build_model(cfg: &SimFile, file: &str, p: &mut Problems) -> Result<VoxelModel> {
    let grid = Grid::uniform(cfg.grid.origin_m, cfg.grid.cell_size_m, cfg.grid.cells)
        .map_err(|e| keyed(file, e, "grid.cell_size_m"))?;
    let mut mats: Vec<Material> = vec![Material::vacuum(), Material::pec("pec")];
    mats.extend(cfg.materials.iter().map(|m| Material {
        name: m.name.clone(),
        eps_r: m.eps_r,
        sigma_s_per_m: m.sigma_s_per_m,
        density_kg_per_m3: m.density_kg_per_m3,
        pec: m.pec,
    }));
    let bg_name = cfg.background.as_deref().unwrap_or("air");
    let bg = mats
        .iter()
        .position(|m| m.name == bg_name)
        .expect("checked by check_grid_and_materials");
    let mut model = VoxelModel::new(grid, mats[bg].clone()).map_err(|e| keyed(file, e, "background"))?;
    for (i, m) in mats.iter().enumerate() {
        if i != bg {
            model
                .add_material(m.clone())
                .map_err(|e| keyed(file, e, &format!("materials[{}]", i.saturating_sub(2))))?;
        }
    }
    for (si, s) in cfg.shapes.iter().enumerate() {
        let key = format!("shapes[{si}]");
        let mat = match model.material_index(&s.material) {
            Ok(m) => m,
            Err(e) => {
                p.add_error(&format!("{key}.material"), e)?;
                continue;
            }
        };
        let n = model.fill(&Shape::new(&s.name, shape_kind(s)), mat)?;
        if n == 0 {
            p.add(
                &key,
                format!("shape '{}' covers no cell centre", s.name),
                "enlarge it or move it inside the grid",
            );
        }
    }
    for (wi, w) in cfg.wires.iter().enumerate() {
        if let Err(e) = model.pec_wire(w.from_m, w.to_m) {
            p.add_error(&format!("wires[{wi}]"), e)?;
        }
    }
    for (si, s) in cfg.sheets.iter().enumerate() {
        if let Err(e) = model.pec_sheet(Comp::from_index(s.normal.index()), s.at_m, s.min_m, s.max_m) {
            p.add_error(&format!("sheets[{si}]"), e)?;
        }
    }
    Ok(model)
}

/// The solid of a checked shape (exactly one geometry table).
fn shape_kind(s: &ShapeCfg) -> ShapeKind {
    match (&s.box_, &s.cylinder, &s.sphere) {
        (Some(b), _, _) => ShapeKind::Box {
            min_m: b.min_m,
            max_m: b.max_m,
        },
        (_, Some(c), _) => ShapeKind::Cylinder {
            axis: c.axis.index(),
            centre_m: c.centre_m,
            radius_m: c.radius_m,
            start_m: c.start_m,
            end_m: c.end_m,
        },
        (_, _, Some(sp)) => ShapeKind::Sphere {
            centre_m: sp.centre_m,
            radius_m: sp.radius_m,
        },
        _ => unreachable!("checked by check_shapes"),
    }
}

/// The boundary of every face.
fn boundaries(b: &BoundaryCfg) -> [[Boundary; 2]; 3] {
    [&b.x, &b.y, &b.z].map(|pair| {
        pair.map(|s| match s {
            BoundaryName::Pec => Boundary::Pec,
            BoundaryName::Pmc => Boundary::Pmc,
            BoundaryName::Cpml => Boundary::Cpml(CpmlParams::layers(b.cpml_layers)),
        })
    })
}

/// A source waveform of unit amplitude for a given phase (rad); amplitudes live in the element.
type UnitWave = Box<dyn Fn(f64) -> Waveform>;

/// The run mode of a checked `[run]` and its source waveform.
fn run_mode(r: &RunCfg) -> (RunMode, UnitWave) {
    match r.mode {
        ModeName::Cw => {
            let f = r.freq_hz.expect("checked by check_run");
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
        ModeName::Pulse => {
            let (f0, bw) = pulse_band(r);
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
    }
}

/// The nearest node of a point inside the grid (None outside).
fn snap(g: &Grid, p: [f64; 3]) -> Option<[usize; 3]> {
    let mut out = [0; 3];
    for a in 0..3 {
        let ax = &g.axes[a];
        if p[a] < ax.start() - 1e-9 || p[a] > ax.end() + 1e-9 {
            return None;
        }
        out[a] = ax.nearest_node(p[a]);
    }
    Some(out)
}

/// The lumped elements and sources on their edges; returns the ports (name, reference impedance).
fn place_elements(
    elements: &[ElementCfg],
    grid: &Grid,
    wave: &dyn Fn(f64) -> Waveform,
    spec: &mut SimulationSpec,
    p: &mut Problems,
) -> Vec<(String, f64)> {
    let mut ports = Vec::new();
    for (ei, e) in elements.iter().enumerate() {
        let Some(node) = snap(grid, e.at_m) else {
            p.add(
                &format!("elements[{ei}].at_m"),
                format!("element '{}' at {:?} lies outside the grid", e.name, e.at_m),
                "move it inside the grid bounds",
            );
            continue;
        };
        let ph = e.phase_deg.to_radians();
        let mut l = LumpedSpec {
            name: e.name.clone(),
            comp: e.axis.index(),
            node,
            r_ohm: e.r_ohm,
            l_h: e.l_h,
            c_f: e.c_f,
            source: None,
            current: None,
            parallel_g_s: 0.0,
        };
        match e.kind {
            ElementKind::Resistor | ElementKind::Capacitor | ElementKind::Inductor | ElementKind::Rlc => {}
            ElementKind::Current => {
                // Ideal current source, alone or across the element's R-L-C branch.
                if e.r_ohm == 0.0 && e.l_h == 0.0 && e.c_f.is_none() {
                    l.r_ohm = f64::INFINITY;
                }
                l.current = Some((e.amplitude, wave(ph)));
            }
            ElementKind::Port => {
                l.source = Some((e.amplitude, wave(ph)));
                ports.push((e.name.clone(), e.r_ohm));
            }
        }
        spec.lumped.push(l);
    }
    ports
}

/// The probes' node boxes (the whole grid by default).
fn place_probes(probes: &[ProbeCfg], grid: &Grid, p: &mut Problems) -> Vec<ProbeReq> {
    let n = grid.dims();
    let mut out = Vec::new();
    for (pi, pr) in probes.iter().enumerate() {
        let region = match (pr.min_m, pr.max_m) {
            (Some(lo), Some(hi)) => match (snap(grid, lo), snap(grid, hi)) {
                (Some(a), Some(b)) if (0..3).all(|x| b[x] >= a[x]) => [a[0]..b[0] + 1, a[1]..b[1] + 1, a[2]..b[2] + 1],
                _ => {
                    p.add(
                        &format!("probes[{pi}]"),
                        format!(
                            "probe '{}' box {lo:?}..{hi:?} lies outside the grid or is inverted",
                            pr.name
                        ),
                        "keep min_m <= max_m inside the grid bounds",
                    );
                    continue;
                }
            },
            // One corner only is reported by check_probes.
            _ => [0..n[0] + 1, 0..n[1] + 1, 0..n[2] + 1],
        };
        out.push(ProbeReq {
            name: pr.name.clone(),
            kind: match pr.field {
                FieldName::E => super::dft::FieldKind::E,
                FieldName::H => super::dft::FieldKind::H,
            },
            region,
        });
    }
    out
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
