//! The coil FDTD run (B1 of a simulated coil): run a coil model to steady state at its Larmor
//! frequency and return E, B1+ and B1- at cell centres, the input power and the normalisation factors
//! (per watt of input power and per µT of B1+ at the isocentre).

use ndarray::Array3;
use num_complex::{Complex32, Complex64};

use super::field::{b1_minus, b1_plus};
use crate::coil::config::{CoilConfig, Drive};
use crate::coil::fdtd_model::{self, BirdcageMesh, Gaps, MeshOptions, ModelKind};
use crate::coil::phantom::PhantomConfig;
use crate::coil::resonant::{resonant_spec, tune_fdtd, FdtdTuning};
use crate::error::{Error, Result};
use crate::fdtd::{FieldKind, Probe, ProgressFn, RunStats, Simulation, SteadyState, YeeVector};
use crate::grid::{GridPlacement, RegularField};

/// Which model of the coil's drive a basis (twin) computation uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriveModel {
    /// Impressed rung currents, uniform along each rung (no conductors, no capacitors).
    #[default]
    Ideal,
    /// The resonant coil (PEC conductors, capacitors and feed ports) by circuit co-simulation
    /// (`coil::cosim`): tuned to Larmor, driven through its feeds' source impedances.
    Cosim,
}

impl std::str::FromStr for DriveModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ideal" => Ok(DriveModel::Ideal),
            "cosim" => Ok(DriveModel::Cosim),
            _ => Err(Error::input(
                "command line",
                "--model",
                format!("unknown drive model '{s}'"),
                "use --model cosim (co-simulated resonant coil) or --model ideal (impressed uniform rung currents)",
            )),
        }
    }
}

impl DriveModel {
    pub fn as_str(self) -> &'static str {
        match self {
            DriveModel::Ideal => "ideal",
            DriveModel::Cosim => "cosim",
        }
    }
}

/// How to drive and run the coil.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    pub mesh: MeshOptions,
    /// Quadrature (B1+ rotating) or linear along `linear_angle_deg`; default from the coil file.
    pub quadrature: Option<bool>,
    pub linear_angle_deg: f64,
    /// Frequency (default: the coil's Larmor frequency).
    pub freq_hz: Option<f64>,
    pub steady: SteadyState,
    /// The drive model of basis (twin) computations.
    pub model: DriveModel,
    /// The port runs of the co-simulation model.
    pub port_runs: crate::coil::cosim::PortRunOptions,
    /// Co-simulation: relative deviation of each port's capacitor from the tuned (or file) value,
    /// per co-simulation port (0 for a feed); empty for none (a fitted twin's capacitors).
    pub capacitor_deviation: Vec<f64>,
    /// Co-simulation: keep the port basis in memory for this process (see
    /// `twin::basis::kept_port_basis`), so that another capacitor set costs no FDTD run.
    pub keep_port_basis: bool,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        Self {
            mesh: MeshOptions::default(),
            quadrature: None,
            linear_angle_deg: 0.0,
            freq_hz: None,
            steady: SteadyState {
                tol: 1e-3,
                min_periods: 4,
                max_periods: 200,
            },
            model: DriveModel::Ideal,
            port_runs: Default::default(),
            capacitor_deviation: Vec::new(),
            keep_port_basis: false,
        }
    }
}

/// Steady-state fields of an ideal-drive coil for 1 A peak rung current (as driven).
pub struct CoilFields {
    pub freq_hz: f64,
    /// B1+ and B1- (T) at the H cell centres.
    pub b1_plus: RegularField<Complex32>,
    pub b1_minus: RegularField<Complex32>,
    /// E components (V/m) at the E cell centres, and where those are.
    pub e: [Array3<Complex32>; 3],
    pub e_grid: GridPlacement,
    /// Conductivity (S/m) and density (kg/m^3) of the cell at each E centre.
    pub sigma: Array3<f32>,
    pub density: Array3<f32>,
    /// Time-averaged power delivered by the drive (W).
    pub input_power_w: f64,
    /// B1+ at the isocentre (T).
    pub b1_plus_iso_t: Complex64,
    pub stats: RunStats,
    pub cells: [usize; 3],
    pub cell_m: f64,
    pub dt_s: f64,
    pub setup_s: f64,
    /// The raw Yee components of E (V/m) and H (A/m) over the probe box (coil interior), each on its
    /// own staggered grid (for superposition of basis runs and the twin's fields).
    pub e_yee: YeeVector,
    pub h_yee: YeeVector,
    /// Voltage and current phasors (V, A) of every lumped element (ideal-drive current sources),
    /// so that the input power of a superposition of runs can be formed: P = sum 0.5 Re(V I*).
    pub lumped_vi: Vec<(Complex64, Complex64)>,
}

