//! Validation cases of the FDTD engine, each against an analytic or independent reference with a
//! stated tolerance. `rftwin validate` and `tests/fdtd_validation.rs` run these same definitions.

use num_complex::Complex64;

use super::dft::{DftProbe, FieldKind, TimeProbe};
use super::extension::Probe;
use super::lumped::LumpedSpec;
use super::operator::Boundary;
use super::sim::{Simulation, SimulationSpec, SteadyState};
use super::source::{SourceSpec, Waveform};
use crate::error::{Error, Result};
use crate::grid::{Grid, Material, VoxelModel, C0, EPS0, MU0};
use crate::validation_case::{CaseResult, ValidationCase};

/// Impedance of free space (Ohm).
const ETA0: f64 = 376.730_313_668;

/// The FDTD cases, in run order.
pub fn cases() -> Vec<ValidationCase> {
    vec![
        ValidationCase {
            name: "pec_cavity_te101",
            run: case_te101,
        },
        ValidationCase {
            name: "second_order_convergence",
            run: case_convergence,
        },
        ValidationCase {
            name: "cpml_reflection",
            run: case_cpml,
        },
        ValidationCase {
            name: "lossy_gel_64mhz",
            run: || case_gel(64e6),
        },
        ValidationCase {
            name: "lossy_gel_128mhz",
            run: || case_gel(128e6),
        },
        ValidationCase {
            name: "lumped_resistor_100ohm",
            run: || case_resistor(100.0),
        },
        ValidationCase {
            name: "lumped_resistor_1000ohm",
            run: || case_resistor(1000.0),
        },
        ValidationCase {
            name: "series_rlc_resonance",
            run: case_rlc,
        },
        ValidationCase {
            name: "hertzian_dipole_radiation_resistance",
            run: case_hertzian,
        },
        ValidationCase {
            name: "energy_conservation",
            run: case_energy,
        },
        ValidationCase {
            name: "determinism_1_vs_2_threads",
            run: case_determinism,
        },
        ValidationCase {
            name: "tfsf_vacuum_interior",
            run: || case_tfsf_interior(TfsfCase::Vacuum),
        },
        ValidationCase {
            name: "tfsf_vacuum_leakage",
            run: || case_tfsf_leakage(TfsfCase::Vacuum),
        },
        ValidationCase {
            name: "tfsf_gel_64mhz_interior",
            run: || case_tfsf_interior(TfsfCase::Gel),
        },
        ValidationCase {
            name: "tfsf_gel_64mhz_leakage",
            run: || case_tfsf_leakage(TfsfCase::Gel),
        },
        ValidationCase {
            name: "tfsf_gel_long_step_interior",
            run: || case_tfsf_interior(TfsfCase::GelLongStep),
        },
        ValidationCase {
            name: "tfsf_gel_long_step_leakage",
            run: || case_tfsf_leakage(TfsfCase::GelLongStep),
        },
        ValidationCase {
            name: "tfsf_oblique_interior",
            run: || case_tfsf_interior(TfsfCase::Oblique),
        },
        ValidationCase {
            name: "tfsf_oblique_leakage",
            run: || case_tfsf_leakage(TfsfCase::Oblique),
        },
        ValidationCase {
            name: "tfsf_pec_sphere_scatters",
            run: case_tfsf_sphere,
        },
        ValidationCase {
            name: "tfsf_determinism_1_vs_2_threads",
            run: case_tfsf_determinism,
        },
        ValidationCase {
            name: "thin_wire_insulated_gel_king",
            run: || case_wire_gel(true),
        },
        ValidationCase {
            name: "thin_wire_bare_gel_wavenumber",
            run: || case_wire_gel(false),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// PEC cavity

/// A vacuum PEC cavity of `n` cells of size `d`, initialised with the discrete TE101 mode
/// (E_y = sin(pi x/a) sin(pi z/c)) plus optional pseudo-random E noise.
fn cavity(n: [usize; 3], d: f64, noise: f32) -> Result<Simulation> {
    let grid = Grid::uniform([0.0; 3], [d; 3], n)?;
    let model = VoxelModel::new(grid, Material::vacuum())?;
    let mut sim = Simulation::new(SimulationSpec::new(model))?;
    let l = sim.op.layout;
    let mut state: u64 = 12345;
    for i in 1..n[0] {
        for j in 0..n[1] {
            for k in 1..n[2] {
                let idx = l.idx(i, j, k);
                let v = (std::f64::consts::PI * i as f64 / n[0] as f64).sin()
                    * (std::f64::consts::PI * k as f64 / n[2] as f64).sin();
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
                sim.fields.e[1][idx] = v as f32 + noise * r;
            }
        }
    }
    Ok(sim)
}

/// Measures the frequency of the pure TE101 oscillation from the exact three-term recurrence
/// x(n+1) + x(n-1) = 2 cos(w dt) x(n) (least squares over the record).
fn te101_frequency(n: [usize; 3], d: f64, steps: usize) -> Result<(f64, f64)> {
    let mut sim = cavity(n, d, 0.0)?;
    let p = [n[0] / 3, n[1] / 2, n[2] / 3];
    let mut probe = TimeProbe::new(&sim.op, &[(FieldKind::E, 1, p)], steps)?;
    sim.run_steps(steps, &mut [&mut probe as &mut dyn Probe])?;
    let x = probe.series(0);
    let (mut num, mut den) = (0.0, 0.0);
    for t in 1..x.len() - 1 {
        num += x[t] * (x[t + 1] + x[t - 1]);
        den += 2.0 * x[t] * x[t];
    }
    let f = (num / den).clamp(-1.0, 1.0).acos() / (2.0 * std::f64::consts::PI * sim.dt());
    let (a, c) = (n[0] as f64 * d, n[2] as f64 * d);
    let f_ref = 0.5 * C0 * (1.0 / (a * a) + 1.0 / (c * c)).sqrt();
    Ok((f, f_ref))
}

fn case_te101() -> Result<CaseResult> {
    // a = 20 cm, b = 10 cm, c = 16 cm, 1 cm cells: 25 cells per wavelength at f101.
    let (f, f_ref) = te101_frequency([20, 10, 16], 0.01, 3000)?;
    Ok(CaseResult::relative(
        "pec_cavity_te101",
        "TE101 resonance of a 20x10x16 cm PEC cavity, 1 cm cells (25 cells/wavelength)",
        "f = c/2 sqrt(1/a^2 + 1/c^2) (Pozar, Microwave Engineering, eq. 6.46)",
        f_ref / 1e6,
        f / 1e6,
        "MHz",
        0.002,
    ))
}

fn case_convergence() -> Result<CaseResult> {
    let (f1, r1) = te101_frequency([10, 5, 8], 0.02, 3000)?;
    let (f2, r2) = te101_frequency([20, 10, 16], 0.01, 6000)?;
    let e1 = ((f1 - r1) / r1).abs();
    let e2 = ((f2 - r2) / r2).abs();
    let ratio = e1 / e2;
    // Second order: ratio 4 (accept 3.2 .. 4.8).
    Ok(CaseResult::with_error(
        "second_order_convergence",
        &format!("TE101 frequency error ratio, 2 cm vs 1 cm cells (errors {e1:.2e}, {e2:.2e})"),
        "second-order Yee scheme: error ~ h^2, ratio 4 when h halves",
        4.0,
        ratio,
        "-",
        (ratio - 4.0).abs(),
        "absolute",
        0.8,
    ))
}

// ---------------------------------------------------------------------------------------------
// Energy conservation

fn case_energy() -> Result<CaseResult> {
    let n = [20, 10, 16];
    let d = 0.01;
    let mut sim = cavity(n, d, 0.3)?;
    let steps = 10_000;
    // Discrete invariant of the leapfrog scheme: W = eps E^n.E^n + mu H^(n+1/2).H^(n-1/2).
    let invariant = |sim: &mut Simulation| -> Result<f64> {
        let h_before = sim.fields.h.clone();
        sim.run_steps(1, &mut [])?;
        let mut we = 0.0;
        let mut wh = 0.0;
        for c in 0..3 {
            we += sim.fields.e[c].iter().map(|x| (*x as f64).powi(2)).sum::<f64>();
            wh += sim.fields.h[c]
                .iter()
                .zip(&h_before[c])
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>();
        }
        Ok(0.5 * (EPS0 * we + MU0 * wh) * d * d * d)
    };
    let w0 = invariant(&mut sim)?;
    sim.run_steps(steps, &mut [])?;
    let w1 = invariant(&mut sim)?;
    let drift = ((w1 - w0) / w0).abs();
    Ok(CaseResult::with_error(
        "energy_conservation",
        "discrete EM energy of a lossless PEC cavity (mode + random field) after 10 000 steps",
        "leapfrog Yee invariant eps E^n.E^n + mu H^(n+1/2).H^(n-1/2) is exactly conserved",
        w0,
        w1,
        "J",
        drift,
        "relative drift",
        1e-4,
    ))
}

// ---------------------------------------------------------------------------------------------
// TEM parallel-plate line: PEC on x faces, PMC on y faces, so a uniform Ex wave travels along z.

fn tem_line(n: [usize; 3], d: f64, mat: Material, z_lo: Boundary, z_hi: Boundary) -> Result<SimulationSpec> {
    let grid = Grid::uniform([0.0; 3], [d; 3], n)?;
    let model = VoxelModel::new(grid, mat)?;
    let mut spec = SimulationSpec::new(model);
    spec.boundaries = [
        [Boundary::Pec, Boundary::Pec],
        [Boundary::Pmc, Boundary::Pmc],
        [z_lo, z_hi],
    ];
    Ok(spec)
}

fn sheet(k: usize, wf: Waveform) -> SourceSpec {
    SourceSpec::CurrentSheet {
        comp: 0,
        normal: 2,
        index: k,
        amps_per_m: 1.0,
        waveform: wf,
    }
}

fn case_cpml() -> Result<CaseResult> {
    let d = 0.01;
    let wf = Waveform::GaussPulse {
        f0_hz: 1.0e9,
        bandwidth_hz: 1.6e9,
    };
    let (nz, src, obs) = (80usize, 20usize, 60usize);
    let steps = 900;
    let run = |nz: usize| -> Result<Vec<f64>> {
        let mut spec = tem_line(
            [2, 2, nz],
            d,
            Material::vacuum(),
            Boundary::cpml(10),
            Boundary::cpml(10),
        )?;
        spec.sources.push(sheet(src, wf.clone()));
        let mut sim = Simulation::new(spec)?;
        let mut probe = TimeProbe::new(&sim.op, &[(FieldKind::E, 0, [1, 1, obs])], steps)?;
        sim.run_steps(steps, &mut [&mut probe as &mut dyn Probe])?;
        Ok(probe.series(0))
    };
    let test = run(nz)?;
    // Reference: the high end moved 700 cells away, so nothing returns within the record.
    let reference = run(nz + 700)?;
    let peak = reference.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = test
        .iter()
        .zip(&reference)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    let db = 20.0 * (diff / peak).log10();
    Ok(CaseResult::with_error(
        "cpml_reflection",
        "normally incident pulse (0.2-1.8 GHz, 1 cm cells) on a 10-layer CPML, vs a 700-cell longer line",
        "reference domain without the reflecting end (Taflove & Hagness sec. 7.11)",
        -40.0,
        db,
        "dB",
        db,
        "dB (max reflected / max incident)",
        -40.0,
    ))
}

/// Plane wave in ASTM gel at `freq`: fits the complex propagation constant from the CW phasor.
fn case_gel(freq: f64) -> Result<CaseResult> {
    let d = 0.005;
    let nz = 200;
    let gel = Material::astm_gel();
    let mut spec = tem_line([2, 2, nz], d, gel.clone(), Boundary::cpml(10), Boundary::cpml(10))?;
    spec.cw_freq_hz = Some(freq);
    spec.sources.push(sheet(15, Waveform::cw(freq)));
    let mut sim = Simulation::new(spec)?;
    let m = sim.op.steps_per_period.unwrap();
    let (k0, k1) = (40usize, 140usize);
    let mut probe = DftProbe::new(
        &sim.op,
        "line",
        FieldKind::E,
        &[0],
        [1..2, 1..2, k0..k1],
        &[freq],
        m / 4,
    )?;
    sim.run_cw(
        &SteadyState {
            tol: 1e-5,
            min_periods: 4,
            max_periods: 200,
        },
        &mut [&mut probe as &mut dyn Probe],
    )?;
    // ln E(z) = ln E0 - gamma z: least-squares slope of log magnitude and unwrapped phase.
    let mut zs = vec![];
    let mut lnmag = vec![];
    let mut phase = vec![];
    let mut prev = 0.0;
    let mut offset = 0.0;
    for k in k0..k1 {
        let e = probe.phasor_at(0, 0, [1, 1, k]);
        let mut ph = e.arg() + offset;
        while ph - prev > std::f64::consts::PI {
            ph -= 2.0 * std::f64::consts::PI;
            offset -= 2.0 * std::f64::consts::PI;
        }
        while ph - prev < -std::f64::consts::PI {
            ph += 2.0 * std::f64::consts::PI;
            offset += 2.0 * std::f64::consts::PI;
        }
        prev = ph;
        zs.push(k as f64 * d);
        lnmag.push(e.norm().ln());
        phase.push(ph);
    }
    let alpha = -slope(&zs, &lnmag);
    let beta = -slope(&zs, &phase);
    let w = 2.0 * std::f64::consts::PI * freq;
    let gamma = (Complex64::i() * w * MU0 * (gel.sigma_s_per_m + Complex64::i() * w * EPS0 * gel.eps_r)).sqrt();
    let ea = ((alpha - gamma.re) / gamma.re).abs();
    let eb = ((beta - gamma.im) / gamma.im).abs();
    let name = format!("lossy_gel_{}mhz", (freq / 1e6).round());
    Ok(CaseResult::with_error(
        &name,
        &format!(
            "plane wave in gel (eps_r 80, 0.47 S/m) at {:.0} MHz, 5 mm cells: alpha {:.4} vs {:.4} Np/m, wavelength {:.4} vs {:.4} m",
            freq / 1e6,
            alpha,
            gamma.re,
            2.0 * std::f64::consts::PI / beta,
            2.0 * std::f64::consts::PI / gamma.im
        ),
        "gamma = sqrt(i w mu (sigma + i w eps)) (Pozar eq. 1.41), e^{+iwt}",
        gamma.re,
        alpha,
        "Np/m",
        ea.max(eb),
        "relative (max of alpha, wavelength)",
        0.01,
    ))
}

fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// A TEM line of `nx` x `ny` cells terminated at its high-z PMC end by a sheet of lumped elements
/// built by `element(name, i, j, scale)` (scale = 2 for the half-width edges on the PMC side walls),
/// and its matched reference. Returns (frequencies, load voltage spectrum ratio V_total / V_incident).
fn terminated_line(freqs: &[f64], element: &dyn Fn(String, [usize; 3], f64) -> LumpedSpec) -> Result<Vec<Complex64>> {
    let d = 0.01;
    let (nx, ny, nz) = (4usize, 4usize, 60usize);
    let wf = Waveform::GaussPulse {
        f0_hz: 0.55e9,
        bandwidth_hz: 0.9e9,
    };
    let src = 15;
    let probe_pt = [nx / 2, ny / 2, nz];
    let run = |terminated: bool| -> Result<Vec<Complex64>> {
        let z_hi = if terminated { Boundary::Pmc } else { Boundary::cpml(10) };
        let nzr = if terminated { nz } else { nz + 200 };
        let mut spec = tem_line([nx, ny, nzr], d, Material::vacuum(), Boundary::cpml(10), z_hi)?;
        spec.sources.push(sheet(src, wf.clone()));
        if terminated {
            for i in 0..nx {
                for j in 0..=ny {
                    let scale = if j == 0 || j == ny { 2.0 } else { 1.0 };
                    spec.lumped.push(element(format!("load_{i}_{j}"), [i, j, nz], scale));
                }
            }
        }
        let mut sim = Simulation::new(spec)?;
        let mut probe = DftProbe::new(
            &sim.op,
            "load",
            FieldKind::E,
            &[0],
            [probe_pt[0]..probe_pt[0] + 1, probe_pt[1]..probe_pt[1] + 1, nz..nz + 1],
            freqs,
            1,
        )?;
        let stats = sim.run_until_decay(60.0, 40_000, &mut [&mut probe as &mut dyn Probe])?;
        if !stats.converged {
            return Err(Error::NotConverged {
                what: "terminated line did not decay by 60 dB".into(),
            });
        }
        Ok((0..freqs.len()).map(|fi| probe.spectrum(0, fi)[[0, 0, 0]]).collect())
    };
    let vt = run(true)?;
    let vi = run(false)?;
    Ok(vt.iter().zip(&vi).map(|(a, b)| a / b).collect())
}

/// Characteristic impedance of the 4 x 4 cell vacuum parallel-plate line used above.
fn tem_z0() -> f64 {
    ETA0 * 4.0 / 4.0
}

fn case_resistor(r_load: f64) -> Result<CaseResult> {
    let freqs = [0.2e9, 0.4e9, 0.6e9, 0.8e9];
    // nx resistors in series per column, ny columns (half-width edge columns doubled): R_L = R_edge nx/ny.
    let r_edge = r_load * 4.0 / 4.0;
    let ratio = terminated_line(&freqs, &|name, node, scale| {
        LumpedSpec::resistor(&name, 0, node, r_edge * scale)
    })?;
    let z0 = tem_z0();
    let g_ref = (r_load - z0) / (r_load + z0);
    let mut worst = 0.0f64;
    let mut g_worst = g_ref;
    for r in &ratio {
        let g = r - 1.0;
        let e = (g - g_ref).norm() / g_ref.abs();
        if e > worst {
            worst = e;
            g_worst = g.re;
        }
    }
    Ok(CaseResult::with_error(
        &format!("lumped_resistor_{}ohm", r_load.round()),
        &format!("reflection from a {r_load} Ohm lumped-resistor sheet ending a {z0:.1} Ohm parallel-plate line, 0.2-0.8 GHz (worst frequency)"),
        "Gamma = (R - Z0)/(R + Z0), Z0 = eta0 h/w",
        g_ref,
        g_worst,
        "-",
        worst,
        "relative |Gamma - Gamma_ref| / |Gamma_ref|",
        0.02,
    ))
}

fn case_rlc() -> Result<CaseResult> {
    let (r, l, c) = (
        tem_z0(),
        200e-9,
        1.0 / ((2.0 * std::f64::consts::PI * 300e6).powi(2) * 200e-9),
    );
    let f_ref = 1.0 / (2.0 * std::f64::consts::PI * (l * c).sqrt());
    let freqs: Vec<f64> = (0..61).map(|t| 240e6 + 2e6 * t as f64).collect();
    let ratio = terminated_line(&freqs, &|name, node, s| {
        LumpedSpec::series_rlc(&name, 0, node, r * s, l * s, c / s)
    })?;
    let z0 = tem_z0();
    // Load impedance from Gamma; resonance where Im Z_L crosses zero.
    let im: Vec<f64> = ratio.iter().map(|v| (z0 * v / (2.0 - v)).im).collect();
    let mut f_res = f64::NAN;
    for t in 0..im.len() - 1 {
        if im[t] <= 0.0 && im[t + 1] > 0.0 {
            f_res = freqs[t] + (freqs[t + 1] - freqs[t]) * (-im[t]) / (im[t + 1] - im[t]);
            break;
        }
    }
    Ok(CaseResult::relative(
        "series_rlc_resonance",
        "series R-L-C lumped elements (200 nH, 1.41 pF per edge) terminating a parallel-plate line: zero of Im Z_load",
        "f = 1/(2 pi sqrt(LC))",
        f_ref / 1e6,
        f_res / 1e6,
        "MHz",
        0.01,
    ))
}

// ---------------------------------------------------------------------------------------------
// Radiation from a single-edge port in free space (3-D CPML on all faces)

fn case_hertzian() -> Result<CaseResult> {
    // 30 cells per wavelength; the port edge is a Hertzian dipole of length d.
    let d = 0.01;
    let n = 64;
    let freq = C0 / (30.0 * d);
    let grid = Grid::uniform([0.0; 3], [d; 3], [n; 3])?;
    let model = VoxelModel::new(grid, Material::vacuum())?;
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(10));
    spec.cw_freq_hz = Some(freq);
    spec.port_freqs_hz = vec![freq];
    spec.lumped.push(LumpedSpec::port(
        "dipole",
        2,
        [n / 2, n / 2, n / 2],
        50.0,
        1.0,
        Waveform::cw(freq),
    ));
    let mut sim = Simulation::new(spec)?;
    sim.run_cw(
        &SteadyState {
            tol: 1e-5,
            min_periods: 6,
            max_periods: 200,
        },
        &mut [],
    )?;
    let z = sim.lumped().impedance(0)[0];
    let f_grid = 1.0 / (sim.op.steps_per_period.unwrap() as f64 * sim.dt());
    let lambda = C0 / f_grid;
    let r_ref = 80.0 * std::f64::consts::PI.powi(2) * (d / lambda).powi(2);
    Ok(CaseResult::relative(
        "hertzian_dipole_radiation_resistance",
        &format!("Re Z of a one-cell port radiating in free space, 30 cells/wavelength, CPML 10 at 0.7 wavelength (Z = {:.3} {:+.1}i Ohm)", z.re, z.im),
        "R = 80 pi^2 (dl/lambda)^2 (Balanis, Antenna Theory, eq. 4-19)",
        r_ref,
        z.re,
        "Ohm",
        0.03,
    ))
}

// ---------------------------------------------------------------------------------------------
// Determinism

/// A lossy gel box with CPML, a pulsed port and a full-volume DFT probe; returns all phasors.
pub fn determinism_run() -> Result<Vec<Complex64>> {
    let n = [24, 20, 28];
    let grid = Grid::uniform([0.0; 3], [0.004; 3], n)?;
    let mut model = VoxelModel::new(grid, Material::vacuum())?;
    let gel = model.add_material(Material::astm_gel())?;
    model.fill(
        &crate::grid::Shape::boxed("gel", [0.03, 0.03, 0.03], [0.07, 0.06, 0.09]),
        gel,
    )?;
    model.pec_wire([0.04, 0.04, 0.02], [0.04, 0.04, 0.045])?;
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(6));
    // A determinism check, not an accuracy one: the pulse reaches 1.75 GHz, under 6 cells per
    // wavelength in the gel.
    spec.allow_coarse_grid = true;
    spec.lumped.push(LumpedSpec::port(
        "p1",
        2,
        [12, 10, 14],
        50.0,
        1.0,
        Waveform::GaussPulse {
            f0_hz: 1e9,
            bandwidth_hz: 1.5e9,
        },
    ));
    spec.port_freqs_hz = vec![0.5e9, 1e9];
    let mut sim = Simulation::new(spec)?;
    let mut pe = DftProbe::full(&sim.op, "e", FieldKind::E, &[0.5e9, 1e9], 1)?;
    let mut ph = DftProbe::full(&sim.op, "h", FieldKind::H, &[0.5e9, 1e9], 1)?;
    sim.run_steps(400, &mut [&mut pe as &mut dyn Probe, &mut ph])?;
    let mut out = Vec::new();
    for p in [&pe, &ph] {
        for ci in 0..3 {
            for fi in 0..2 {
                out.extend(p.spectrum(ci, fi).iter().copied());
            }
        }
    }
    for (v, i) in sim.lumped().spectrum(0) {
        out.push(v);
        out.push(i);
    }
    Ok(out)
}

fn case_determinism() -> Result<CaseResult> {
    let pool = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| Error::Other(e.to_string()))
    };
    let a = pool(1)?.install(determinism_run)?;
    let b = pool(2)?.install(determinism_run)?;
    let differ = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.re.to_bits() != y.re.to_bits() || x.im.to_bits() != y.im.to_bits())
        .count()
        + a.len().abs_diff(b.len());
    let nonzero = a.iter().filter(|x| x.norm() > 0.0).count();
    if nonzero == 0 {
        return Err(Error::Other("determinism run produced only zero phasors".into()));
    }
    Ok(CaseResult::with_error(
        "determinism_1_vs_2_threads",
        &format!(
            "{} E/H/port phasors of a lossy box with CPML and a port, 1 vs 2 threads ({nonzero} non-zero)",
            a.len()
        ),
        "bit-identical results required",
        0.0,
        differ as f64,
        "values differing",
        differ as f64,
        "count",
        0.0,
    ))
}

