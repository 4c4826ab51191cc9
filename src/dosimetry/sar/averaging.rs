//! The fast mass-averaging solver (IEC/IEEE 62704-1 rules, see the module documentation).

use super::*;

// ---------------------------------------------------------------------------------------------------
// Fast cube solver.

/// A cube of the target mass: its edge, axis pieces and the resulting weighted sums.
pub(super) struct SolvedCube {
    /// `[mass, power, tissue volume]` weighted by the cut fractions.
    pub(super) sums: [f64; 3],
    /// Cut fraction per axis at the solved edge.
    pub(super) f: [f64; 3],
    pub(super) segs: [AxisSeg; 3],
    pub(super) edge_m: f64,
}

impl SolvedCube {
    /// Range of voxels with positive weight along axis `a`.
    pub(super) fn positive(&self, a: usize) -> Range {
        if self.f[a] > 0.0 {
            self.segs[a].outer
        } else {
            self.segs[a].inner
        }
    }
    /// Range of fully covered voxels along axis `a`.
    pub(super) fn full(&self, a: usize) -> Range {
        if self.f[a] >= 1.0 {
            self.segs[a].outer
        } else {
            self.segs[a].inner
        }
    }
    /// In-domain cube volume (m^3).
    pub(super) fn volume_in_domain(&self, dims: [usize; 3], d: [f64; 3]) -> f64 {
        (0..3)
            .map(|a| {
                let s = &self.segs[a];
                ((1.0 - self.f[a]) * range_len_in(s.inner, dims[a]) + self.f[a] * range_len_in(s.outer, dims[a])) * d[a]
            })
            .product()
    }
}

pub(super) struct Averager<'a> {
    pub(super) svt: &'a Svt,
    pub(super) dims: [usize; 3],
    pub(super) d: [f64; 3],
}

