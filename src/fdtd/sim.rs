//! A simulation: the operator, the fields and two ordered lists of extensions (plane hooks inside
//! the sweep, step extensions around it; see [`super::extension`]), plus the run loops with
//! steady-state and energy-decay stopping and stability checks.
//!
//! Modules outside `fdtd` read a simulation only through its methods (grid, step, model, probes
//! built on its operator, field samples), not its operator or fields.

use std::ops::Range;

use num_complex::Complex64;
use rayon::prelude::*;

use super::cpml::Cpml;
use super::dft::{DftProbe, FieldKind};
use super::engine::{self, PlaneHook};
use super::extension::{Extension, Probe, StepCtx};
use super::fields::Fields;
use super::lumped::{Lumped, LumpedSpec};
use super::operator::{Boundary, CourantReference, Operator, OperatorSpec};
use super::pmc::PmcFaces;
use super::source::{SourceSpec, Sources};
use super::tfsf::{Tfsf, TfsfSpec};
use super::thinwire::{self, Staircase, ThinWire, ThinWires, WireCurrentProbe};
use crate::error::{Error, Result};
use crate::grid::{VoxelModel, EPS0, MU0};

/// Everything a simulation is built from. Validated as a whole by `Simulation::new`.
#[derive(Clone, Debug)]
pub struct SimulationSpec {
    pub model: VoxelModel,
    /// `[axis][low, high]`.
    pub boundaries: [[Boundary; 2]; 3],
    pub courant: f64,
    /// The wave speed the Courant number refers to (`FastestMedium`: longer steps in a box of gel).
    pub courant_reference: CourantReference,
    /// Makes one period of this frequency a whole number of steps (for steady-state runs).
    pub cw_freq_hz: Option<f64>,
    pub lumped: Vec<LumpedSpec>,
    /// Frequencies at which lumped-element voltages and currents are Fourier transformed.
    pub port_freqs_hz: Vec<f64>,
    pub sources: Vec<SourceSpec>,
    /// Total-field/scattered-field box with its incident field (CW).
    pub tfsf: Option<TfsfSpec>,
    /// Sub-cell thin wires (a lumped element or edge source on a wire edge makes a gap there).
    pub thin_wires: Vec<ThinWire>,
    /// Run even below 6 cells per wavelength (still warns below 15); see [`crate::resources`].
    pub allow_coarse_grid: bool,
    /// The input and key that set the cell size, named by the resolution check (default
    /// "simulation", "cell size").
    pub cell_key: (String, String),
    /// Use the graded-grid update even on a uniform grid (bit-identical; for tests).
    pub graded_kernels: bool,
}

