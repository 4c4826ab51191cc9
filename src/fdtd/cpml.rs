//! Convolutional PML (Roden & Gedney, Microw. Opt. Technol. Lett. 27, 2000; Taflove & Hagness,
//! *Computational Electrodynamics*, 3rd ed., sec. 7.9), as an extension.
//!
//! The core update applies the plain curl everywhere. Inside each slab this extension adds, for every
//! derivative along the slab's axis `a`, the stretched-coordinate correction
//! `cb [(1/kappa - 1) dH/da + psi]`, with `psi <- b psi + a_c dH/da` (and likewise for H). The
//! auxiliary `psi` arrays exist only inside the slabs. The stretching is material independent, so the
//! PML works in lossy media (gel); sigma_max is scaled by 1/sqrt(eps_r) of the medium at the face.

use std::ops::Range;

use super::extension::{Extension, StepCtx};
use super::fields::Fields;
use rayon::prelude::*;

use super::fields::Layout;
use super::operator::{Boundary, CpmlParams, EdgeCoef, Operator};
use crate::grid::EPS0;

/// Impedance of free space (Ohm).
const ETA0: f64 = 376.730_313_668;

struct Slab {
    /// Axis normal to the slab.
    a: usize,
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
    /// psi for (E_b, E_c, H_b, H_c), b = a+1, c = a+2.
    psi: [Vec<f32>; 4],
    /// Dims of the psi arrays for E and for H (slab length along a, n+1 elsewhere).
    dims_e: [usize; 3],
    dims_h: [usize; 3],
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
    let alpha = p.alpha_max_s_per_m * (1.0 - x);
    let b = (-(sigma / kappa + alpha) * dt / EPS0).exp();
    let a = if sigma > 0.0 { sigma / (sigma * kappa + kappa * kappa * alpha) * (b - 1.0) } else { 0.0 };
    (b as f32, a as f32, (1.0 / kappa - 1.0) as f32)
}