impl Averager<'_> {
    pub(super) fn segs(&self, spec: &CubeSpec, l: f64, above: bool) -> [AxisSeg; 3] {
        std::array::from_fn(|a| axis_seg(spec.modes[a], spec.c[a], self.d[a], l, above))
    }

    /// The 8 box sums `[choice_x][choice_y][choice_z]` (0 = inner, 1 = outer).
    pub(super) fn boxes(&self, segs: &[AxisSeg; 3]) -> [[f64; 3]; 8] {
        let mut out = [[0.0; 3]; 8];
        for (n, o) in out.iter_mut().enumerate() {
            let r: [Range; 3] = std::array::from_fn(|a| {
                if (n >> (2 - a)) & 1 == 0 {
                    segs[a].inner
                } else {
                    segs[a].outer
                }
            });
            if r.iter().any(|r| range_empty(*r)) {
                continue;
            }
            *o = self.svt.box_sum(r);
        }
        out
    }

    /// Mass as a cubic in the edge `L` on the segment: coefficients `[c0, c1, c2, c3]`.
    pub(super) fn mass_poly(segs: &[AxisSeg; 3], boxes: &[[f64; 3]; 8]) -> [f64; 4] {
        let mut poly = [0.0; 4];
        for (n, b) in boxes.iter().enumerate() {
            if b[0] == 0.0 {
                continue;
            }
            let mut acc = [b[0], 0.0, 0.0, 0.0];
            for a in 0..3 {
                let s = &segs[a];
                // inner coefficient (1 - f) = (1 - p) - q L ; outer coefficient f = p + q L
                let (c0, c1) = if (n >> (2 - a)) & 1 == 0 {
                    (1.0 - s.p, -s.q)
                } else {
                    (s.p, s.q)
                };
                let mut next = [0.0; 4];
                for k in 0..3 {
                    next[k] += acc[k] * c0;
                    next[k + 1] += acc[k] * c1;
                }
                acc = next;
            }
            for k in 0..4 {
                poly[k] += acc[k];
            }
        }
        poly
    }

    pub(super) fn eval(poly: &[f64; 4], l: f64) -> f64 {
        ((poly[3] * l + poly[2]) * l + poly[1]) * l + poly[0]
    }

    /// Weighted `[mass, power, tissue]` at edge `l` with fractions `f`.
    pub(super) fn weighted(boxes: &[[f64; 3]; 8], f: &[f64; 3]) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (n, b) in boxes.iter().enumerate() {
            let w: f64 = (0..3)
                .map(|a| if (n >> (2 - a)) & 1 == 0 { 1.0 - f[a] } else { f[a] })
                .product();
            if w != 0.0 {
                for c in 0..3 {
                    out[c] += w * b[c];
                }
            }
        }
        out
    }

    /// Grows the cube `spec` to `target` kg starting from edge `guess`; `None` if it cannot reach the
    /// target mass with an edge up to `cap`.
    pub(super) fn solve(&self, spec: &CubeSpec, target: f64, guess: f64, cap: f64) -> Option<SolvedCube> {
        let mut l = guess.min(cap);
        let mut above = true;
        let mut jumps = 0;
        // last walk across a breakpoint: (moved up?, breakpoint). Walking back across the same breakpoint
        // means the root is on it (the two neighbouring cubics round differently there).
        let mut last: Option<(bool, f64)> = None;
        let done = |segs: [AxisSeg; 3], boxes: &[[f64; 3]; 8], x: f64| {
            let f: [f64; 3] = std::array::from_fn(|ax| segs[ax].frac(x));
            SolvedCube {
                sums: Self::weighted(boxes, &f),
                f,
                segs,
                edge_m: x,
            }
        };
        for _ in 0..100_000 {
            let segs = self.segs(spec, l, above);
            let lo_b = segs.iter().map(|s| s.start).fold(0.0, f64::max);
            let hi_b = segs.iter().map(|s| s.next).fold(f64::INFINITY, f64::min).min(cap);
            let boxes = self.boxes(&segs);
            let poly = Self::mass_poly(&segs, &boxes);
            let m_lo = Self::eval(&poly, lo_b);
            let m_hi = Self::eval(&poly, hi_b);
            if target < m_lo {
                // root lies below this segment
                if last == Some((true, lo_b)) {
                    return Some(done(segs, &boxes, lo_b));
                }
                if jumps < 8 && m_lo > 1.2 * target {
                    jumps += 1;
                    l = lo_b * (target / m_lo).cbrt();
                    above = true;
                    last = None;
                } else {
                    l = lo_b;
                    above = false;
                    last = Some((false, lo_b));
                }
                continue;
            }
            if target > m_hi {
                if hi_b >= cap {
                    return (m_hi >= target * (1.0 - MASS_TOLERANCE)).then(|| done(segs, &boxes, cap));
                }
                if last == Some((false, hi_b)) {
                    return Some(done(segs, &boxes, hi_b));
                }
                if jumps < 8 && m_hi > 0.0 && m_hi < target / 1.2 {
                    jumps += 1;
                    l = (hi_b * (target / m_hi).cbrt()).min(cap);
                    above = l < cap;
                    last = None;
                } else {
                    l = hi_b;
                    above = true;
                    last = Some((true, hi_b));
                }
                continue;
            }
            // root in [lo_b, hi_b]: safeguarded Newton on the cubic (monotone non-decreasing here)
            let (mut a, mut b) = (lo_b, hi_b);
            let mut x = if m_hi > m_lo {
                a + (target - m_lo) / (m_hi - m_lo) * (b - a)
            } else {
                a
            };
            for _ in 0..200 {
                let fx = Self::eval(&poly, x) - target;
                if fx == 0.0 {
                    break;
                }
                if fx < 0.0 {
                    a = x;
                } else {
                    b = x;
                }
                let dfx = (3.0 * poly[3] * x + 2.0 * poly[2]) * x + poly[1];
                let mut xn = if dfx > 0.0 { x - fx / dfx } else { f64::NAN };
                if !(xn > a && xn < b) {
                    xn = 0.5 * (a + b);
                }
                if (xn - x).abs() <= 1e-15 * x.abs() || b - a <= 1e-15 * b {
                    x = xn;
                    break;
                }
                x = xn;
            }
            return Some(done(segs, &boxes, x));
        }
        None
    }

    /// IEC/IEEE 62704-1 validity of a solved centred cube: inside the domain, tissue on every face,
    /// air fraction at most 10 %.
    pub(super) fn is_valid(&self, cube: &SolvedCube) -> bool {
        let pos: [Range; 3] = std::array::from_fn(|a| cube.positive(a));
        for a in 0..3 {
            if pos[a].0 < 0 || pos[a].1 > self.dims[a] as isize - 1 {
                return false;
            }
        }
        let vol = cube.volume_in_domain(self.dims, self.d);
        let air = vol - cube.sums[2];
        if air > MAX_AIR_FRACTION * vol {
            return false;
        }
        // No air voxel with positive weight -> every face layer is tissue.
        let dv = self.d[0] * self.d[1] * self.d[2];
        let w_min: f64 = cube.f.iter().map(|f| if *f > 0.0 { f.min(1.0) } else { 1.0 }).product();
        if air < 0.5 * w_min * dv {
            return true;
        }
        for a in 0..3 {
            for layer in [pos[a].0, pos[a].1] {
                let mut r = pos;
                r[a] = (layer, layer);
                // tissue volume is a multiple of dv: compare with dv / 2, not 0 (table differences round)
                if !(self.svt.box_sum(r)[2] > 0.5 * dv) {
                    return false;
                }
            }
        }
        true
    }

    /// Averaged SAR for an unused voxel from its six face-anchored cubes; `None` if none reaches the mass.
    pub(super) fn unused_sar(&self, c: [usize; 3], target: f64, rho: f64) -> Option<f64> {
        let mut cands: Vec<(f64, f64)> = Vec::with_capacity(6);
        for dir in 0..6 {
            let spec = CubeSpec::face(c, dir);
            let cap = edge_cap(&spec, self.dims, self.d);
            if let Some(cube) = self.solve(&spec, target, (target / rho).cbrt(), cap) {
                if cube.sums[0] > 0.0 {
                    cands.push((cube.volume_in_domain(self.dims, self.d), cube.sums[1] / cube.sums[0]));
                }
            }
        }
        let vmin = cands.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        cands
            .iter()
            .filter(|c| c.0 <= UNUSED_VOLUME_FACTOR * vmin)
            .map(|c| c.1)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))
    }
}

