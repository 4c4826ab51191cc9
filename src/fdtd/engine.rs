//! The bare Yee update (openEMS's `Engine`): it knows nothing of boundaries, sources or probes.
//!
//! E: every interior E edge, `E <- ca E + cb curl H`, over run-length segments of equal material per
//! z-line, so the inner loop has constant coefficients and vectorises. H: `H <- H - dt/mu0 curl E`
//! (non-magnetic media). After a plane is updated, the plane hooks (PMC faces, CPML) run on it while
//! it is in cache.
//!
//! [`step_fused`] does both half-steps in one sweep over x-planes (a wavefront: E of plane i, then H
//! of plane i-1), so each field value crosses the memory bus about once per step instead of twice;
//! the planes are cut into a few contiguous chunks per thread and the H planes at chunk seams are
//! done after the sweep. [`update_e`] / [`update_h`] are the plain two-pass form. Every value is computed
//! by the same arithmetic whatever the thread count, so results are bit-identical on 1 or 2 threads.

use rayon::prelude::*;

use super::fields::{Fields, Window};
use super::operator::Operator;

/// Work that runs on one x-plane right after the engine updated it, while it is in cache
/// (PMC faces, CPML). Called in parallel for different planes; each call may touch only its own
/// plane of the updated field and its own per-plane state. The hooks of a step run on each plane
/// in the order of the list given to the engine (see [`super::extension`] for how to add one).
pub trait PlaneHook: Send + Sync {
    fn name(&self) -> &str;
    /// Heap bytes held.
    fn bytes(&self) -> usize {
        0
    }
    /// After the E update of plane `i`: `e` are the three E components of plane `i`; `h` holds at
    /// least H planes `i-1` and `i` (not yet advanced).
    fn e_plane(&self, op: &Operator, i: usize, e: &mut [&mut [f32]; 3], h: &Window);
    /// After the H update of plane `i`: `h` are the three H components of plane `i`; `e` holds at
    /// least E planes `i` and `i+1` (already advanced).
    fn h_plane(&self, op: &Operator, i: usize, h: &mut [&mut [f32]; 3], e: &Window);
}

/// A spacing factor of the curl: one value for the whole run (uniform along it), or one per k
/// (a graded z axis). Monomorphised, so the constant case compiles to the plain kernel.
trait Factor: Copy {
    fn at(self, t: usize) -> f32;
    /// The factor restricted to `n` values (a no-op for a constant).
    fn first(self, n: usize) -> Self;
}
impl Factor for f32 {
    #[inline(always)]
    fn at(self, _t: usize) -> f32 {
        self
    }
    #[inline(always)]
    fn first(self, _n: usize) -> Self {
        self
    }
}
impl Factor for &[f32] {
    #[inline(always)]
    fn at(self, t: usize) -> f32 {
        self[t]
    }
    #[inline(always)]
    fn first(self, n: usize) -> Self {
        &self[..n]
    }
}

/// `e = ca e + cb ((a1 - a0) ia - (b1 - b0) ib)` over equal-length slices.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn kern_e<A: Factor, B: Factor>(
    e: &mut [f32],
    a1: &[f32],
    a0: &[f32],
    b1: &[f32],
    b0: &[f32],
    ca: f32,
    cb: f32,
    ia: A,
    ib: B,
) {
    let n = e.len();
    let (a1, a0, b1, b0) = (&a1[..n], &a0[..n], &b1[..n], &b0[..n]);
    let (ia, ib) = (ia.first(n), ib.first(n));
    for t in 0..n {
        e[t] = ca * e[t] + cb * ((a1[t] - a0[t]) * ia.at(t) - (b1[t] - b0[t]) * ib.at(t));
    }
}

