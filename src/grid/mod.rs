//! Voxel grid, materials, shapes and rasterisation; regular sampled fields ([`field`]).
//!
//! The grid is rectilinear: each axis holds its node coordinates ([`Axis::graded`] makes a graded
//! axis). The FDTD core update, CPML (uniform in its layers), sources, lumped elements and DFT
//! probes run on graded grids; the TF/SF box and thin wires still ask for uniform spacing
//! (`Grid::uniform_spacing`).
//!
//! Yee layout used everywhere in rftwin: cell `(i, j, k)` spans nodes `i..i+1` etc.;
//! `Ex(i,j,k)` sits on the edge from node `(i,j,k)` to `(i+1,j,k)`, likewise `Ey`, `Ez`;
//! `Hx(i,j,k)` sits at the centre of the face `x = x_i`, `y in [y_j, y_j+1]`, `z in [z_k, z_k+1]`.

pub mod field;
mod shapes;
mod staircase;

pub use field::{sample_on, GridPlacement, Interp, RegularField};
pub use shapes::{rotation_matrix, Shape, ShapeKind, ShapeRotation};
pub use staircase::{staircase_edges, StairEdge};

use crate::error::{Error, Result};

/// Vacuum permittivity (F/m).
pub const EPS0: f64 = 8.854_187_812_8e-12;
/// Vacuum permeability (H/m).
pub const MU0: f64 = 1.256_637_062_12e-6;
/// Speed of light in vacuum (m/s).
pub const C0: f64 = 299_792_458.0;

/// Cells per wavelength in the densest medium at `f_max_hz`: `c0 / (f sqrt(eps_r mu_r)) / cell`.
pub fn cells_per_wavelength(f_max_hz: f64, eps_r_max: f64, mu_r_max: f64, max_cell_m: f64) -> f64 {
    C0 / (f_max_hz * (eps_r_max * mu_r_max).sqrt()) / max_cell_m
}

/// One axis of a rectilinear grid: its node coordinates in metres, strictly increasing.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    nodes: Vec<f64>,
}

impl Axis {
    /// `n` uniform cells of size `d_m` starting at `start_m`.
    pub fn uniform(start_m: f64, d_m: f64, n: usize) -> Result<Self> {
        if !(d_m > 0.0) || !d_m.is_finite() {
            return Err(Error::input(
                "grid",
                "cell_size_m",
                format!("cell size {d_m} m is not positive"),
                "give a cell size > 0, e.g. 0.002",
            ));
        }
        if n == 0 {
            return Err(Error::input(
                "grid",
                "cells",
                "an axis has zero cells",
                "give at least 1 cell per axis",
            ));
        }
        Ok(Self {
            nodes: (0..=n).map(|i| start_m + d_m * i as f64).collect(),
        })
    }

    /// An axis from explicit node coordinates (strictly increasing).
    pub fn from_nodes(nodes: Vec<f64>) -> Result<Self> {
        if nodes.len() < 2 {
            return Err(Error::input(
                "grid",
                "nodes",
                "an axis needs at least 2 nodes",
                "give >= 2 node coordinates",
            ));
        }
        for w in nodes.windows(2) {
            if !(w[1] > w[0]) {
                return Err(Error::input(
                    "grid",
                    "nodes",
                    format!("node coordinates not strictly increasing ({} then {})", w[0], w[1]),
                    "sort the node coordinates and remove duplicates (every cell size must be > 0)",
                ));
            }
        }
        Ok(Self { nodes })
    }

    /// A graded axis from `start_m` to `end_m`: cells of `d_min_m` in the fine regions
    /// `[lo, hi]`, growing by at most `growth` per cell away from them up to `d_max_m` in the bulk.
    ///
    /// Each fine region is widened to an even number of `d_min_m` cells about its centre, so its
    /// centre is a node (a region `(x, x)` is a fine line: a node at `x` with one fine cell on each
    /// side); regions that overlap, or are closer than the grading needs to grow and shrink again,
    /// are merged into one (the later region's nodes then shift by less than a fine cell).
    /// Between the regions the cells equidistribute the size function
    /// `h(s) = min(d_max, d_min + ln(growth) s)` (`s` the distance to the nearest fine region),
    /// so consecutive cells differ by at most the factor `growth`, every cell is at most `h` at
    /// its place, and cells far from the fine regions are all equal (`<= d_max_m`), which the
    /// CPML layers need. The ends `start_m`, `end_m` are nodes.
    pub fn graded(
        start_m: f64,
        end_m: f64,
        fine_m: &[(f64, f64)],
        d_min_m: f64,
        d_max_m: f64,
        growth: f64,
    ) -> Result<Self> {
        graded_nodes(start_m, end_m, fine_m, d_min_m, d_max_m, growth).and_then(Self::from_nodes)
    }