pub(super) fn check_mass(input: &SarInput, mass_kg: f64) -> Result<()> {
    if !(mass_kg > 0.0) || !mass_kg.is_finite() {
        return Err(Error::input(
            &input.source_name,
            "averaging_mass_kg",
            format!("averaging mass {mass_kg} kg is not positive"),
            "use 0.001 (1 g) or 0.01 (10 g)",
        ));
    }
    Ok(())
}

/// Running maximum over the window `[i - h, i + h]` of a lane (values outside are ignored).
pub(super) fn running_max(mut lane: ArrayViewMut1<f32>, h: usize, buf: &mut Vec<f32>) {
    let n = lane.len();
    if h == 0 || n == 0 {
        return;
    }
    buf.clear();
    buf.extend(lane.iter().copied());
    let mut dq: VecDeque<usize> = VecDeque::new();
    let mut next = 0usize; // next index to push
    for i in 0..n {
        let hi = (i + h).min(n - 1);
        while next <= hi {
            while let Some(&b) = dq.back() {
                if buf[b] <= buf[next] {
                    dq.pop_back();
                } else {
                    break;
                }
            }
            dq.push_back(next);
            next += 1;
        }
        while let Some(&f) = dq.front() {
            if f + h < i {
                dq.pop_front();
            } else {
                break;
            }
        }
        lane[i] = buf[*dq.front().unwrap()];
    }
}

/// Mass-averaged SAR over cubes of `mass_kg` (1e-3 for 1 g, 1e-2 for 10 g) following IEC/IEEE 62704-1
/// (see the module documentation for the rules and the method).
///
/// Errors: non-positive mass, empty phantom, or a phantom lighter than the averaging mass.
pub fn mass_averaged_sar(input: &SarInput, mass_kg: f64) -> Result<AveragedSar> {
    check_mass(input, mass_kg)?;
    let whole = whole_phantom_sar(input)?;
    if whole.total_mass_kg < mass_kg {
        return Err(Error::input(
            &input.source_name,
            "averaging_mass_kg",
            format!(
                "the phantom ({:.3e} kg) is lighter than the averaging mass ({mass_kg} kg)",
                whole.total_mass_kg
            ),
            "average over a smaller mass or use a larger phantom",
        ));
    }
    let dims = input.dims();
    // The averaging arrays (SAR, status, cube half-widths, used mass, slabs): ~40 B per voxel.
    crate::resources::check_bytes(
        &input.source_name,
        "grid",
        &format!("mass-averaged SAR on {} x {} x {} voxels", dims[0], dims[1], dims[2]),
        crate::resources::bytes_of(crate::resources::cells(dims), 40),
        |_| "use a coarser grid or a smaller field box".into(),
    )?;
    let d = input.grid.voxel_size_m;
    let svt = Svt::build(input);
    let av = Averager { svt: &svt, dims, d };
    let rho = &input.density_kg_per_m3;

    let (mut sar, mut status, half) = centred_pass(&av, rho, mass_kg);
    used_pass(&mut sar, &mut status, half);
    unused_pass(&av, rho, mass_kg, &mut sar, &mut status);
    Ok(finish(input, mass_kg, sar, status))
}