impl SimulationSpec {
    /// PEC on every face, Courant number 0.98, no elements or sources.
    pub fn new(model: VoxelModel) -> Self {
        Self {
            model,
            boundaries: std::array::from_fn(|_| [Boundary::Pec, Boundary::Pec]),
            courant: 0.98,
            courant_reference: CourantReference::Vacuum,
            cw_freq_hz: None,
            lumped: vec![],
            port_freqs_hz: vec![],
            sources: vec![],
            tfsf: None,
            thin_wires: vec![],
            allow_coarse_grid: false,
            cell_key: ("simulation".into(), "cell size".into()),
            graded_kernels: false,
        }
    }
    /// The highest frequency the run carries: the CW and port frequencies, the TF/SF incident
    /// field, and each source's (a pulse's centre plus half its bandwidth). 0 when none is set.
    pub fn max_freq_hz(&self) -> f64 {
        use super::source::Waveform;
        let wf = |w: &Waveform| match *w {
            Waveform::GaussPulse { f0_hz, bandwidth_hz } => f0_hz + 0.5 * bandwidth_hz,
            Waveform::Cw { freq_hz, .. } => freq_hz,
        };
        let mut f = self.cw_freq_hz.unwrap_or(0.0);
        for &p in &self.port_freqs_hz {
            f = f.max(p);
        }
        if let Some(t) = &self.tfsf {
            f = f.max(t.incident.freq_hz());
        }
        for s in &self.sources {
            f = f.max(wf(s.waveform()));
        }
        for l in &self.lumped {
            for (_, w) in l.source.iter().chain(l.current.iter()) {
                f = f.max(wf(w));
            }
        }
        if f.is_finite() {
            f
        } else {
            0.0
        }
    }
    /// The resolution check (cells per wavelength in the densest material on the grid at
    /// [`Self::max_freq_hz`]): warns below 15, refuses below 6 unless `allow_coarse_grid`.
    pub fn check_resolution(&self) -> Result<Option<f64>> {
        let f = self.max_freq_hz();
        if !(f > 0.0) {
            return Ok(None);
        }
        let m = &self.model;
        let mut used = [false; 256];
        for &c in m.cells() {
            used[c as usize] = true;
        }
        let eps_max = m
            .materials()
            .iter()
            .enumerate()
            .filter(|(i, mat)| used[*i] && !mat.pec)
            .map(|(_, mat)| mat.eps_r)
            .fold(1.0, f64::max);
        let g = &m.grid;
        let d_max = (0..3)
            .map(|a| {
                (0..g.axes[a].cells())
                    .map(|i| g.axes[a].cell_size(i))
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        crate::resources::check_resolution(
            &self.cell_key.0,
            &self.cell_key.1,
            f,
            eps_max,
            d_max,
            crate::grid::cells_per_wavelength(f, eps_max, 1.0, d_max),
            self.allow_coarse_grid,
        )
    }
    /// The same boundary on all six faces.
    pub fn all_boundaries(mut self, b: Boundary) -> Self {
        self.boundaries = std::array::from_fn(|_| [b.clone(), b.clone()]);
        self
    }
}

/// How a steady-state (CW) run stops.
#[derive(Clone, Debug)]
pub struct SteadyState {
    /// Stop when the monitored phasors change by less than this (relative to their maximum)
    /// between two consecutive periods, twice in a row.
    pub tol: f64,
    pub min_periods: usize,
    pub max_periods: usize,
}

impl Default for SteadyState {
    fn default() -> Self {
        Self {
            tol: 1e-3,
            min_periods: 4,
            max_periods: 400,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunStats {
    pub steps: usize,
    pub periods: usize,
    pub converged: bool,
    /// Last relative phasor change (CW) or energy relative to peak in dB (broadband).
    pub final_change: f64,
    pub energy_j: f64,
    pub seconds: f64,
}

/// Where a long run stands, for progress bars.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub steps: usize,
    /// CW: periods done; broadband: 0.
    pub periods: usize,
    /// CW: last relative phasor change; broadband: energy relative to peak (dB).
    pub measure: f64,
    /// The stopping threshold `measure` is compared with.
    pub target: f64,
}

/// A progress callback.
pub type ProgressFn = Box<dyn FnMut(Progress) + Send>;

/// The thin-wire H corrections read E within one cell of the wire; keep them clear of the TF/SF
/// corrections.
fn check_wires_inside(t: &Tfsf, thin: &ThinWires) -> Result<()> {
    let (lo, hi) = t.bounds();
    for (wi, st) in thin.wires.iter().enumerate() {
        if st
            .nodes()
            .iter()
            .any(|(p, _)| (0..3).any(|a| p[a] < lo[a] + 2 || p[a] + 2 > hi[a]))
        {
            return Err(Error::input(
                "simulation",
                &format!("thin_wires[{wi}]"),
                "the wire reaches within 2 cells of the TF/SF surface (or lies outside the box)",
                "keep thin wires at least 2 cells inside the TF/SF box",
            ));
        }
    }
    Ok(())
}

/// The plane hooks, in the order they run on each plane: PMC faces before the CPML (so CPML
/// corrections also reach PMC-face edges inside a slab).
fn plane_hooks(op: &Operator) -> Vec<Box<dyn PlaneHook>> {
    let mut hooks: Vec<Box<dyn PlaneHook>> = Vec::new();
    if let Some(p) = PmcFaces::new(op) {
        hooks.push(Box::new(p));
    }
    if let Some(c) = Cpml::new(op) {
        hooks.push(Box::new(c));
    }
    hooks
}

/// The step extensions, in the order their `pre_step` and `post_step` run: lumped elements
/// (always present, maybe empty), sources (likewise), the TF/SF box, the thin wires (likewise).
/// Built in this order too, so the first error is the same.
fn step_extensions(
    op: &Operator,
    lumped: &[LumpedSpec],
    port_freqs_hz: &[f64],
    sources: &[SourceSpec],
    tfsf: Option<&TfsfSpec>,
    (stairs, wires): (Vec<Staircase>, &[ThinWire]),
) -> Result<Vec<Box<dyn Extension>>> {
    let lumped = Lumped::new(op, lumped, port_freqs_hz)?;
    let sources = Sources::new(op, sources)?;
    let tfsf = tfsf.map(|t| Tfsf::new(op, t)).transpose()?;
    let thin = ThinWires::new(op, stairs, wires)?;
    if let Some(t) = &tfsf {
        check_wires_inside(t, &thin)?;
    }
    let mut exts: Vec<Box<dyn Extension>> = vec![Box::new(lumped), Box::new(sources)];
    if let Some(t) = tfsf {
        exts.push(Box::new(t));
    }
    exts.push(Box::new(thin));
    Ok(exts)
}

/// A built simulation.
pub struct Simulation {
    pub(super) op: Operator,
    pub(super) fields: Fields,
    /// Run inside the fused sweep on each plane, in this order.
    hooks: Vec<Box<dyn PlaneHook>>,
    /// Run before and after each step, in this order.
    exts: Vec<Box<dyn Extension>>,
    n: usize,
    plane_energy: Vec<f64>,
    progress: Option<ProgressFn>,
}

impl Simulation {
    pub fn new(spec: SimulationSpec) -> Result<Self> {
        spec.check_resolution()?;
        let mut model = spec.model;
        let mut gaps: Vec<(usize, [usize; 3])> = spec.lumped.iter().map(|l| (l.comp, l.node)).collect();
        for s in &spec.sources {
            if let SourceSpec::EdgeCurrent { comp, node, .. } = s {
                gaps.push((*comp, *node));
            }
        }
        let (stairs, mu_r_min) = thinwire::apply_to_model(
            &mut model,
            &spec.thin_wires,
            &gaps,
            spec.cw_freq_hz.or(spec.port_freqs_hz.first().copied()),
        )?;
        let op = Operator::new(
            model,
            &OperatorSpec {
                // The thin wires' first-ring permittivity (in the model) and permeability speed up
                // the local update where they are lowered: the operator scales the step.
                courant: spec.courant,
                reference: spec.courant_reference,
                mu_r_min,
                boundaries: spec.boundaries,
                cw_freq_hz: spec.cw_freq_hz,
                graded_kernels: spec.graded_kernels,
            },
        )?;
        let fields = Fields::new(op.layout.n);
        let hooks = plane_hooks(&op);
        let exts = step_extensions(
            &op,
            &spec.lumped,
            &spec.port_freqs_hz,
            &spec.sources,
            spec.tfsf.as_ref(),
            (stairs, &spec.thin_wires),
        )?;
        let plane_energy = vec![0.0; op.layout.n[0] + 1];
        Ok(Self {
            op,
            fields,
            hooks,
            exts,
            n: 0,
            plane_energy,
            progress: None,
        })
    }

    /// Replaces the TF/SF box (before the run), e.g. with an incident plane wave matched to the Yee
    /// dispersion at the time step the operator chose (`op.dt`).
    pub fn replace_tfsf(&mut self, spec: &TfsfSpec) -> Result<()> {
        if self.n > 0 {
            return Err(Error::Other("replace_tfsf: the run has started".into()));
        }
        let t = Tfsf::new(&self.op, spec)?;
        check_wires_inside(&t, self.thin_wires())?;
        match self.exts.iter().position(|e| (**e).as_any().is::<Tfsf>()) {
            Some(i) => self.exts[i] = Box::new(t),
            None => {
                // Where `step_extensions` puts it: right after the sources.
                let i = self
                    .exts
                    .iter()
                    .position(|e| (**e).as_any().is::<Sources>())
                    .map_or(0, |i| i + 1);
                self.exts.insert(i, Box::new(t));
            }
        }
        Ok(())
    }

    /// The step extension of type `T`, if the list has one.
    fn ext<T: Extension>(&self) -> Option<&T> {
        self.exts.iter().find_map(|e| (**e).as_any().downcast_ref::<T>())
    }
    /// The step extension of type `T`, mutable, if the list has one.
    fn ext_mut<T: Extension>(&mut self) -> Option<&mut T> {
        self.exts.iter_mut().find_map(|e| (**e).as_any_mut().downcast_mut::<T>())
    }

    /// Sets a callback called once per period (CW) or energy check (broadband).
    pub fn set_progress(&mut self, f: Option<ProgressFn>) {
        self.progress = f;
    }

    fn report(&mut self, p: Progress) {
        if let Some(f) = &mut self.progress {
            f(p);
        }
    }

    /// The time step (s).
    pub fn dt(&self) -> f64 {
        self.op.dt
    }
    /// Steps per period of the CW frequency given in the spec (`None` without one).
    pub fn steps_per_period(&self) -> Option<usize> {
        self.op.steps_per_period
    }
    /// Cells per axis.
    pub fn cells(&self) -> [usize; 3] {
        self.op.layout.n
    }
    /// Cell size per axis (m); on a graded axis its smallest cell ([`Self::is_graded`]).
    pub fn cell_size_m(&self) -> [f64; 3] {
        self.op.d
    }
    /// Whether any axis of the grid is graded (cell sizes differ).
    pub fn is_graded(&self) -> bool {
        self.op.graded.iter().any(|g| *g)
    }
    /// Courant number relative to c0 of the step the operator chose.
    pub fn courant(&self) -> f64 {
        self.op.courant
    }
    /// The voxel model the operator was built from (with the thin wires' rings applied).
    pub fn model(&self) -> &VoxelModel {
        &self.op.model
    }
    /// A DFT probe of this simulation's grid ([`DftProbe::new`]).
    pub fn dft_probe(
        &self,
        name: &str,
        kind: FieldKind,
        comps: &[usize],
        region: [Range<usize>; 3],
        freqs: &[f64],
        every: usize,
    ) -> Result<DftProbe> {
        DftProbe::new(&self.op, name, kind, comps, region, freqs, every)
    }
    /// Field component `comp` of `kind` at node `node` now (E at `n dt`, H at `(n+1/2) dt`).
    /// Panics when the node lies outside the node lattice.
    pub fn field_at(&self, kind: FieldKind, comp: usize, node: [usize; 3]) -> f32 {
        let idx = self.op.layout.idx(node[0], node[1], node[2]);
        match kind {
            FieldKind::E => self.fields.e[comp][idx],
            FieldKind::H => self.fields.h[comp][idx],
        }
    }
    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.n
    }
    /// Time of the E field now.
    pub fn time(&self) -> f64 {
        self.n as f64 * self.op.dt
    }

    /// Sets E component `comp` at node `node` (an initial condition, before or between runs).
    /// Panics when the node lies outside the node lattice.
    pub fn set_e(&mut self, comp: usize, node: [usize; 3], value: f32) {
        let idx = self.op.layout.idx(node[0], node[1], node[2]);
        self.fields.e[comp][idx] = value;
    }
    /// Whether the E edge `comp` at `node` is PEC (never updated; also true outside the
    /// component's own node range).
    pub fn is_pec_edge(&self, comp: usize, node: [usize; 3]) -> bool {
        self.op.mat[comp][self.op.layout.idx(node[0], node[1], node[2])] == 0
    }
    /// Developer timing (the `phase_timing` example): `steps` two-pass E and H updates on a copy
    /// of the fields with a unit Ez at the centre, with or without the plane hooks. Returns the
    /// seconds spent in the E and the H updates.
    pub fn time_two_pass(&self, steps: usize, with_hooks: bool) -> (f64, f64) {
        let hooks: &[Box<dyn PlaneHook>] = if with_hooks { &self.hooks } else { &[] };
        let mut f = self.fields.clone();
        let c = self.op.layout.n.map(|v| v / 2);
        f.e[2][self.op.layout.idx(c[0], c[1], c[2])] = 1.0;
        let (mut te, mut th) = (0.0, 0.0);
        for _ in 0..steps {
            let t0 = std::time::Instant::now();
            engine::update_e(&self.op, &mut f, hooks);
            let t1 = std::time::Instant::now();
            engine::update_h(&self.op, &mut f, hooks);
            te += (t1 - t0).as_secs_f64();
            th += t1.elapsed().as_secs_f64();
        }
        (te, th)
    }

    /// Core memory: fields, material indices, segments and the extensions (CPML psi and the rest).
    pub fn core_bytes(&self) -> usize {
        self.fields.bytes()
            + self.op.bytes()
            + self.hooks.iter().map(|h| h.bytes()).sum::<usize>()
            + self.exts.iter().map(|e| e.bytes()).sum::<usize>()
    }

    /// The lumped elements (their voltages, currents and DFTs), in spec order.
    pub fn lumped(&self) -> &Lumped {
        self.ext().expect("step_extensions always adds the lumped elements")
    }

    /// The thin wires (their staircases), in spec order.
    pub fn thin_wires(&self) -> &ThinWires {
        self.ext().expect("step_extensions always adds the thin wires")
    }

    /// A probe of the current along thin wire `wire` (index in the spec) at `freqs`.
    pub fn wire_current_probe(&self, wire: usize, freqs: &[f64]) -> Result<WireCurrentProbe> {
        let thin = self.thin_wires();
        let st = thin.wires.get(wire).ok_or_else(|| {
            Error::input(
                "probes",
                "wire_current",
                format!("no thin wire {wire} (the spec has {})", thin.wires.len()),
                "use an index into SimulationSpec::thin_wires",
            )
        })?;
        WireCurrentProbe::new(&self.op, st, freqs)
    }

    /// The TF/SF extension, when the spec has one.
    pub fn tfsf(&self) -> Option<&Tfsf> {
        self.ext()
    }

    /// The latest time every CW ramp of the step extensions is complete (0 without ramps).
    fn ramp_end(&self) -> f64 {
        self.exts.iter().map(|e| e.ramp_end()).fold(0.0, f64::max)
    }

    /// The latest end time of the step extensions' drive; `None` when one drives for ever (CW).
    fn end_time(&self) -> Option<f64> {
        let mut t: f64 = 0.0;
        for e in &self.exts {
            t = t.max(e.end_time()?);
        }
        Some(t)
    }

    /// One time step with the given probes: the step extensions' `pre_step` (in list order), the
    /// probes', the fused E/H sweep with the plane hooks (PMC faces, CPML), then the step
    /// extensions' `post_step` (lumped elements, sources, TF/SF, thin wires) and the probes'.
    pub fn step(&mut self, probes: &mut [&mut dyn Probe]) {
        engine::flush_subnormals();
        let ctx = StepCtx {
            op: &self.op,
            n: self.n,
        };
        let f = &mut self.fields;
        for x in self.exts.iter_mut() {
            x.pre_step(f, &ctx);
        }
        for p in probes.iter_mut() {
            p.pre_step(f, &ctx);
        }
        engine::step_fused(&self.op, f, &self.hooks);
        for x in self.exts.iter_mut() {
            x.post_step(f, &ctx);
        }
        for p in probes.iter_mut() {
            p.post_step(f, &ctx);
        }
        self.n += 1;
    }

    /// Electromagnetic energy (J), from E at `n dt` and H at `(n+1/2) dt`. Summed per x-plane, then
    /// over planes in order, so the value does not depend on the thread count.
    pub fn energy(&mut self) -> f64 {
        let l = self.op.layout;
        let dv = self.op.d[0] * self.op.d[1] * self.op.d[2];
        let f = &self.fields;
        let op = &self.op;
        if op.graded.iter().any(|g| *g) {
            // Each sample weighted by its own volume: E_c by its edge length times the dual area
            // across it, H_c by the dual length along c times the primal face area.
            self.plane_energy.par_iter_mut().enumerate().for_each(|(i, out)| {
                *out = graded_plane_energy(op, f, i);
            });
            return self.plane_energy.iter().sum();
        }
        self.plane_energy.par_iter_mut().enumerate().for_each(|(i, out)| {
            let r = i * l.sx..(i + 1) * l.sx;
            let mut we = 0.0f64;
            for c in 0..3 {
                let e = &f.e[c][r.clone()];
                let m = &op.mat[c][r.clone()];
                for (x, mi) in e.iter().zip(m) {
                    let x = *x as f64;
                    we += op.table[*mi as usize].eps_r * x * x;
                }
            }
            let mut wh = 0.0f64;
            for c in 0..3 {
                for x in &f.h[c][r.clone()] {
                    let x = *x as f64;
                    wh += x * x;
                }
            }
            *out = 0.5 * dv * (EPS0 * we + MU0 * wh);
        });
        self.plane_energy.iter().sum()
    }

    fn check_finite(&self, energy: f64) -> Result<()> {
        if !energy.is_finite() {
            return Err(Error::Unstable {
                step: self.n,
                what: "the fields contain NaN or Inf".into(),
                fix: "check materials (eps_r >= 1, sigma >= 0), lumped element values and the Courant number (<= 1)"
                    .into(),
            });
        }
        Ok(())
    }

    /// Runs `steps` steps, checking for NaN/Inf every `check_every` steps.
    pub fn run_steps(&mut self, steps: usize, probes: &mut [&mut dyn Probe]) -> Result<RunStats> {
        let t0 = std::time::Instant::now();
        crate::resources::announce(self.op.model.grid.num_cells() as u64, steps, steps);
        let check = 200;
        for s in 0..steps {
            self.step(probes);
            if (s + 1) % check == 0 || s + 1 == steps {
                let w = self.energy();
                self.check_finite(w)?;
            }
        }
        let energy_j = self.energy();
        self.check_finite(energy_j)?;
        Ok(RunStats {
            steps,
            periods: 0,
            converged: true,
            final_change: 0.0,
            energy_j,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// Broadband run: steps until every source is off and the field energy has fallen `decay_db`
    /// below its peak, or `max_steps`. Energy that grows after the sources stop is an error.
    pub fn run_until_decay(
        &mut self,
        decay_db: f64,
        max_steps: usize,
        probes: &mut [&mut dyn Probe],
    ) -> Result<RunStats> {
        let t0 = std::time::Instant::now();
        let t_end = self.end_time().ok_or_else(|| {
            Error::input(
                "simulation",
                "sources",
                "a decay run needs pulsed sources, not CW",
                "use run_cw for CW sources",
            )
        })?;
        let lo = ((t_end / self.op.dt).ceil().min(max_steps as f64)) as usize;
        crate::resources::announce(self.op.model.grid.num_cells() as u64, lo, max_steps);
        let check = 50;
        let mut peak: f64 = 0.0;
        let mut at_end: Option<f64> = None;
        let mut steps = 0;
        let mut rel_db = 0.0;
        while steps < max_steps {
            self.step(probes);
            steps += 1;
            if steps % check != 0 {
                continue;
            }
            let w = self.energy();
            self.check_finite(w)?;
            peak = peak.max(w);
            if self.time() > t_end {
                let ref_w = *at_end.get_or_insert(w.max(1e-300));
                if w > 4.0 * ref_w {
                    return Err(Error::Unstable {
                        step: self.n,
                        what: format!("field energy grew {:.1}x after the sources stopped", w / ref_w),
                        fix: "lower the Courant number, check CPML parameters and lumped element values".into(),
                    });
                }
                rel_db = 10.0 * (w / peak.max(1e-300)).log10();
                self.report(Progress {
                    steps,
                    periods: 0,
                    measure: rel_db,
                    target: -decay_db,
                });
                if peak > 0.0 && rel_db < -decay_db {
                    return Ok(RunStats {
                        steps,
                        periods: 0,
                        converged: true,
                        final_change: rel_db,
                        energy_j: w,
                        seconds: t0.elapsed().as_secs_f64(),
                    });
                }
            }
        }
        let energy_j = self.energy();
        Ok(RunStats {
            steps,
            periods: 0,
            converged: false,
            final_change: rel_db,
            energy_j,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// Steady-state run at the CW frequency given in the spec: runs whole periods, resets the probes
    /// at the start of each, and stops when the phasors at a fixed set of monitor edges (and all
    /// lumped-element currents) change by less than `ss.tol` between periods, twice in a row. The
    /// probes then hold the phasors of the last period.
    pub fn run_cw(&mut self, ss: &SteadyState, probes: &mut [&mut dyn Probe]) -> Result<RunStats> {
        let t0 = std::time::Instant::now();
        let m = self.op.steps_per_period.ok_or_else(|| {
            Error::input(
                "simulation",
                "cw_freq_hz",
                "a steady-state run needs cw_freq_hz in the spec",
                "set SimulationSpec::cw_freq_hz",
            )
        })?;
        let freq = 1.0 / (m as f64 * self.op.dt);
        // The estimate has always counted the ramps of the sources and lumped elements but not the
        // TF/SF incident wave's; kept so the announced estimate does not change.
        let drive_ramp = self
            .exts
            .iter()
            .filter(|e| !(***e).as_any().is::<Tfsf>())
            .map(|e| e.ramp_end())
            .fold(0.0, f64::max);
        let ramp_periods = (drive_ramp * freq).ceil() as usize;
        crate::resources::announce(
            self.op.model.grid.num_cells() as u64,
            m * (ss.min_periods.max(ramp_periods + 2)).min(ss.max_periods),
            m * ss.max_periods,
        );
        let monitors = self.monitor_edges(256);
        let ramp = self.ramp_end();
        let n_lumped = self.lumped().len();
        let mut prev: Vec<Complex64> = vec![Complex64::default(); monitors.len() + n_lumped];
        let mut cur = prev.clone();
        let mut below = 0;
        let mut growth = 0;
        let mut last_w = 0.0;
        let mut change = f64::INFINITY;
        for period in 1..=ss.max_periods {
            for p in probes.iter_mut() {
                p.reset();
            }
            self.ext_mut::<Lumped>()
                .expect("step_extensions always adds the lumped elements")
                .reset_dft();
            cur.iter_mut().for_each(|x| *x = Complex64::default());
            for _ in 0..m {
                self.step(probes);
                let w = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * freq * self.time());
                for (q, &(c, idx)) in monitors.iter().enumerate() {
                    cur[q] += w * self.fields.e[c as usize][idx as usize] as f64;
                }
                let lumped = self.lumped();
                for e in 0..n_lumped {
                    cur[monitors.len() + e] += w * lumped.latest(e).2;
                }
            }
            let energy = self.energy();
            self.check_finite(energy)?;
            if self.time() > ramp + 1.0 / freq {
                if last_w > 0.0 && energy > 1.5 * last_w {
                    growth += 1;
                    if growth >= 5 {
                        return Err(Error::Unstable {
                            step: self.n,
                            what: format!(
                                "field energy grew more than 1.5x per period for {growth} periods after the ramp"
                            ),
                            fix: "lower the Courant number, check CPML parameters and lumped element values".into(),
                        });
                    }
                } else {
                    growth = 0;
                }
            }
            last_w = energy;
            // Relative change, separately normalised for monitor fields and element currents.
            change = rel_change(&cur[..monitors.len()], &prev[..monitors.len()])
                .max(rel_change(&cur[monitors.len()..], &prev[monitors.len()..]));
            std::mem::swap(&mut cur, &mut prev);
            self.report(Progress {
                steps: self.n,
                periods: period,
                measure: change,
                target: ss.tol,
            });
            if self.time() > ramp && period >= ss.min_periods && change < ss.tol {
                below += 1;
                if below >= 2 {
                    return Ok(RunStats {
                        steps: self.n,
                        periods: period,
                        converged: true,
                        final_change: change,
                        energy_j: energy,
                        seconds: t0.elapsed().as_secs_f64(),
                    });
                }
            } else {
                below = 0;
            }
        }
        Err(Error::NotConverged {
            what: format!("no steady state after {} periods (last phasor change {:.2e} > tolerance {:.1e}); raise max_periods or add loss", ss.max_periods, change, ss.tol),
        })
    }

    /// A deterministic spread of non-PEC E edges outside the CPML, for convergence monitoring.
    fn monitor_edges(&self, count: usize) -> Vec<(u8, u32)> {
        let n = self.op.layout.n;
        let mut out = Vec::new();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut tries = 0;
        while out.len() < count && tries < count * 50 {
            tries += 1;
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = ((state >> 33) % 3) as usize;
            let r = self.op.e_active_range(c);
            let mut p = [0usize; 3];
            for (a, pa) in p.iter_mut().enumerate() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = r[a].len().max(1);
                *pa = r[a].start + ((state >> 33) as usize % len);
            }
            if (0..3).any(|a| p[a] > n[a]) || self.op.in_cpml(p) {
                continue;
            }
            let idx = self.op.layout.idx(p[0], p[1], p[2]);
            if self.op.mat[c][idx] == 0 {
                continue;
            }
            out.push((c as u8, idx as u32));
        }
        out
    }
}

/// Electromagnetic energy (J) held in x-plane `i` of a graded grid (samples outside a
/// component's range are zero and weigh nothing).
fn graded_plane_energy(op: &Operator, f: &Fields, i: usize) -> f64 {
    let l = op.layout;
    let n = l.n;
    // Length of the primal cell `p` along `a` (0 past the last cell) and of the dual cell at node
    // `p` (halved on the faces: the part inside the domain).
    let prim = |a: usize, p: usize| if p < n[a] { op.dp[a][p] } else { 0.0 };
    let dual = |a: usize, p: usize| {
        let w = op.dd[a][p];
        if p == 0 || p == n[a] {
            0.5 * w
        } else {
            w
        }
    };
    let mut we = 0.0f64;
    let mut wh = 0.0f64;
    for j in 0..=n[1] {
        for k in 0..=n[2] {
            let idx = l.idx(i, j, k);
            let p = [i, j, k];
            for c in 0..3 {
                let (b, cc) = ((c + 1) % 3, (c + 2) % 3);
                let x = f.e[c][idx] as f64;
                if x != 0.0 {
                    let v = prim(c, p[c]) * dual(b, p[b]) * dual(cc, p[cc]);
                    we += op.table[op.mat[c][idx] as usize].eps_r * x * x * v;
                }
                let y = f.h[c][idx] as f64;
                if y != 0.0 {
                    let v = dual(c, p[c]) * prim(b, p[b]) * prim(cc, p[cc]);
                    wh += y * y * v;
                }
            }
        }
    }
    0.5 * (EPS0 * we + MU0 * wh)
}

fn rel_change(cur: &[Complex64], prev: &[Complex64]) -> f64 {
    if cur.is_empty() {
        return 0.0;
    }
    let max = cur.iter().map(|x| x.norm()).fold(0.0, f64::max);
    if max == 0.0 {
        return if prev.iter().all(|x| x.norm() == 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    cur.iter().zip(prev).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max) / max
}

#[cfg(test)]
mod tests;
