//! Convolutional PML (Roden & Gedney, Microw. Opt. Technol. Lett. 27, 2000; Taflove & Hagness,
//! *Computational Electrodynamics*, 3rd ed., sec. 7.9), as a plane hook of the update.
//!
//! The core update applies the plain curl everywhere. Inside each slab this extension adds, for every
//! derivative along the slab's axis `a`, the stretched-coordinate correction
//! `cb [(1/kappa - 1) dH/da + psi]`, with `psi <- b psi + a_c dH/da` (and likewise for H). The
//! auxiliary `psi` arrays exist only inside the slabs. The stretching is material independent, so the
//! PML works in lossy media (gel); sigma_max is scaled by 1/sqrt(eps_r) of the medium at the face.
//!
//! The corrections run plane by plane right after the engine has updated that x-plane, while the
//! plane is still in cache (a separate pass over z-slabs touches a few values per z-line and is
//! latency-bound). The psi state is stored per x-plane so planes can be corrected in parallel.

use std::ops::Range;
use std::sync::Mutex;

use super::engine::PlaneHook;
use super::fields::{Layout, Window};
use super::operator::{Boundary, CpmlParams, EdgeCoef, Operator};
use crate::grid::EPS0;

/// Impedance of free space (Ohm).
const ETA0: f64 = 376.730_313_668;

/// psi arrays of one slab within one x-plane: (E_b, E_c, H_b, H_c), b = a+1, c = a+2.
type PlanePsi = [Vec<f32>; 4];

struct Slab {
    /// Axis normal to the slab.
    a: usize,
    /// Cell size in the slab (m).
    d: f64,
    /// E nodes along `a` inside the slab (rho > 0).
    pe: Range<usize>,
    /// H nodes (half-integer positions p + 1/2) along `a` inside the slab.
    ph: Range<usize>,
    be: Vec<f32>,
    ae: Vec<f32>,
    ke: Vec<f32>,
    bh: Vec<f32>,
    ah: Vec<f32>,
    kh: Vec<f32>,
    /// First x-plane with state (x-slabs store only their own planes).
    plane0: usize,
    /// Per x-plane psi arrays.
    planes: Vec<Mutex<PlanePsi>>,
    /// Row length (along z) of the psi arrays for E and for H.
    d2_e: usize,
    d2_h: usize,
}

/// All CPML slabs of a simulation.
pub struct Cpml {
    slabs: Vec<Slab>,
}

fn profile(p: &CpmlParams, rho: f64, d: f64, eps_r: f64, dt: f64) -> (f32, f32, f32) {
    let delta = p.layers as f64 * d;
    let x = (rho / delta).clamp(0.0, 1.0);
    let sigma_max = p.sigma_factor * 0.8 * (p.grading_order + 1.0) / (ETA0 * d * eps_r.sqrt());
    let sigma = sigma_max * x.powf(p.grading_order);
    let kappa = 1.0 + (p.kappa_max - 1.0) * x.powf(p.grading_order);
    // CFS alpha is kept constant through the layer rather than graded to zero at the wall: with
    // floating conductors (birdcage rungs and rings) static fields reach the layer, and a CPML whose
    // alpha vanishes where sigma is largest grows slowly from them (seen here in long coil runs).
    let alpha = p.alpha_max_s_per_m;
    let b = (-(sigma / kappa + alpha) * dt / EPS0).exp();
    let a = if sigma > 0.0 {
        sigma / (sigma * kappa + kappa * kappa * alpha) * (b - 1.0)
    } else {
        0.0
    };
    (b as f32, a as f32, (1.0 / kappa - 1.0) as f32)
}

