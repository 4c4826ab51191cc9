//! Circuit co-simulation of the coil (Kozlov & Turner, J. Magn. Reson. 200, 147-152, 2009).
//!
//! Every lumped element of the resonant coil model — each capacitor gap and each feed port — is a
//! port of one multi-port FDTD model of the conductors, shield and phantom. One broadband FDTD run
//! per port (a Gaussian-pulse voltage source with internal resistance `R0` at that port, every other
//! port terminated in `R0`) records, at every port, the voltage `V_j(f)` and the current `I_j(f)`
//! delivered into the structure, and the E and H phasors at Larmor over the field box. With `N`
//! runs the `N x N` matrices `V` and `I` (column = run) give the impedance matrix of the structure
//! `Z(f) = V I^-1` and the fields per unit port current `G = F I^-1` (`F`: the fields of each run),
//! exactly, because the structure is linear and a lumped element acts on it only through its
//! current. The terminations used in the runs (`R0`) damp every resonance, so the runs are short.
//!
//! Any capacitor set and any drive then follow by circuit algebra with no new FDTD run:
//! `(Z + Z_L) I = V_th`, with `Z_L` the load of each port (`1/(i w C)` at a capacitor, the source
//! impedance at a feed in its own gap, the two in parallel at a feed across a capacitor) and `V_th`
//! the Thevenin EMF of the feeds; the fields are `sum_j G_j I_j`. Tuning to Larmor, the feed's input
//! impedance and the mode spectrum are instant.
//!
//! Conventions: time factor e^{+i w t}; complex peak phasors; a port's voltage is the potential of
//! its edge's end node minus its start node, its current flows along the edge into the structure;
//! `orient` (+1/-1) turns both into the coil's reference direction (+z on rungs, +phi on rings), so
//! drive phases mean the same at every azimuth.

use num_complex::{Complex32, Complex64};
use serde::Serialize;

use super::config::{CapSetting, CoilConfig, PortElement};
use super::fdtd_model::{BirdcageMesh, Edge};
use super::field::b1_plus;
use crate::error::{Error, Result};
use crate::fdtd::{FieldKind, LumpedSpec, Probe, Simulation, SimulationSpec, Waveform, YeeVector};
use crate::grid::{Comp, RegularField};
use crate::numerics::{complex_condition, complex_solve};

/// Where a capacitor sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapSite {
    /// In rung `j`.
    Rung(usize),
    /// In segment `j` (rungs `j` to `j+1`) of ring `r` (0: at -z, 1: at +z).
    Ring(usize, usize),
}

/// One port of the multi-port model: a gap edge holding a capacitor, a feed, or both (a feed
/// across a capacitor).
#[derive(Clone, Debug, Serialize)]
pub struct CosimPort {
    pub name: String,
    /// The gap edge (component, start node).
    pub edge: Edge,
    /// +1/-1: the edge direction relative to the coil's reference direction (+z rungs, +phi rings).
    pub orient: f64,
    pub capacitor: Option<CapSite>,
    /// Index of the coil file's `[[ports]]` entry fed here.
    pub feed: Option<usize>,
}

/// The ports of `coil` on its resonant `mesh` (meshed with the gaps of its type): the capacitor
/// gaps, then the feeds in their own gaps (cut into the rung here), feeds across a capacitor
/// sharing that capacitor's port.
pub fn cosim_ports(coil: &CoilConfig, mesh: &mut BirdcageMesh) -> Result<Vec<CosimPort>> {
    let src = coil.source_name.as_str();
    let g = mesh.model.grid.clone();
    let orient_of = |e: &Edge| -> f64 {
        let (c, p) = *e;
        let d = [0, 1].map(|a| g.axes[a].cell_size(p[a].min(g.dims()[a] - 1)));
        let (x, y) = (
            g.axes[0].node(p[0]) + if c == 0 { d[0] / 2.0 } else { 0.0 },
            g.axes[1].node(p[1]) + if c == 1 { d[1] / 2.0 } else { 0.0 },
        );
        let phi = y.atan2(x);
        let s = match c {
            0 => -phi.sin(),
            1 => phi.cos(),
            _ => 1.0,
        };
        if s < 0.0 {
            -1.0
        } else {
            1.0
        }
    };
    let mut ports: Vec<CosimPort> = Vec::new();
    if coil.rung_capacitor != CapSetting::None {
        for (j, e) in mesh.rung_gaps.iter().enumerate() {
            ports.push(CosimPort {
                name: format!("rung{j}_c"),
                edge: *e,
                orient: orient_of(e),
                capacitor: Some(CapSite::Rung(j)),
                feed: None,
            });
        }
    }
    if coil.ring_capacitor != CapSetting::None {
        for (r, ring) in mesh.ring_gaps.iter().enumerate() {
            for (j, e) in ring.iter().enumerate() {
                ports.push(CosimPort {
                    name: format!("ring{r}_{j}_c"),
                    edge: *e,
                    orient: orient_of(e),
                    capacitor: Some(CapSite::Ring(r, j)),
                    feed: None,
                });
            }
        }
    }
    if ports.is_empty() {
        return Err(Error::input(
            src,
            "capacitance_f",
            "the coil has no capacitors: a co-simulation needs the lumped elements that tune it",
            "give capacitance_f (or rung_capacitance_f/ring_capacitance_f) as \"auto\" or a value in farads",
        ));
    }
    for (pi, p) in coil.ports.iter().enumerate() {
        let key = format!("ports[{pi}]");
        match (p.element, p.z_m) {
            (PortElement::Rung, Some(z)) => {
                let Some(&[i, j]) = mesh.rung_nodes.get(p.index) else {
                    return Err(Error::input(src, &key, format!("rung {} does not exist", p.index), "use a port angle at a rung"));
                };
                let k = g.axes[2].cell_of(z).filter(|&k| k >= mesh.ring_k[0] && k < mesh.ring_k[1]);
                let Some(k) = k else {
                    return Err(Error::input(
                        src,
                        &format!("{key}.z_m"),
                        format!(
                            "z = {z} m is not on the rung (the rungs run from z = {:.4} to {:.4} m on this grid)",
                            g.axes[2].node(mesh.ring_k[0]),
                            g.axes[2].node(mesh.ring_k[1])
                        ),
                        "give a z between the two end rings",
                    ));
                };
                let e: Edge = (2, [i, j, k]);
                if let Some(o) = ports.iter().find(|q| q.edge == e) {
                    return Err(Error::input(
                        src,
                        &format!("{key}.z_m"),
                        format!("the port's gap at z = {z} m falls on the same grid edge as {} on this grid", o.name),
                        "move the port at least one cell away from the capacitor or the other port (or use no z_m to put the port across the capacitor)",
                    ));
                }
                if !mesh.model.clear_pec_edge(Comp::Z, i, j, k) {
                    return Err(Error::input(src, &key, "the port's rung edge is not a conductor on this grid", "check the port's angle and z_m"));
                }
                ports.push(CosimPort {
                    name: format!("port{}", pi + 1),
                    edge: e,
                    orient: 1.0,
                    capacitor: None,
                    feed: Some(pi),
                });
            }
            (element, _) => {
                let e = match element {
                    PortElement::Rung => mesh.rung_gaps.get(p.index).copied(),
                    PortElement::Ring => mesh.ring_gaps[1].get(p.index).copied(),
                };
                let Some(q) = e.and_then(|e| ports.iter_mut().find(|q| q.edge == e && q.capacitor.is_some())) else {
                    return Err(Error::input(
                        src,
                        &key,
                        "the port sits across a capacitor position that holds no capacitor on this coil",
                        "put the port where the coil has capacitors (ring for high_pass, rung for low_pass), or give z_m for its own gap in a rung",
                    ));
                };
                if let Some(other) = q.feed {
                    return Err(Error::input(
                        src,
                        &key,
                        format!("ports[{other}] already sits across the same capacitor"),
                        "give each port its own capacitor position",
                    ));
                }
                q.feed = Some(pi);
                q.name = format!("port{}_{}", pi + 1, q.name);
            }
        }
    }
    Ok(ports)
}