    /// The largest ratio of neighbouring cell sizes (>= 1; 1 for a uniform axis).
    pub fn max_growth(&self) -> f64 {
        (1..self.cells())
            .map(|i| {
                let (a, b) = (self.cell_size(i - 1), self.cell_size(i));
                a.max(b) / a.min(b)
            })
            .fold(1.0, f64::max)
    }

    pub fn cells(&self) -> usize {
        self.nodes.len() - 1
    }
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }
    pub fn node(&self, i: usize) -> f64 {
        self.nodes[i]
    }
    /// Size of cell `i`.
    pub fn cell_size(&self, i: usize) -> f64 {
        self.nodes[i + 1] - self.nodes[i]
    }
    pub fn cell_centre(&self, i: usize) -> f64 {
        0.5 * (self.nodes[i] + self.nodes[i + 1])
    }
    pub fn start(&self) -> f64 {
        self.nodes[0]
    }
    pub fn end(&self) -> f64 {
        *self.nodes.last().unwrap()
    }
    /// The common cell size when the axis is uniform (relative tolerance 1e-9).
    pub fn uniform_size(&self) -> Option<f64> {
        let d0 = self.cell_size(0);
        (0..self.cells())
            .all(|i| (self.cell_size(i) - d0).abs() <= 1e-9 * d0)
            .then_some(d0)
    }
    /// Index of the node nearest to `x`.
    pub fn nearest_node(&self, x: f64) -> usize {
        match self.nodes.binary_search_by(|v| v.partial_cmp(&x).unwrap()) {
            Ok(i) => i,
            Err(0) => 0,
            Err(i) if i >= self.nodes.len() => self.nodes.len() - 1,
            Err(i) => {
                if (x - self.nodes[i - 1]) <= (self.nodes[i] - x) {
                    i - 1
                } else {
                    i
                }
            }
        }
    }
    /// Index of the cell containing `x` (None outside).
    pub fn cell_of(&self, x: f64) -> Option<usize> {
        if x < self.start() || x > self.end() {
            return None;
        }
        let i = self.nodes.partition_point(|v| *v <= x);
        Some(i.saturating_sub(1).min(self.cells() - 1))
    }
}

