//! Lead transfer function (ISO/TS 10974 Tier 3 lead electromagnetic model) by reciprocity, the tip
//! estimate ∫ S(l) E_tan(l) dl along a placed path, and the calibration of its scale.
//!
//! **Method.** The lead (unrolled to a straight line along z, its insulation and bare parts kept)
//! sits in a homogeneous box of the medium (gel) on a uniform grid with CPML outside. A unit
//! current source `I_s` (1 A peak, CW) drives the *tip gap*: the grid edge that continues the wire
//! one cell beyond its tip into the medium. By reciprocity (Lorentz), the open-circuit voltage that
//! an incident field E_inc develops across that gap is `V = (1/I_s) ∫ I(l) E_inc·t̂ dl`, where `I(l)`
//! is the wire current driven by the gap source. We define the transfer function per metre as
//! `S(l) = I(l) / (I_s g)` with `g` the gap length, so that `E_tip = ∫₀ᴸ S(l) E_tan(l) dl` is the mean
//! field across the tip gap (V/m), the quantity that drives tip heating:
//! `ΔT ≈ A_T |E_tip|²`, tip 1 g SAR ≈ A_SAR |E_tip|² (ISO/TS 10974: P = A [∫ S E_tan dl]²), with the
//! scale `A` taken from one direct simulation ([`TransferFunction::calibrate`]).
//! `I(l)` is read from the steady-state H phasors as the circulation of H around each wire edge
//! (Ampère: `I = ∮ H·dl` over the edge's dual face).
//!
//! **Reference.** For a straight bare wire of length L in a lossy medium, transmission-line theory
//! gives the current driven from one end, open at the other, `I(l) = I(0) sin(k(L−l)) / sin(kL)`
//! with the medium's complex wavenumber `k = ω sqrt(μ0 ε_c)`, `ε_c = ε0 εr − iσ/ω` (the per-length
//! inductance and capacitance of a bare wire carry the same log factor, which cancels). Under a
//! uniform tangential field E0 the tip estimate is `E_tip ∝ ∫ I dl = I(0) tan(kL/2)/k`, which is
//! resonant near `L = λ_eff/2 = π / Re k`. [`analytic_bare_wire`] and [`medium_wavenumber`] give
//! these; the tests compare the FDTD transfer function with them.

use std::path::Path;

use num_complex::Complex64;
use serde::{Deserialize, Serialize};

use super::model::{point_at, Implant};
use super::placement::{rotation_from_direction, PlacedImplant, Placement};
use super::raster::add_implant;
use crate::error::{Error, Result};
use crate::fdtd::{
    Boundary, CourantReference, FieldKind, LumpedSpec, Probe, Simulation, SimulationSpec, SteadyState, Waveform,
};
use crate::grid::{Grid, Material, VoxelModel, EPS0, MU0};

/// Complex wavenumber (rad/m, Im < 0 for decay with e^{+iωt}) of a medium.
pub fn medium_wavenumber(freq_hz: f64, eps_r: f64, sigma_s_per_m: f64) -> Complex64 {
    let w = 2.0 * std::f64::consts::PI * freq_hz;
    let eps_c = Complex64::new(EPS0 * eps_r, -sigma_s_per_m / w);
    let k = w * (MU0 * eps_c).sqrt();
    if k.im > 0.0 {
        -k
    } else {
        k
    }
}

/// Transmission-line current of a bare wire driven at its tip, `sin(k(L−l)) / sin(kL)` at `l`.
pub fn analytic_bare_wire(k: Complex64, length_m: f64, l_m: f64) -> Complex64 {
    (k * (length_m - l_m)).sin() / (k * length_m).sin()
}

/// Settings of a transfer-function run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TfOptions {
    pub freq_hz: f64,
    /// Uniform cell size (m).
    pub cell_m: f64,
    /// Medium around the lead.
    pub eps_r: f64,
    pub sigma_s_per_m: f64,
    /// Distance from the lead to the CPML on every side (m).
    pub pad_m: f64,
    pub cpml_layers: usize,
    /// Steady-state tolerance (relative phasor change per period).
    pub tol: f64,
    pub max_periods: usize,
}