impl Cpml {
    /// Returns `None` when no face is a CPML.
    pub fn new(op: &Operator) -> Option<Self> {
        let n = op.layout.n;
        let mut slabs = Vec::new();
        for a in 0..3 {
            for side in 0..2 {
                let Boundary::Cpml(p) = &op.boundaries[a][side] else {
                    continue;
                };
                let l = p.layers;
                // The slab's cells (and a margin inside) are uniform: the operator refuses grids
                // graded there (`CPML_UNIFORM_MARGIN`).
                let d = if side == 0 { op.dp[a][0] } else { op.dp[a][n[a] - 1] };
                let eps_r = op.face_eps_r[a][side];
                let (pe, ph) = if side == 0 {
                    (1..l, 0..l)
                } else {
                    (n[a] - l + 1..n[a], n[a] - l..n[a])
                };
                let rho_e = |q: usize| {
                    if side == 0 {
                        (l - q) as f64 * d
                    } else {
                        (q - (n[a] - l)) as f64 * d
                    }
                };
                let rho_h = |q: usize| {
                    if side == 0 {
                        (l as f64 - q as f64 - 0.5) * d
                    } else {
                        (q as f64 + 0.5 - (n[a] - l) as f64) * d
                    }
                };
                let (mut be, mut ae, mut ke) = (vec![], vec![], vec![]);
                for q in pe.clone() {
                    let (b, aa, k) = profile(p, rho_e(q), d, eps_r, op.dt);
                    be.push(b);
                    ae.push(aa);
                    ke.push(k);
                }
                let (mut bh, mut ah, mut kh) = (vec![], vec![], vec![]);
                for q in ph.clone() {
                    let (b, aa, k) = profile(p, rho_h(q), d, eps_r, op.dt);
                    bh.push(b);
                    ah.push(aa);
                    kh.push(k);
                }
                // Per-plane psi sizes: rows along y times row length along z.
                let (rows_e, d2_e, rows_h, d2_h) = match a {
                    0 => (n[1] + 1, n[2] + 1, n[1] + 1, n[2] + 1),
                    1 => (pe.len(), n[2] + 1, ph.len(), n[2] + 1),
                    _ => (n[1] + 1, pe.len(), n[1] + 1, ph.len()),
                };
                let (plane0, nplanes) = if a == 0 {
                    (pe.start.min(ph.start), pe.end.max(ph.end) - pe.start.min(ph.start))
                } else {
                    (0, n[0] + 1)
                };
                let planes = (plane0..plane0 + nplanes)
                    .map(|i| {
                        let has_e = a != 0 || pe.contains(&i);
                        let has_h = a != 0 || ph.contains(&i);
                        let ne = if has_e { rows_e * d2_e } else { 0 };
                        let nh = if has_h { rows_h * d2_h } else { 0 };
                        Mutex::new([vec![0.0; ne], vec![0.0; ne], vec![0.0; nh], vec![0.0; nh]])
                    })
                    .collect();
                slabs.push(Slab {
                    a,
                    d,
                    pe,
                    ph,
                    be,
                    ae,
                    ke,
                    bh,
                    ah,
                    kh,
                    plane0,
                    planes,
                    d2_e,
                    d2_h,
                });
            }
        }
        if slabs.is_empty() {
            None
        } else {
            Some(Self { slabs })
        }
    }
}

/// How the correction is scaled: per-edge `cb` (E) or a constant `dt/(mu0 d)` (H).
#[derive(Clone, Copy)]
enum Scale<'a> {
    Edge { mat: &'a [u8], table: &'a [EdgeCoef] },
    Const(f32),
}

/// Everything one correction pass over one x-plane needs.
struct Pass<'a> {
    l: Layout,
    a: usize,
    i: usize,
    /// j and k ranges (absolute node indices); the one along `a` is inside the slab.
    rj: Range<usize>,
    rk: Range<usize>,
    /// Slab start along `a` (profile index origin).
    p0: usize,
    /// H uses (idx + sa, idx), E uses (idx, idx - sa).
    forward: bool,
    prof: (&'a [f32], &'a [f32], &'a [f32]),
    scale: Scale<'a>,
    sign: f32,
    inv: f32,
    d2: usize,
}

/// `diff = (src1 - src0) * inv`, `psi <- b psi + ac diff`, `field += sign scale (kp diff + psi)`
/// over one x-plane (`field` is that plane, `src` the whole source array).
fn correct_plane(p: &Pass, field: &mut [f32], src: &Window, comp: usize, psi: &mut [f32]) {
    if p.rj.is_empty() || p.rk.is_empty() {
        return;
    }
    let (sx, sy) = (p.l.sx, p.l.sy);
    let sa = p.l.stride(p.a);
    let (b, ac, kp) = p.prof;
    let (k0, k1) = (p.rk.start, p.rk.end);
    let n = k1 - k0;
    let ro = if p.a == 1 { p.p0 } else { 0 };
    let ko = if p.a == 2 { p.p0 } else { 0 };
    for j in p.rj.clone() {
        let g = p.i * sx + j * sy + k0;
        // E differences (idx) - (idx - sa); H differences (idx + sa) - (idx). g >= sa inside a slab.
        let (i1, i0) = if p.forward { (g + sa, g) } else { (g, g - sa) };
        let s1 = src.run(comp, i1, n);
        let s0 = src.run(comp, i0, n);
        let fl = &mut field[j * sy + k0..j * sy + k1];
        let pr = (j - ro) * p.d2 + (k0 - ko);
        let pl = &mut psi[pr..pr + n];
        let uniform = match p.scale {
            Scale::Const(c) => Some(c),
            Scale::Edge { mat, table } => {
                let ml = &mat[g..g + n];
                ml.iter().all(|x| *x == ml[0]).then(|| table[ml[0] as usize].cb)
            }
        };
        if p.a == 2 {
            // Coefficients vary along k.
            let t0 = k0 - p.p0;
            let (bb, aa, kk) = (&b[t0..t0 + n], &ac[t0..t0 + n], &kp[t0..t0 + n]);
            if let Some(m) = uniform {
                let c = p.sign * m;
                for t in 0..n {
                    let d = (s1[t] - s0[t]) * p.inv;
                    pl[t] = bb[t] * pl[t] + aa[t] * d;
                    fl[t] += c * (kk[t] * d + pl[t]);
                }
            } else if let Scale::Edge { mat, table } = p.scale {
                let ml = &mat[g..g + n];
                for t in 0..n {
                    let d = (s1[t] - s0[t]) * p.inv;
                    pl[t] = bb[t] * pl[t] + aa[t] * d;
                    fl[t] += p.sign * table[ml[t] as usize].cb * (kk[t] * d + pl[t]);
                }
            }
        } else {
            let t = if p.a == 0 { p.i - p.p0 } else { j - p.p0 };
            let (bb, aa, kk) = (b[t], ac[t], kp[t]);
            if let Some(m) = uniform {
                let c = p.sign * m;
                for t in 0..n {
                    let d = (s1[t] - s0[t]) * p.inv;
                    pl[t] = bb * pl[t] + aa * d;
                    fl[t] += c * (kk * d + pl[t]);
                }
            } else if let Scale::Edge { mat, table } = p.scale {
                let ml = &mat[g..g + n];
                for t in 0..n {
                    let d = (s1[t] - s0[t]) * p.inv;
                    pl[t] = bb * pl[t] + aa * d;
                    fl[t] += p.sign * table[ml[t] as usize].cb * (kk * d + pl[t]);
                }
            }
        }
    }
}