/// The node coordinates of [`Axis::graded`].
fn graded_nodes(start: f64, end: f64, fine: &[(f64, f64)], d_min: f64, d_max: f64, growth: f64) -> Result<Vec<f64>> {
    let bad = |key: &str, what: String, fix: &str| Err(Error::input("grid", key, what, fix));
    if !(start.is_finite() && end.is_finite() && end > start) {
        return bad("graded axis", format!("span {start}..{end} m is empty or not finite"), "give start < end");
    }
    if !(d_min > 0.0 && d_min.is_finite() && d_max >= d_min && d_max.is_finite()) {
        return bad(
            "graded axis cell sizes",
            format!("finest cell {d_min} m and coarsest {d_max} m are not 0 < d_min <= d_max"),
            "give 0 < d_min_m <= d_max_m, e.g. 0.001 and 0.004",
        );
    }
    if !(growth > 1.0 && growth <= 1.5) {
        return bad(
            "graded axis growth",
            format!("growth factor {growth} per cell is outside (1, 1.5]"),
            "use about 1.2-1.3 (second-order accuracy degrades with larger steps in cell size)",
        );
    }
    let k = growth.ln();
    // Fine regions: widened to an even number of fine cells about the centre, sorted, merged.
    let mut regions: Vec<(f64, f64)> = Vec::new();
    for (r, &(lo, hi)) in fine.iter().enumerate() {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi && lo >= start && hi <= end) {
            return bad(
                &format!("graded axis fine region {r}"),
                format!("fine region {lo}..{hi} m is not inside the axis {start}..{end} m (or lo > hi)"),
                "give lo <= hi within the axis span",
            );
        }
        let m = (((hi - lo) / d_min - 1e-9).ceil().max(1.0) / 2.0).ceil() * 2.0;
        let c = 0.5 * (lo + hi);
        regions.push((c - 0.5 * m * d_min, c + 0.5 * m * d_min));
    }
    regions.sort_by(|a, b| a.0.total_cmp(&b.0));
    // A gap between two regions needs about 1/(growth-1) cells' worth of the size integral, or the
    // rounding to whole cells shrinks its cells by more than the growth factor: merge below that.
    let min_gap_cells = 1.0 / (growth - 1.0) + 1.0;
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (lo, hi) in regions {
        if let Some(last) = merged.last_mut() {
            let gap = lo - last.1;
            if gap < min_gap_cells * d_min * 2.0 {
                let m = ((hi.max(last.1) - last.0) / d_min - 1e-9).ceil();
                last.1 = last.0 + m * d_min;
                continue;
            }
        }
        merged.push((lo, hi));
    }
    for (r, &(lo, hi)) in merged.iter().enumerate() {
        for (gap, side) in [(lo - start, "start"), (end - hi, "end")] {
            let graded = d_max > d_min * (1.0 + 1e-9);
            if gap < -1e-12 * (end - start) || (graded && gap > 1e-12 * (end - start) && gap < min_gap_cells * d_min) {
                return bad(
                    &format!("graded axis fine region {r}"),
                    format!(
                        "the fine region (widened to whole fine cells: {lo:.6}..{hi:.6} m) ends {gap:.3e} m from the axis {side}"
                    ),
                    &format!(
                        "keep fine regions at least {:.3e} m ({:.1} fine cells) inside the axis ends",
                        min_gap_cells * d_min,
                        min_gap_cells
                    ),
                );
            }
        }
    }
    // The size function and its critical points (where its formula changes).
    let dist = |x: f64| {
        merged
            .iter()
            .map(|&(lo, hi)| if x < lo { lo - x } else if x > hi { x - hi } else { 0.0 })
            .fold(f64::INFINITY, f64::min)
    };
    let h = |x: f64| (d_min + k * dist(x)).min(d_max);
    let s_cap = (d_max - d_min) / k;
    let mut crit = vec![start, end];
    for (r, &(lo, hi)) in merged.iter().enumerate() {
        crit.extend([lo, hi, lo - s_cap, hi + s_cap]);
        if let Some(&(lo2, _)) = merged.get(r + 1) {
            crit.push(0.5 * (hi + lo2));
        }
    }
    crit.retain(|x| *x >= start && *x <= end);
    crit.sort_by(|a, b| a.total_cmp(b));
    crit.dedup_by(|a, b| (*a - *b).abs() <= 1e-12 * (end - start));
    // Anchors (nodes for sure): the ends and the fine regions' edges.
    let mut anchors = vec![start, end];
    for &(lo, hi) in &merged {
        anchors.extend([lo, hi]);
    }
    anchors.retain(|x| *x >= start && *x <= end);
    anchors.sort_by(|a, b| a.total_cmp(b));
    anchors.dedup_by(|a, b| (*a - *b).abs() <= 1e-12 * (end - start));
    // Pieces of one formula: constant or linear h.
    struct Piece {
        x0: f64,
        x1: f64,
        h0: f64,
        m: f64,
        t: f64,
    }
    let piece = |x0: f64, x1: f64| {
        let (h0, h1) = (h(x0), h(x1));
        let m = (h1 - h0) / (x1 - x0);
        let t = if (h1 - h0).abs() <= 1e-12 * h0 {
            (x1 - x0) / h0
        } else {
            (h1 / h0).ln() / m
        };
        Piece { x0, x1, h0, m, t }
    };
    let mut nodes = vec![start];
    for w in anchors.windows(2) {
        let (a0, a1) = (w[0], w[1]);
        let mut pts: Vec<f64> = crit.iter().copied().filter(|x| *x > a0 && *x < a1).collect();
        pts.insert(0, a0);
        pts.push(a1);
        let pieces: Vec<Piece> = pts.windows(2).filter(|p| p[1] > p[0]).map(|p| piece(p[0], p[1])).collect();
        let total: f64 = pieces.iter().map(|p| p.t).sum();
        let n = (total - 1e-9).ceil().max(1.0) as usize;
        let c = total / n as f64;
        let mut acc = 0.0;
        let mut pi = 0;
        for i in 1..n {
            let target = c * i as f64;
            while pi + 1 < pieces.len() && acc + pieces[pi].t < target {
                acc += pieces[pi].t;
                pi += 1;
            }
            let p = &pieces[pi];
            let tl = (target - acc).clamp(0.0, p.t);
            let x = if p.m == 0.0 || (p.m * (p.x1 - p.x0)).abs() <= 1e-12 * p.h0 {
                p.x0 + tl * p.h0
            } else {
                p.x0 + p.h0 * ((p.m * tl).exp() - 1.0) / p.m
            };
            nodes.push(x.clamp(p.x0, p.x1));
        }
        nodes.push(a1);
    }
    // Cells far from the fine regions are equal to rounding: make them equal exactly (the CPML
    // needs a uniform slab), by snapping each run of plateau cells to its mean.
    let mut i = 0;
    while i + 1 < nodes.len() {
        let mut j = i;
        while j + 1 < nodes.len() && dist(nodes[j]) >= s_cap && dist(nodes[j + 1]) >= s_cap {
            j += 1;
        }
        if j > i + 1 {
            let (x0, x1) = (nodes[i], nodes[j]);
            let cnt = (j - i) as f64;
            for q in i + 1..j {
                nodes[q] = x0 + (x1 - x0) * ((q - i) as f64 / cnt);
            }
        }
        i = j.max(i + 1);
    }
    Ok(nodes)
}

