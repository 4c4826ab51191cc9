//! Cube geometry along one axis and the summed-volume table of the fast averaging.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Cube geometry along one axis.

/// How a cube sits along one axis relative to its voxel `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AxisMode {
    /// Centred on the voxel centre.
    Centred,
    /// Low face on the voxel's low face, growing towards +axis.
    GrowUp,
    /// High face on the voxel's high face, growing towards -axis.
    GrowDown,
}

/// Inclusive index range, empty when `lo > hi`.
pub(super) type Range = (isize, isize);

/// One piece of the axis weight between two breakpoints: weight = `(1 - f) 1_inner + f 1_outer`,
/// `f = p + q L`, valid for `L` in `[start, next]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct AxisSeg {
    pub(super) inner: Range,
    pub(super) outer: Range,
    pub(super) p: f64,
    pub(super) q: f64,
    pub(super) start: f64,
    pub(super) next: f64,
}

impl AxisSeg {
    pub(super) fn frac(&self, l: f64) -> f64 {
        let f = (self.p + self.q * l).clamp(0.0, 1.0);
        if f < SNAP {
            0.0
        } else if f > 1.0 - SNAP {
            1.0
        } else {
            f
        }
    }
}

pub(super) fn seg_bounds(mode: AxisMode, n: isize, d: f64) -> (f64, f64) {
    match mode {
        AxisMode::Centred => (
            if n == 0 { 0.0 } else { (2 * n - 1) as f64 * d },
            (2 * n + 1) as f64 * d,
        ),
        _ => (n as f64 * d, (n + 1) as f64 * d),
    }
}

/// Segment of the axis weight containing edge `l`; on a breakpoint, `above` picks the segment starting there.
pub(super) fn axis_seg(mode: AxisMode, c: isize, d: f64, l: f64, above: bool) -> AxisSeg {
    let mut n = match mode {
        AxisMode::Centred => ((l / d + 1.0) / 2.0).floor().max(0.0) as isize,
        _ => (l / d).floor().max(0.0) as isize,
    };
    loop {
        let (s, e) = seg_bounds(mode, n, d);
        if n > 0 && (s > l || (!above && s >= l)) {
            n -= 1;
        } else if e < l || (above && e <= l) {
            n += 1;
        } else {
            break;
        }
    }
    let (start, next) = seg_bounds(mode, n, d);
    let (inner, outer, p, q) = match mode {
        AxisMode::Centred if n == 0 => ((c, c - 1), (c, c), 0.0, 1.0 / d),
        AxisMode::Centred => (
            (c - n + 1, c + n - 1),
            (c - n, c + n),
            -((2 * n - 1) as f64) / 2.0,
            1.0 / (2.0 * d),
        ),
        AxisMode::GrowUp => ((c, c + n - 1), (c, c + n), -(n as f64), 1.0 / d),
        AxisMode::GrowDown => ((c - n + 1, c), (c - n, c), -(n as f64), 1.0 / d),
    };
    AxisSeg {
        inner,
        outer,
        p,
        q,
        start,
        next,
    }
}

pub(super) fn range_len_in(r: Range, n: usize) -> f64 {
    let lo = r.0.max(0);
    let hi = r.1.min(n as isize - 1);
    if lo > hi {
        0.0
    } else {
        (hi - lo + 1) as f64
    }
}

pub(super) fn range_empty(r: Range) -> bool {
    r.0 > r.1
}

/// A cube to average over: anchor voxel and the mode along each axis.
#[derive(Clone, Copy, Debug)]
pub(super) struct CubeSpec {
    pub(super) c: [isize; 3],
    pub(super) modes: [AxisMode; 3],
}

impl CubeSpec {
    pub(super) fn centred(c: [usize; 3]) -> Self {
        Self {
            c: c.map(|v| v as isize),
            modes: [AxisMode::Centred; 3],
        }
    }
    /// Face-anchored cube `dir` in 0..6: axis `dir / 2`, growing up (even) or down (odd).
    pub(super) fn face(c: [usize; 3], dir: usize) -> Self {
        let mut modes = [AxisMode::Centred; 3];
        modes[dir / 2] = if dir.is_multiple_of(2) {
            AxisMode::GrowUp
        } else {
            AxisMode::GrowDown
        };
        Self {
            c: c.map(|v| v as isize),
            modes,
        }
    }
}