impl Default for TfOptions {
    /// 64 MHz (1.5 T), ASTM gel (εr 80, 0.47 S/m), 2 mm cells, 3 cm to an 8-layer CPML.
    fn default() -> Self {
        Self {
            freq_hz: 63.87e6,
            cell_m: 2e-3,
            eps_r: 80.0,
            sigma_s_per_m: 0.47,
            pad_m: 0.03,
            cpml_layers: 8,
            tol: 1e-3,
            max_periods: 80,
        }
    }
}

/// How the scale A of the estimate was set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// What A predicts, e.g. `delta_t_k` or `tip_sar_1g_w_per_kg`.
    pub quantity: String,
    /// A = value / |E_tip|² (quantity per (V/m)²).
    pub a: f64,
    /// The directly simulated value and the estimate |E_tip| it was matched to.
    pub reference_value: f64,
    pub reference_e_tip_v_per_m: f64,
    /// Free text: which run gave the value.
    pub note: String,
}

/// A lead's transfer function S(l) (per metre) at one frequency.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferFunction {
    pub implant: String,
    pub freq_hz: f64,
    pub eps_r: f64,
    pub sigma_s_per_m: f64,
    pub cell_m: f64,
    /// Conductor length (m).
    pub length_m: f64,
    /// Tip gap length g (m).
    pub gap_m: f64,
    /// Sample positions (m from the tip), their weights dl (m), and S = I/(I_s g) (1/m).
    pub l_m: Vec<f64>,
    pub dl_m: Vec<f64>,
    pub s_re: Vec<f64>,
    pub s_im: Vec<f64>,
    pub calibration: Option<Calibration>,
    pub steps: usize,
    pub periods: usize,
    pub converged: bool,
    pub seconds: f64,
}

/// An incident (background) E field: complex peak phasor (V/m) at a point of the coil frame.
pub trait IncidentE: Sync {
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3];
}

impl<F: Fn([f64; 3]) -> [Complex64; 3] + Sync> IncidentE for F {
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        self(p_m)
    }
}

impl TransferFunction {
    pub fn s(&self, i: usize) -> Complex64 {
        Complex64::new(self.s_re[i], self.s_im[i])
    }

    /// `∫ S(l) dl` (dimensionless): the tip estimate per V/m of a uniform tangential field.
    pub fn integral(&self) -> Complex64 {
        (0..self.l_m.len()).map(|i| self.s(i) * self.dl_m[i]).sum()
    }

    /// The tip estimate `E_tip = ∫₀ᴸ S(l) E_inc(p(l))·t̂(l) dl` along `path_m` (coil frame, tip first),
    /// with the samples at the same arc lengths (scaled when the path's length differs by ≤ 2 %).
    /// Points where the field is not finite (outside its grid) are an error.
    pub fn tip_estimate(&self, path_m: &[[f64; 3]], field: &dyn IncidentE) -> Result<Complex64> {
        let len = super::model::path_length(path_m);
        if !((len / self.length_m - 1.0).abs() <= 0.02) {
            return Err(Error::input(
                &self.implant,
                "length_m",
                format!(
                    "the transfer function is for a {:.4} m lead but the path is {:.4} m long",
                    self.length_m, len
                ),
                "compute the transfer function for this implant (rftwin implant tf)",
            ));
        }
        let scale = len / self.length_m;
        let mut acc = Complex64::default();
        for i in 0..self.l_m.len() {
            let (p, t) = point_at(path_m, self.l_m[i] * scale);
            let e = field.e(p);
            let et = e[0] * t[0] + e[1] * t[1] + e[2] * t[2];
            if !et.re.is_finite() || !et.im.is_finite() {
                return Err(Error::input(
                    &self.implant,
                    "path",
                    format!("the incident field is not defined at {p:?} (outside its grid)"),
                    "place the implant inside the region where the coil field was computed",
                ));
            }
            acc += self.s(i) * et * (self.dl_m[i] * scale);
        }
        Ok(acc)
    }