/// A rectilinear grid of `nx * ny * nz` cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub axes: [Axis; 3],
}

impl Grid {
    pub fn new(x: Axis, y: Axis, z: Axis) -> Self {
        Self { axes: [x, y, z] }
    }
    /// A uniform grid of `n` cells of size `d` per axis, with `origin` at node (0,0,0).
    /// Refused before anything is allocated when an FDTD run on it could not fit in memory
    /// ([`crate::resources`]).
    pub fn uniform(origin: [f64; 3], d: [f64; 3], n: [usize; 3]) -> Result<Self> {
        check_fdtd_memory(n, d.iter().copied().fold(0.0, f64::max))?;
        Ok(Self::new(
            Axis::uniform(origin[0], d[0], n[0])?,
            Axis::uniform(origin[1], d[1], n[1])?,
            Axis::uniform(origin[2], d[2], n[2])?,
        ))
    }
    /// Cells per axis.
    pub fn dims(&self) -> [usize; 3] {
        [self.axes[0].cells(), self.axes[1].cells(), self.axes[2].cells()]
    }
    pub fn num_cells(&self) -> usize {
        let [a, b, c] = self.dims();
        a * b * c
    }
    /// Per-axis cell sizes when every axis is uniform.
    pub fn uniform_spacing(&self) -> Option<[f64; 3]> {
        Some([
            self.axes[0].uniform_size()?,
            self.axes[1].uniform_size()?,
            self.axes[2].uniform_size()?,
        ])
    }
    /// Coordinates of node `(i, j, k)`.
    pub fn node_pos(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        [self.axes[0].node(i), self.axes[1].node(j), self.axes[2].node(k)]
    }
    pub fn cell_centre(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        [
            self.axes[0].cell_centre(i),
            self.axes[1].cell_centre(j),
            self.axes[2].cell_centre(k),
        ]
    }
    /// Flat cell index, z fastest.
    #[inline]
    pub fn cell_index(&self, i: usize, j: usize, k: usize) -> usize {
        let [_, ny, nz] = self.dims();
        (i * ny + j) * nz + k
    }
}

/// The resource guard every FDTD grid passes (in [`Grid::uniform`] and [`VoxelModel::new`]):
/// refuses `n` cells per axis when an FDTD run on them would not fit in memory. Commands check
/// earlier with a message naming their own option; this is the net under every path.
fn check_fdtd_memory(n: [usize; 3], cell_m: f64) -> Result<()> {
    crate::resources::check_bytes(
        "grid",
        "cells",
        &format!("an FDTD grid of {} x {} x {} cells", n[0], n[1], n[2]),
        crate::resources::fdtd_bytes(n, 0),
        |r| crate::resources::coarser_cell_fix("cell size", cell_m * 1e3, "mm", r),
    )
}

/// An isotropic, non-magnetic material.
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    pub name: String,
    /// Relative permittivity (>= 1).
    pub eps_r: f64,
    /// Electric conductivity (S/m, >= 0).
    pub sigma_s_per_m: f64,
    /// Mass density (kg/m^3); 0 for air. Used by dosimetry.
    pub density_kg_per_m3: f64,
    /// Perfect electric conductor (eps and sigma ignored).
    pub pec: bool,
}