/// `h -= (a1 - a0) ca - (b1 - b0) cb` over equal-length slices (ca, cb include dt/mu0/d).
#[inline(always)]
fn kern_h<A: Factor, B: Factor>(h: &mut [f32], a1: &[f32], a0: &[f32], b1: &[f32], b0: &[f32], ca: A, cb: B) {
    let n = h.len();
    let (a1, a0, b1, b0) = (&a1[..n], &a0[..n], &b1[..n], &b0[..n]);
    let (ca, cb) = (ca.first(n), cb.first(n));
    for t in 0..n {
        h[t] -= (a1[t] - a0[t]) * ca.at(t) - (b1[t] - b0[t]) * cb.at(t);
    }
}

/// E update of plane `i` (the three E planes in `pe`), then the hooks.
fn e_plane(op: &Operator, i: usize, pe: &mut [&mut [f32]; 3], h: &Window, hooks: &[Box<dyn PlaneHook>]) {
    if op.graded_z_kernels {
        e_plane_core(op, i, pe, h, |k0, k1| &op.inv_dd[2][k0..k1]);
    } else {
        let inv_z = op.inv_dd[2][0];
        e_plane_core(op, i, pe, h, |_, _| inv_z);
    }
    for hk in hooks {
        hk.e_plane(op, i, pe, h);
    }
}

/// The E update of plane `i`; `inv_z(k0, k1)` gives 1/dual-spacing along z for edges `k0..k1`.
#[inline(always)]
fn e_plane_core<'a, Z: Factor>(
    op: &'a Operator,
    i: usize,
    pe: &mut [&mut [f32]; 3],
    h: &Window,
    inv_z: impl Fn(usize, usize) -> Z,
) {
    let l = op.layout;
    let [_, ny, _] = l.n;
    let (sx, sy) = (l.sx, l.sy);
    let inv_x = op.inv_dd[0][i];
    let [hx, hy, hz] = h.c;
    let segs = &op.segments;
    let p = i * sx - h.base;
    for j in 0..=ny {
        let line = i * (ny + 1) + j;
        let o = j * sy;
        let g = p + o;
        let inv_y = op.inv_dd[1][j];
        // Ex: dHz/dy - dHy/dz
        for s in segs[0].line(line) {
            let (k0, k1) = (s.k0 as usize, s.k1 as usize);
            kern_e(
                &mut pe[0][o + k0..o + k1],
                &hz[g + k0..g + k1],
                &hz[g - sy + k0..g - sy + k1],
                &hy[g + k0..g + k1],
                &hy[g + k0 - 1..g + k1 - 1],
                s.ca,
                s.cb,
                inv_y,
                inv_z(k0, k1),
            );
        }
        // Ey: dHx/dz - dHz/dx
        for s in segs[1].line(line) {
            let (k0, k1) = (s.k0 as usize, s.k1 as usize);
            kern_e(
                &mut pe[1][o + k0..o + k1],
                &hx[g + k0..g + k1],
                &hx[g + k0 - 1..g + k1 - 1],
                &hz[g + k0..g + k1],
                &hz[g - sx + k0..g - sx + k1],
                s.ca,
                s.cb,
                inv_z(k0, k1),
                inv_x,
            );
        }
        // Ez: dHy/dx - dHx/dy
        for s in segs[2].line(line) {
            let (k0, k1) = (s.k0 as usize, s.k1 as usize);
            kern_e(
                &mut pe[2][o + k0..o + k1],
                &hy[g + k0..g + k1],
                &hy[g - sx + k0..g - sx + k1],
                &hx[g + k0..g + k1],
                &hx[g - sy + k0..g - sy + k1],
                s.ca,
                s.cb,
                inv_x,
                inv_y,
            );
        }
    }
}

/// H update of plane `i` (the three H planes in `ph`), then the hooks.
fn h_plane(op: &Operator, i: usize, ph: &mut [&mut [f32]; 3], e: &Window, hooks: &[Box<dyn PlaneHook>]) {
    if op.graded_z_kernels {
        h_plane_core(op, i, ph, e, &op.ch_dp[2][..]);
    } else {
        h_plane_core(op, i, ph, e, op.ch_dp[2][0]);
    }
    for hk in hooks {
        hk.h_plane(op, i, ph, e);
    }
}