impl Cpml {
    /// Returns `None` when no face is a CPML.
    pub fn new(op: &Operator) -> Option<Self> {
        let n = op.layout.n;
        let mut slabs = Vec::new();
        for a in 0..3 {
            for side in 0..2 {
                let Boundary::Cpml(p) = &op.boundaries[a][side] else { continue };
                let l = p.layers;
                let d = op.d[a];
                let eps_r = op.face_eps_r[a][side];
                let (pe, ph) = if side == 0 { (1..l, 0..l) } else { (n[a] - l + 1..n[a], n[a] - l..n[a]) };
                let rho_e = |q: usize| if side == 0 { (l - q) as f64 * d } else { (q - (n[a] - l)) as f64 * d };
                let rho_h = |q: usize| if side == 0 { (l as f64 - q as f64 - 0.5) * d } else { (q as f64 + 0.5 - (n[a] - l) as f64) * d };
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
                let mut dims_e = [n[0] + 1, n[1] + 1, n[2] + 1];
                dims_e[a] = pe.len();
                let mut dims_h = [n[0] + 1, n[1] + 1, n[2] + 1];
                dims_h[a] = ph.len();
                let ne: usize = dims_e.iter().product();
                let nh: usize = dims_h.iter().product();
                slabs.push(Slab { a, pe, ph, be, ae, ke, bh, ah, kh, psi: [vec![0.0; ne], vec![0.0; ne], vec![0.0; nh], vec![0.0; nh]], dims_e, dims_h });
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

/// One CPML correction pass: for every point of `r` (absolute node ranges, `r[a]` inside the slab),
/// `diff = (src[idx + hi] - src[idx + hi - sa]) * inv`, `psi <- b psi + ac diff`,
/// `field += sign * scale * (kp diff + psi)`. Parallel over x-planes; per-point arithmetic only.
#[allow(clippy::too_many_arguments)]
fn correct(
    l: Layout,
    a: usize,
    field: &mut [f32],
    src: &[f32],
    psi: &mut [f32],
    dims: [usize; 3],
    r: [Range<usize>; 3],
    p0: usize,
    forward: bool,
    prof: (&[f32], &[f32], &[f32]),
    scale: Scale,
    sign: f32,
    inv: f32,
) {
    if r.iter().any(|x| x.is_empty()) {
        return;
    }
    let (sx, sy) = (l.sx, l.sy);
    let sa = l.stride(a);
    // Offsets of the two source samples relative to idx: E uses (idx, idx - sa), H uses (idx + sa, idx).
    let (o1, o0) = if forward { (sa as isize, 0isize) } else { (0, -(sa as isize)) };
    let psi_plane = dims[1] * dims[2];
    let psi_i0 = if a == 0 { p0 } else { 0 };
    let (b, ac, kp) = prof;
    let fchunks = field[r[0].start * sx..r[0].end * sx].par_chunks_mut(sx);
    let pchunks = psi[(r[0].start - psi_i0) * psi_plane..(r[0].end - psi_i0) * psi_plane].par_chunks_mut(psi_plane);
    fchunks.zip(pchunks).enumerate().for_each(|(ii, (fp, pp))| {
        let i = r[0].start + ii;
        for j in r[1].clone() {
            let k0 = r[2].start;
            let k1 = r[2].end;
            let n = k1 - k0;
            let g = (i * sx + j * sy + k0) as isize;
            let s1 = &src[(g + o1) as usize..(g + o1) as usize + n];
            let s0 = &src[(g + o0) as usize..(g + o0) as usize + n];
            let fl = &mut fp[j * sy + k0..j * sy + k1];
            let pj = if a == 1 { j - p0 } else { j };
            let pk0 = if a == 2 { k0 - p0 } else { k0 };
            let pl = &mut pp[pj * dims[2] + pk0..pj * dims[2] + pk0 + n];
            match (a, scale) {
                (2, _) => {
                    // Coefficients vary along k (the slab is along z).
                    let t0 = k0 - p0;
                    let (bb, aa, kk) = (&b[t0..t0 + n], &ac[t0..t0 + n], &kp[t0..t0 + n]);
                    for t in 0..n {
                        let d = (s1[t] - s0[t]) * inv;
                        pl[t] = bb[t] * pl[t] + aa[t] * d;
                        let m = match scale {
                            Scale::Edge { mat, table } => table[mat[g as usize + t] as usize].cb,
                            Scale::Const(c) => c,
                        };
                        fl[t] += sign * m * (kk[t] * d + pl[t]);
                    }
                }
                (_, scale) => {
                    let t = if a == 0 { i - p0 } else { j - p0 };
                    let (bb, aa, kk) = (b[t], ac[t], kp[t]);
                    let uniform = match scale {
                        Scale::Const(c) => Some(c),
                        Scale::Edge { mat, table } => {
                            let ml = &mat[g as usize..g as usize + n];
                            ml.iter().all(|x| *x == ml[0]).then(|| table[ml[0] as usize].cb)
                        }
                    };
                    if let Some(m) = uniform {
                        let c = sign * m;
                        for t in 0..n {
                            let d = (s1[t] - s0[t]) * inv;
                            pl[t] = bb * pl[t] + aa * d;
                            fl[t] += c * (kk * d + pl[t]);
                        }
                    } else if let Scale::Edge { mat, table } = scale {
                        let ml = &mat[g as usize..g as usize + n];
                        for t in 0..n {
                            let d = (s1[t] - s0[t]) * inv;
                            pl[t] = bb * pl[t] + aa * d;
                            fl[t] += sign * table[ml[t] as usize].cb * (kk * d + pl[t]);
                        }
                    }
                }
            }
        }
    });
}

impl Slab {
    fn post_e(&mut self, f: &mut Fields, op: &Operator) {
        let a = self.a;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let inv = (1.0 / op.d[a]) as f32;
        // (E component, H component, sign, psi slot): E_b gets -dH_c/da, E_c gets +dH_b/da.
        for (ce, chh, sign, slot) in [(b, c, -1.0f32, 0usize), (c, b, 1.0, 1)] {
            let mut r = op.e_active_range(ce);
            r[a] = r[a].start.max(self.pe.start)..r[a].end.min(self.pe.end);
            let scale = Scale::Edge { mat: &op.mat[ce], table: &op.table };
            let prof = (&self.be[..], &self.ae[..], &self.ke[..]);
            correct(op.layout, a, &mut f.e[ce], &f.h[chh], &mut self.psi[slot], self.dims_e, r, self.pe.start, false, prof, scale, sign, inv);
        }
    }

    fn post_h(&mut self, f: &mut Fields, op: &Operator) {
        let a = self.a;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let n = op.layout.n;
        let ch = (op.ch / op.d[a]) as f32;
        // H_b gets +dE_c/da, H_c gets -dE_b/da.
        for (chh, ce, sign, slot) in [(b, c, 1.0f32, 2usize), (c, b, -1.0, 3)] {
            // H component `chh` lives on nodes along chh, on cells along the other two axes.
            let mut r = [0..n[0], 0..n[1], 0..n[2]];
            r[chh] = 0..n[chh] + 1;
            r[a] = self.ph.clone();
            let prof = (&self.bh[..], &self.ah[..], &self.kh[..]);
            correct(op.layout, a, &mut f.h[chh], &f.e[ce], &mut self.psi[slot], self.dims_h, r, self.ph.start, true, prof, Scale::Const(ch), sign, 1.0);
        }
    }
}

impl Extension for Cpml {
    fn name(&self) -> &str {
        "cpml"
    }
    fn post_e(&mut self, f: &mut Fields, ctx: &StepCtx) {
        for s in &mut self.slabs {
            s.post_e(f, ctx.op);
        }
    }
    fn post_h(&mut self, f: &mut Fields, ctx: &StepCtx) {
        for s in &mut self.slabs {
            s.post_h(f, ctx.op);
        }
    }
    fn bytes(&self) -> usize {
        self.slabs.iter().map(|s| s.psi.iter().map(|p| p.len() * 4).sum::<usize>()).sum()
    }
}