/// Counts and peak of a finished map (peak over valid and unused voxels; first in index order on ties).
pub(super) fn finish(input: &SarInput, mass_kg: f64, sar: Array3<f32>, status: Array3<u8>) -> AveragedSar {
    let mut counts = VoxelCounts::default();
    let mut best: Option<(f32, [usize; 3], u8)> = None;
    for ((i, j, k), st) in status.indexed_iter() {
        match VoxelStatus::from_u8(*st) {
            Some(VoxelStatus::Air) => counts.air += 1,
            Some(VoxelStatus::Valid) => counts.valid += 1,
            Some(VoxelStatus::Used) => counts.used += 1,
            Some(VoxelStatus::Unused) => counts.unused += 1,
            Some(VoxelStatus::Truncated) => counts.truncated += 1,
            _ => counts.unassigned += 1,
        }
        if *st == VoxelStatus::Valid as u8 || *st == VoxelStatus::Unused as u8 {
            let v = sar[[i, j, k]];
            if best.is_none_or(|b| v > b.0) {
                best = Some((v, [i, j, k], *st));
            }
        }
    }
    let (v, idx, st) = best.unwrap_or((0.0, [0, 0, 0], VoxelStatus::Air as u8));
    AveragedSar {
        mass_kg,
        sar_w_per_kg: sar,
        status,
        counts,
        peak: PeakSar {
            sar_w_per_kg: v as f64,
            index: idx,
            position_m: input.grid.centre_m(idx),
            status: VoxelStatus::from_u8(st).unwrap_or(VoxelStatus::Air),
        },
    }
}

/// Pass 1: centred cubes for every tissue voxel, plane by plane. Returns the SAR of valid centres,
/// the status and each valid cube's fully-covered half-widths (-1 where none).
#[allow(clippy::type_complexity)]
fn centred_pass(av: &Averager, rho: &Array3<f32>, mass_kg: f64) -> (Array3<f32>, Array3<u8>, Array3<[i32; 3]>) {
    let dims = av.dims;
    let d = av.d;
    let [nx, ny, nz] = dims;
    struct Plane {
        sar: Vec<f32>,
        status: Vec<u8>,
        half: Vec<[i32; 3]>,
    }
    let planes: Vec<Plane> = (0..nx)
        .into_par_iter()
        .map(|i| {
            let mut pl = Plane {
                sar: vec![0.0; ny * nz],
                status: vec![VoxelStatus::Air as u8; ny * nz],
                half: vec![[-1; 3]; ny * nz],
            };
            for j in 0..ny {
                let mut guess: Option<f64> = None;
                for k in 0..nz {
                    let r = rho[[i, j, k]] as f64;
                    if r <= 0.0 {
                        continue;
                    }
                    let at = j * nz + k;
                    pl.status[at] = VoxelStatus::Unused as u8; // until proven otherwise
                    let spec = CubeSpec::centred([i, j, k]);
                    let cap = edge_cap(&spec, dims, d);
                    let g = guess.unwrap_or_else(|| (mass_kg / r).cbrt());
                    match av.solve(&spec, mass_kg, g, cap) {
                        Some(cube) => {
                            guess = Some(cube.edge_m);
                            if av.is_valid(&cube) {
                                pl.status[at] = VoxelStatus::Valid as u8;
                                pl.sar[at] = (cube.sums[1] / cube.sums[0]) as f32;
                                pl.half[at] = std::array::from_fn(|a| {
                                    let f = cube.full(a);
                                    if range_empty(f) {
                                        -1
                                    } else {
                                        (f.1 - spec.c[a]) as i32
                                    }
                                });
                            }
                        }
                        None => guess = None,
                    }
                }
            }
            pl
        })
        .collect();
    let mut sar = Array3::<f32>::zeros(dims);
    let mut status = Array3::<u8>::zeros(dims);
    let mut half = Array3::<[i32; 3]>::from_elem(dims, [-1; 3]);
    for (i, pl) in planes.into_iter().enumerate() {
        sar.index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .unwrap()
            .copy_from_slice(&pl.sar);
        status
            .index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .unwrap()
            .copy_from_slice(&pl.status);
        half.index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .unwrap()
            .copy_from_slice(&pl.half);
    }

    (sar, status, half)
}