// ---------------------------------------------------------------------------------------------
// Total-field / scattered-field box

/// The TF/SF test set-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TfsfCase {
    /// Vacuum, 1 GHz, 1 cm cells (30 cells per wavelength), wave along +x polarised along z.
    Vacuum,
    /// ASTM gel (eps_r 80, 0.47 S/m), 64 MHz, 5 mm cells (105 cells per wavelength in the gel), wave along +y.
    Gel,
    /// As `Gel`, with the Courant number referred to the gel's wave speed
    /// (`CourantReference::FastestMedium`: a ~9x longer step).
    GelLongStep,
    /// Vacuum, 1 GHz, oblique incidence: a phase gradient along all three axes.
    Oblique,
}

/// What a TF/SF run measured.
#[derive(Clone, Debug)]
pub struct TfsfOutcome {
    /// sqrt(sum |E - E_inc|^2 / sum |E_inc|^2) over the E samples inside the total-field box.
    pub interior_nrmse: f64,
    /// Largest |E| over the scattered-field samples outside the box and the CPML, relative to
    /// the largest incident |E| on the box surface (dB).
    pub outside_db: f64,
    /// All E phasors of the run (for determinism checks).
    pub phasors: Vec<Complex64>,
    pub stats: super::sim::RunStats,
}