/// How the port runs are made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortRunOptions {
    /// The band of the impedance matrix, relative to Larmor.
    pub band_lo: f64,
    pub band_hi: f64,
    /// Frequencies over the band (odd, so Larmor is one of them).
    pub band_points: usize,
    /// Each run stops when the field energy is this far below its peak (dB).
    pub decay_db: f64,
    /// At most this many Larmor periods per run.
    pub max_periods: usize,
    /// Termination and source resistance of the runs (Ohm).
    pub reference_ohm: f64,
    /// Make only one run per set of mirror-image ports (see `cosim_symmetry`).
    pub use_symmetry: bool,
    /// Bandwidth of the exciting Gaussian pulse (its 20 dB points) relative to the band's width.
    /// The damped port runs ring down within the pulse, so a wider (shorter) pulse is a shorter run.
    pub pulse_bandwidth: f64,
}

impl Default for PortRunOptions {
    fn default() -> Self {
        Self {
            band_lo: 0.6,
            band_hi: 1.4,
            band_points: 161,
            decay_db: 50.0,
            max_periods: 400,
            reference_ohm: 50.0,
            use_symmetry: true,
            pulse_bandwidth: 1.5,
        }
    }
}

/// The multi-port model: impedance matrix over the band and fields per unit port current.
#[derive(Clone, Debug)]
pub struct PortBasis {
    pub ports: Vec<CosimPort>,
    pub freq_hz: f64,
    pub band_hz: Vec<f64>,
    /// Index of Larmor in `band_hz`.
    pub i0: usize,
    /// `Z(f)` per band frequency, `N x N` row-major (Ohm), port voltages and currents as on the edges.
    pub z: Vec<Vec<Complex64>>,
    /// Transverse H (x, y) at the isocentre per unit current of each port, per band frequency (1/m).
    pub h_iso: Vec<Vec<[Complex64; 2]>>,
    /// E (V/m) and H (A/m) per unit current of each port, at Larmor, over the field box.
    pub e: Vec<YeeVector>,
    pub h: Vec<YeeVector>,
    /// Steps of each run (a mirrored run: its source run's), and whether it decayed fully.
    pub run_steps: Vec<usize>,
    /// The FDTD runs made (one per set of mirror-image ports) and the mirror planes used.
    pub fdtd_runs: usize,
    pub mirror_axes: Vec<usize>,
    pub runs_converged: Vec<bool>,
    pub seconds: f64,
}

fn to_c32(a: ndarray::Array3<Complex64>) -> ndarray::Array3<Complex32> {
    a.mapv(|z| Complex32::new(z.re as f32, z.im as f32))
}