/// The H update of plane `i`; `c_z` is dt/(mu0 dz) per cell along z (or one value).
#[inline(always)]
fn h_plane_core<Z: Factor>(op: &Operator, i: usize, ph: &mut [&mut [f32]; 3], e: &Window, c_z: Z) {
    let l = op.layout;
    let [nx, ny, nz] = l.n;
    let (sx, sy) = (l.sx, l.sy);
    // Along x only planes i < nx difference E across a cell (Hy, Hz); plane nx has Hx alone.
    let c_x = op.ch_dp[0][i.min(nx - 1)];
    let [ex, ey, ez] = e.c;
    let p = i * sx - e.base;
    for j in 0..=ny {
        let o = j * sy;
        let g = p + o;
        let c_y = op.ch_dp[1][j.min(ny - 1)];
        // Hx (i in 0..=nx, j < ny, k < nz): dEz/dy - dEy/dz
        if j < ny {
            kern_h(
                &mut ph[0][o..o + nz],
                &ez[g + sy..g + sy + nz],
                &ez[g..g + nz],
                &ey[g + 1..g + 1 + nz],
                &ey[g..g + nz],
                c_y,
                c_z,
            );
        }
        if i < nx {
            // Hy (i < nx, j in 0..=ny, k < nz): dEx/dz - dEz/dx
            kern_h(
                &mut ph[1][o..o + nz],
                &ex[g + 1..g + 1 + nz],
                &ex[g..g + nz],
                &ez[g + sx..g + sx + nz],
                &ez[g..g + nz],
                c_z,
                c_x,
            );
            // Hz (i < nx, j < ny, k in 0..=nz): dEy/dx - dEx/dy
            if j < ny {
                kern_h(
                    &mut ph[2][o..o + nz + 1],
                    &ey[g + sx..g + sx + nz + 1],
                    &ey[g..g + nz + 1],
                    &ex[g + sy..g + sy + nz + 1],
                    &ex[g..g + nz + 1],
                    c_x,
                    c_y,
                );
            }
        }
    }
}

/// Flush-to-zero and denormals-are-zero for this thread's SSE/AVX arithmetic (MXCSR bits 15 and 6),
/// set once per thread. In the band ahead of a wavefront the f32 fields pass through subnormal values,
/// which some CPUs handle ~100x slower: measured on a 2-vCPU Xeon, the bench box's sweep fell from
/// ~450 to ~50 Mcells/s while a front crossed it (`examples/ftz_probe.rs`). Flushing changes only
/// values below 1.2e-38 (f32) and 2.2e-308 (f64); every thread that steps a simulation flushes alike,
/// so results stay bit-identical on 1 or 2 threads.
pub fn flush_subnormals() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|d| {
        if !d.get() {
            #[cfg(target_arch = "x86_64")]
            #[allow(deprecated)]
            // SAFETY: setting the FTZ/DAZ bits of MXCSR only changes how subnormal results and
            // operands are treated on this thread; it has no memory effects.
            unsafe {
                use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
                _mm_setcsr(_mm_getcsr() | 0x8040);
            }
            d.set(true);
        }
    });
}

/// One E update of every plane (two-pass form), with the plane hooks.
pub fn update_e(op: &Operator, f: &mut Fields, hooks: &[Box<dyn PlaneHook>]) {
    let sx = op.layout.sx;
    let h = Window {
        base: 0,
        c: [&f.h[0], &f.h[1], &f.h[2]],
    };
    let [ex, ey, ez] = &mut f.e;
    ex.par_chunks_mut(sx)
        .zip(ey.par_chunks_mut(sx))
        .zip(ez.par_chunks_mut(sx))
        .enumerate()
        .for_each(|(i, ((a, b), c))| {
            flush_subnormals();
            e_plane(op, i, &mut [a, b, c], &h, hooks);
        });
}