/// Runs a TF/SF plane-wave case to steady state; with `sphere_radius_m` a PEC sphere sits at the box centre.
/// `matched` selects the Yee-dispersion-matched wavenumber instead of the analytic one.
pub fn tfsf_run(case: TfsfCase, matched: bool, sphere_radius_m: Option<f64>) -> Result<TfsfOutcome> {
    use super::tfsf::{IncidentField, PlaneWave, TfsfSpec};
    use std::sync::Arc;
    let (freq, d, n, cpml, medium, dir, e0) = match case {
        TfsfCase::Vacuum => (1e9, 0.01, 36, 8, Material::vacuum(), [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
        TfsfCase::Gel | TfsfCase::GelLongStep => (
            64e6,
            0.005,
            32,
            8,
            Material::astm_gel(),
            [0.0, 1.0, 0.0],
            [1.0, 0.0, 0.0],
        ),
        TfsfCase::Oblique => (
            1e9,
            0.01,
            36,
            8,
            Material::vacuum(),
            [1.0, 0.6, -0.35],
            [0.2, -0.5, 1.0],
        ),
    };
    let grid = Grid::uniform([0.0; 3], [d; 3], [n; 3])?;
    let centre = [0.5 * n as f64 * d; 3];
    let mut model = VoxelModel::new(grid, medium.clone())?;
    if let Some(r) = sphere_radius_m {
        let pec = model.add_material(Material::pec("sphere"))?;
        model.fill(
            &crate::grid::Shape::new(
                "sphere",
                crate::grid::ShapeKind::Sphere {
                    centre_m: centre,
                    radius_m: r,
                },
            ),
            pec,
        )?;
    }
    let courant = 0.98;
    let e0 = e0.map(|v| Complex64::new(v, 0.0));
    let mut pw = PlaneWave::new(freq, medium.eps_r, medium.sigma_s_per_m, dir, e0, centre)?;
    let (lo, hi) = (cpml + 4, n - cpml - 4);
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(cpml));
    spec.courant = courant;
    if case == TfsfCase::GelLongStep {
        spec.courant_reference = super::operator::CourantReference::FastestMedium;
    }
    spec.cw_freq_hz = Some(freq);
    let mut t = TfsfSpec::new([lo; 3], [hi; 3], Arc::new(pw.clone()));
    t.ramp_periods = 2.0;
    spec.tfsf = Some(t.clone());
    let mut sim = Simulation::new(spec)?;
    if matched {
        // Matched to the step the operator chose.
        pw = pw.yee_matched([d; 3], sim.op.dt)?;
        t.incident = Arc::new(pw.clone());
        sim.replace_tfsf(&t)?;
    }
    let pw = Arc::new(pw);
    let m = sim.op.steps_per_period.expect("cw");
    let every = if m % 16 == 0 { m / 16 } else { m / 4 };
    let mut pe = DftProbe::full(&sim.op, "e", FieldKind::E, &[freq], every)?;
    let stats = sim.run_cw(
        &SteadyState {
            tol: 1e-5,
            min_periods: 4,
            max_periods: 100,
        },
        &mut [&mut pe as &mut dyn Probe],
    )?;
    let tf = sim.tfsf().expect("tfsf");
    let (mut num, mut den, mut out_max, mut inc_max) = (0.0, 0.0, 0.0f64, 0.0f64);
    let mut phasors = Vec::new();
    for c in 0..3 {
        let lim = crate::fdtd::Operator::comp_node_dims([n; 3], c);
        for i in 0..lim[0] {
            for j in 0..lim[1] {
                for k in 0..lim[2] {
                    let p = [i, j, k];
                    let v = pe.phasor_at(c, 0, p);
                    phasors.push(v);
                    let x: [f64; 3] = std::array::from_fn(|a| d * (p[a] as f64 + if a == c { 0.5 } else { 0.0 }));
                    if tf.e_is_total(c, p) {
                        let e_inc = pw.e(x)[c];
                        let on_surface = (0..3).any(|a| p[a] == lo || p[a] == hi);
                        if on_surface {
                            inc_max = inc_max.max(e_inc.norm());
                        }
                        num += (v - e_inc).norm_sqr();
                        den += e_inc.norm_sqr();
                    } else if !sim.op.in_cpml(p) && !sim.op.on_pec_face(c, p) {
                        out_max = out_max.max(v.norm());
                    }
                }
            }
        }
    }
    Ok(TfsfOutcome {
        interior_nrmse: (num / den).sqrt(),
        outside_db: 20.0 * (out_max / inc_max).log10(),
        phasors,
        stats,
    })
}

fn tfsf_label(case: TfsfCase) -> &'static str {
    match case {
        TfsfCase::Vacuum => "vacuum, 1 GHz, 1 cm cells, wave along +x",
        TfsfCase::Gel => "ASTM gel (eps_r 80, 0.47 S/m), 64 MHz, 5 mm cells, wave along +y",
        TfsfCase::GelLongStep => {
            "ASTM gel, 64 MHz, 5 mm cells, wave along +y, Courant 0.98 of the gel's wave speed (step ~9x the vacuum one)"
        }
        TfsfCase::Oblique => "vacuum, 1 GHz, 1 cm cells, oblique wave along (1, 0.6, -0.35)",
    }
}

