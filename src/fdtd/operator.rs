//! The operator: every update coefficient, computed once from the structure (openEMS's `Operator`).
//!
//! E edges carry a compact material index (`u8`) into a coefficient table; index 0 is PEC.
//! For the hot loop each z-line is cut into runs of equal material ("segments") holding their
//! coefficients, so the update streams only field data and PEC runs are skipped entirely.

use std::collections::HashMap;
use std::ops::Range;

use super::fields::{Layout, Window};
use crate::error::{Error, Result};
use crate::grid::{Comp, VoxelModel, C0, EPS0, MU0};

/// Outer boundary of one face of the domain.
#[derive(Clone, Debug, PartialEq)]
pub enum Boundary {
    /// Perfect electric conductor: tangential E = 0.
    Pec,
    /// Perfect magnetic conductor: tangential H = 0 (E tangential updated with image H).
    Pmc,
    /// Convolutional PML (backed by PEC), counted inside the grid.
    Cpml(CpmlParams),
}

/// CPML grading (Roden & Gedney 2000; Taflove & Hagness ch. 7).
#[derive(Clone, Debug, PartialEq)]
pub struct CpmlParams {
    /// Number of layers (cells) inside the grid.
    pub layers: usize,
    /// Polynomial grading order m of sigma and kappa.
    pub grading_order: f64,
    /// sigma_max as a multiple of sigma_opt = 0.8 (m+1) / (eta0 d sqrt(eps_r)).
    pub sigma_factor: f64,
    /// Maximum coordinate stretching kappa (1 = none).
    pub kappa_max: f64,
    /// CFS alpha (S/m), constant through the layer. Waves above f_a = alpha / (2 pi eps0) are
    /// absorbed fully; below it the layer mostly stretches (evanescent fields still decay).
    pub alpha_max_s_per_m: f64,
}

impl CpmlParams {
    /// `layers` layers with the default grading (m = 3, sigma = sigma_opt, kappa = 1, and alpha for
    /// a 40 MHz corner: MRI RF at 64 MHz and up is absorbed, and the layer stays stable over
    /// 10^5 steps with static charge on floating conductors nearby).
    pub fn layers(layers: usize) -> Self {
        Self {
            layers,
            grading_order: 3.0,
            sigma_factor: 1.0,
            kappa_max: 1.0,
            alpha_max_s_per_m: 2.0 * std::f64::consts::PI * 40e6 * EPS0,
        }
    }
}

impl Boundary {
    pub fn cpml(layers: usize) -> Self {
        Boundary::Cpml(CpmlParams::layers(layers))
    }
    pub fn cpml_layers(&self) -> usize {
        match self {
            Boundary::Cpml(p) => p.layers,
            _ => 0,
        }
    }
}

/// Update coefficients of one E-edge material: `E <- ca E + cb curl H`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeCoef {
    pub ca: f32,
    pub cb: f32,
    pub eps_r: f64,
    pub sigma: f64,
}

/// A run of equal-material edges along a z-line.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub k0: u32,
    pub k1: u32,
    pub ca: f32,
    pub cb: f32,
}

/// Segments per (i, j) line of one component.
#[derive(Clone, Debug, Default)]
pub struct LineSegments {
    /// `offsets[i*(ny+1)+j] .. offsets[..+1]` index into `segs`.
    pub offsets: Vec<u32>,
    pub segs: Vec<Segment>,
}

impl LineSegments {
    #[inline(always)]
    pub fn line(&self, line: usize) -> &[Segment] {
        &self.segs[self.offsets[line] as usize..self.offsets[line + 1] as usize]
    }
}

/// The wave speed a Courant number refers to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CourantReference {
    /// `c0`, or the faster local speed of any sample with `eps_r < 1` or `mu_r < 1`: the usual
    /// choice, right for any model with air in it.
    #[default]
    Vacuum,
    /// The fastest wave speed on the grid, `c0 / sqrt(min eps_r x min mu_r)` over every E edge and H
    /// sample the run updates. The leapfrog scheme is stable for `c_max dt sqrt(sum 1/d^2) <= 1`
    /// (the scaled curl-curl operator's norm is at most `c_max^2` times the vacuum one), so a box
    /// filled with gel (eps_r ~ 78) takes ~9x longer steps, the steps per period fall by as much and
    /// the time sampling stays fine (~1000 steps per period at 1 mm, 64 MHz).
    FastestMedium,
}

