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
use super::operator::{Boundary, CpmlParams, Operator};
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

#[inline(always)]
fn local(q: [usize; 3], dims: [usize; 3]) -> usize {
    (q[0] * dims[1] + q[1]) * dims[2] + q[2]
}

impl Slab {
    fn post_e(&mut self, f: &mut Fields, op: &Operator) {
        let a = self.a;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let l = op.layout;
        let sa = l.stride(a);
        let inv = (1.0 / op.d[a]) as f32;
        // (E component, H component, sign, psi slot): E_b gets -dH_c/da, E_c gets +dH_b/da.
        for (ce, chh, sign, slot) in [(b, c, -1.0f32, 0usize), (c, b, 1.0, 1)] {
            let mut r = op.e_active_range(ce);
            r[a] = r[a].start.max(self.pe.start)..r[a].end.min(self.pe.end);
            let psi = &mut self.psi[slot];
            let h = &f.h[chh];
            let e = &mut f.e[ce];
            let mat = &op.mat[ce];
            for i in r[0].clone() {
                for j in r[1].clone() {
                    for k in r[2].clone() {
                        let p = [i, j, k];
                        let t = p[a] - self.pe.start;
                        let mut q = p;
                        q[a] = t;
                        let idx = l.idx(i, j, k);
                        let dh = (h[idx] - h[idx - sa]) * inv;
                        let ps = &mut psi[local(q, self.dims_e)];
                        *ps = self.be[t] * *ps + self.ae[t] * dh;
                        let cb = op.table[mat[idx] as usize].cb;
                        e[idx] += sign * cb * (self.ke[t] * dh + *ps);
                    }
                }
            }
        }
    }

    fn post_h(&mut self, f: &mut Fields, op: &Operator) {
        let a = self.a;
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let l = op.layout;
        let n = l.n;
        let sa = l.stride(a);
        let ch = (op.ch / op.d[a]) as f32;
        // H_b gets +dE_c/da, H_c gets -dE_b/da.
        for (chh, ce, sign, slot) in [(b, c, 1.0f32, 2usize), (c, b, -1.0, 3)] {
            // H component `chh` lives on nodes along chh, on cells along the other two axes.
            let mut r = [0..n[0], 0..n[1], 0..n[2]];
            r[chh] = 0..n[chh] + 1;
            r[a] = self.ph.clone();
            let psi = &mut self.psi[slot];
            let e = &f.e[ce];
            let h = &mut f.h[chh];
            for i in r[0].clone() {
                for j in r[1].clone() {
                    for k in r[2].clone() {
                        let p = [i, j, k];
                        let t = p[a] - self.ph.start;
                        let mut q = p;
                        q[a] = t;
                        let idx = l.idx(i, j, k);
                        let de = e[idx + sa] - e[idx];
                        let ps = &mut psi[local(q, self.dims_h)];
                        *ps = self.bh[t] * *ps + self.ah[t] * de;
                        h[idx] += sign * ch * (self.kh[t] * de + *ps);
                    }
                }
            }
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