impl CoilFields {
    /// Factor that scales these fields to 1 W of input power.
    pub fn per_watt(&self) -> f64 {
        1.0 / self.input_power_w.sqrt()
    }
    /// Factor that scales these fields to |B1+| = 1 µT at the isocentre.
    pub fn per_microtesla(&self) -> f64 {
        1e-6 / self.b1_plus_iso_t.norm()
    }
    /// Point SAR (W/kg) at the E centres for the fields scaled by `scale`.
    pub fn point_sar(&self, scale: f64) -> Array3<f32> {
        let s2 = (scale * scale) as f32;
        let mut out = Array3::<f32>::zeros(self.sigma.dim());
        ndarray::Zip::from(&mut out)
            .and(&self.sigma)
            .and(&self.density)
            .and(&self.e[0])
            .and(&self.e[1])
            .and(&self.e[2])
            .for_each(|o, &sg, &rho, a, b, c| {
                *o = if rho > 0.0 {
                    sg * (a.norm_sqr() + b.norm_sqr() + c.norm_sqr()) * s2 / (2.0 * rho)
                } else {
                    0.0
                };
            });
        out
    }
}

/// Meshes the coil (ideal drive) with the phantom and runs it to steady state.
pub fn simulate_ideal(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    opt: &SimulateOptions,
    progress: Option<ProgressFn>,
) -> Result<CoilFields> {
    let t0 = std::time::Instant::now();
    let mesh = fdtd_model::mesh(coil, phantom, ModelKind::Ideal, &opt.mesh)?;
    let quadrature = opt.quadrature.unwrap_or(coil.drive == Drive::Quadrature);
    let weights = fdtd_model::homogeneous_weights(&mesh, quadrature, opt.linear_angle_deg.to_radians());
    let freq = opt.freq_hz.unwrap_or(coil.freq_hz);
    run_mesh(&mesh, freq, &weights, &opt.steady, progress, t0)
}

/// The resonant model (PEC rungs and rings, capacitors), tuned by FDTD sweeps from the circuit-model
/// capacitance until its homogeneous mode is within `tune_tol` of Larmor (at most 3 sweeps of
/// `sweep_steps` steps), then driven at its ports (1 A each, the coil file's phases: quadrature by
/// default) to steady state at Larmor.
pub fn simulate_resonant(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    opt: &SimulateOptions,
    sweep_steps: usize,
    tune_tol: f64,
    progress: Option<ProgressFn>,
) -> Result<(CoilFields, FdtdTuning)> {
    let t0 = std::time::Instant::now();
    let mesh = fdtd_model::mesh(
        coil,
        phantom,
        ModelKind::Resonant(Gaps::for_type(coil.coil_type)),
        &opt.mesh,
    )?;
    let tuning = tune_fdtd(coil, &mesh, tune_tol, 3, sweep_steps)?;
    let freq = opt.freq_hz.unwrap_or(coil.freq_hz);
    let drive: Vec<Complex64> = coil
        .ports
        .iter()
        .map(|p| Complex64::from_polar(1.0, p.phase_deg.to_radians()))
        .collect();
    let wave = |ph: f64| crate::fdtd::Waveform::Cw {
        freq_hz: freq,
        amplitude: 1.0,
        phase_rad: ph,
        ramp_periods: 3.0,
    };
    // Ports as matched Norton sources (internal resistance = the coil's parallel resistance at the
    // port), as a real matched 50-Ohm port loads its coil: it halves the loaded Q.
    let g = if tuning.port_match_ohm > 0.0 {
        1.0 / tuning.port_match_ohm
    } else {
        0.0
    };
    let mut spec = resonant_spec(coil, &mesh, tuning.capacitors, &drive, &wave, g)?;
    spec.cw_freq_hz = Some(freq);
    spec.port_freqs_hz = vec![freq];
    // The resonant coil keeps a slow beat from modes the ports hardly damp (end-ring modes, the
    // weakly loaded polarisation): converge to 5e-3 per period at best (phasors to about 0.5 %).
    let steady = SteadyState {
        tol: opt.steady.tol.max(5e-3),
        min_periods: opt.steady.min_periods,
        max_periods: opt.steady.max_periods.max(300),
    };
    let fields = run_spec(&mesh, spec, freq, &steady, progress, t0)?;
    Ok((fields, tuning))
}