/// The time step for cells `d` at vacuum-referred Courant number `courant`: with a CW frequency,
/// lowered so one period is a whole number of steps, a multiple of 4 (returned too).
pub fn time_step(d: [f64; 3], courant: f64, cw_freq_hz: Option<f64>) -> (f64, Option<usize>) {
    let inv2: f64 = d.iter().map(|v| 1.0 / (v * v)).sum();
    let dt = courant / (C0 * inv2.sqrt());
    match cw_freq_hz {
        Some(f) if f > 0.0 => {
            let period = 1.0 / f;
            let m = ((period / dt).ceil() as usize).div_ceil(4) * 4;
            (period / m as f64, Some(m))
        }
        _ => (dt, None),
    }
}

/// What a simulation is built from, besides extensions.
#[derive(Clone, Debug)]
pub struct OperatorSpec {
    /// Courant number S = c dt sqrt(sum 1/d^2), c from `reference`; must be in (0, 1].
    pub courant: f64,
    pub reference: CourantReference,
    /// The smallest relative permeability an extension gives any H sample (the thin wires' first
    /// ring); 1 without such extensions (the model itself is non-magnetic).
    pub mu_r_min: f64,
    /// Boundary per axis, `[low, high]`.
    pub boundaries: [[Boundary; 2]; 3],
    /// If set, dt is lowered so one period of this frequency is a whole number of steps (a multiple of 4).
    pub cw_freq_hz: Option<f64>,
    /// Run the graded-grid update (per-cell spacing arrays along z) even when every axis is
    /// uniform. The arithmetic is the same, so the fields are bit-identical; for tests.
    pub graded_kernels: bool,
}

/// All update coefficients.
pub struct Operator {
    pub layout: Layout,
    /// Cell size per axis (m) on a uniform axis; on a graded axis its smallest cell (the one that
    /// sets the time step). Per-cell sizes: [`Self::dp`], [`Self::dd`].
    pub d: [f64; 3],
    /// Whether each axis is graded (cell sizes differ by more than 1e-9 relative).
    pub graded: [bool; 3],
    /// Whether the hot loop uses the per-k spacing arrays along z (z graded, or forced by
    /// `OperatorSpec::graded_kernels`). x and y spacings are looked up per plane / line always.
    pub graded_z_kernels: bool,
    /// Primal cell sizes per axis (m), `n[a]` entries: the length of E edge `a` at cell `p`, and
    /// the spacing of the E samples an H curl differences. `d[a]` everywhere on a uniform axis.
    pub dp: [Vec<f64>; 3],
    /// Dual spacings per axis (m), `n[a] + 1` entries: node `p` to node-centred dual cell,
    /// `(dp[p-1] + dp[p]) / 2` inside, `dp[0]` and `dp[n-1]` on the two boundary nodes (the
    /// spacing of an H sample and its image across the face; the dual cell there is half of it).
    pub dd: [Vec<f64>; 3],
    /// `1 / dd` in single precision (the E update's curl H).
    pub inv_dd: [Vec<f32>; 3],
    /// `dt / (mu0 dp)` in single precision (the H update's curl E).
    pub ch_dp: [Vec<f32>; 3],
    pub dt: f64,
    /// Courant number relative to c0 (above 1 with `CourantReference::FastestMedium` in a dielectric).
    pub courant: f64,
    /// Fastest wave speed on the grid relative to c0, `1/sqrt(min eps_r x min mu_r)`.
    pub max_speed_rel: f64,
    /// Steps per period of `cw_freq_hz` when given.
    pub steps_per_period: Option<usize>,
    pub boundaries: [[Boundary; 2]; 3],
    /// Coefficient table; entry 0 is PEC.
    pub table: Vec<EdgeCoef>,
    /// Material index per E edge, per component (node layout).
    pub mat: [Vec<u8>; 3],
    /// Hot-loop segments per component over the core (interior) range.
    pub segments: [LineSegments; 3],
    /// dt / mu0.
    pub ch: f64,
    /// Mean eps_r of the cells next to each face, `[axis][side]` (for CPML grading).
    pub face_eps_r: [[f64; 2]; 3],
    /// Mass density per cell material, for later stages.
    pub model: VoxelModel,
}