    /// Sets the scale A from one direct simulation: `value` (e.g. the tip temperature rise or
    /// 1 g SAR of a full fine-grid run of this lead on `path_m` in `field`) over |E_tip|² there.
    pub fn calibrate(
        &mut self,
        quantity: &str,
        value: f64,
        path_m: &[[f64; 3]],
        field: &dyn IncidentE,
        note: &str,
    ) -> Result<f64> {
        let e = self.tip_estimate(path_m, field)?.norm();
        if !(e > 0.0) || !(value >= 0.0) {
            return Err(Error::input(
                &self.implant,
                "calibration",
                format!("cannot calibrate: |E_tip| = {e}, value = {value}"),
                "use a direct run with a non-zero tangential field along the lead",
            ));
        }
        let a = value / (e * e);
        self.calibration = Some(Calibration {
            quantity: quantity.into(),
            a,
            reference_value: value,
            reference_e_tip_v_per_m: e,
            note: note.into(),
        });
        Ok(a)
    }

    /// The calibrated prediction `A |E_tip|²`, when a calibration is stored.
    pub fn predict(&self, e_tip: Complex64) -> Option<f64> {
        self.calibration.as_ref().map(|c| c.a * e_tip.norm_sqr())
    }

    /// Writes `tf.json` (everything) and `tf.h5` (datasets `l_m`, `dl_m`, `s_re`, `s_im`, and root
    /// attributes `freq_hz`, `length_m`, `gap_m`, `eps_r`, `sigma_s_per_m`, `cell_m`) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::io::write_json(&dir.join("tf.json"), self)?;
        let path = dir.join("tf.h5");
        let h5 = |e: hdf5::Error| crate::error::write_error(&path, e);
        let file = hdf5::File::create(&path).map_err(h5)?;
        for (name, v) in [
            ("l_m", &self.l_m),
            ("dl_m", &self.dl_m),
            ("s_re", &self.s_re),
            ("s_im", &self.s_im),
        ] {
            file.new_dataset_builder()
                .with_data(&ndarray::Array1::from(v.clone()))
                .create(name)
                .map_err(h5)?;
        }
        for (n, v) in [
            ("freq_hz", self.freq_hz),
            ("length_m", self.length_m),
            ("gap_m", self.gap_m),
            ("eps_r", self.eps_r),
            ("sigma_s_per_m", self.sigma_s_per_m),
            ("cell_m", self.cell_m),
        ] {
            crate::dosimetry::io::write_root_attr(&file, &path, n, v)?;
        }
        file.flush().map_err(h5)
    }

    /// Reads `tf.json` from a directory written by [`TransferFunction::save`] (or the file itself).
    pub fn load(path: &Path) -> Result<Self> {
        let file = if path.is_dir() {
            path.join("tf.json")
        } else {
            path.to_path_buf()
        };
        let text = crate::spec::read_text(&file)?;
        let tf: Self = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                &file.display().to_string(),
                "(file)",
                format!("not a transfer-function file: {e}"),
                "give the tf.json written by `rftwin implant tf`",
            )
        })?;
        let n = tf.l_m.len();
        if n == 0 || tf.dl_m.len() != n || tf.s_re.len() != n || tf.s_im.len() != n || !(tf.length_m > 0.0) {
            return Err(Error::input(
                &file.display().to_string(),
                "l_m",
                "inconsistent or empty sample arrays",
                "recompute it with `rftwin implant tf`",
            ));
        }
        Ok(tf)
    }
}