/// One FDTD run per port of `ports` on `mesh` (see the module documentation).
pub fn compute_port_basis(
    mesh: &BirdcageMesh,
    ports: &[CosimPort],
    freq_hz: f64,
    opt: &PortRunOptions,
    mut progress: Option<&mut dyn FnMut(usize, usize)>,
) -> Result<PortBasis> {
    let t0 = std::time::Instant::now();
    let nb = opt.band_points.max(3) | 1;
    let band_hz: Vec<f64> = (0..nb)
        .map(|i| freq_hz * (opt.band_lo + (opt.band_hi - opt.band_lo) * i as f64 / (nb - 1) as f64))
        .collect();
    let i0 = (0..nb)
        .min_by(|&a, &b| (band_hz[a] - freq_hz).abs().total_cmp(&(band_hz[b] - freq_hz).abs()))
        .unwrap_or(0);
    let mut band = band_hz.clone();
    band[i0] = freq_hz;
    let (flo, fhi) = (band[0], band[nb - 1]);
    let pulse = Waveform::GaussPulse {
        f0_hz: 0.5 * (flo + fhi),
        bandwidth_hz: opt.pulse_bandwidth.max(0.5) * (fhi - flo),
    };
    // The transverse H at the coil centre over the band comes from a small box of nodes around
    // it, symmetric about the centre on every axis (so that it mirrors like the field box), sampled
    // at the origin.
    let dims = mesh.model.grid.dims();
    let iso_box: [std::ops::Range<usize>; 3] = std::array::from_fn(|a| {
        let lo = (dims[a] / 2).saturating_sub(2);
        lo..(dims[a] + 1 - lo).min(dims[a] + 1)
    });
    // The field box is recorded one node larger on every side (where the grid allows): a mirrored
    // component staggered along the mirror axis loses one layer at one end, which is cut off.
    let field_box: [std::ops::Range<usize>; 3] = std::array::from_fn(|a| {
        let r = &mesh.interior[a];
        r.start.saturating_sub(1)..(r.end + 1).min(dims[a] + 1)
    });
    let boxes = [field_box.clone(), iso_box.clone()];
    // With symmetry, the port set may be completed by shorted ports at the mirror images of the
    // feeds (removed exactly at the end): `n0` ports asked for, `n` run.
    let n0 = ports.len();
    let mut edges: Vec<Edge> = ports.iter().map(|p| p.edge).collect();
    let completed = if opt.use_symmetry {
        super::cosim_symmetry::completion(mesh, &edges, &boxes)
    } else {
        None
    };
    let mesh = match &completed {
        Some((m, e)) => {
            edges = e.clone();
            m
        }
        None => mesh,
    };
    let n = edges.len();
    let name_of = |j: usize| ports.get(j).map_or_else(|| format!("short{}", j - n0), |p| p.name.clone());
    let mirrors = if opt.use_symmetry {
        super::cosim_symmetry::symmetries(mesh, &edges, &boxes)
    } else {
        Vec::new()
    };
    // Which run gives each port's run: (source run, mirror axes applied).
    let mut source: Vec<Option<(usize, Vec<usize>)>> = vec![None; n];
    let mut reps = Vec::new();
    for k in 0..n {
        if source[k].is_some() {
            continue;
        }
        reps.push(k);
        for mask in 0..(1usize << mirrors.len()) {
            let axes: Vec<usize> = (0..mirrors.len()).filter(|b| mask >> b & 1 == 1).collect();
            let t = axes.iter().fold(k, |q, &b| mirrors[b].1[q]);
            if source[t].is_none() {
                source[t] = Some((k, axes.iter().map(|&b| mirrors[b].0).collect()));
            }
        }
    }
    struct Run {
        v: Vec<Vec<Complex64>>,
        i: Vec<Vec<Complex64>>,
        e: YeeVector,
        h: YeeVector,
        iso: Vec<YeeVector>,
    }
    let mut runs: Vec<Option<Run>> = (0..n).map(|_| None).collect();
    let mut run_steps = vec![0usize; n];
    let mut runs_converged = vec![true; n];
    for (r, &k) in reps.iter().enumerate() {
        if let Some(p) = progress.as_mut() {
            p(r, reps.len());
        }
        let mut spec = SimulationSpec::new(mesh.model.clone());
        spec.cell_key = ("coil model".into(), "cell_m (--cell-mm, or [twin] cell_m in a recipe)".into());
        spec.boundaries = mesh.boundaries.clone();
        spec.courant = mesh.courant;
        spec.port_freqs_hz = band.clone();
        for (j, &(c, node)) in edges.iter().enumerate() {
            let name = name_of(j);
            spec.lumped.push(if j == k {
                LumpedSpec::port(&name, c, node, opt.reference_ohm, 1.0, pulse.clone())
            } else {
                LumpedSpec::resistor(&name, c, node, opt.reference_ohm)
            });
        }
        let mut sim = Simulation::new(spec)?;
        let dt = sim.dt();
        let every = ((1.0 / (8.0 * fhi * dt)).floor() as usize).max(1);
        let mut pe = sim.dft_probe("e", FieldKind::E, &[0, 1, 2], field_box.clone(), &[freq_hz], every)?;
        let mut ph = sim.dft_probe("h", FieldKind::H, &[0, 1, 2], field_box.clone(), &[freq_hz], every)?;
        let mut pi = sim.dft_probe("h_iso", FieldKind::H, &[0, 1, 2], iso_box.clone(), &band, every)?;
        let max_steps = ((opt.max_periods as f64) / (freq_hz * dt)).ceil() as usize;
        let stats = sim.run_until_decay(opt.decay_db, max_steps, &mut [&mut pe as &mut dyn Probe, &mut ph, &mut pi])?;
        run_steps[k] = stats.steps;
        runs_converged[k] = stats.converged;
        let lum = sim.lumped();
        let mut v = vec![Vec::new(); n];
        let mut i = vec![Vec::new(); n];
        for j in 0..n {
            let s = lum.spectrum(j);
            v[j] = s.iter().map(|x| x.0).collect();
            i[j] = s.iter().map(|x| x.1).collect();
        }
        let g = &sim.model().grid;
        let origin = g.node_pos(0, 0, 0);
        let d = sim.cell_size_m();
        let yee = |p: &crate::fdtd::DftProbe, fi: usize| -> Result<YeeVector> {
            let comps = [0, 1, 2].map(|c| RegularField::new(to_c32(p.spectrum(c, fi)), p.component_origin(c, origin, d), d));
            let [x, y, z] = comps;
            YeeVector::new(p.kind, [x?, y?, z?])
        };
        let iso = (0..nb).map(|f| yee(&pi, f)).collect::<Result<Vec<_>>>()?;
        runs[k] = Some(Run {
            v,
            i,
            e: yee(&pe, 0)?,
            h: yee(&ph, 0)?,
            iso,
        });
    }
    // The other ports' runs by mirroring.
    for t in 0..n {
        let (k, axes) = source[t].clone().expect("every port has a source run");
        if k == t {
            continue;
        }
        let src = runs[k].as_ref().expect("representative run made");
        let sign = |e: Edge| axes.iter().map(|&a| super::cosim_symmetry::edge_sign(a, e)).product::<f32>();
        let sk = sign(edges[k]);
        let perm = |j: usize| {
            axes.iter().fold(j, |q, &a| {
                let (_, p) = mirrors.iter().find(|m| m.0 == a).expect("axis of a mirror");
                p[q]
            })
        };
        let mirror = |f: &YeeVector| {
            let m = axes.iter().fold(f.clone(), |acc, &a| super::cosim_symmetry::mirror_yee(&acc, a));
            superpose(&[m], &[Complex32::new(sk, 0.0)])
        };
        let mut v = vec![Vec::new(); n];
        let mut i = vec![Vec::new(); n];
        for j in 0..n {
            let q = perm(j);
            let s = (sk * sign(edges[j])) as f64;
            v[j] = src.v[q].iter().map(|x| x * s).collect();
            i[j] = src.i[q].iter().map(|x| x * s).collect();
        }
        let run = Run {
            v,
            i,
            e: mirror(&src.e),
            h: mirror(&src.h),
            iso: src.iso.iter().map(mirror).collect(),
        };
        run_steps[t] = run_steps[k];
        runs_converged[t] = runs_converged[k];
        runs[t] = Some(run);
    }
    let runs: Vec<Run> = runs.into_iter().map(|r| r.expect("every run made")).collect();
    let mut vmat = vec![vec![Complex64::default(); n * n]; nb];
    let mut imat = vec![vec![Complex64::default(); n * n]; nb];
    let mut hiso = vec![vec![[Complex64::default(); 2]; n]; nb];
    for (k, r) in runs.iter().enumerate() {
        for j in 0..n {
            for f in 0..nb {
                vmat[f][j * n + k] = r.v[j][f];
                imat[f][j * n + k] = r.i[j][f];
            }
        }
        for f in 0..nb {
            let at = |c: usize| {
                let z = r.iso[f].comps[c].sample([0.0; 3]);
                Complex64::new(z.re as f64, z.im as f64)
            };
            hiso[f][k] = [at(0), at(1)];
        }
    }
    let crop = |f: &YeeVector| super::cosim_symmetry::crop_yee(f, &field_box, &mesh.interior);
    let fe: Vec<YeeVector> = runs.iter().map(|r| crop(&r.e)).collect();
    let fh: Vec<YeeVector> = runs.iter().map(|r| crop(&r.h)).collect();
    drop(runs);
    // Z = V I^-1 and the per-unit-current quantities X I^-1 (X: one row per quantity, one column
    // per run), i.e. solve I^T Y^T = X^T.
    let mut z = Vec::with_capacity(nb);
    let mut h_iso = Vec::with_capacity(nb);
    let mut inv_i0 = Vec::new();
    for f in 0..nb {
        let it = transpose(&imat[f], n);
        let cond = complex_condition(&imat[f], n);
        if !(cond < 1e10) {
            return Err(Error::input(
                "coil model",
                "ports",
                format!(
                    "the port currents of the {n} co-simulation runs are linearly dependent at {:.2} MHz (condition {cond:.2e}): the mesh joins some lumped elements, so their ports cannot be told apart",
                    band[f] / 1e6
                ),
                "use a finer --cell-mm (or move the ports apart) so that each lumped element has its own conductor path",
            ));
        }
        let vt = transpose(&vmat[f], n);
        let zt = complex_solve(&it, &vt, n, n).expect("checked condition");
        z.push(transpose(&zt, n));
        let mut x = vec![Complex64::default(); 2 * n];
        for k in 0..n {
            x[k * 2] = hiso[f][k][0];
            x[k * 2 + 1] = hiso[f][k][1];
        }
        let y = complex_solve(&it, &x, n, 2).expect("checked condition");
        h_iso.push((0..n).map(|j| [y[j * 2], y[j * 2 + 1]]).collect());
        if f == i0 {
            inv_i0 = complex_solve(&imat[f], &identity(n), n, n).expect("checked condition");
        }
    }
    // G_j = sum_k F_k (I^-1)_{kj}.
    let combine = |fs: &[YeeVector]| -> Vec<YeeVector> {
        (0..n)
            .map(|j| {
                let coefs: Vec<Complex32> = (0..n)
                    .map(|k| {
                        let c = inv_i0[k * n + j];
                        Complex32::new(c.re as f32, c.im as f32)
                    })
                    .collect();
                superpose(fs, &coefs)
            })
            .collect()
    };
    let mut e = combine(&fe);
    drop(fe);
    let mut h = combine(&fh);
    if n > n0 {
        kron_shorts(n0, i0, &mut z, &mut h_iso, &mut e, &mut h)?;
        // A short's run that did not decay spoils every port's result.
        if runs_converged[n0..].iter().any(|c| !c) {
            runs_converged.iter_mut().for_each(|c| *c = false);
        }
        run_steps.truncate(n0);
        runs_converged.truncate(n0);
    }
    Ok(PortBasis {
        ports: ports.to_vec(),
        freq_hz,
        band_hz: band,
        i0,
        z,
        h_iso,
        e,
        h,
        run_steps,
        runs_converged,
        fdtd_runs: reps.len(),
        mirror_axes: mirrors.iter().map(|m| m.0).collect(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Removes ports `n0..` (shorted: their voltage is zero) from `z`, `h_iso` and the fields per unit
/// current, exactly: with `V_d = 0`, `I_d = -Z_dd^-1 Z_do I_o`, so the kept ports see
/// `Z_oo - Z_od Z_dd^-1 Z_do` and each kept port's fields gain those of the shorts' currents.
fn kron_shorts(
    n0: usize,
    i0: usize,
    z: &mut [Vec<Complex64>],
    h_iso: &mut [Vec<[Complex64; 2]>],
    e: &mut Vec<YeeVector>,
    h: &mut Vec<YeeVector>,
) -> Result<()> {
    let n = e.len();
    let nd = n - n0;
    for f in 0..z.len() {
        let zf = &z[f];
        let zdd: Vec<Complex64> = (0..nd * nd).map(|q| zf[(n0 + q / nd) * n + n0 + q % nd]).collect();
        let zdo: Vec<Complex64> = (0..nd * n0).map(|q| zf[(n0 + q / n0) * n + q % n0]).collect();
        // K = Z_dd^-1 Z_do (nd x n0).
        let k = complex_solve(&zdd, &zdo, nd, n0).ok_or_else(|| {
            Error::Other("co-simulation: the impedance matrix of the shorted symmetry ports is singular".into())
        })?;
        let mut zr = vec![Complex64::default(); n0 * n0];
        for r in 0..n0 {
            for c in 0..n0 {
                let s: Complex64 = (0..nd).map(|d| zf[r * n + n0 + d] * k[d * n0 + c]).sum();
                zr[r * n0 + c] = zf[r * n + c] - s;
            }
        }
        z[f] = zr;
        let hd: Vec<[Complex64; 2]> = h_iso[f][n0..].to_vec();
        h_iso[f].truncate(n0);
        for (j, hj) in h_iso[f].iter_mut().enumerate() {
            for (d, hdd) in hd.iter().enumerate() {
                hj[0] -= hdd[0] * k[d * n0 + j];
                hj[1] -= hdd[1] * k[d * n0 + j];
            }
        }
        if f == i0 {
            let reduce = |fs: &[YeeVector]| -> Vec<YeeVector> {
                (0..n0)
                    .map(|j| {
                        let mut set = vec![fs[j].clone()];
                        set.extend(fs[n0..].iter().cloned());
                        let mut coefs = vec![Complex32::new(1.0, 0.0)];
                        coefs.extend((0..nd).map(|d| {
                            let c = -k[d * n0 + j];
                            Complex32::new(c.re as f32, c.im as f32)
                        }));
                        superpose(&set, &coefs)
                    })
                    .collect()
            };
            *e = reduce(e);
            *h = reduce(h);
        }
    }
    Ok(())
}

fn identity(n: usize) -> Vec<Complex64> {
    let mut m = vec![Complex64::default(); n * n];
    for i in 0..n {
        m[i * n + i] = Complex64::new(1.0, 0.0);
    }
    m
}

fn transpose(a: &[Complex64], n: usize) -> Vec<Complex64> {
    let mut t = vec![Complex64::default(); n * n];
    for r in 0..n {
        for c in 0..n {
            t[c * n + r] = a[r * n + c];
        }
    }
    t
}

/// `sum_k coefs[k] fs[k]` (fields on the same staggered grids).
pub fn superpose(fs: &[YeeVector], coefs: &[Complex32]) -> YeeVector {
    let comps = [0, 1, 2].map(|c| {
        let mut data = fs[0].comps[c].data.mapv(|x| x * coefs[0]);
        for (f, &a) in fs.iter().zip(coefs).skip(1) {
            if a.norm() == 0.0 {
                continue;
            }
            ndarray::Zip::from(&mut data)
                .and(&f.comps[c].data)
                .for_each(|o, &x| *o += a * x);
        }
        RegularField {
            data,
            origin_m: fs[0].comps[c].origin_m,
            spacing_m: fs[0].comps[c].spacing_m,
        }
    });
    YeeVector { kind: fs[0].kind, comps }
}

/// The lumped values of a circuit: a capacitance (F) per capacitor port and, per feed of the coil
/// file, its source impedance (Ohm).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Circuit {
    /// Per port of the basis: its capacitance, if it holds a capacitor.
    pub capacitance_f: Vec<Option<f64>>,
    /// Per port of the basis: the source impedance of the feed there, if any.
    pub source_ohm: Vec<Option<f64>>,
}

impl Circuit {
    /// Every rung capacitor `rung_f`, every ring capacitor `ring_f`, and the coil file's source impedances.
    pub fn uniform(coil: &CoilConfig, ports: &[CosimPort], rung_f: Option<f64>, ring_f: Option<f64>) -> Self {
        Self {
            capacitance_f: ports
                .iter()
                .map(|p| match p.capacitor {
                    Some(CapSite::Rung(_)) => rung_f,
                    Some(CapSite::Ring(..)) => ring_f,
                    None => None,
                })
                .collect(),
            source_ohm: ports.iter().map(|p| p.feed.map(|f| coil.ports[f].impedance_ohm)).collect(),
        }
    }

    /// Load impedance and Thevenin factor (`V_th = factor * EMF`) of port `j` at `w`.
    pub(crate) fn load(&self, j: usize, w: f64) -> (Complex64, Complex64) {
        let zc = self.capacitance_f[j].map(|c| Complex64::new(0.0, -1.0 / (w * c)));
        match (zc, self.source_ohm[j]) {
            (Some(zc), None) => (zc, Complex64::default()),
            (None, Some(r)) => (Complex64::new(r, 0.0), Complex64::new(1.0, 0.0)),
            (Some(zc), Some(r)) => (zc * r / (zc + r), zc / (zc + r)),
            // A port with neither: open (cannot happen for ports made by `cosim_ports`).
            (None, None) => (Complex64::new(1e12, 0.0), Complex64::default()),
        }
    }
}

/// The circuit solved at one band frequency: port currents for the feed EMFs `emf` (V, one per
/// coil-file port, in the coil's reference direction).
fn solve_at(pb: &PortBasis, circ: &Circuit, f: usize, freq: f64, emf: &[Complex64]) -> Result<Vec<Complex64>> {
    let n = pb.ports.len();
    let w = 2.0 * std::f64::consts::PI * freq;
    let mut a = pb.z[f].clone();
    let mut b = vec![Complex64::default(); n];
    for j in 0..n {
        let (zl, th) = circ.load(j, w);
        a[j * n + j] += zl;
        if let Some(fp) = pb.ports[j].feed {
            b[j] = th * emf.get(fp).copied().unwrap_or_default() * pb.ports[j].orient;
        }
    }
    let cond = complex_condition(&a, n);
    if !(cond < 1e12) {
        return Err(Error::input(
            "coil model",
            "capacitance_f",
            format!(
                "the co-simulated circuit (impedance matrix Z plus the capacitors and sources) is singular at {:.3} MHz (condition {cond:.2e}): a capacitor set that makes a lossless resonance there, or a port with no load",
                freq / 1e6
            ),
            "check the coil file's capacitance_f values (or the fitted capacitor deviations, --cap-prior) and that every feed has impedance_ohm > 0",
        ));
    }
    Ok(complex_solve(&a, &b, n, 1).expect("checked"))
}

/// The steady state of a circuit at Larmor for a drive.
#[derive(Clone, Debug)]
pub struct CircuitSolution {
    /// Port voltages and currents (edge direction), per basis port.
    pub v: Vec<Complex64>,
    pub i: Vec<Complex64>,
    /// Per coil-file feed: the voltage across the structure side of the feed and the current the
    /// feed delivers into it (coil reference direction), and its accepted power (W).
    pub feed_vi: Vec<(Complex64, Complex64)>,
    pub accepted_power_w: f64,
}

impl PortBasis {
    pub fn n(&self) -> usize {
        self.ports.len()
    }

    /// Solves the circuit at Larmor for feed EMFs `emf` (V).
    pub fn solve(&self, circ: &Circuit, emf: &[Complex64]) -> Result<CircuitSolution> {
        self.solve_with(circ, self.i0, self.freq_hz, emf)
    }

    /// The circuit solve at band index `f` and frequency `freq` (port V and I, feed V and I,
    /// accepted power), shared by [`PortBasis::solve`] and [`PortBasis::solve_band`].
    fn solve_with(&self, circ: &Circuit, f: usize, freq: f64, emf: &[Complex64]) -> Result<CircuitSolution> {
        let n = self.n();
        let i = solve_at(self, circ, f, freq, emf)?;
        let z = &self.z[f];
        let v: Vec<Complex64> = (0..n).map(|r| (0..n).map(|c| z[r * n + c] * i[c]).sum()).collect();
        let w = 2.0 * std::f64::consts::PI * freq;
        let nf = self.ports.iter().filter_map(|p| p.feed).max().map_or(0, |m| m + 1);
        let mut feed_vi = vec![(Complex64::default(), Complex64::default()); nf];
        for (j, p) in self.ports.iter().enumerate() {
            if let Some(fp) = p.feed {
                // Current into the structure plus, across a capacitor, the capacitor's current.
                let ic = circ.capacitance_f[j].map_or(Complex64::default(), |c| v[j] * Complex64::new(0.0, w * c));
                feed_vi[fp] = (v[j] * p.orient, (i[j] + ic) * p.orient);
            }
        }
        let accepted_power_w = feed_vi.iter().map(|(v, i)| 0.5 * (v * i.conj()).re).sum();
        Ok(CircuitSolution {
            v,
            i,
            feed_vi,
            accepted_power_w,
        })
    }

    /// E and H at Larmor for port currents `i`.
    pub fn fields(&self, i: &[Complex64]) -> (YeeVector, YeeVector) {
        let c: Vec<Complex32> = i.iter().map(|z| Complex32::new(z.re as f32, z.im as f32)).collect();
        (superpose(&self.e, &c), superpose(&self.h, &c))
    }

    /// |transverse H| at the isocentre per volt of EMF at feed `feed`, over the band.
    pub fn h_iso_response(&self, circ: &Circuit, emf: &[Complex64]) -> Result<Vec<f64>> {
        (0..self.band_hz.len())
            .map(|f| {
                let i = solve_at(self, circ, f, self.band_hz[f], emf)?;
                let mut h = [Complex64::default(); 2];
                for (j, ij) in i.iter().enumerate() {
                    h[0] += self.h_iso[f][j][0] * ij;
                    h[1] += self.h_iso[f][j][1] * ij;
                }
                Ok((h[0].norm_sqr() + h[1].norm_sqr()).sqrt())
            })
            .collect()
    }

    /// The frequency (Hz) of the mode that port-`feed` drive makes at the isocentre: the peak of the
    /// transverse H there, refined by a parabola through log |H|. `None` when the peak is at the
    /// band's edge.
    pub fn homogeneous_hz(&self, circ: &Circuit, feed: usize) -> Result<Option<f64>> {
        let mut emf = vec![Complex64::default(); feed + 1];
        emf[feed] = Complex64::new(1.0, 0.0);
        let r = self.h_iso_response(circ, &emf)?;
        let nb = r.len();
        let k = (0..nb).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap_or(0);
        if k == 0 || k + 1 >= nb {
            return Ok(None);
        }
        let (a, b, c) = (r[k - 1].ln(), r[k].ln(), r[k + 1].ln());
        let den = a - 2.0 * b + c;
        let off = if den.abs() > 0.0 { (0.5 * (a - c) / den).clamp(-1.0, 1.0) } else { 0.0 };
        // Band spacing is uniform except at Larmor (snapped): interpolate between neighbours.
        let f = if off >= 0.0 {
            self.band_hz[k] + off * (self.band_hz[k + 1] - self.band_hz[k])
        } else {
            self.band_hz[k] + off * (self.band_hz[k] - self.band_hz[k - 1])
        };
        Ok(Some(f))
    }
}

/// The outcome of tuning the co-simulated circuit.
#[derive(Clone, Debug, Serialize)]
pub struct CosimTuning {
    pub target_hz: f64,
    /// The "auto" capacitors after tuning (F) and the circuit model's starting values.
    pub rung_capacitance_f: Option<f64>,
    pub ring_capacitance_f: Option<f64>,
    pub circuit_model_rung_f: Option<f64>,
    pub circuit_model_ring_f: Option<f64>,
    /// The homogeneous mode after tuning (Hz) and its relative error.
    pub homogeneous_hz: f64,
    pub rel_error: f64,
    pub iterations: usize,
}

/// Scales the coil's "auto" capacitors (fixed ones stay) from the circuit-model values until the mode
/// that feed 0 drives at the isocentre sits at Larmor within `tol` (secant on log C).
pub fn tune(coil: &CoilConfig, pb: &PortBasis, tol: f64) -> Result<(Circuit, CosimTuning)> {
    let src = coil.source_name.as_str();
    let start = super::resonant::circuit_capacitors(coil)?;
    let auto_rung = coil.rung_capacitor == CapSetting::Auto;
    let auto_ring = coil.ring_capacitor == CapSetting::Auto;
    let circuit_at = |s: f64| {
        Circuit::uniform(
            coil,
            &pb.ports,
            start.rung_f.map(|c| if auto_rung { c * s } else { c }),
            start.ring_f.map(|c| if auto_ring { c * s } else { c }),
        )
    };
    let target = pb.freq_hz;
    let mode = |s: f64| -> Result<f64> {
        pb.homogeneous_hz(&circuit_at(s), 0)?.ok_or_else(|| {
            Error::input(
                src,
                "capacitance_f",
                format!(
                    "with the capacitors scaled by {s:.3} from the circuit model no mode lies inside the co-simulated band {:.1}-{:.1} MHz",
                    pb.band_hz[0] / 1e6,
                    pb.band_hz[pb.band_hz.len() - 1] / 1e6
                ),
                "check the coil's dimensions and capacitor values (a fixed capacitor far from its tuned value cannot reach Larmor)",
            )
        })
    };
    let mut s = 1.0;
    let mut f = mode(s)?;
    let mut iterations = 1;
    if auto_rung || auto_ring {
        // f ~ C^-1/2 near the mode: start with that step, then secant in log-log.
        let mut prev: Option<(f64, f64)> = None;
        while ((f - target) / target).abs() > tol && iterations < 30 {
            let s_new = match prev {
                Some((sp, fp)) if (f.ln() - fp.ln()).abs() > 1e-12 => {
                    let slope = (f.ln() - fp.ln()) / (s.ln() - sp.ln());
                    (s.ln() + (target.ln() - f.ln()) / slope).exp()
                }
                _ => s * (f / target).powi(2),
            };
            if !(s_new > 0.05 && s_new < 20.0) {
                return Err(Error::input(
                    src,
                    "capacitance_f",
                    format!("the co-simulated tuning needs the capacitors scaled by {s_new:.3} from the circuit model, outside 0.05-20"),
                    "check the coil's dimensions and Larmor frequency",
                ));
            }
            prev = Some((s, f));
            s = s_new;
            f = mode(s)?;
            iterations += 1;
        }
    }
    let rel_error = (f - target) / target;
    if (auto_rung || auto_ring) && rel_error.abs() > 10.0 * tol {
        return Err(Error::input(
            src,
            "capacitance_f",
            format!(
                "the co-simulated tuning of the \"auto\" capacitors leaves the mode at {:.4} MHz for a target of {:.4} MHz after {iterations} steps: no capacitor value puts it at Larmor",
                f / 1e6,
                target / 1e6
            ),
            "check the coil's dimensions and freq_hz, and the fixed capacitors next to the \"auto\" ones",
        ));
    }
    let circ = circuit_at(s);
    let t = CosimTuning {
        target_hz: target,
        rung_capacitance_f: start.rung_f.map(|c| if auto_rung { c * s } else { c }),
        ring_capacitance_f: start.ring_f.map(|c| if auto_ring { c * s } else { c }),
        circuit_model_rung_f: start.rung_f,
        circuit_model_ring_f: start.ring_f,
        homogeneous_hz: f,
        rel_error,
        iterations,
    };
    Ok((circ, t))
}

/// What a feed sees (at Larmor, with the other feeds terminated by their source impedance).
#[derive(Clone, Debug, Serialize)]
pub struct FeedReport {
    pub port: usize,
    pub input_impedance_re_ohm: f64,
    pub input_impedance_im_ohm: f64,
    pub s11_db: f64,
}

/// Input impedance and reflection of each feed driven alone.
pub fn feed_reports(coil: &CoilConfig, pb: &PortBasis, circ: &Circuit) -> Result<Vec<FeedReport>> {
    (0..coil.ports.len())
        .map(|p| {
            let mut emf = vec![Complex64::default(); coil.ports.len()];
            emf[p] = Complex64::new(1.0, 0.0);
            let s = pb.solve(circ, &emf)?;
            let (v, i) = s.feed_vi[p];
            let zin = v / i;
            let r0 = coil.ports[p].impedance_ohm;
            let s11 = (zin - r0) / (zin + r0);
            Ok(FeedReport {
                port: p,
                input_impedance_re_ohm: zin.re,
                input_impedance_im_ohm: zin.im,
                s11_db: 20.0 * s11.norm().max(1e-12).log10(),
            })
        })
        .collect()
}

/// B1+ (T) over the field box for feed EMFs `emf` with circuit `circ`.
pub fn b1_plus_of(pb: &PortBasis, circ: &Circuit, emf: &[Complex64]) -> Result<RegularField<Complex32>> {
    let s = pb.solve(circ, emf)?;
    let (_, h) = pb.fields(&s.i);
    b1_plus(&h)
}

/// A CW simulation of the same coil with the circuit `circ` built in (capacitors as lumped
/// capacitors, feeds as sources with their source impedance: in their own gap a voltage source in
/// series with it, across a capacitor a Norton source in parallel with the capacitor) and EMFs
/// `emf` (V) at `freq_hz`: the direct FDTD run the co-simulation must reproduce.
pub fn direct_spec(mesh: &BirdcageMesh, pb: &PortBasis, circ: &Circuit, emf: &[Complex64]) -> Result<SimulationSpec> {
    let freq = pb.freq_hz;
    let mut spec = SimulationSpec::new(mesh.model.clone());
    spec.cell_key = ("coil model".into(), "cell_m (--cell-mm)".into());
    spec.boundaries = mesh.boundaries.clone();
    spec.courant = mesh.courant;
    spec.cw_freq_hz = Some(freq);
    spec.port_freqs_hz = vec![freq];
    let wave = |a: Complex64| Waveform::Cw {
        freq_hz: freq,
        amplitude: 1.0,
        phase_rad: a.arg(),
        ramp_periods: 3.0,
    };
    for (j, p) in pb.ports.iter().enumerate() {
        let (c, node) = p.edge;
        let e = p.feed.and_then(|f| emf.get(f).copied()).unwrap_or_default() * p.orient;
        let l = match (circ.capacitance_f[j], circ.source_ohm[j]) {
            (Some(cf), None) => LumpedSpec::capacitor(&p.name, c, node, cf),
            (None, Some(r)) => LumpedSpec::port(&p.name, c, node, r, e.norm(), wave(e)),
            (Some(cf), Some(r)) => {
                let mut l = LumpedSpec::capacitor(&p.name, c, node, cf);
                // Norton: V_s / R in parallel with 1/R; the element's current flows into the
                // structure, as the source's does.
                l.current = Some((e.norm() / r, wave(e)));
                l.parallel_g_s = 1.0 / r;
                l
            }
            (None, None) => continue,
        };
        spec.lumped.push(l);
    }
    Ok(spec)
}

// ---------------------------------------------------------------------------------------------
// Over the band (spectrum, S-parameters) and the checks of a computed port basis.
// ---------------------------------------------------------------------------------------------

impl PortBasis {
    /// Solves the circuit at band frequency `f` (an index into `band_hz`) for feed EMFs `emf` (V):
    /// as [`PortBasis::solve`], which is this at Larmor.
    pub fn solve_band(&self, circ: &Circuit, f: usize, emf: &[Complex64]) -> Result<CircuitSolution> {
        self.solve_with(circ, f, self.band_hz[f], emf)
    }

    /// `Z + Z_load` of circuit `circ` at band frequency `f` (`N x N`, row-major).
    pub fn loaded_matrix(&self, circ: &Circuit, f: usize) -> Vec<Complex64> {
        let n = self.n();
        let w = 2.0 * std::f64::consts::PI * self.band_hz[f];
        let mut a = self.z[f].clone();
        for j in 0..n {
            a[j * n + j] += circ.load(j, w).0;
        }
        a
    }

    /// Checks that the impedance matrix is usable: finite, reciprocal within `5 %` (a passive
    /// structure's is symmetric; a larger asymmetry means ports the runs could not separate) and not
    /// singular at Larmor (two ports that the mesh joins with nothing between them carry the same
    /// current in every run). `src` names the coil file in the error.
    pub fn check(&self, src: &str) -> Result<()> {
        let n = self.n();
        let fix_cell =
            "use a finer --cell-mm (or move the ports apart) so that each lumped element has its own conductor path";
        for (f, z) in self.z.iter().enumerate() {
            if z.iter().any(|x| !x.re.is_finite() || !x.im.is_finite()) {
                return Err(Error::input(
                    src,
                    "ports",
                    format!(
                        "the co-simulated impedance matrix is not finite at {:.3} MHz",
                        self.band_hz[f] / 1e6
                    ),
                    fix_cell,
                ));
            }
        }
        let z = &self.z[self.i0];
        let scale = z.iter().map(|x| x.norm()).fold(0.0, f64::max);
        let mut worst = (0.0, 0, 0);
        for r in 0..n {
            for c in r + 1..n {
                let d = (z[r * n + c] - z[c * n + r]).norm() / scale.max(f64::MIN_POSITIVE);
                if d > worst.0 {
                    worst = (d, r, c);
                }
            }
        }
        if worst.0 > 0.05 {
            return Err(Error::input(
                src,
                "ports",
                format!(
                    "the co-simulated impedance matrix is not reciprocal at Larmor: Z[{a},{b}] and Z[{b},{a}] ({}, {}) differ by {:.0} % of its largest entry",
                    self.ports[worst.1].name,
                    self.ports[worst.2].name,
                    worst.0 * 100.0,
                    a = worst.1,
                    b = worst.2
                ),
                "the port runs did not decay or the ports are too close to be told apart: raise the runs' max_periods or use a finer --cell-mm",
            ));
        }
        let cond = complex_condition(z, n);
        if !(cond < 1e10) {
            // The pair of ports whose rows are most nearly parallel.
            let row = |r: usize| &z[r * n..(r + 1) * n];
            let mut best = (0.0, 0, 0);
            for a in 0..n {
                for b in a + 1..n {
                    let dot: Complex64 = row(a).iter().zip(row(b)).map(|(x, y)| x * y.conj()).sum();
                    let na: f64 = row(a).iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
                    let nb: f64 = row(b).iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
                    let c = dot.norm() / (na * nb).max(f64::MIN_POSITIVE);
                    if c > best.0 {
                        best = (c, a, b);
                    }
                }
            }
            return Err(Error::input(
                src,
                "ports",
                format!(
                    "the co-simulated impedance matrix is singular at Larmor (condition {cond:.1e}): ports {} and {} act as one lumped element on this grid",
                    self.ports[best.1].name, self.ports[best.2].name
                ),
                fix_cell,
            ));
        }
        Ok(())
    }
}
