//! The bare Yee update (openEMS's `Engine`): it knows nothing of boundaries, sources or probes.
//!
//! E pass: every interior E edge, `E <- ca E + cb curl H`, run-length segments of equal material per
//! z-line so the inner loop has constant coefficients and vectorises. H pass: `H <- H - dt/mu0 curl E`
//! (non-magnetic media). Both passes run over x-planes with rayon; each value is computed by the same
//! arithmetic whatever the thread count, so results are bit-identical on 1 or 2 threads.

use rayon::prelude::*;

use super::fields::Fields;
use super::operator::Operator;

/// Work that runs on one x-plane right after the engine updated it, while it is in cache
/// (the CPML corrections). Called in parallel for different planes; each call may touch only
/// its own plane of the updated field and its own per-plane state.
pub trait PlaneHook: Sync {
    /// After the E update of plane `i`: `e` are the three E components of plane `i`, `h` all of H.
    fn e_plane(&self, op: &Operator, i: usize, e: &mut [&mut [f32]; 3], h: [&[f32]; 3]);
    /// After the H update of plane `i`: `h` are the three H components of plane `i`, `e` all of E.
    fn h_plane(&self, op: &Operator, i: usize, h: &mut [&mut [f32]; 3], e: [&[f32]; 3]);
}

/// `e = ca e + cb ((a1 - a0) ia - (b1 - b0) ib)` over equal-length slices.
#[inline(always)]
fn kern_e(e: &mut [f32], a1: &[f32], a0: &[f32], b1: &[f32], b0: &[f32], ca: f32, cb: f32, ia: f32, ib: f32) {
    let n = e.len();
    let (a1, a0, b1, b0) = (&a1[..n], &a0[..n], &b1[..n], &b0[..n]);
    for t in 0..n {
        e[t] = ca * e[t] + cb * ((a1[t] - a0[t]) * ia - (b1[t] - b0[t]) * ib);
    }
}

/// `h -= (a1 - a0) ca - (b1 - b0) cb` over equal-length slices (ca, cb include dt/mu0/d).
#[inline(always)]
fn kern_h(h: &mut [f32], a1: &[f32], a0: &[f32], b1: &[f32], b0: &[f32], ca: f32, cb: f32) {
    let n = h.len();
    let (a1, a0, b1, b0) = (&a1[..n], &a0[..n], &b1[..n], &b0[..n]);
    for t in 0..n {
        h[t] -= (a1[t] - a0[t]) * ca - (b1[t] - b0[t]) * cb;
    }
}

/// One E update of all interior edges, then the plane hooks of each plane.
pub fn update_e(op: &Operator, f: &mut Fields, hooks: &[&dyn PlaneHook]) {
    let l = op.layout;
    let [_, ny, _] = l.n;
    let (sx, sy) = (l.sx, l.sy);
    let inv = [(1.0 / op.d[0]) as f32, (1.0 / op.d[1]) as f32, (1.0 / op.d[2]) as f32];
    let [hx, hy, hz] = &f.h;
    let (hx, hy, hz) = (hx.as_slice(), hy.as_slice(), hz.as_slice());
    let [ex, ey, ez] = &mut f.e;
    let segs = &op.segments;
    ex.par_chunks_mut(sx).zip(ey.par_chunks_mut(sx)).zip(ez.par_chunks_mut(sx)).enumerate().for_each(|(i, ((pex, pey), pez))| {
        let p = i * sx;
        for j in 0..=ny {
            let line = i * (ny + 1) + j;
            let o = j * sy;
            // Ex: dHz/dy - dHy/dz
            for s in segs[0].line(line) {
                let (k0, k1) = (s.k0 as usize, s.k1 as usize);
                let g = p + o;
                kern_e(&mut pex[o + k0..o + k1], &hz[g + k0..g + k1], &hz[g - sy + k0..g - sy + k1], &hy[g + k0..g + k1], &hy[g + k0 - 1..g + k1 - 1], s.ca, s.cb, inv[1], inv[2]);
            }
            // Ey: dHx/dz - dHz/dx
            for s in segs[1].line(line) {
                let (k0, k1) = (s.k0 as usize, s.k1 as usize);
                let g = p + o;
                kern_e(&mut pey[o + k0..o + k1], &hx[g + k0..g + k1], &hx[g + k0 - 1..g + k1 - 1], &hz[g + k0..g + k1], &hz[g - sx + k0..g - sx + k1], s.ca, s.cb, inv[2], inv[0]);
            }
            // Ez: dHy/dx - dHx/dy
            for s in segs[2].line(line) {
                let (k0, k1) = (s.k0 as usize, s.k1 as usize);
                let g = p + o;
                kern_e(&mut pez[o + k0..o + k1], &hy[g + k0..g + k1], &hy[g - sx + k0..g - sx + k1], &hx[g + k0..g + k1], &hx[g - sy + k0..g - sy + k1], s.ca, s.cb, inv[0], inv[1]);
            }
        }
        let mut planes = [pex, pey, pez];
        for hk in hooks {
            hk.e_plane(op, i, &mut planes, [hx, hy, hz]);
        }
    });
}

/// One H update of all H components, then the plane hooks of each plane.
pub fn update_h(op: &Operator, f: &mut Fields, hooks: &[&dyn PlaneHook]) {
    let l = op.layout;
    let [nx, ny, nz] = l.n;
    let (sx, sy) = (l.sx, l.sy);
    let c = [(op.ch / op.d[0]) as f32, (op.ch / op.d[1]) as f32, (op.ch / op.d[2]) as f32];
    let [ex, ey, ez] = &f.e;
    let (ex, ey, ez) = (ex.as_slice(), ey.as_slice(), ez.as_slice());
    let [hx, hy, hz] = &mut f.h;
    hx.par_chunks_mut(sx).zip(hy.par_chunks_mut(sx)).zip(hz.par_chunks_mut(sx)).enumerate().for_each(|(i, ((phx, phy), phz))| {
        let p = i * sx;
        for j in 0..=ny {
            let o = j * sy;
            let g = p + o;
            // Hx (i in 0..=nx, j < ny, k < nz): dEz/dy - dEy/dz
            if j < ny {
                kern_h(&mut phx[o..o + nz], &ez[g + sy..g + sy + nz], &ez[g..g + nz], &ey[g + 1..g + 1 + nz], &ey[g..g + nz], c[1], c[2]);
            }
            if i < nx {
                // Hy (i < nx, j in 0..=ny, k < nz): dEx/dz - dEz/dx
                kern_h(&mut phy[o..o + nz], &ex[g + 1..g + 1 + nz], &ex[g..g + nz], &ez[g + sx..g + sx + nz], &ez[g..g + nz], c[2], c[0]);
                // Hz (i < nx, j < ny, k in 0..=nz): dEy/dx - dEx/dy
                if j < ny {
                    kern_h(&mut phz[o..o + nz + 1], &ey[g + sx..g + sx + nz + 1], &ey[g..g + nz + 1], &ex[g + sy..g + sy + nz + 1], &ex[g..g + nz + 1], c[0], c[1]);
                }
            }
        }
        let mut planes = [phx, phy, phz];
        for hk in hooks {
            hk.h_plane(op, i, &mut planes, [ex, ey, ez]);
        }
    });
}