/// The homogeneous box with the unrolled lead (tip at node (pad, pad, pad), along +z) and CPML,
/// before any source: the common set-up of [`compute_tf`] and [`tip_field_direct`].
fn tf_setup(implant: &Implant, opt: &TfOptions) -> Result<(SimulationSpec, super::raster::ImplantRaster)> {
    if implant.is_solid() {
        return Err(Error::input(
            &implant.source_name,
            "kind",
            format!("a transfer function needs a wire or lead, not a {:?}", implant.kind),
            "use a bare_wire, insulated_wire or lead implant",
        ));
    }
    for (key, v) in [
        ("freq_hz", opt.freq_hz),
        ("cell_m", opt.cell_m),
        ("pad_m", opt.pad_m),
        ("eps_r", opt.eps_r),
    ] {
        if !(v > 0.0) || !v.is_finite() {
            return Err(Error::input(
                "tf options",
                key,
                format!("{v} is not > 0"),
                "give a positive value",
            ));
        }
    }
    if !(opt.sigma_s_per_m >= 0.0) || !opt.sigma_s_per_m.is_finite() {
        return Err(Error::input(
            "tf options",
            "sigma_s_per_m",
            format!("{} S/m is negative or not finite", opt.sigma_s_per_m),
            "give the medium's conductivity >= 0 S/m (0.47 for the ASTM gel)",
        ));
    }
    if opt.eps_r < 1.0 {
        return Err(Error::input(
            "tf options",
            "eps_r",
            format!("relative permittivity {} is below 1", opt.eps_r),
            "give the medium's eps_r >= 1 (80 for the ASTM gel)",
        ));
    }
    let d = opt.cell_m;
    let len = implant.length_m();
    // Sized in f64 and checked before anything is allocated (a tiny cell is a refusal, not an abort).
    let pad_f = (opt.pad_m / d).ceil() + opt.cpml_layers as f64;
    let dims = [2.0 * pad_f, 2.0 * pad_f, (len / d).round() + 2.0 * pad_f].map(crate::resources::axis_cells);
    let dims = match dims {
        [Some(a), Some(b), Some(c)] => Some([a, b, c]),
        _ => None,
    };
    crate::resources::check_bytes(
        &implant.source_name,
        "cell_m (--cell-mm)",
        &format!(
            "the transfer-function run at {} mm cells ({})",
            d * 1e3,
            dims.map_or("too many".into(), |n| format!("{} x {} x {} cells", n[0], n[1], n[2]))
        ),
        dims.and_then(|n| crate::resources::fdtd_bytes(n, 0)),
        |r| crate::resources::coarser_cell_fix("--cell-mm", d * 1e3, "", r),
    )?;
    let nl = (len / d).round() as usize;
    if nl < 4 {
        return Err(Error::input(
            &implant.source_name,
            "length_m",
            format!("the lead is only {nl} cells of {d} m long"),
            "use smaller cells (cell_m)",
        ));
    }
    let pad = (opt.pad_m / d).ceil() as usize + opt.cpml_layers;
    let n = [2 * pad, 2 * pad, nl + 2 * pad];
    let grid = Grid::uniform([0.0; 3], [d; 3], n)?;
    let medium = Material::dielectric("medium", opt.eps_r, opt.sigma_s_per_m, 1000.0);
    let model = VoxelModel::new(grid, medium)?;
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(opt.cpml_layers));
    spec.cell_key = (implant.source_name.clone(), "cell_m (--cell-mm), freq_hz (--freq-hz)".into());
    spec.cw_freq_hz = Some(opt.freq_hz);
    // A box of the medium only: the step follows the fastest wave on the grid.
    spec.courant_reference = CourantReference::FastestMedium;
    let x0 = pad as f64 * d;
    let mut straight = implant.clone();
    straight.path_m = vec![[0.0, 0.0, 0.0], [0.0, 0.0, len]];
    let placement = Placement {
        source_name: implant.source_name.clone(),
        position_m: [x0, x0, x0],
        rotation: rotation_from_direction([0.0, 0.0, 1.0], 0.0),
        min_wall_distance_m: 0.0,
    };
    let placed = PlacedImplant {
        path_m: vec![[x0, x0, x0], [x0, x0, x0 + len]],
        implant: straight,
        placement,
        width_axis: [1.0, 0.0, 0.0],
        wall_distance_m: f64::INFINITY,
    };
    // The same sub-cell thin wire as the local runs (conductor radius, coating, sealed ends, bare
    // parts): a lumped element on a wire edge (a delta-gap source of the direct checks) or on the
    // tip gap opens that edge.
    let raster = add_implant(&mut spec, &placed)?;
    if raster.tip_gap.is_none() {
        return Err(Error::input(
            &implant.source_name,
            "path",
            "no room for the tip gap",
            "enlarge pad_m",
        ));
    }
    Ok((spec, raster))
}