fn case_tfsf_interior(case: TfsfCase) -> Result<CaseResult> {
    let r = tfsf_run(case, true, None)?;
    let name = match case {
        TfsfCase::Vacuum => "tfsf_vacuum_interior",
        TfsfCase::Gel => "tfsf_gel_64mhz_interior",
        TfsfCase::GelLongStep => "tfsf_gel_long_step_interior",
        TfsfCase::Oblique => "tfsf_oblique_interior",
    };
    Ok(CaseResult::with_error(
        name,
        &format!(
            "TF/SF plane wave in an empty box ({}): steady-state total E inside vs the incident phasor, NRMSE ({} periods)",
            tfsf_label(case),
            r.stats.periods
        ),
        "analytic plane wave with the Yee-dispersion-matched complex wavenumber",
        0.0,
        r.interior_nrmse,
        "",
        r.interior_nrmse,
        "NRMSE",
        0.02,
    ))
}

fn case_tfsf_leakage(case: TfsfCase) -> Result<CaseResult> {
    let r = tfsf_run(case, true, None)?;
    let name = match case {
        TfsfCase::Vacuum => "tfsf_vacuum_leakage",
        TfsfCase::Gel => "tfsf_gel_64mhz_leakage",
        TfsfCase::GelLongStep => "tfsf_gel_long_step_leakage",
        TfsfCase::Oblique => "tfsf_oblique_leakage",
    };
    Ok(CaseResult::with_error(
        name,
        &format!(
            "TF/SF plane wave in an empty box ({}): largest scattered |E| outside the box relative to the incident |E| on its surface",
            tfsf_label(case)
        ),
        "no scatterer: the scattered field outside must vanish (Taflove & Hagness ch. 5.9); bound -40 dB",
        -40.0,
        r.outside_db,
        "dB",
        r.outside_db + 40.0,
        "dB above -40 dB",
        0.0,
    ))
}