impl Operator {
    pub fn new(model: VoxelModel, spec: &OperatorSpec) -> Result<Self> {
        let grid = &model.grid;
        let n = grid.dims();
        // Per-axis spacings: a uniform axis (within 1e-9) uses its first cell everywhere, so the
        // uniform path's coefficients are exactly those it always had.
        let uni: [Option<f64>; 3] = std::array::from_fn(|a| grid.axes[a].uniform_size());
        let graded: [bool; 3] = std::array::from_fn(|a| uni[a].is_none());
        let dp: [Vec<f64>; 3] = std::array::from_fn(|a| match uni[a] {
            Some(d) => vec![d; n[a]],
            None => (0..n[a]).map(|i| grid.axes[a].cell_size(i)).collect(),
        });
        let dd: [Vec<f64>; 3] = std::array::from_fn(|a| {
            (0..=n[a])
                .map(|p| match uni[a] {
                    Some(d) => d,
                    None if p == 0 => dp[a][0],
                    None if p == n[a] => dp[a][n[a] - 1],
                    None => 0.5 * (dp[a][p - 1] + dp[a][p]),
                })
                .collect()
        });
        let d: [f64; 3] = std::array::from_fn(|a| uni[a].unwrap_or_else(|| dp[a].iter().copied().fold(f64::INFINITY, f64::min)));
        check_spec(spec, n)?;
        check_cpml_uniform(spec, &dp)?;
        let layout = Layout::new(n);
        // Edge materials with dedup of (eps, sigma); the update coefficients need dt, which may
        // depend on the smallest permittivity found here.
        let (mut table, mat) = edge_materials(&model, &layout, n)?;
        let eps_min = table[1..].iter().map(|t| t.eps_r).fold(f64::INFINITY, f64::min);
        let eps_min = if eps_min.is_finite() { eps_min } else { 1.0 };
        if !(spec.mu_r_min > 0.0) || !(eps_min > 0.0) {
            return Err(Error::Other(format!(
                "operator: non-positive permittivity {eps_min} or permeability {} on the grid",
                spec.mu_r_min
            )));
        }
        let speed2 = match spec.reference {
            CourantReference::Vacuum => eps_min.min(1.0) * spec.mu_r_min.min(1.0),
            CourantReference::FastestMedium => eps_min * spec.mu_r_min,
        };
        if let Some(f) = spec.cw_freq_hz {
            if !(f > 0.0) || !f.is_finite() {
                return Err(Error::input(
                    "simulation",
                    "cw_freq_hz",
                    format!("frequency {f} Hz is not positive"),
                    "give a frequency > 0",
                ));
            }
        }
        // On a graded grid the smallest cell of each axis sets the step (the rectilinear Yee scheme
        // is stable for c dt sqrt(sum 1/min(d_a)^2) <= 1).
        let (dt, steps_per_period) = time_step(d, spec.courant * speed2.sqrt(), spec.cw_freq_hz);
        let inv2: f64 = d.iter().map(|v| 1.0 / (v * v)).sum();
        let courant = C0 * dt * inv2.sqrt();
        for t in table.iter_mut().skip(1) {
            let eps = EPS0 * t.eps_r;
            let x = t.sigma * dt / (2.0 * eps);
            t.ca = ((1.0 - x) / (1.0 + x)) as f32;
            t.cb = ((dt / eps) / (1.0 + x)) as f32;
        }

        let face_eps_r = face_eps_r(&model, n);
        let ch = dt / MU0;
        let inv_dd = std::array::from_fn(|a| dd[a].iter().map(|v| (1.0 / v) as f32).collect());
        let ch_dp = std::array::from_fn(|a| dp[a].iter().map(|v| (ch / v) as f32).collect());

        let mut op = Self {
            layout,
            d,
            graded,
            graded_z_kernels: graded[2] || spec.graded_kernels,
            dp,
            dd,
            inv_dd,
            ch_dp,
            dt,
            courant,
            max_speed_rel: 1.0 / (eps_min * spec.mu_r_min).sqrt(),
            steps_per_period,
            boundaries: spec.boundaries.clone(),
            table,
            mat,
            segments: Default::default(),
            ch,
            face_eps_r,
            model,
        };
        op.build_segments();
        Ok(op)
    }

    /// Node-index extents of component `c` (edges along c have `n_c` entries, others `n+1`).
    pub fn comp_node_dims(n: [usize; 3], c: usize) -> [usize; 3] {
        let mut lim = [n[0] + 1, n[1] + 1, n[2] + 1];
        lim[c] = n[c];
        lim
    }

    /// Interior (core-updated) node ranges of E component `c`: boundary planes excluded.
    pub fn e_core_range(&self, c: usize) -> [Range<usize>; 3] {
        let n = self.layout.n;
        let mut r = [1..n[0], 1..n[1], 1..n[2]];
        r[c] = 0..n[c];
        r
    }

