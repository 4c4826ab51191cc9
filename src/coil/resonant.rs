//! The resonant coil model: PEC rungs and rings with real capacitors as lumped elements, driven at
//! its ports by ideal current sources across the port capacitors (they do not load the coil, so the
//! mode spectrum is the unloaded one). A broadband sweep finds the modes from the port voltage; the
//! capacitors are refined from the circuit-model value until the homogeneous mode sits at Larmor.

use num_complex::Complex64;
use serde::Serialize;

use super::circuit;
use super::config::{CoilConfig, PortElement};
use super::fdtd_model::{BirdcageMesh, Edge};
use crate::error::{Error, Result};
use crate::fdtd::{FieldKind, LumpedSpec, Simulation, SimulationSpec, Waveform};

/// Capacitor values of a resonant model (F).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Capacitors {
    pub rung_f: Option<f64>,
    pub ring_f: Option<f64>,
}

/// The circuit-model capacitors of `coil` (the starting guess).
pub fn circuit_capacitors(coil: &CoilConfig) -> Result<Capacitors> {
    let t = circuit::tune(coil)?;
    Ok(Capacitors {
        rung_f: t.rung_capacitance_f,
        ring_f: t.ring_capacitance_f,
    })
}

/// The gap edge of each port of `coil` on `mesh`.
pub fn port_edges(coil: &CoilConfig, mesh: &BirdcageMesh) -> Result<Vec<Edge>> {
    coil.ports
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            match p.element {
                PortElement::Ring => mesh.ring_gaps[1].get(p.index).copied(),
                PortElement::Rung => mesh.rung_gaps.get(p.index).copied(),
            }
            .ok_or_else(|| {
                Error::input(
                    &coil.source_name,
                    &format!("ports[{pi}]"),
                    "the port's gap is not in this mesh",
                    "mesh the coil with the gaps of its type",
                )
            })
        })
        .collect()
}

/// A simulation of the resonant model with capacitors `caps` and, at each port `p`, an ideal current
/// source of complex amplitude `drive[p]` (A) with waveform shape `wave(phase)` across the port gap.
/// `port_g_s` is a conductance across each port (0 for the unloaded sweeps; a matched port for the
/// driven run).
pub fn resonant_spec(
    coil: &CoilConfig,
    mesh: &BirdcageMesh,
    caps: Capacitors,
    drive: &[Complex64],
    wave: &dyn Fn(f64) -> Waveform,
    port_g_s: f64,
) -> Result<SimulationSpec> {
    let ports = port_edges(coil, mesh)?;
    // Orientation of each port edge relative to the coil's reference direction (+phi for ring
    // gaps, +z for rung gaps), so port phases mean the same at every azimuth.
    let g = &mesh.model.grid;
    let orient: Vec<f64> = ports
        .iter()
        .map(|&(c, p)| {
            let d = g.axes[0].cell_size(0);
            let (x, y) = (
                g.axes[0].node(p[0]) + if c == 0 { d / 2.0 } else { 0.0 },
                g.axes[1].node(p[1]) + if c == 1 { d / 2.0 } else { 0.0 },
            );
            let phi = y.atan2(x);
            match c {
                0 => (-phi.sin()).signum(),
                1 => phi.cos().signum(),
                _ => 1.0,
            }
        })
        .collect();
    let mut spec = SimulationSpec::new(mesh.model.clone());
    spec.cell_key = (coil.source_name.clone(), "cell_m (--cell-mm)".into());
    spec.boundaries = mesh.boundaries.clone();
    spec.courant = mesh.courant;
    let mut add = |name: String, edge: Edge, c: f64| {
        let mut l = LumpedSpec::capacitor(&name, edge.0, edge.1, c);
        if let Some(pi) = ports.iter().position(|e| *e == edge) {
            let a = drive.get(pi).copied().unwrap_or_default() * orient[pi];
            l.current = Some((a.norm(), wave(a.arg())));
            l.parallel_g_s = port_g_s;
        }
        spec.lumped.push(l);
    };
    if let Some(c) = caps.rung_f {
        for (j, &e) in mesh.rung_gaps.iter().enumerate() {
            add(format!("rung_c{j}"), e, c);
        }
    }
    if let Some(c) = caps.ring_f {
        for (ri, ring) in mesh.ring_gaps.iter().enumerate() {
            for (j, &e) in ring.iter().enumerate() {
                add(format!("ring{ri}_c{j}"), e, c);
            }
        }
    }
    if !spec.lumped.iter().any(|l| l.current.is_some()) {
        return Err(Error::input(
            &coil.source_name,
            "ports",
            "no port sits on a capacitor gap",
            "place the ports on capacitor positions",
        ));
    }
    Ok(spec)
}