fn case_tfsf_sphere() -> Result<CaseResult> {
    let empty = tfsf_run(TfsfCase::Vacuum, true, None)?;
    let r = 0.05;
    let sph = tfsf_run(TfsfCase::Vacuum, true, Some(r))?;
    // Rayleigh-Mie order of magnitude: a PEC sphere of ka ~ 1 scatters a field of order
    // (ka)^2 a / distance ~ -20 dB at the box surface; require at least 30 dB above the empty-box leakage.
    let margin = sph.outside_db - empty.outside_db;
    Ok(CaseResult::with_error(
        "tfsf_pec_sphere_scatters",
        &format!(
            "PEC sphere (radius {} cm, ka = {:.2}) in the TF/SF box at 1 GHz: scattered field outside {:.1} dB vs {:.1} dB for the empty box",
            r * 100.0,
            2.0 * std::f64::consts::PI * 1e9 / C0 * r,
            sph.outside_db,
            empty.outside_db
        ),
        "sanity: a scatterer must produce a scattered field outside, the empty box none",
        30.0,
        margin,
        "dB",
        (30.0 - margin).max(0.0),
        "dB below the 30 dB margin",
        0.0,
    ))
}

fn case_tfsf_determinism() -> Result<CaseResult> {
    let pool = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| Error::Other(e.to_string()))
    };
    let a = pool(1)?.install(|| tfsf_run(TfsfCase::Oblique, true, None))?.phasors;
    let b = pool(2)?.install(|| tfsf_run(TfsfCase::Oblique, true, None))?.phasors;
    let differ = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.re.to_bits() != y.re.to_bits() || x.im.to_bits() != y.im.to_bits())
        .count()
        + a.len().abs_diff(b.len());
    Ok(CaseResult::with_error(
        "tfsf_determinism_1_vs_2_threads",
        &format!("{} E phasors of the oblique TF/SF run, 1 vs 2 threads", a.len()),
        "bit-identical results required",
        0.0,
        differ as f64,
        "values differing",
        differ as f64,
        "count",
        0.0,
    ))
}