/// Direct check of the reciprocity (the piecewise-excitation method): a 1 V delta-gap voltage
/// source replaces the wire edge nearest `l_m` (m from the tip), and the field across the open tip
/// gap is recorded. By reciprocity it equals `S(l) · 1 V` up to the sign convention of the two
/// ports. Returns the E phasor (V/m) on the tip-gap edge along the grid axis.
pub fn tip_field_direct(implant: &Implant, opt: &TfOptions, l_m: f64) -> Result<Complex64> {
    let (spec, raster) = tf_setup(implant, opt)?;
    let (skip, _) = raster
        .edges
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1.s_m - l_m).abs().total_cmp(&(b.1.s_m - l_m).abs()))
        .expect("a wire has edges");
    direct_run(spec, &raster, opt, &[(skip, Complex64::new(1.0, 0.0))])
}

/// Direct run with a distributed tangential excitation along the lead: every wire edge becomes a
/// delta-gap voltage source `E_tan(l) dl` (complex phasor, along the path), and the field across the
/// open tip gap is returned. By superposition and reciprocity it equals the estimate
/// `∫ S(l) E_tan(l) dl` of the transfer function (only the tangential field along the lead is
/// impressed: the background field in the medium, which the transfer-function model ignores, is
/// absent).
pub fn tip_field_direct_distributed(
    implant: &Implant,
    opt: &TfOptions,
    e_tan: &dyn Fn(f64) -> Complex64,
) -> Result<Complex64> {
    let (spec, raster) = tf_setup(implant, opt)?;
    let volts: Vec<(usize, Complex64)> = raster
        .edges
        .iter()
        .enumerate()
        .map(|(i, e)| (i, e_tan(e.s_m) * opt.cell_m))
        .collect();
    direct_run(spec, &raster, opt, &volts)
}

/// Runs the lead set-up with the wire edges listed in `sources` replaced by voltage sources
/// (10 mOhm, phasor volts along the path) and returns the tip-gap E phasor.
fn direct_run(
    spec: SimulationSpec,
    raster: &super::raster::ImplantRaster,
    opt: &TfOptions,
    sources: &[(usize, Complex64)],
) -> Result<Complex64> {
    let (gc, gnode, _) = raster.tip_gap.expect("checked in tf_setup");
    // The thin wire's edges that carry a lumped element are gaps (not PEC): the sources open them.
    let mut spec2 = spec;
    // Volts along the path direction; 10 mOhm internal resistance (a short next to the wire's
    // impedance).
    for (n, (q, v)) in sources.iter().enumerate() {
        let e = &raster.edges[*q];
        let w = Waveform::Cw {
            freq_hz: opt.freq_hz,
            amplitude: 1.0,
            phase_rad: v.arg(),
            ramp_periods: 3.0,
        };
        spec2.lumped.push(LumpedSpec::port(
            &format!("pwe{n}"),
            e.comp,
            e.node,
            0.01,
            e.sign * v.norm(),
            w,
        ));
    }
    let mut sim = Simulation::new(spec2)?;
    let mut probe = sim.dft_probe(
        "gap",
        FieldKind::E,
        &[gc],
        [gnode[0]..gnode[0] + 1, gnode[1]..gnode[1] + 1, gnode[2]..gnode[2] + 1],
        &[opt.freq_hz],
        1,
    )?;
    let ss = SteadyState {
        tol: opt.tol,
        min_periods: 4,
        max_periods: opt.max_periods,
    };
    {
        let mut probes: [&mut dyn Probe; 1] = [&mut probe];
        sim.run_cw(&ss, &mut probes)?;
    }
    Ok(probe.phasor_at(0, 0, gnode))
}