impl Slab {
    fn plane_state(&self, i: usize) -> Option<std::sync::MutexGuard<'_, PlanePsi>> {
        let t = i.checked_sub(self.plane0)?;
        self.planes.get(t).map(|m| m.lock().expect("cpml plane lock"))
    }

    fn e_plane(&self, op: &Operator, i: usize, e: &mut [&mut [f32]; 3], h: &Window) {
        let a = self.a;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let Some(mut st) = self.plane_state(i) else {
            return;
        };
        if st[0].is_empty() {
            return;
        }
        // (E component, H component, sign, psi slot): E_b gets -dH_c/da, E_c gets +dH_b/da.
        for (ce, chh, sign, slot) in [(b, c, -1.0f32, 0usize), (c, b, 1.0, 1)] {
            let mut r = op.e_active_range(ce);
            r[a] = r[a].start.max(self.pe.start)..r[a].end.min(self.pe.end);
            if !r[0].contains(&i) {
                continue;
            }
            let pass = Pass {
                l: op.layout,
                a,
                i,
                rj: r[1].clone(),
                rk: r[2].clone(),
                p0: self.pe.start,
                forward: false,
                prof: (&self.be, &self.ae, &self.ke),
                scale: Scale::Edge {
                    mat: &op.mat[ce],
                    table: &op.table,
                },
                sign,
                inv: (1.0 / self.d) as f32,
                d2: self.d2_e,
            };
            correct_plane(&pass, e[ce], h, chh, &mut st[slot]);
        }
    }

    fn h_plane(&self, op: &Operator, i: usize, h: &mut [&mut [f32]; 3], e: &Window) {
        let a = self.a;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let n = op.layout.n;
        let Some(mut st) = self.plane_state(i) else {
            return;
        };
        if st[2].is_empty() {
            return;
        }
        // H_b gets +dE_c/da, H_c gets -dE_b/da.
        for (chh, ce, sign, slot) in [(b, c, 1.0f32, 2usize), (c, b, -1.0, 3)] {
            // H component `chh` lives on nodes along chh, on cells along the other two axes.
            let mut r = [0..n[0], 0..n[1], 0..n[2]];
            r[chh] = 0..n[chh] + 1;
            r[a] = self.ph.clone();
            if !r[0].contains(&i) {
                continue;
            }
            let pass = Pass {
                l: op.layout,
                a,
                i,
                rj: r[1].clone(),
                rk: r[2].clone(),
                p0: self.ph.start,
                forward: true,
                prof: (&self.bh, &self.ah, &self.kh),
                scale: Scale::Const((op.ch / self.d) as f32),
                sign,
                inv: 1.0,
                d2: self.d2_h,
            };
            correct_plane(&pass, h[chh], e, ce, &mut st[slot]);
        }
    }
}

impl PlaneHook for Cpml {
    fn name(&self) -> &str {
        "cpml"
    }
    /// Heap bytes of the psi arrays.
    fn bytes(&self) -> usize {
        self.slabs
            .iter()
            .map(|s| {
                s.planes
                    .iter()
                    .map(|p| p.lock().unwrap().iter().map(|v| v.len() * 4).sum::<usize>())
                    .sum::<usize>()
            })
            .sum()
    }
    fn e_plane(&self, op: &Operator, i: usize, e: &mut [&mut [f32]; 3], h: &Window) {
        for s in &self.slabs {
            s.e_plane(op, i, e, h);
        }
    }
    fn h_plane(&self, op: &Operator, i: usize, h: &mut [&mut [f32]; 3], e: &Window) {
        for s in &self.slabs {
            s.h_plane(op, i, h, e);
        }
    }
}