// ---------------------------------------------------------------------------------------------
// Thin wires

/// Input impedance (Ohm) of a centre-fed straight thin dipole of total length `length_m` and radius
/// `radius_m` in free space at `freq_hz`, by an independent moment method: Hallén's integral
/// equation with the reduced kernel `e^{-ikR}/(4 pi R)`, `R = sqrt((z-z')^2 + a^2)`, delta-gap feed
/// (`sum_n I_n int L_n K = -(i/eta)(C cos kz + V/2 sin k|z|)`, time factor e^{+i w t}), triangle basis
/// functions on `segments` (even) equal segments and point matching at the interior nodes and one
/// end (Balanis, *Antenna Theory*, 3rd ed., §8.3 and §8.4).
pub fn hallen_dipole_impedance(freq_hz: f64, length_m: f64, radius_m: f64, segments: usize) -> Complex64 {
    let k = 2.0 * std::f64::consts::PI * freq_hz / C0;
    let h = 0.5 * length_m;
    let n = segments;
    let dz = length_m / n as f64;
    let z = |i: usize| -h + i as f64 * dz;
    let i_unit = Complex64::new(0.0, 1.0);
    let kernel = |r: f64| (-i_unit * k * r).exp() / (4.0 * std::f64::consts::PI * r);
    // 8-point Gauss-Legendre on [-1, 1].
    const GX: [f64; 8] = [
        -0.960_289_856_497_536_2,
        -0.796_666_477_413_626_7,
        -0.525_532_409_916_329,
        -0.183_434_642_495_649_8,
        0.183_434_642_495_649_8,
        0.525_532_409_916_329,
        0.796_666_477_413_626_7,
        0.960_289_856_497_536_2,
    ];
    const GW: [f64; 8] = [
        0.101_228_536_290_376_3,
        0.222_381_034_453_374_5,
        0.313_706_645_877_887_3,
        0.362_683_783_378_362,
        0.362_683_783_378_362,
        0.313_706_645_877_887_3,
        0.222_381_034_453_374_5,
        0.101_228_536_290_376_3,
    ];
    // int over [lo, hi] of g(z') K(zm - z'), panels fine near the match point.
    let integrate = |lo: f64, hi: f64, zm: f64, g: &dyn Fn(f64) -> f64| -> Complex64 {
        let near = (zm - lo.max(zm.min(hi))).abs() < 2.0 * dz;
        let panels = if near {
            ((hi - lo) / (0.25 * radius_m)).ceil().clamp(1.0, 4000.0) as usize
        } else {
            2
        };
        let w = (hi - lo) / panels as f64;
        let mut s = Complex64::default();
        for p in 0..panels {
            let a = lo + p as f64 * w;
            for q in 0..8 {
                let zp = a + 0.5 * w * (GX[q] + 1.0);
                let r = ((zm - zp).powi(2) + radius_m * radius_m).sqrt();
                s += kernel(r) * (g(zp) * GW[q] * 0.5 * w);
            }
        }
        s
    };
    // Unknowns: I_1..I_{n-1} (node currents), then C. Equations at z_1..z_{n-1} and z_n.
    let m = n;
    let mut a = vec![Complex64::default(); m * m];
    let mut b = vec![Complex64::default(); m];
    let v = 1.0;
    for (row, mi) in (1..=n).enumerate() {
        let zm = z(mi);
        for ni in 1..n {
            let zn = z(ni);
            let up = |zp: f64| (zp - (zn - dz)) / dz;
            let down = |zp: f64| ((zn + dz) - zp) / dz;
            a[row * m + (ni - 1)] = integrate(zn - dz, zn, zm, &up) + integrate(zn, zn + dz, zm, &down);
        }
        a[row * m + (m - 1)] = i_unit / ETA0 * (k * zm).cos();
        b[row] = -i_unit / ETA0 * (0.5 * v) * (k * zm.abs()).sin();
    }
    let x = solve_complex(a, b, m);
    v / x[n / 2 - 1]
}

/// Gaussian elimination with partial pivoting.
fn solve_complex(mut a: Vec<Complex64>, mut b: Vec<Complex64>, m: usize) -> Vec<Complex64> {
    for c in 0..m {
        let p = (c..m)
            .max_by(|&i, &j| a[i * m + c].norm().total_cmp(&a[j * m + c].norm()))
            .unwrap();
        if p != c {
            for j in 0..m {
                a.swap(c * m + j, p * m + j);
            }
            b.swap(c, p);
        }
        let piv = a[c * m + c];
        for r in c + 1..m {
            let f = a[r * m + c] / piv;
            if f.norm() == 0.0 {
                continue;
            }
            for j in c..m {
                let t = a[c * m + j];
                a[r * m + j] -= f * t;
            }
            let t = b[c];
            b[r] -= f * t;
        }
    }
    let mut x = vec![Complex64::default(); m];
    for r in (0..m).rev() {
        let mut s = b[r];
        for j in r + 1..m {
            s -= a[r * m + j] * x[j];
        }
        x[r] = s / a[r * m + r];
    }
    x
}

/// What a thin-wire dipole run measured.
#[derive(Clone, Debug)]
pub struct DipoleOutcome {
    /// Input impedance at the feed gap (Ohm).
    pub z_in: Complex64,
    /// Current phasors along the wire (arc length from the wire start in m, A).
    pub current: Vec<(f64, Complex64)>,
    /// Total length of the wire including the gap (m).
    pub length_m: f64,
    /// Frequency the grid actually runs (m whole steps per period) (Hz).
    pub freq_hz: f64,
    pub stats: super::sim::RunStats,
}