/// Computes the transfer function of `implant` by reciprocity (see the module docs): one CW FDTD
/// run of the unrolled lead in a homogeneous medium box with CPML.
pub fn compute_tf(implant: &Implant, opt: &TfOptions) -> Result<TransferFunction> {
    let d = opt.cell_m;
    let len = implant.length_m();
    let (mut spec, raster) = tf_setup(implant, opt)?;
    let (gc, gnode, _) = raster.tip_gap.expect("checked in tf_setup");
    spec.lumped.push(LumpedSpec::current_source(
        "tip_gap",
        gc,
        gnode,
        1.0,
        Waveform::cw(opt.freq_hz),
    ));
    let mut sim = Simulation::new(spec)?;
    // H around every wire edge: the box of nodes spanning the edges +- 1.
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for e in &raster.edges {
        for a in 0..3 {
            lo[a] = lo[a].min(e.node[a].saturating_sub(1));
            hi[a] = hi[a].max(e.node[a] + 2);
        }
    }
    let mut probe = sim.dft_probe(
        "h_wire",
        FieldKind::H,
        &[0, 1, 2],
        [lo[0]..hi[0], lo[1]..hi[1], lo[2]..hi[2]],
        &[opt.freq_hz],
        1,
    )?;
    let ss = SteadyState {
        tol: opt.tol,
        min_periods: 4,
        max_periods: opt.max_periods,
    };
    let stats = {
        let mut probes: [&mut dyn Probe; 1] = [&mut probe];
        sim.run_cw(&ss, &mut probes)?
    };
    let mut l_m = Vec::new();
    let mut dl_m = Vec::new();
    let mut s_re = Vec::new();
    let mut s_im = Vec::new();
    for e in &raster.edges {
        let a = e.comp;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let p = e.node;
        let mut pb = p;
        pb[b] -= 1;
        let mut pc = p;
        pc[c] -= 1;
        // I_a = [H_c(p) - H_c(p - e_b)] d_c - [H_b(p) - H_b(p - e_c)] d_b.
        let i_a = (probe.phasor_at(c, 0, p) - probe.phasor_at(c, 0, pb)) * d
            - (probe.phasor_at(b, 0, p) - probe.phasor_at(b, 0, pc)) * d;
        let s = i_a * e.sign / d;
        l_m.push(e.s_m);
        dl_m.push(d);
        s_re.push(s.re);
        s_im.push(s.im);
    }
    Ok(TransferFunction {
        implant: implant.name.clone(),
        freq_hz: opt.freq_hz,
        eps_r: opt.eps_r,
        sigma_s_per_m: opt.sigma_s_per_m,
        cell_m: d,
        length_m: len,
        gap_m: d,
        l_m,
        dl_m,
        s_re,
        s_im,
        calibration: None,
        steps: stats.steps,
        periods: stats.periods,
        converged: stats.converged,
        seconds: stats.seconds,
    })
}

/// A standing wave fitted to a transfer function: `S(l) ≈ c sin(k_w (L_e − l))`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct StandingWaveFit {
    /// Wavenumber along the wire (rad/m; Im < 0: decay).
    pub k_re: f64,
    pub k_im: f64,
    /// Effective (electrical) length (m): where the fitted current vanishes.
    pub length_m: f64,
    /// Relative L2 residual of the fit.
    pub residual: f64,
}