/// Largest edge for which the cube stays inside the domain (centred) or covers all of it (face cubes).
pub(super) fn edge_cap(spec: &CubeSpec, dims: [usize; 3], d: [f64; 3]) -> f64 {
    let centred = spec.modes.iter().all(|m| *m == AxisMode::Centred);
    let per_axis = (0..3).map(|a| {
        let c = spec.c[a];
        let n = dims[a] as isize;
        match spec.modes[a] {
            AxisMode::Centred if centred => (2 * c.min(n - 1 - c) + 1) as f64 * d[a],
            AxisMode::Centred => (2 * c.max(n - 1 - c) + 1) as f64 * d[a],
            AxisMode::GrowUp => (n - c) as f64 * d[a],
            AxisMode::GrowDown => (c + 1) as f64 * d[a],
        }
    });
    if centred {
        per_axis.fold(f64::INFINITY, f64::min)
    } else {
        per_axis.fold(0.0, f64::max)
    }
}

// ---------------------------------------------------------------------------------------------------
// Summed-volume table.

/// Summed-volume table of `[mass (kg), power (W), tissue volume (m^3)]`:
/// `S[i][j][k]` = sum over voxels `[0, i) x [0, j) x [0, k)`.
pub(super) struct Svt {
    pub(super) dims: [usize; 3],
    pub(super) ny1: usize,
    pub(super) nz1: usize,
    pub(super) data: Vec<[f64; 3]>,
}

impl Svt {
    pub(super) fn build(input: &SarInput) -> Self {
        let [nx, ny, nz] = input.dims();
        let (ny1, nz1) = (ny + 1, nz + 1);
        let plane = ny1 * nz1;
        let dv = input.grid.voxel_volume_m3();
        let mut data = vec![[0.0f64; 3]; (nx + 1) * plane];
        // Fill planes 1..=nx with the voxel values, prefix-summed along k then j (per plane, in parallel).
        data[plane..].par_chunks_mut(plane).enumerate().for_each(|(i, pl)| {
            let rho = input.density_kg_per_m3.index_axis(Axis(0), i);
            let pd = input.power_density_w_per_m3.index_axis(Axis(0), i);
            for j in 0..ny {
                let mut acc = [0.0f64; 3];
                for k in 0..nz {
                    let r = rho[[j, k]] as f64;
                    acc[0] += r * dv;
                    acc[1] += pd[[j, k]] as f64 * dv;
                    acc[2] += if r > 0.0 { dv } else { 0.0 };
                    pl[(j + 1) * nz1 + k + 1] = acc;
                }
            }
            for j in 1..=ny {
                for k in 0..nz1 {
                    let prev = pl[(j - 1) * nz1 + k];
                    let cur = &mut pl[j * nz1 + k];
                    for c in 0..3 {
                        cur[c] += prev[c];
                    }
                }
            }
        });
        // Prefix along i: sequential over planes, parallel within a plane (element-wise, fixed order).
        for i in 1..=nx {
            let (before, after) = data.split_at_mut(i * plane);
            let prev = &before[(i - 1) * plane..];
            after[..plane]
                .par_chunks_mut(nz1)
                .zip(prev.par_chunks(nz1))
                .for_each(|(cur, prev)| {
                    for (c, p) in cur.iter_mut().zip(prev) {
                        for q in 0..3 {
                            c[q] += p[q];
                        }
                    }
                });
        }
        Self {
            dims: [nx, ny, nz],
            ny1,
            nz1,
            data,
        }
    }

    #[inline]
    pub(super) fn at(&self, i: usize, j: usize, k: usize) -> &[f64; 3] {
        &self.data[(i * self.ny1 + j) * self.nz1 + k]
    }

    /// Sum over the inclusive voxel ranges, clamped to the domain; zero if empty.
    #[inline]
    pub(super) fn box_sum(&self, r: [Range; 3]) -> [f64; 3] {
        let mut lo = [0usize; 3];
        let mut hi = [0usize; 3];
        for a in 0..3 {
            let l = r[a].0.max(0);
            let h = r[a].1.min(self.dims[a] as isize - 1);
            if l > h {
                return [0.0; 3];
            }
            lo[a] = l as usize;
            hi[a] = h as usize + 1;
        }
        let (i0, j0, k0) = (lo[0], lo[1], lo[2]);
        let (i1, j1, k1) = (hi[0], hi[1], hi[2]);
        let mut out = [0.0; 3];
        let t = [
            (self.at(i1, j1, k1), 1.0),
            (self.at(i0, j1, k1), -1.0),
            (self.at(i1, j0, k1), -1.0),
            (self.at(i1, j1, k0), -1.0),
            (self.at(i0, j0, k1), 1.0),
            (self.at(i0, j1, k0), 1.0),
            (self.at(i1, j0, k0), 1.0),
            (self.at(i0, j0, k0), -1.0),
        ];
        for (v, s) in t {
            for c in 0..3 {
                out[c] += s * v[c];
            }
        }
        out
    }
}