/// One H update of every plane (two-pass form), with the plane hooks.
pub fn update_h(op: &Operator, f: &mut Fields, hooks: &[Box<dyn PlaneHook>]) {
    let sx = op.layout.sx;
    let e = Window {
        base: 0,
        c: [&f.e[0], &f.e[1], &f.e[2]],
    };
    let [hx, hy, hz] = &mut f.h;
    hx.par_chunks_mut(sx)
        .zip(hy.par_chunks_mut(sx))
        .zip(hz.par_chunks_mut(sx))
        .enumerate()
        .for_each(|(i, ((a, b), c))| {
            flush_subnormals();
            h_plane(op, i, &mut [a, b, c], &e, hooks);
        });
}

/// Raw pointers to the six field arrays, shared by the threads of one fused step. Each thread
/// creates references only to the planes the wavefront schedule gives it (see [`step_fused`]).
#[derive(Clone, Copy)]
struct RawFields {
    e: [*mut f32; 3],
    h: [*mut f32; 3],
    len: usize,
}
// SAFETY: the pointers are only dereferenced through `plane_mut` / `window`, under the schedule of
// `step_fused`, which never lets two threads touch the same plane while one of them writes it.
unsafe impl Send for RawFields {}
unsafe impl Sync for RawFields {}

impl RawFields {
    /// # Safety
    /// No other reference to plane `i` of these arrays may exist while the result lives.
    unsafe fn plane_mut<'a>(&self, arrays: [*mut f32; 3], i: usize, sx: usize) -> [&'a mut [f32]; 3] {
        debug_assert!((i + 1) * sx <= self.len);
        arrays.map(|p| std::slice::from_raw_parts_mut(p.add(i * sx), sx))
    }
    /// # Safety
    /// No mutable reference to planes `i0..=i1` of these arrays may exist while the result lives.
    unsafe fn window<'a>(&self, arrays: [*mut f32; 3], i0: usize, i1: usize, sx: usize) -> Window<'a> {
        debug_assert!((i1 + 1) * sx <= self.len);
        Window {
            base: i0 * sx,
            c: arrays.map(|p| &*std::ptr::slice_from_raw_parts(p.add(i0 * sx) as *const f32, (i1 + 1 - i0) * sx)),
        }
    }
}