impl Material {
    pub fn vacuum() -> Self {
        Self {
            name: "air".into(),
            eps_r: 1.0,
            sigma_s_per_m: 0.0,
            density_kg_per_m3: 0.0,
            pec: false,
        }
    }
    pub fn pec(name: &str) -> Self {
        Self {
            name: name.into(),
            eps_r: 1.0,
            sigma_s_per_m: 0.0,
            density_kg_per_m3: 0.0,
            pec: true,
        }
    }
    pub fn dielectric(name: &str, eps_r: f64, sigma_s_per_m: f64, density_kg_per_m3: f64) -> Self {
        Self {
            name: name.into(),
            eps_r,
            sigma_s_per_m,
            density_kg_per_m3,
            pec: false,
        }
    }
    /// ASTM F2182 gel as commonly specified: eps_r 80, 0.47 S/m, 1000 kg/m^3 (nominal; see refs).
    pub fn astm_gel() -> Self {
        Self::dielectric("astm_gel", 80.0, 0.47, 1000.0)
    }
    fn validate(&self, idx: usize) -> Result<()> {
        let key = format!("materials[{idx}] ({})", self.name);
        if self.pec {
            return Ok(());
        }
        if !(self.eps_r >= 1.0) || !self.eps_r.is_finite() {
            return Err(Error::input(
                "materials",
                &format!("{key}.eps_r"),
                format!("eps_r = {} is below 1 or not finite", self.eps_r),
                "give a relative permittivity >= 1",
            ));
        }
        if !(self.sigma_s_per_m >= 0.0) || !self.sigma_s_per_m.is_finite() {
            return Err(Error::input(
                "materials",
                &format!("{key}.sigma_s_per_m"),
                format!("conductivity {} S/m is negative or not finite", self.sigma_s_per_m),
                "give a conductivity >= 0",
            ));
        }
        if !(self.density_kg_per_m3 >= 0.0) {
            return Err(Error::input(
                "materials",
                &format!("{key}.density_kg_per_m3"),
                "density is negative",
                "give a density >= 0 (0 for air)",
            ));
        }
        Ok(())
    }
}

/// Edge component of the Yee grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comp {
    X = 0,
    Y = 1,
    Z = 2,
}

impl Comp {
    pub const ALL: [Comp; 3] = [Comp::X, Comp::Y, Comp::Z];
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn from_index(i: usize) -> Comp {
        [Comp::X, Comp::Y, Comp::Z][i]
    }
}

/// A bitset over the edges of one component (node-indexed, `(nx+1)(ny+1)(nz+1)` entries).
#[derive(Clone, Debug)]
struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn new(n: usize) -> Self {
        Self {
            words: vec![0; n.div_ceil(64)],
        }
    }
    fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1u64 << (i % 64));
    }
    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }
}

/// The structure to simulate: a grid, a material table, a material index per cell and thin PEC edges
/// (wires and sheets of zero thickness, such as birdcage rungs, rings and shields).
#[derive(Clone, Debug)]
pub struct VoxelModel {
    pub grid: Grid,
    materials: Vec<Material>,
    cells: Vec<u8>,
    thin_pec: [BitSet; 3],
    /// Per-edge material overrides `(eps_r, sigma)` keyed by `(component, node index)` (sub-cell
    /// models such as insulated thin wires); thin PEC and PEC cells still win.
    edge_overrides: std::collections::BTreeMap<(u8, usize), (f64, f64)>,
}

impl VoxelModel {
    /// A model filled with `background` (material index 0).
    pub fn new(grid: Grid, background: Material) -> Result<Self> {
        background.validate(0)?;
        let d_max = (0..3)
            .map(|a| (0..grid.axes[a].cells()).map(|i| grid.axes[a].cell_size(i)).fold(0.0, f64::max))
            .fold(0.0, f64::max);
        check_fdtd_memory(grid.dims(), d_max)?;
        let n = grid.num_cells();
        let [nx, ny, nz] = grid.dims();
        let nn = (nx + 1) * (ny + 1) * (nz + 1);
        Ok(Self {
            grid,
            materials: vec![background],
            cells: vec![0; n],
            thin_pec: [BitSet::new(nn), BitSet::new(nn), BitSet::new(nn)],
            edge_overrides: Default::default(),
        })
    }

    /// Adds a material and returns its index.
    pub fn add_material(&mut self, m: Material) -> Result<u8> {
        if self.materials.len() >= 255 {
            return Err(Error::input(
                "materials",
                &m.name,
                "more than 255 materials",
                "merge materials with equal properties",
            ));
        }
        m.validate(self.materials.len())?;
        self.materials.push(m);
        Ok((self.materials.len() - 1) as u8)
    }

    /// Index of the material called `name`.
    pub fn material_index(&self, name: &str) -> Result<u8> {
        self.materials
            .iter()
            .position(|m| m.name == name)
            .map(|i| i as u8)
            .ok_or_else(|| {
                let known: Vec<_> = self.materials.iter().map(|m| m.name.as_str()).collect();
                Error::input(
                    "materials",
                    name,
                    format!("unknown material '{name}'"),
                    format!("use one of: {}", known.join(", ")),
                )
            })
    }