/// A straight thin wire along z of `edges` cells of size `d` (m), radius `radius_m`, fed by a 1 V /
/// 50 Ohm CW port in the gap edge `gap` (0-based from the bottom), in a box of `medium` with
/// `clearance` cells to the 8-layer CPML; optional insulation. Runs to steady state at `freq_hz`.
#[allow(clippy::too_many_arguments)]
pub fn thin_wire_run(
    medium: Material,
    freq_hz: f64,
    d: f64,
    edges: usize,
    gap: usize,
    radius_m: f64,
    insulation: Option<super::thinwire::Insulation>,
    clearance: usize,
) -> Result<DipoleOutcome> {
    use super::thinwire::ThinWire;
    let cpml = 8;
    let nxy = 2 * (clearance + cpml);
    let nz = edges + 2 * (clearance + cpml);
    let grid = Grid::uniform([0.0; 3], [d; 3], [nxy, nxy, nz])?;
    let model = VoxelModel::new(grid, medium)?;
    let c = (nxy / 2) as f64 * d;
    let z0 = (clearance + cpml) as f64 * d;
    let mut wire = ThinWire::straight([c, c, z0], [c, c, z0 + edges as f64 * d], radius_m);
    wire.insulation = insulation;
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(cpml));
    spec.cw_freq_hz = Some(freq_hz);
    spec.port_freqs_hz = vec![freq_hz];
    let feed = [nxy / 2, nxy / 2, clearance + cpml + gap];
    spec.lumped
        .push(LumpedSpec::port("feed", 2, feed, 50.0, 1.0, Waveform::cw(freq_hz)));
    spec.thin_wires.push(wire);
    let mut sim = Simulation::new(spec)?;
    let f_grid = 1.0 / (sim.op.steps_per_period.expect("cw") as f64 * sim.dt());
    let mut probe = sim.wire_current_probe(0, &[freq_hz])?;
    let stats = sim.run_cw(
        &SteadyState {
            tol: 1e-4,
            min_periods: 4,
            max_periods: 200,
        },
        &mut [&mut probe as &mut dyn Probe],
    )?;
    Ok(DipoleOutcome {
        z_in: sim.lumped().impedance(0)[0],
        current: probe.wire_current(0),
        length_m: edges as f64 * d,
        freq_hz: f_grid,
        stats,
    })
}

/// Free-space dipole: 41 cells of 1 cm (0.41 m, gap in the middle) at 340 MHz (0.46 wavelength).
pub fn dipole_case(radius_over_d: f64) -> Result<(DipoleOutcome, Complex64)> {
    let d = 0.01;
    let r = dipole_run(d, 41, 20, radius_over_d * d)?;
    let z_ref = hallen_dipole_impedance(r.freq_hz, r.length_m, radius_over_d * d, 82);
    Ok((r, z_ref))
}

fn dipole_run(d: f64, edges: usize, gap: usize, radius_m: f64) -> Result<DipoleOutcome> {
    thin_wire_run(Material::vacuum(), 340e6, d, edges, gap, radius_m, None, 16)
}

/// Effective wavenumber of the current along a wire from its standing-wave pattern: for any sum of
/// `e^{+-ikz}`, `I(z-s) + I(z+s) = 2 cos(k s) I(z)`, solved for k in the least-squares sense over
/// the samples `lo..hi` (edge indices, spacing `d`) with the lag `lag` edges. Independent of the end
/// conditions; the feed and the tips must be left out of `lo..hi`.
pub fn wire_wavenumber(current: &[(f64, Complex64)], lo: usize, hi: usize, lag: usize, d: f64) -> Complex64 {
    let (mut num, mut den) = (Complex64::default(), 0.0);
    for j in lo + lag..hi.saturating_sub(lag) {
        let ij = current[j].1;
        num += ij.conj() * (current[j - lag].1 + current[j + lag].1);
        den += ij.norm_sqr();
    }
    let c = num / (2.0 * den);
    let k = c.acos() / (lag as f64 * d);
    if k.re < 0.0 {
        -k
    } else {
        k
    }
}

/// King's wavenumber of an insulated wire (conductor radius a, insulation radius b, permittivity
/// eps_i) in a medium of complex wavenumber `k4` (time factor e^{+i w t}, Im k4 < 0):
/// `k_L = k_i sqrt(1 + H0(k4 b) / (k4 b ln(b/a) H1(k4 b)))` (King, Smith, Owens & Wu, *Antennas in
/// Matter*, 1981, ch. 2, with the small-argument Hankel forms, `|k4 b| << 1`:
/// `H0/(z H1) ~ ln(2i / (1.781 z))`), evaluated in King's e^{-i w t} convention and conjugated back.
pub fn king_insulated_wavenumber(freq_hz: f64, a: f64, b: f64, eps_i: f64, k4: Complex64) -> Complex64 {
    let w = 2.0 * std::f64::consts::PI * freq_hz;
    let ki = w * (MU0 * EPS0 * eps_i).sqrt();
    let kk = k4.conj();
    let t = (Complex64::new(0.0, 2.0) / (1.781_072 * kk * b)).ln();
    (ki * (1.0 + t / (b / a).ln()).sqrt()).conj()
}

/// Wire in ASTM gel at 64 MHz (1 cm cells, 31 cm centre-fed wire of radius 1 mm): the effective
/// wavenumber of its current, bare and insulated (outer radius 2 mm, eps_r 3).
pub fn wire_gel_run(insulated: bool) -> Result<(Complex64, Complex64, DipoleOutcome)> {
    use super::thinwire::Insulation;
    let g = Material::astm_gel();
    let f = 64e6;
    let w = 2.0 * std::f64::consts::PI * f;
    let k4 = w * (MU0 * Complex64::new(EPS0 * g.eps_r, -g.sigma_s_per_m / w)).sqrt();
    let (d, a, b, ei) = (0.01, 0.001, 0.002, 3.0);
    let ins = insulated.then_some(Insulation {
        outer_radius_m: b,
        eps_r: ei,
    });
    let o = thin_wire_run(g, f, d, 31, 15, a, ins, 8)?;
    // Both arms, leaving out the feed edge and one edge at each tip; lag 3 cells.
    let k1 = wire_wavenumber(&o.current[..15], 1, 14, 3, d);
    let k2 = wire_wavenumber(&o.current[16..], 1, 14, 3, d);
    let k = 0.5 * (k1 + k2);
    let reference = if insulated {
        king_insulated_wavenumber(f, a, b, ei, k4)
    } else {
        k4
    };
    Ok((k, reference, o))
}