/// Pass 2: used voxels = largest average of the valid cubes fully containing them. Valid cubes are
/// grouped by their fully-covered half-widths; each group is a separable running maximum.
fn used_pass(sar: &mut Array3<f32>, status: &mut Array3<u8>, half: Array3<[i32; 3]>) {
    let dims = sar.dim().into();
    let dims: [usize; 3] = dims;
    let mut groups: BTreeMap<[i32; 3], ([usize; 3], [usize; 3])> = BTreeMap::new();
    for ((i, j, k), h) in half.indexed_iter() {
        if h.iter().all(|v| *v >= 0) {
            let e = groups.entry(*h).or_insert(([i, j, k], [i, j, k]));
            let p = [i, j, k];
            for a in 0..3 {
                e.0[a] = e.0[a].min(p[a]);
                e.1[a] = e.1[a].max(p[a]);
            }
        }
    }
    let mut used = Array3::<f32>::from_elem(dims, f32::NEG_INFINITY);
    for (h, (lo, hi)) in &groups {
        let hu = h.map(|v| v as usize);
        let lo2: [usize; 3] = std::array::from_fn(|a| lo[a].saturating_sub(hu[a]));
        let hi2: [usize; 3] = std::array::from_fn(|a| (hi[a] + hu[a]).min(dims[a] - 1));
        let region = s![lo2[0]..=hi2[0], lo2[1]..=hi2[1], lo2[2]..=hi2[2]];
        let mut m = Array3::<f32>::from_elem(
            (hi2[0] - lo2[0] + 1, hi2[1] - lo2[1] + 1, hi2[2] - lo2[2] + 1),
            f32::NEG_INFINITY,
        );
        Zip::from(&mut m)
            .and(half.slice(region))
            .and(sar.slice(region))
            .par_for_each(|m, hh, s| {
                if hh == h {
                    *m = *s;
                }
            });
        for a in 0..3 {
            Zip::from(m.lanes_mut(Axis(a))).par_for_each(|lane| {
                let mut buf = Vec::new();
                running_max(lane, hu[a], &mut buf);
            });
        }
        Zip::from(used.slice_mut(region))
            .and(&m)
            .par_for_each(|u, m| *u = u.max(*m));
    }
    drop(half);
    Zip::from(sar)
        .and(status)
        .and(&used)
        .par_for_each(|s, st, u| {
            if *st == VoxelStatus::Unused as u8 && *u > f32::NEG_INFINITY {
                *st = VoxelStatus::Used as u8;
                *s = *u;
            }
        });
    drop(used);

}

/// Pass 3: unused voxels from the six face-anchored cubes.
fn unused_pass(av: &Averager, rho: &Array3<f32>, mass_kg: f64, sar: &mut Array3<f32>, status: &mut Array3<u8>) {
    let unused: Vec<[usize; 3]> = status
        .indexed_iter()
        .filter(|(_, s)| **s == VoxelStatus::Unused as u8)
        .map(|((i, j, k), _)| [i, j, k])
        .collect();
    let vals: Vec<Option<f64>> = unused
        .par_iter()
        .map(|c| av.unused_sar(*c, mass_kg, rho[*c] as f64))
        .collect();
    for (c, v) in unused.iter().zip(vals) {
        match v {
            Some(v) => sar[*c] = v as f32,
            None => status[*c] = VoxelStatus::Unassigned as u8,
        }
    }
}