    pub fn materials(&self) -> &[Material] {
        &self.materials
    }
    /// Heap bytes held (cell indices and thin-PEC bitsets).
    pub fn bytes(&self) -> usize {
        self.cells.len() + self.thin_pec.iter().map(|b| b.words.len() * 8).sum::<usize>()
    }

    /// Material index per cell (z fastest).
    pub fn cells(&self) -> &[u8] {
        &self.cells
    }
    pub fn cell_material(&self, i: usize, j: usize, k: usize) -> u8 {
        self.cells[self.grid.cell_index(i, j, k)]
    }
    pub fn set_cell(&mut self, i: usize, j: usize, k: usize, mat: u8) {
        let idx = self.grid.cell_index(i, j, k);
        self.cells[idx] = mat;
    }

    /// Fills every cell whose centre lies inside `shape` with material `mat`. Returns the count.
    pub fn fill(&mut self, shape: &Shape, mat: u8) -> Result<usize> {
        if mat as usize >= self.materials.len() {
            return Err(Error::input(
                "shapes",
                &shape.name,
                format!("material index {mat} does not exist"),
                "add the material first",
            ));
        }
        let [nx, ny, nz] = self.grid.dims();
        let mut count = 0;
        for i in 0..nx {
            for j in 0..ny {
                for k in 0..nz {
                    let c = self.grid.cell_centre(i, j, k);
                    if shape.contains(c) {
                        let idx = self.grid.cell_index(i, j, k);
                        self.cells[idx] = mat;
                        count += 1;
                    }
                }
            }
        }
        Ok(count)
    }

    /// Node-index of an edge (same layout for all components).
    #[inline]
    pub fn node_index(&self, i: usize, j: usize, k: usize) -> usize {
        let [_, ny, nz] = self.grid.dims();
        (i * (ny + 1) + j) * (nz + 1) + k
    }

    /// Marks one edge as thin PEC. `(i,j,k)` is the edge's start node.
    pub fn set_pec_edge(&mut self, comp: Comp, i: usize, j: usize, k: usize) -> Result<()> {
        let [nx, ny, nz] = self.grid.dims();
        let lim = match comp {
            Comp::X => [nx, ny + 1, nz + 1],
            Comp::Y => [nx + 1, ny, nz + 1],
            Comp::Z => [nx + 1, ny + 1, nz],
        };
        if i >= lim[0] || j >= lim[1] || k >= lim[2] {
            return Err(Error::input(
                "thin_pec",
                &format!("edge {comp:?}({i},{j},{k})"),
                "edge lies outside the grid",
                format!("keep indices below {lim:?}"),
            ));
        }
        let idx = self.node_index(i, j, k);
        self.thin_pec[comp.index()].set(idx);
        Ok(())
    }

    /// Removes thin PEC from one edge (a gap cut into a conductor, e.g. a port in a rung); false
    /// if the edge was not thin PEC or lies outside the grid.
    pub fn clear_pec_edge(&mut self, comp: Comp, i: usize, j: usize, k: usize) -> bool {
        let [nx, ny, nz] = self.grid.dims();
        let lim = match comp {
            Comp::X => [nx, ny + 1, nz + 1],
            Comp::Y => [nx + 1, ny, nz + 1],
            Comp::Z => [nx + 1, ny + 1, nz],
        };
        if i >= lim[0] || j >= lim[1] || k >= lim[2] || !self.is_thin_pec(comp, i, j, k) {
            return false;
        }
        let idx = self.node_index(i, j, k);
        self.thin_pec[comp.index()].clear(idx);
        true
    }

    /// Overrides the material `(eps_r, sigma)` seen by one E edge (sub-cell models). PEC cells
    /// around it and thin PEC on it still make it PEC.
    pub fn set_edge_material(
        &mut self,
        comp: Comp,
        i: usize,
        j: usize,
        k: usize,
        eps_r: f64,
        sigma: f64,
    ) -> Result<()> {
        let [nx, ny, nz] = self.grid.dims();
        let mut lim = [nx + 1, ny + 1, nz + 1];
        lim[comp.index()] -= 1;
        if i >= lim[0] || j >= lim[1] || k >= lim[2] || !(eps_r > 0.0 && eps_r.is_finite()) || !(sigma >= 0.0) {
            return Err(Error::input(
                "edge_material",
                &format!("edge {comp:?}({i},{j},{k})"),
                format!("edge outside the grid or invalid eps_r {eps_r} / sigma {sigma}"),
                format!("keep indices below {lim:?}, eps_r > 0, sigma >= 0"),
            ));
        }
        let idx = self.node_index(i, j, k);
        self.edge_overrides.insert((comp.index() as u8, idx), (eps_r, sigma));
        Ok(())
    }