    /// All updated node ranges of E component `c`: the core plus boundary planes on PMC faces.
    pub fn e_active_range(&self, c: usize) -> [Range<usize>; 3] {
        let n = self.layout.n;
        let mut r = self.e_core_range(c);
        for a in 0..3 {
            if a == c {
                continue;
            }
            let lo = if self.boundaries[a][0] == Boundary::Pmc { 0 } else { 1 };
            let hi = if self.boundaries[a][1] == Boundary::Pmc {
                n[a] + 1
            } else {
                n[a]
            };
            r[a] = lo..hi;
        }
        r
    }

    fn build_segments(&mut self) {
        let n = self.layout.n;
        for c in 0..3 {
            let r = self.e_core_range(c);
            let mut seg = LineSegments {
                offsets: Vec::with_capacity((n[0] + 1) * (n[1] + 1) + 1),
                segs: Vec::new(),
            };
            seg.offsets.push(0);
            for i in 0..=n[0] {
                for j in 0..=n[1] {
                    if r[0].contains(&i) && r[1].contains(&j) {
                        let base = self.layout.idx(i, j, 0);
                        let m = &self.mat[c][base..base + n[2] + 1];
                        let mut k = r[2].start;
                        while k < r[2].end {
                            let id = m[k];
                            let k0 = k;
                            while k < r[2].end && m[k] == id {
                                k += 1;
                            }
                            if id != 0 {
                                let t = self.table[id as usize];
                                seg.segs.push(Segment {
                                    k0: k0 as u32,
                                    k1: k as u32,
                                    ca: t.ca,
                                    cb: t.cb,
                                });
                            }
                        }
                    }
                    seg.offsets.push(seg.segs.len() as u32);
                }
            }
            self.segments[c] = seg;
        }
    }

    /// Coefficients of the E edge `(c, i, j, k)`.
    #[inline]
    pub fn edge_coef(&self, c: usize, idx: usize) -> EdgeCoef {
        self.table[self.mat[c][idx] as usize]
    }

    /// Bytes of the core operator data (edge material indices, segments, and the voxel model kept
    /// for later stages).
    pub fn bytes(&self) -> usize {
        3 * self.layout.len
            + self.model.bytes()
            + self
                .segments
                .iter()
                .map(|s| s.offsets.len() * 4 + s.segs.len() * std::mem::size_of::<Segment>())
                .sum::<usize>()
    }

    /// The (curl H) component `c` at E edge `(i, j, k)`, with image H outside PMC faces.
    /// Used by extensions that update single edges (lumped elements, PMC faces).
    pub fn curl_h_at(&self, h: &Window, c: usize, i: usize, j: usize, k: usize) -> f64 {
        // (curl H)_c = dH_b/da - dH_a/db with a = c+1, b = c+2.
        let a = (c + 1) % 3;
        let b = (c + 2) % 3;
        let p = [i, j, k];
        let t1 = self.diff_h(h, b, a, p);
        let t2 = self.diff_h(h, a, b, p);
        t1 - t2
    }

    /// d(H_comp)/d(axis) at node position `p` along `axis`, with PMC images outside the domain.
    fn diff_h(&self, h: &Window, comp: usize, axis: usize, p: [usize; 3]) -> f64 {
        let n = self.layout.n;
        let s = self.layout.stride(axis);
        let idx = self.layout.idx(p[0], p[1], p[2]);
        let (hi, lo) = if p[axis] == 0 {
            let v = h.at(comp, idx) as f64;
            (v, -v)
        } else if p[axis] == n[axis] {
            let v = h.at(comp, idx - s) as f64;
            (-v, v)
        } else {
            (h.at(comp, idx) as f64, h.at(comp, idx - s) as f64)
        };
        (hi - lo) / self.dd[axis][p[axis]]
    }