/// Runs an ideal-drive mesh with the given rung weights and extracts the fields.
pub fn run_mesh(
    mesh: &BirdcageMesh,
    freq: f64,
    weights: &[Complex64],
    steady: &SteadyState,
    progress: Option<ProgressFn>,
    t0: std::time::Instant,
) -> Result<CoilFields> {
    let spec = mesh.ideal_drive(freq, weights)?;
    run_spec(mesh, spec, freq, steady, progress, t0)
}

/// Runs a CW simulation of a coil mesh and extracts the fields over the coil interior.
fn run_spec(
    mesh: &BirdcageMesh,
    spec: crate::fdtd::SimulationSpec,
    freq: f64,
    steady: &SteadyState,
    progress: Option<ProgressFn>,
    t0: std::time::Instant,
) -> Result<CoilFields> {
    let mut sim = Simulation::new(spec)?;
    sim.set_progress(progress);
    let m = sim.steps_per_period().expect("CW run");
    let every = (m / 4).max(1);
    let mut pe = sim.dft_probe("e", FieldKind::E, &[0, 1, 2], mesh.interior.clone(), &[freq], every)?;
    let mut ph = sim.dft_probe("h", FieldKind::H, &[0, 1, 2], mesh.interior.clone(), &[freq], every)?;
    let setup_s = t0.elapsed().as_secs_f64();
    let stats = sim.run_cw(steady, &mut [&mut pe as &mut dyn Probe, &mut ph])?;
    let lumped_vi: Vec<(Complex64, Complex64)> = (0..sim.lumped().len()).map(|e| sim.lumped().phasors(e)[0]).collect();
    let input_power_w: f64 = lumped_vi.iter().map(|(v, i)| 0.5 * (v * i.conj()).re).sum();
    let g = &sim.model().grid;
    let origin = g.node_pos(0, 0, 0);
    let d = sim.cell_size_m();
    let h = YeeVector::from_probe(&ph, 0, origin, d)?;
    let e = YeeVector::from_probe(&pe, 0, origin, d)?;
    let bp = b1_plus(&h)?;
    let bm = b1_minus(&h)?;
    let (e_grid, e_c) = e.at_centres()?;
    // Materials of the cell containing each E centre.
    let mats = sim.model().materials();
    let dims = e_grid.dims;
    let mut sigma = Array3::<f32>::zeros(dims);
    let mut density = Array3::<f32>::zeros(dims);
    for ((i, j, k), s) in sigma.indexed_iter_mut() {
        let p = e_grid.position(i, j, k);
        let ci = [
            g.axes[0].cell_of(p[0]),
            g.axes[1].cell_of(p[1]),
            g.axes[2].cell_of(p[2]),
        ];
        if let [Some(a), Some(b), Some(c)] = ci {
            let m = &mats[sim.model().cell_material(a, b, c) as usize];
            if !m.pec {
                *s = m.sigma_s_per_m as f32;
                density[[i, j, k]] = m.density_kg_per_m3 as f32;
            }
        }
    }
    let iso = bp.sample([0.0, 0.0, 0.0]);
    if !(iso.norm() > 0.0) || !input_power_w.is_finite() {
        return Err(Error::Other("coil run produced no B1+ at the isocentre".into()));
    }
    Ok(CoilFields {
        freq_hz: freq,
        b1_plus: bp,
        b1_minus: bm,
        e: e_c,
        e_grid,
        sigma,
        density,
        input_power_w,
        b1_plus_iso_t: Complex64::new(iso.re as f64, iso.im as f64),
        stats,
        cells: sim.cells(),
        cell_m: d[0],
        dt_s: sim.dt(),
        setup_s,
        e_yee: e,
        h_yee: h,
        lumped_vi,
    })
}