    /// How many E edges carry a material override (`set_edge_material`).
    pub fn edge_override_count(&self) -> usize {
        self.edge_overrides.len()
    }

    /// The E edges that carry a material override: (component 0-2, start node, (eps_r, sigma)).
    pub fn edge_overrides(&self) -> impl Iterator<Item = (usize, [usize; 3], (f64, f64))> + '_ {
        let [_, ny, nz] = self.grid.dims();
        self.edge_overrides.iter().map(move |(&(c, idx), &v)| {
            let k = idx % (nz + 1);
            let j = (idx / (nz + 1)) % (ny + 1);
            let i = idx / ((nz + 1) * (ny + 1));
            (c as usize, [i, j, k], v)
        })
    }

    pub fn is_thin_pec(&self, comp: Comp, i: usize, j: usize, k: usize) -> bool {
        self.thin_pec[comp.index()].get(self.node_index(i, j, k))
    }

    /// A thin PEC wire from point `a` to `b`, staircased along grid edges between the nearest nodes.
    /// Returns the number of edges set.
    pub fn pec_wire(&mut self, a: [f64; 3], b: [f64; 3]) -> Result<usize> {
        let na = self.nearest_node(a)?;
        let nb = self.nearest_node(b)?;
        let mut count = 0;
        for e in staircase_edges(na, nb) {
            self.set_pec_edge(Comp::from_index(e.axis), e.start[0], e.start[1], e.start[2])?;
            count += 1;
        }
        Ok(count)
    }

    /// Cells of the xy plane whose centre lies within `radius_m` of `centre_xy_m`.
    fn disc_cells(&self, centre_xy_m: [f64; 2], radius_m: f64) -> Vec<bool> {
        let [nx, ny, _] = self.grid.dims();
        let mut inside = vec![false; nx * ny];
        for i in 0..nx {
            for j in 0..ny {
                let x = self.grid.axes[0].cell_centre(i) - centre_xy_m[0];
                let y = self.grid.axes[1].cell_centre(j) - centre_xy_m[1];
                // A cell centre on the circle (a tie, decided by rounding otherwise, differently on
                // the two sides of the centre) counts as inside, so mirror-image cells agree.
                inside[i * ny + j] = x * x + y * y <= radius_m * radius_m * (1.0 + 1e-9);
            }
        }
        inside
    }

    /// The staircased outline of a disc in the xy plane: the x- and y-edges (as `(comp, i, j)`)
    /// separating cells inside the disc from cells outside. It is a closed loop of grid edges by
    /// construction (the boundary of a union of cells). Cells outside the grid count as outside.
    pub fn disc_outline_edges(&self, centre_xy_m: [f64; 2], radius_m: f64) -> Vec<(Comp, usize, usize)> {
        let [nx, ny, _] = self.grid.dims();
        let inside = self.disc_cells(centre_xy_m, radius_m);
        let at = |i: i64, j: i64| {
            i >= 0 && j >= 0 && (i as usize) < nx && (j as usize) < ny && inside[i as usize * ny + j as usize]
        };
        let mut edges = Vec::new();
        // Faces normal to x at node i separate cells (i-1, j) and (i, j): the y-edge (i, j) lies on them.
        for i in 0..=nx as i64 {
            for j in 0..ny as i64 {
                if at(i - 1, j) != at(i, j) {
                    edges.push((Comp::Y, i as usize, j as usize));
                }
            }
        }
        for j in 0..=ny as i64 {
            for i in 0..nx as i64 {
                if at(i, j - 1) != at(i, j) {
                    edges.push((Comp::X, i as usize, j as usize));
                }
            }
        }
        edges
    }

    /// A thin PEC cylindrical shell along z (a coil shield): the staircased outline of the disc of
    /// `radius_m`, extruded over the z nodes nearest `z0_m..=z1_m` (open at both ends). Watertight:
    /// every face between an inside and an outside cell column is PEC. Returns the edge count.
    pub fn pec_cylinder_shell_z(
        &mut self,
        centre_xy_m: [f64; 2],
        radius_m: f64,
        z0_m: f64,
        z1_m: f64,
    ) -> Result<usize> {
        let k0 = self.grid.axes[2].nearest_node(z0_m.min(z1_m));
        let k1 = self.grid.axes[2].nearest_node(z0_m.max(z1_m));
        let outline = self.disc_outline_edges(centre_xy_m, radius_m);
        if outline.is_empty() {
            return Err(Error::input(
                "thin_pec",
                "cylinder shell",
                format!("radius {radius_m} m covers no cell"),
                "use a larger radius or finer cells",
            ));
        }
        let mut nodes = std::collections::BTreeSet::new();
        let mut count = 0;
        for &(c, i, j) in &outline {
            for k in k0..=k1 {
                self.set_pec_edge(c, i, j, k)?;
                count += 1;
            }
            nodes.insert((i, j));
            match c {
                Comp::X => nodes.insert((i + 1, j)),
                _ => nodes.insert((i, j + 1)),
            };
        }
        for &(i, j) in &nodes {
            for k in k0..k1 {
                self.set_pec_edge(Comp::Z, i, j, k)?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// A thin PEC sheet in the plane `axis = coord_m`, covering `[lo, hi]` along the other two axes
    /// (given in x,y,z order; the entry of `axis` is ignored). All edges in the sheet are set.
    pub fn pec_sheet(&mut self, axis: Comp, coord_m: f64, lo: [f64; 3], hi: [f64; 3]) -> Result<usize> {
        let a = axis.index();
        let n = self.grid.axes[a].nearest_node(coord_m);
        let mut lo_n = [0usize; 3];
        let mut hi_n = [0usize; 3];
        for ax in 0..3 {
            if ax == a {
                lo_n[ax] = n;
                hi_n[ax] = n;
            } else {
                lo_n[ax] = self.grid.axes[ax].nearest_node(lo[ax]);
                hi_n[ax] = self.grid.axes[ax].nearest_node(hi[ax]);
            }
        }
        let mut count = 0;
        for ax in 0..3 {
            if ax == a {
                continue;
            }
            for i in lo_n[0]..=hi_n[0] {
                for j in lo_n[1]..=hi_n[1] {
                    for k in lo_n[2]..=hi_n[2] {
                        let p = [i, j, k];
                        if p[ax] >= hi_n[ax] {
                            continue;
                        }
                        self.set_pec_edge(Comp::from_index(ax), i, j, k)?;
                        count += 1;
                    }
                }
            }
        }
        Ok(count)
    }

    fn nearest_node(&self, p: [f64; 3]) -> Result<[usize; 3]> {
        for ax in 0..3 {
            let a = &self.grid.axes[ax];
            if p[ax] < a.start() - 1e-12 || p[ax] > a.end() + 1e-12 {
                return Err(Error::input(
                    "thin_pec",
                    &format!("point {p:?}"),
                    "point lies outside the grid",
                    "move it inside the grid bounds",
                ));
            }
        }
        Ok([
            self.grid.axes[0].nearest_node(p[0]),
            self.grid.axes[1].nearest_node(p[1]),
            self.grid.axes[2].nearest_node(p[2]),
        ])
    }

    /// Material properties seen by an E edge: the mean of the (up to 4) cells around it,
    /// or PEC when any of them is PEC or the edge is a thin PEC edge.
    /// Returns `None` for PEC, else `(eps_r, sigma)`.
    pub fn edge_material(&self, comp: Comp, i: usize, j: usize, k: usize) -> Option<(f64, f64)> {
        if self.is_thin_pec(comp, i, j, k) {
            return None;
        }
        let [nx, ny, nz] = self.grid.dims();
        let n = [nx, ny, nz];
        let p = [i, j, k];
        let a = comp.index();
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let mut eps = 0.0;
        let mut sig = 0.0;
        let mut cnt = 0.0;
        for db in 0..2 {
            for dc in 0..2 {
                // cells at p[b]-1+db, p[c]-1+dc
                let cb = p[b] as i64 - 1 + db;
                let cc = p[c] as i64 - 1 + dc;
                if cb < 0 || cc < 0 || cb >= n[b] as i64 || cc >= n[c] as i64 {
                    continue;
                }
                let mut q = [0usize; 3];
                q[a] = p[a];
                q[b] = cb as usize;
                q[c] = cc as usize;
                let m = &self.materials[self.cell_material(q[0], q[1], q[2]) as usize];
                if m.pec {
                    return None;
                }
                eps += m.eps_r;
                sig += m.sigma_s_per_m;
                cnt += 1.0;
            }
        }
        if let Some(&v) = self.edge_overrides.get(&(a as u8, self.node_index(i, j, k))) {
            return Some(v);
        }
        Some((eps / cnt, sig / cnt))
    }
}

