//! Brute-force reference implementation of the averaging, for validation on small grids only.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Brute-force reference.

/// Reference implementation of [`mass_averaged_sar`]: the same rules with explicit voxel loops, cut
/// fractions from interval overlaps and bisection on the cube edge (O(N * cube voxels * iterations)).
/// For validation on small grids only.
pub fn mass_averaged_sar_reference(input: &SarInput, mass_kg: f64) -> Result<AveragedSar> {
    check_mass(input, mass_kg)?;
    let whole = whole_phantom_sar(input)?;
    if whole.total_mass_kg < mass_kg {
        return Err(Error::input(
            &input.source_name,
            "averaging_mass_kg",
            "the phantom is lighter than the averaging mass",
            "average over a smaller mass",
        ));
    }
    let r = Reference::new(input, mass_kg);
    let (dims, d, rho) = (r.dims, r.d, r.rho);
    let interval = |mode, a, c, l| r.interval(mode, a, c, l);
    let solve = |spec: &CubeSpec| r.solve(spec);

    let mut sar = Array3::<f32>::zeros(dims);
    let mut status = Array3::<u8>::zeros(dims);
    let mut used = Array3::<f32>::from_elem(dims, f32::NEG_INFINITY);
    let mut valid_cubes = Vec::new();
    for ((i, j, k), r) in rho.indexed_iter() {
        if *r <= 0.0 {
            continue;
        }
        status[[i, j, k]] = VoxelStatus::Unused as u8;
        let spec = CubeSpec::centred([i, j, k]);
        let Some((l, w, s)) = solve(&spec) else { continue };
        // inside the domain: the continuous cube interval must not leave [0, N d] (beyond rounding)
        let inside = (0..3).all(|a| {
            let (x0, x1) = interval(AxisMode::Centred, a, [i, j, k][a], l);
            x0 >= -SNAP * d[a] && x1 <= (dims[a] as f64 + SNAP) * d[a]
        });
        if !inside || s[3] - s[2] > MAX_AIR_FRACTION * s[3] {
            continue;
        }
        // faces: the outermost positive-weight layer on each side holds tissue
        let mut faces_ok = true;
        for a in 0..3 {
            for layer in [w[a].first().unwrap().0, w[a].last().unwrap().0] {
                let mut any = false;
                for &(ii, _) in &w[0] {
                    for &(jj, _) in &w[1] {
                        for &(kk, _) in &w[2] {
                            if [ii, jj, kk][a] == layer && rho[[ii, jj, kk]] > 0.0 {
                                any = true;
                            }
                        }
                    }
                }
                faces_ok &= any;
            }
        }
        if !faces_ok {
            continue;
        }
        status[[i, j, k]] = VoxelStatus::Valid as u8;
        sar[[i, j, k]] = (s[1] / s[0]) as f32;
        valid_cubes.push((w, (s[1] / s[0]) as f32));
    }
    for (w, v) in &valid_cubes {
        for &(i, wi) in &w[0] {
            for &(j, wj) in &w[1] {
                for &(k, wk) in &w[2] {
                    if wi == 1.0 && wj == 1.0 && wk == 1.0 {
                        used[[i, j, k]] = used[[i, j, k]].max(*v);
                    }
                }
            }
        }
    }
    for (idx, st) in status.indexed_iter_mut() {
        if *st == VoxelStatus::Unused as u8 && used[idx] > f32::NEG_INFINITY {
            *st = VoxelStatus::Used as u8;
            sar[idx] = used[idx];
        }
    }
    let unused: Vec<[usize; 3]> = status
        .indexed_iter()
        .filter(|(_, s)| **s == VoxelStatus::Unused as u8)
        .map(|((i, j, k), _)| [i, j, k])
        .collect();
    for c in unused {
        let cands: Vec<(f64, f64)> = (0..6)
            .filter_map(|dir| solve(&CubeSpec::face(c, dir)))
            .filter(|(_, _, s)| s[0] > 0.0)
            .map(|(_, _, s)| (s[3], s[1] / s[0]))
            .collect();
        let vmin = cands.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        match cands
            .iter()
            .filter(|c| c.0 <= UNUSED_VOLUME_FACTOR * vmin)
            .map(|c| c.1)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))
        {
            Some(v) => sar[c] = v as f32,
            None => status[c] = VoxelStatus::Unassigned as u8,
        }
    }
    Ok(finish(input, mass_kg, sar, status))
}