    /// Carries a change `delta` (V/m) of E component `c` at flat index `idx`, made after the step,
    /// into the H values that were advanced with the unchanged E (the H update is linear in E).
    pub fn patch_h(&self, h: &mut [Vec<f32>; 3], c: usize, idx: usize, delta: f64) {
        let n = self.layout.n;
        let p = self.layout.ijk(idx);
        // H_q is updated at nodes along q (0..=n_q) and cells along the other axes (0..n).
        let valid = |q: usize, pp: [i64; 3]| {
            (0..3).all(|a| {
                pp[a] >= 0
                    && if a == q {
                        pp[a] <= n[a] as i64
                    } else {
                        pp[a] < n[a] as i64
                    }
            })
        };
        let pi = [p[0] as i64, p[1] as i64, p[2] as i64];
        // E_c enters (curl E)_{c+1} as +dE_c/d(c+2) and (curl E)_{c+2} as -dE_c/d(c+1); H -= ch curl E.
        for (q, a, sign) in [((c + 1) % 3, (c + 2) % 3, 1.0), ((c + 2) % 3, (c + 1) % 3, -1.0)] {
            // H_q at p and p - e_a difference E_c across primal cell p[a] and p[a] - 1.
            let v = sign * self.ch * delta;
            if valid(q, pi) {
                h[q][idx] += (v / self.dp[a][p[a]]) as f32;
            }
            let mut pm = pi;
            pm[a] -= 1;
            if valid(q, pm) {
                h[q][idx - self.layout.stride(a)] -= (v / self.dp[a][p[a] - 1]) as f32;
            }
        }
    }

    /// Dual-cell area around E edge `(c, i, j, k)` (halved on each PMC face it lies on).
    pub fn dual_area(&self, c: usize, p: [usize; 3]) -> f64 {
        let n = self.layout.n;
        let mut area = 1.0;
        for a in 0..3 {
            if a == c {
                continue;
            }
            let mut w = self.dd[a][p[a]];
            if p[a] == 0 || p[a] == n[a] {
                w *= 0.5;
            }
            area *= w;
        }
        area
    }

    /// Whether edge `(c, p)` lies on a domain face of type PEC (or a CPML's PEC backing).
    pub fn on_pec_face(&self, c: usize, p: [usize; 3]) -> bool {
        let n = self.layout.n;
        (0..3).any(|a| {
            a != c
                && ((p[a] == 0 && self.boundaries[a][0] != Boundary::Pmc)
                    || (p[a] == n[a] && self.boundaries[a][1] != Boundary::Pmc))
        })
    }

    /// Whether node position `p` lies inside any CPML slab.
    pub fn in_cpml(&self, p: [usize; 3]) -> bool {
        let n = self.layout.n;
        (0..3).any(|a| {
            let lo = self.boundaries[a][0].cpml_layers();
            let hi = self.boundaries[a][1].cpml_layers();
            (lo > 0 && p[a] <= lo) || (hi > 0 && p[a] >= n[a] - hi)
        })
    }
}

/// Cells next to a CPML face that must all have the same size: the layers and two more (the CPML
/// profile assumes one cell size, and the first dual cells inside see no grading either).
pub const CPML_UNIFORM_MARGIN: usize = 2;