/// Relative L2 error of `s` against `c r` with the least-squares complex scale `c`.
pub fn shape_error(s: &[Complex64], r: &[Complex64]) -> f64 {
    let num: Complex64 = r.iter().zip(s).map(|(a, b)| a.conj() * b).sum();
    let den: f64 = r.iter().map(|x| x.norm_sqr()).sum();
    if !(den > 0.0) {
        return f64::INFINITY;
    }
    let c = num / den;
    let err: f64 = r.iter().zip(s).map(|(a, b)| (b - c * a).norm_sqr()).sum();
    let tot: f64 = s.iter().map(|x| x.norm_sqr()).sum();
    (err / tot).sqrt()
}

/// Fits `c sin(k_w (L_e − l))` to S(l) by a two-level grid search over Re k_w, Im k_w and L_e
/// around `k_guess` and the conductor length (the scale c is solved in closed form at each point).
pub fn fit_standing_wave(tf: &TransferFunction, k_guess: Complex64) -> StandingWaveFit {
    let s: Vec<Complex64> = (0..tf.l_m.len()).map(|i| tf.s(i)).collect();
    let eval = |kr: f64, ki: f64, le: f64| {
        let k = Complex64::new(kr, ki);
        let r: Vec<Complex64> = tf.l_m.iter().map(|l| (k * (le - l)).sin()).collect();
        shape_error(&s, &r)
    };
    let mut best = (f64::INFINITY, k_guess.re, k_guess.im, tf.length_m);
    let mut span = [
        0.5 * k_guess.re,
        3.0 * k_guess.im.abs().max(0.05 * k_guess.re),
        0.25 * tf.length_m,
    ];
    let mut centre = [k_guess.re, k_guess.im, tf.length_m + 0.25 * tf.length_m * 0.5];
    for _level in 0..3 {
        let n = 24;
        for a in 0..=n {
            let kr = centre[0] + span[0] * (a as f64 / n as f64 - 0.5) * 2.0;
            for b in 0..=n {
                let ki = (centre[1] + span[1] * (b as f64 / n as f64 - 0.5) * 2.0).min(0.0);
                for c in 0..=n {
                    let le = centre[2] + span[2] * (c as f64 / n as f64 - 0.5) * 2.0;
                    let e = eval(kr, ki, le);
                    if e < best.0 {
                        best = (e, kr, ki, le);
                    }
                }
            }
        }
        centre = [best.1, best.2, best.3];
        span = span.map(|x| x * 2.5 / 24.0);
    }
    StandingWaveFit {
        k_re: best.1,
        k_im: best.2,
        length_m: best.3,
        residual: best.0,
    }
}

impl TransferFunction {
    /// The transmission-line transfer function of a bare wire of `length_m` in a medium, sampled at
    /// `n` midpoints: S(l) = sin(k(L−l)) / sin(kL) / g with g = L/n (a reference and a stand-in when
    /// no FDTD run is wanted, e.g. for benchmarks).
    pub fn analytic_bare_wire(length_m: f64, n: usize, freq_hz: f64, eps_r: f64, sigma_s_per_m: f64) -> Self {
        let k = medium_wavenumber(freq_hz, eps_r, sigma_s_per_m);
        let d = length_m / n as f64;
        let l_m: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) * d).collect();
        let s: Vec<Complex64> = l_m.iter().map(|l| analytic_bare_wire(k, length_m, *l) / d).collect();
        Self {
            implant: "analytic bare wire".into(),
            freq_hz,
            eps_r,
            sigma_s_per_m,
            cell_m: d,
            length_m,
            gap_m: d,
            l_m,
            dl_m: vec![d; n],
            s_re: s.iter().map(|x| x.re).collect(),
            s_im: s.iter().map(|x| x.im).collect(),
            calibration: None,
            steps: 0,
            periods: 0,
            converged: true,
            seconds: 0.0,
        }
    }
}