type Weights = [Vec<(usize, f64)>; 3];

/// The reference's cube geometry and sums for one input and averaging mass.
struct Reference<'a> {
    dims: [usize; 3],
    d: [f64; 3],
    dv: f64,
    rho: &'a Array3<f32>,
    pd: &'a Array3<f32>,
    mass_kg: f64,
}

impl<'a> Reference<'a> {
    fn new(input: &'a SarInput, mass_kg: f64) -> Self {
        Self {
            dims: input.dims(),
            d: input.grid.voxel_size_m,
            dv: input.grid.voxel_volume_m3(),
            rho: &input.density_kg_per_m3,
            pd: &input.power_density_w_per_m3,
            mass_kg,
        }
    }

    /// Cube interval along axis a (in metres from the domain's low corner) for anchor c and edge l.
    fn interval(&self, mode: AxisMode, a: usize, c: usize, l: f64) -> (f64, f64) {
        let d = self.d;
        let lo_face = c as f64 * d[a];
        match mode {
            AxisMode::Centred => (lo_face + 0.5 * d[a] - 0.5 * l, lo_face + 0.5 * d[a] + 0.5 * l),
            AxisMode::GrowUp => (lo_face, lo_face + l),
            AxisMode::GrowDown => (lo_face + d[a] - l, lo_face + d[a]),
        }
    }

    /// In-domain voxel weights along each axis: (index, weight > 0); `snap` rounds near-0/1 fractions
    /// (for the final cube, not while solving for the edge, so the mass stays continuous in `l`).
    fn weights(&self, spec: &CubeSpec, l: f64, snap: bool) -> Weights {
        let (d, dims) = (self.d, self.dims);
        std::array::from_fn(|a| {
            let (x0, x1) = self.interval(spec.modes[a], a, spec.c[a] as usize, l);
            (0..dims[a])
                .filter_map(|o| {
                    let (v0, v1) = (o as f64 * d[a], (o + 1) as f64 * d[a]);
                    let mut w = ((x1.min(v1) - x0.max(v0)) / d[a]).clamp(0.0, 1.0);
                    if snap && w < SNAP {
                        w = 0.0;
                    } else if snap && w > 1.0 - SNAP {
                        w = 1.0;
                    }
                    (w > 0.0).then_some((o, w))
                })
                .collect()
        })
    }

    /// [mass, power, tissue volume, in-domain volume]
    fn sums(&self, w: &Weights) -> [f64; 4] {
        let (dv, rho, pd) = (self.dv, self.rho, self.pd);
        let mut s = [0.0; 4];
        for &(i, wi) in &w[0] {
            for &(j, wj) in &w[1] {
                for &(k, wk) in &w[2] {
                    let ww = wi * wj * wk * dv;
                    let r = rho[[i, j, k]] as f64;
                    s[0] += ww * r;
                    s[1] += ww * pd[[i, j, k]] as f64;
                    if r > 0.0 {
                        s[2] += ww;
                    }
                    s[3] += ww;
                }
            }
        }
        s
    }

    /// The cube of the target mass (bisection on the edge), or None when it cannot reach it.
    fn solve(&self, spec: &CubeSpec) -> Option<(f64, Weights, [f64; 4])> {
        let mass_kg = self.mass_kg;
        let cap = edge_cap(spec, self.dims, self.d);
        let mass = |l: f64| self.sums(&self.weights(spec, l, false))[0];
        let mc = mass(cap);
        if mc < mass_kg * (1.0 - MASS_TOLERANCE) {
            return None;
        }
        if mc < mass_kg {
            let w = self.weights(spec, cap, true);
            let s = self.sums(&w);
            return Some((cap, w, s));
        }
        let (mut a, mut b) = (0.0f64, cap);
        for _ in 0..200 {
            let m = 0.5 * (a + b);
            if mass(m) < mass_kg {
                a = m;
            } else {
                b = m;
            }
            if b - a <= 1e-15 * b {
                break;
            }
        }
        let w = self.weights(spec, b, true);
        let s = self.sums(&w);
        Some((b, w, s))
    }
}