fn case_wire_gel(insulated: bool) -> Result<CaseResult> {
    let (k, r, o) = wire_gel_run(insulated)?;
    if insulated {
        let err = (k - r).norm() / r.norm();
        Ok(CaseResult::with_error(
            "thin_wire_insulated_gel_king",
            &format!(
                "insulated wire (a = 1 mm, b = 2 mm, eps_r 3) in ASTM gel at 64 MHz, 1 cm cells: current wavenumber {:.2} {:+.2}i /m (half-wave length {:.0} cm) vs King {:.2} {:+.2}i /m (Z_in {:.1} {:+.1}i Ohm)",
                k.re, k.im, 100.0 * std::f64::consts::PI / k.re, r.re, r.im, o.z_in.re, o.z_in.im
            ),
            "King, Smith, Owens & Wu, Antennas in Matter (1981) ch. 2, small-argument form",
            r.norm(),
            k.norm(),
            "1/m",
            err,
            "|k - k_King| / |k_King|",
            0.10,
        ))
    } else {
        Ok(CaseResult::relative(
            "thin_wire_bare_gel_wavenumber",
            &format!(
                "bare wire (a = 1 mm) in ASTM gel at 64 MHz, 1 cm cells: Re of the current wavenumber ({:.2} {:+.2}i /m; half-wave length {:.1} cm) vs the gel's Re k ({:.2} {:+.2}i /m)",
                k.re, k.im, 100.0 * std::f64::consts::PI / k.re, r.re, r.im
            ),
            "a bare wire in a conducting medium carries a current wave with k_L ~ k of the medium (King et al. 1981)",
            r.re,
            k.re,
            "1/m",
            0.05,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Composition: CPML + TF/SF plane wave + insulated thin wire + lumped load

/// What an implant-box run measured.
#[derive(Clone, Debug)]
pub struct ImplantBoxOutcome {
    /// Current phasors along the wire (arc length m, A).
    pub wire_current: Vec<(f64, Complex64)>,
    /// Current of the load resistor in the wire's centre gap (A), along +x.
    pub load_current: Complex64,
    /// Voltage phasor across the load (V, potential of the end node minus the start node).
    pub load_voltage: Complex64,
    /// Loop-integral current expected at the gap edge from the load current: the load current plus
    /// the conduction and displacement current of the gel on the gap edge, `I_R (1 + R (sigma + i w
    /// eps) A / dl)`.
    pub gap_current_expected: Complex64,
    /// Index of the gap edge in `wire_current`.
    pub gap_edge: usize,
    pub cells: usize,
    pub stats: super::sim::RunStats,
}

/// A gel box of `size_m` at cells `d` (plus 8 CPML layers in gel), a 64 MHz plane wave (along z,
/// E along x, 1 V/m at the centre) injected by a TF/SF box 2 cells inside the CPML, and an
/// insulated wire (radius 0.2 d, insulation 0.35 d, eps_r 3, bare ends of 10 % of the length) of
/// `wire_m` along x through the centre with a 50 Ohm load in its centre gap. Runs to steady state.
pub fn implant_box_run(size_m: [f64; 3], d: f64, wire_m: f64) -> Result<ImplantBoxOutcome> {
    let (mut sim, gap_edge, cells) = implant_box_sim(size_m, d, wire_m)?;
    let f = 64e6;
    let gel = Material::astm_gel();
    let r_load = 50.0;
    let mut probe = sim.wire_current_probe(0, &[f])?;
    let stats = sim.run_cw(
        &SteadyState {
            tol: 1e-3,
            min_periods: 3,
            max_periods: 100,
        },
        &mut [&mut probe as &mut dyn Probe],
    )?;
    let (v, i) = sim.lumped().phasors(0)[0];
    let w = 2.0 * std::f64::consts::PI * f;
    let y_gel = Complex64::new(gel.sigma_s_per_m, w * EPS0 * gel.eps_r) * d; // (sigma + i w eps) A / dl
    Ok(ImplantBoxOutcome {
        wire_current: probe.wire_current(0),
        load_current: i,
        load_voltage: v,
        gap_current_expected: i * (1.0 + r_load * y_gel),
        gap_edge,
        cells,
        stats,
    })
}

/// The simulation of [`implant_box_run`], built but not run: (simulation, gap edge index, cells).
pub fn implant_box_sim(size_m: [f64; 3], d: f64, wire_m: f64) -> Result<(Simulation, usize, usize)> {
    implant_box_sim_with(size_m, d, wire_m, super::operator::CourantReference::FastestMedium)
}

/// [`implant_box_sim`] with the Courant reference given (`Vacuum`: the step of a box with air in it,
/// for the benchmark's comparison).
pub fn implant_box_sim_with(
    size_m: [f64; 3],
    d: f64,
    wire_m: f64,
    reference: super::operator::CourantReference,
) -> Result<(Simulation, usize, usize)> {
    use super::tfsf::{PlaneWave, TfsfSpec};
    use super::thinwire::{Insulation, ThinWire};
    use std::sync::Arc;
    let f = 64e6;
    let cpml = 8;
    let n: [usize; 3] = std::array::from_fn(|a| (size_m[a] / d).round() as usize + 2 * cpml);
    let grid = Grid::uniform([0.0; 3], [d; 3], n)?;
    let gel = Material::astm_gel();
    let model = VoxelModel::new(grid, gel.clone())?;
    let c: [f64; 3] = std::array::from_fn(|a| (n[a] / 2) as f64 * d);
    let e0 = [Complex64::new(1.0, 0.0), Complex64::default(), Complex64::default()];
    let pw = PlaneWave::new(f, gel.eps_r, gel.sigma_s_per_m, [0.0, 0.0, 1.0], e0, c)?;
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(cpml));
    spec.courant = 0.98;
    // The box holds gel only (and the wire): by default the step follows the fastest wave on the grid.
    spec.courant_reference = reference;
    spec.cw_freq_hz = Some(f);
    spec.port_freqs_hz = vec![f];
    let mut t = TfsfSpec::new(
        [cpml + 2; 3],
        std::array::from_fn(|a| n[a] - cpml - 2),
        Arc::new(pw.clone()),
    );
    t.ramp_periods = 1.0;
    spec.tfsf = Some(t.clone());
    let half = (wire_m / d / 2.0).round() * d;
    let mut wire = ThinWire::straight([c[0] - half, c[1], c[2]], [c[0] + half + d, c[1], c[2]], 0.2 * d);
    wire.insulation = Some(Insulation {
        outer_radius_m: 0.35 * d,
        eps_r: 3.0,
    });
    let wire = wire.with_bare_ends(0.1 * wire_m, 0.1 * wire_m);
    let st = wire.staircase(&spec.model.grid, "thin_wires[0]")?;
    let gap_edge = st.edges.len() / 2;
    let ge = st.edges[gap_edge];
    let r_load = 50.0;
    spec.lumped.push(LumpedSpec::resistor("load", ge.comp, ge.node, r_load));
    spec.thin_wires.push(wire);
    let mut sim = Simulation::new(spec)?;
    // The plane wave matched to the Yee dispersion at the step the operator chose.
    t.incident = Arc::new(pw.yee_matched([d; 3], sim.op.dt)?);
    sim.replace_tfsf(&t)?;
    Ok((sim, gap_edge, n.iter().product()))
}