/// One full step, E then H, in a single wavefront sweep over x-planes.
///
/// Planes `0..=nx` are cut into contiguous chunks (a few per thread). In phase 1 each task walks its
/// chunk `[s, e)`: E of plane `i`, then H of plane `i-1` (for `i > s`); the last chunk also does H of
/// its last plane. E of plane `i` reads H planes `i-1, i` — not yet advanced, because the H plane
/// `s-1` at a seam is left for phase 2 and the chunk's own H planes are advanced only after. H of
/// plane `i-1` reads E planes `i-1, i`, both already advanced by the same task. In phase 2 the
/// seam planes `s-1` get their H update. No plane is written by one task while another reads it.
pub fn step_fused(op: &Operator, f: &mut Fields, hooks: &[Box<dyn PlaneHook>]) {
    let l = op.layout;
    let sx = l.sx;
    let planes = l.n[0] + 1;
    // A few chunks per thread, so work stealing evens out a thread that is slowed down.
    let chunks = (4 * rayon::current_num_threads()).clamp(1, (planes / 8).max(1));
    // Chunk t covers planes [start(t), start(t+1)) (computed, not stored: no allocation per step).
    let start = |t: usize| t * planes / chunks;
    let raw = RawFields {
        e: [f.e[0].as_mut_ptr(), f.e[1].as_mut_ptr(), f.e[2].as_mut_ptr()],
        h: [f.h[0].as_mut_ptr(), f.h[1].as_mut_ptr(), f.h[2].as_mut_ptr()],
        len: l.len,
    };
    let last = l.n[0];
    let do_e = |i: usize| {
        // SAFETY: see the schedule above: plane i of E belongs to this thread; H planes i-1, i are
        // read-only during phase 1 for this thread's E updates.
        unsafe {
            let mut pe = raw.plane_mut(raw.e, i, sx);
            let h = raw.window(raw.h, i.saturating_sub(1), i, sx);
            e_plane(op, i, &mut pe, &h, hooks);
        }
    };
    let do_h = |i: usize| {
        // SAFETY: plane i of H is written only here; E planes i, i+1 are final and not written.
        unsafe {
            let mut ph = raw.plane_mut(raw.h, i, sx);
            let e = raw.window(raw.e, i, (i + 1).min(last), sx);
            h_plane(op, i, &mut ph, &e, hooks);
        }
    };
    (0..chunks).into_par_iter().for_each(|t| {
        flush_subnormals();
        let (s, e) = (start(t), start(t + 1));
        for i in s..e {
            do_e(i);
            if i > s {
                do_h(i - 1);
            }
        }
        if t == chunks - 1 {
            do_h(e - 1);
        }
    });
    (1..chunks).into_par_iter().for_each(|t| do_h(start(t) - 1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fdtd::{Boundary, Simulation, SimulationSpec};
    use crate::grid::{Grid, Material, Shape, VoxelModel};

    /// The fused E/H wavefront step must reproduce the plain two-pass update.
    #[test]
    fn fused_step_matches_two_pass() {
        let grid = Grid::uniform([0.0; 3], [0.005; 3], [30, 22, 26]).unwrap();
        let mut model = VoxelModel::new(grid, Material::vacuum()).unwrap();
        let gel = model.add_material(Material::astm_gel()).unwrap();
        model
            .fill(&Shape::boxed("gel", [0.04, 0.03, 0.03], [0.11, 0.08, 0.09]), gel)
            .unwrap();
        model.pec_wire([0.05, 0.05, 0.02], [0.05, 0.05, 0.1]).unwrap();
        let mut spec = SimulationSpec::new(model);
        spec.boundaries = [
            [Boundary::cpml(5), Boundary::Pmc],
            [Boundary::Pmc, Boundary::cpml(5)],
            [Boundary::cpml(5), Boundary::cpml(6)],
        ];
        let a = Simulation::new(spec.clone()).unwrap();
        let mut fa = a.fields.clone();
        // Pseudo-random initial fields.
        let mut s: u64 = 7;
        for v in fa.e.iter_mut().chain(fa.h.iter_mut()) {
            for x in v.iter_mut() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *x = ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
            }
        }
        let mut fb = fa.clone();
        let hooks_a = crate::fdtd::cpml::Cpml::new(&a.op).unwrap();
        let hooks_b = crate::fdtd::cpml::Cpml::new(&a.op).unwrap();
        let pmc_a = crate::fdtd::pmc::PmcFaces::new(&a.op).unwrap();
        let pmc_b = crate::fdtd::pmc::PmcFaces::new(&a.op).unwrap();
        let hooks_a: [Box<dyn PlaneHook>; 2] = [Box::new(pmc_a), Box::new(hooks_a)];
        let hooks_b: [Box<dyn PlaneHook>; 2] = [Box::new(pmc_b), Box::new(hooks_b)];
        for _ in 0..20 {
            update_e(&a.op, &mut fa, &hooks_a);
            update_h(&a.op, &mut fa, &hooks_a);
            step_fused(&a.op, &mut fb, &hooks_b);
        }
        let mut max_diff = 0.0f32;
        let mut max_val = 0.0f32;
        for (x, y) in fa.e.iter().chain(fa.h.iter()).zip(fb.e.iter().chain(fb.h.iter())) {
            for (p, q) in x.iter().zip(y) {
                max_diff = max_diff.max((p - q).abs());
                max_val = max_val.max(p.abs());
            }
        }
        assert!(max_val > 0.0);
        // Same arithmetic per value: identical results.
        assert_eq!(
            max_diff, 0.0,
            "fused and two-pass differ by {max_diff} (max |field| {max_val})"
        );
    }
}