/// A graded axis may grade only in the interior: the CPML layers on its faces and
/// [`CPML_UNIFORM_MARGIN`] cells inside them must be uniform.
fn check_cpml_uniform(spec: &OperatorSpec, dp: &[Vec<f64>; 3]) -> Result<()> {
    for a in 0..3 {
        let n = dp[a].len();
        for s in 0..2 {
            let l = spec.boundaries[a][s].cpml_layers();
            if l == 0 {
                continue;
            }
            let m = (l + CPML_UNIFORM_MARGIN).min(n);
            let cells: Vec<f64> = if s == 0 {
                dp[a][..m].to_vec()
            } else {
                dp[a][n - m..].to_vec()
            };
            let d0 = cells[0];
            if let Some(bad) = cells.iter().position(|v| (v - d0).abs() > 1e-9 * d0) {
                let cell = if s == 0 { bad } else { n - m + bad };
                return Err(Error::input(
                    "grid",
                    &format!("nodes[{}]", ["x", "y", "z"][a]),
                    format!(
                        "the grid is graded inside the {} CPML ({} layers): cell {} is {:.4e} m, the face cell {:.4e} m",
                        ["low", "high"][s],
                        l,
                        cell,
                        cells[bad],
                        d0
                    ),
                    format!(
                        "keep the outer {} cells of that face uniform (the CPML layers + {}) and grade only inside them, e.g. with Axis::graded",
                        l + CPML_UNIFORM_MARGIN,
                        CPML_UNIFORM_MARGIN
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The spec's Courant number and CPML parameters must be usable on a grid of `n` cells.
fn check_spec(spec: &OperatorSpec, n: [usize; 3]) -> Result<()> {
    if !(spec.courant > 0.0 && spec.courant <= 1.0 && spec.courant.is_finite()) {
        return Err(Error::input(
            "simulation",
            "courant",
            format!(
                "Courant number {} is outside (0, 1]: the Yee scheme is unstable above 1",
                spec.courant
            ),
            "use a Courant number <= 1 (0.98 is the default)",
        ));
    }
    for a in 0..3 {
        let l = spec.boundaries[a][0].cpml_layers() + spec.boundaries[a][1].cpml_layers();
        if l + 2 > n[a] {
            return Err(Error::input(
                "simulation",
                &format!("boundaries[{}]", ["x", "y", "z"][a]),
                format!("{} CPML layers do not fit in {} cells", l, n[a]),
                "use fewer CPML layers or a larger grid",
            ));
        }
        for s in 0..2 {
            if let Boundary::Cpml(p) = &spec.boundaries[a][s] {
                if p.layers == 0
                    || !(p.grading_order >= 1.0)
                    || !(p.sigma_factor > 0.0)
                    || !(p.kappa_max >= 1.0)
                    || !(p.alpha_max_s_per_m >= 0.0)
                {
                    return Err(Error::input(
                        "simulation",
                        &format!("boundaries[{}][{}].cpml", ["x", "y", "z"][a], ["low", "high"][s]),
                        "invalid CPML parameters",
                        "use layers >= 1, grading_order >= 1, sigma_factor > 0, kappa_max >= 1, alpha_max >= 0",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The edge material table (entry 0: PEC; coefficients filled in once dt is known) and each E
/// edge's index into it, deduplicated on (eps_r, sigma).
#[allow(clippy::type_complexity)]
fn edge_materials(model: &VoxelModel, layout: &Layout, n: [usize; 3]) -> Result<(Vec<EdgeCoef>, [Vec<u8>; 3])> {
    let mut table = vec![EdgeCoef {
        ca: 0.0,
        cb: 0.0,
        eps_r: 1.0,
        sigma: 0.0,
    }];
    let mut lookup: HashMap<(i64, i64), u8> = HashMap::new();
    let mut mat = [vec![0u8; layout.len], vec![0u8; layout.len], vec![0u8; layout.len]];
    for c in Comp::ALL {
        let ci = c.index();
        let lim = Operator::comp_node_dims(n, ci);
        for i in 0..lim[0] {
            for j in 0..lim[1] {
                for k in 0..lim[2] {
                    let idx = layout.idx(i, j, k);
                    mat[ci][idx] = match model.edge_material(c, i, j, k) {
                        None => 0,
                        Some((eps_r, sigma)) => {
                            // Equal to 1e-9 (averages of the same cells in another order
                            // differ in the last bits).
                            let key = ((eps_r * 1e9).round() as i64, (sigma * 1e9).round() as i64);
                            if let Some(&m) = lookup.get(&key) {
                                m
                            } else {
                                if table.len() >= 256 {
                                    return Err(Error::input(
                                        "materials",
                                        "edge materials",
                                        "more than 255 distinct edge materials (averages at material interfaces count separately)",
                                        "use fewer materials",
                                    ));
                                }
                                table.push(EdgeCoef {
                                    ca: 0.0,
                                    cb: 0.0,
                                    eps_r,
                                    sigma,
                                });
                                let m = (table.len() - 1) as u8;
                                lookup.insert(key, m);
                                m
                            }
                        }
                    };
                }
            }
        }
    }
    Ok((table, mat))
}

/// Mean relative permittivity of the cells on each outer face (`[axis][low, high]`; PEC counts 1).
fn face_eps_r(model: &VoxelModel, n: [usize; 3]) -> [[f64; 2]; 3] {
    let mut face_eps_r = [[1.0; 2]; 3];
    for a in 0..3 {
        for s in 0..2 {
            let ia = if s == 0 { 0 } else { n[a] - 1 };
            let (b, c) = ((a + 1) % 3, (a + 2) % 3);
            let mut sum = 0.0;
            for p in 0..n[b] {
                for q in 0..n[c] {
                    let mut ijk = [0; 3];
                    ijk[a] = ia;
                    ijk[b] = p;
                    ijk[c] = q;
                    let m = &model.materials()[model.cell_material(ijk[0], ijk[1], ijk[2]) as usize];
                    sum += if m.pec { 1.0 } else { m.eps_r };
                }
            }
            face_eps_r[a][s] = sum / (n[b] * n[c]) as f64;
        }
    }

    face_eps_r
}