/// One broadband sweep: the port-1 impedance spectrum and its peaks.
#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub capacitors: Capacitors,
    pub freqs_hz: Vec<f64>,
    /// |V(f)/I(f)| at port 1 (Ohm), Hann-windowed record.
    pub z_mag_ohm: Vec<f64>,
    /// Peak frequencies (Hz), ascending, refined by a parabola through log |Z|.
    pub peaks_hz: Vec<f64>,
    /// Transverse H at the isocentre per unit port current, |H_t(f)/I(f)| (1/m).
    pub h_iso_per_amp: Vec<f64>,
    /// The homogeneous mode: the frequency where the transverse field at the isocentre peaks (Hz).
    pub homogeneous_hz: f64,
    pub steps: usize,
    pub seconds: f64,
}

/// Drives port 1 with a broadband pulse over `[f_lo, f_hi]`, records its voltage for `steps` steps
/// and finds the resonances as peaks of |V(f)/I(f)| (Hann window on the record).
pub fn sweep(
    coil: &CoilConfig,
    mesh: &BirdcageMesh,
    caps: Capacitors,
    f_lo: f64,
    f_hi: f64,
    steps: usize,
) -> Result<Sweep> {
    let t0 = std::time::Instant::now();
    let mut drive = vec![Complex64::default(); coil.ports.len()];
    drive[0] = Complex64::new(1.0, 0.0);
    let pulse = Waveform::GaussPulse {
        f0_hz: 0.5 * (f_lo + f_hi),
        bandwidth_hz: 1.6 * (f_hi - f_lo),
    };
    let spec = resonant_spec(coil, mesh, caps, &drive, &|_| pulse.clone(), 0.0)?;
    let port = spec
        .lumped
        .iter()
        .position(|l| l.current.as_ref().is_some_and(|(a, _)| *a > 0.0))
        .expect("a driven port");
    let mut sim = Simulation::new(spec)?;
    let dt = sim.dt();
    let mut v = Vec::with_capacity(steps);
    let mut hx = Vec::with_capacity(steps);
    let mut hy = Vec::with_capacity(steps);
    let iso = mesh.iso_node;
    for _ in 0..steps {
        sim.step(&mut []);
        v.push(sim.lumped().latest(port).1);
        hx.push(sim.field_at(FieldKind::H, 0, iso) as f64);
        hy.push(sim.field_at(FieldKind::H, 1, iso) as f64);
    }
    let w = sim.energy();
    if !w.is_finite() {
        return Err(Error::Unstable {
            step: steps,
            what: "the sweep's fields became NaN/Inf".into(),
            fix: "check the capacitor values".into(),
        });
    }
    let nf = 400;
    let freqs_hz: Vec<f64> = (0..nf)
        .map(|i| f_lo + (f_hi - f_lo) * i as f64 / (nf - 1) as f64)
        .collect();
    let n = v.len() as f64;
    let spectra: Vec<(f64, f64)> = freqs_hz
        .iter()
        .map(|&f| {
            let (mut vs, mut is, mut xs, mut ys) = (
                Complex64::default(),
                Complex64::default(),
                Complex64::default(),
                Complex64::default(),
            );
            for t in 0..v.len() {
                let time = (t + 1) as f64 * dt;
                let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * t as f64 / n).cos();
                let e = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * f * time);
                vs += e * (v[t] * hann);
                xs += e * (hx[t] * hann);
                ys += e * (hy[t] * hann);
                is += e * pulse.at(time);
            }
            ((vs / is).norm(), (xs.norm_sqr() + ys.norm_sqr()).sqrt() / is.norm())
        })
        .collect();
    let z_mag_ohm: Vec<f64> = spectra.iter().map(|s| s.0).collect();
    let h_iso_per_amp: Vec<f64> = spectra.iter().map(|s| s.1).collect();
    let imax = (0..nf)
        .max_by(|&a, &b| h_iso_per_amp[a].total_cmp(&h_iso_per_amp[b]))
        .unwrap_or(0);
    let homogeneous_hz = if imax > 0 && imax < nf - 1 {
        let (a, b, c) = (
            h_iso_per_amp[imax - 1].ln(),
            h_iso_per_amp[imax].ln(),
            h_iso_per_amp[imax + 1].ln(),
        );
        let den = a - 2.0 * b + c;
        freqs_hz[imax]
            + if den.abs() > 0.0 {
                (0.5 * (a - c) / den).clamp(-1.0, 1.0)
            } else {
                0.0
            } * (freqs_hz[1] - freqs_hz[0])
    } else {
        f64::NAN
    };
    let mut peaks_hz = Vec::new();
    let lz: Vec<f64> = z_mag_ohm.iter().map(|z| z.max(1e-30).ln()).collect();
    let floor = lz.iter().cloned().fold(f64::INFINITY, f64::min);
    let top = lz.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    for i in 1..nf - 1 {
        if lz[i] > lz[i - 1] && lz[i] >= lz[i + 1] && lz[i] > floor + 0.3 * (top - floor) {
            let (a, b, c) = (lz[i - 1], lz[i], lz[i + 1]);
            let den = a - 2.0 * b + c;
            let off = if den.abs() > 0.0 { 0.5 * (a - c) / den } else { 0.0 };
            peaks_hz.push(freqs_hz[i] + off.clamp(-1.0, 1.0) * (freqs_hz[1] - freqs_hz[0]));
        }
    }
    Ok(Sweep {
        capacitors: caps,
        freqs_hz,
        z_mag_ohm,
        peaks_hz,
        h_iso_per_amp,
        homogeneous_hz,
        steps,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The outcome of tuning the FDTD model.
#[derive(Clone, Debug, Serialize)]
pub struct FdtdTuning {
    pub target_hz: f64,
    pub sweeps: Vec<Sweep>,
    /// The capacitors that put the homogeneous mode at the target.
    pub capacitors: Capacitors,
    /// Homogeneous-mode frequency found in the last sweep (Hz) and its relative error.
    pub homogeneous_hz: f64,
    pub rel_error: f64,
    /// |Z| seen at port 1 at the homogeneous mode (Ohm): the coil's parallel resistance there; a
    /// port with this internal resistance is matched (critically coupled).
    pub port_match_ohm: f64,
    /// Circuit-model mode frequencies (Hz) scaled to the FDTD homogeneous mode, and the FDTD peaks
    /// matched to them in order: whether the ordering agrees.
    pub ordering_matches_circuit: bool,
}

/// Refines the capacitors from the circuit-model guess until the homogeneous mode is within `tol`
/// of Larmor, in at most `max_sweeps` broadband sweeps. The homogeneous mode is the resonance that
/// makes a transverse field at the isocentre (modes m >= 2 have none there, end-ring modes make Bz);
/// with port 1 driven it is port 1's linear m = 1 mode (a box phantom splits the pair). The
/// capacitors are scaled by (f_found / f_target)^2 (a mode of an LC ladder scales as C^-1/2).
pub fn tune_fdtd(
    coil: &CoilConfig,
    mesh: &BirdcageMesh,
    tol: f64,
    max_sweeps: usize,
    steps: usize,
) -> Result<FdtdTuning> {
    let target = coil.freq_hz;
    let mut caps = circuit_capacitors(coil)?;
    let mut sweeps = Vec::new();
    let (f_lo, f_hi) = (0.55 * target, 1.45 * target);
    let mut found = f64::NAN;
    for _ in 0..max_sweeps.max(1) {
        let s = sweep(coil, mesh, caps, f_lo, f_hi, steps)?;
        found = s.homogeneous_hz;
        sweeps.push(s);
        if !found.is_finite() {
            return Err(Error::NotConverged {
                what: "no resonance found in the sweep band".into(),
            });
        }
        let rel = (found - target) / target;
        if rel.abs() < tol {
            break;
        }
        let k = (found / target).powi(2);
        caps = Capacitors {
            rung_f: caps.rung_f.map(|c| c * k),
            ring_f: caps.ring_f.map(|c| c * k),
        };
    }
    let last = sweeps.last().expect("one sweep");
    // Ordering: circuit modes in the band, scaled so m = 1 lands on the FDTD m = 1; each FDTD peak
    // is matched to its nearest scaled circuit mode; the matched sequence must be non-decreasing.
    let model = circuit::CircuitModel::new(coil, circuit::CircuitOptions::default())?;
    let spectrum = model.spectrum(last.capacitors.rung_f, last.capacitors.ring_f)?;
    let m1 = spectrum
        .iter()
        .find(|m| m.m == 1 && matches!(m.kind, circuit::ModeKind::Azimuthal))
        .map(|m| m.freq_hz)
        .unwrap_or(target);
    let scale = found / m1;
    let mut circ: Vec<f64> = spectrum
        .iter()
        .map(|m| m.freq_hz * scale)
        .filter(|f| *f > 0.0)
        .collect();
    circ.sort_by(|a, b| a.total_cmp(b));
    let idx: Vec<usize> = last
        .peaks_hz
        .iter()
        .map(|p| {
            (0..circ.len())
                .min_by(|&a, &b| (circ[a] - p).abs().total_cmp(&(circ[b] - p).abs()))
                .unwrap_or(0)
        })
        .collect();
    let ordering_matches_circuit = idx.windows(2).all(|w| w[0] <= w[1]);
    let caps = last.capacitors;
    let port_match_ohm = {
        let i = last
            .freqs_hz
            .partition_point(|f| *f < found)
            .clamp(1, last.freqs_hz.len() - 1);
        let (f0, f1) = (last.freqs_hz[i - 1], last.freqs_hz[i]);
        let w = ((found - f0) / (f1 - f0)).clamp(0.0, 1.0);
        last.z_mag_ohm[i - 1] * (1.0 - w) + last.z_mag_ohm[i] * w
    };
    Ok(FdtdTuning {
        port_match_ohm,
        target_hz: target,
        sweeps,
        capacitors: caps,
        homogeneous_hz: found,
        rel_error: (found - target) / target,
        ordering_matches_circuit,
    })
}
