//! The birdcage on the FDTD grid: rungs, end rings and shield as thin PEC (staircased onto grid
//! edges), gaps for capacitors or sources, the phantom, and the drive.
//!
//! Frame: the coil frame (origin at the isocentre, z along the bore). The grid is uniform and
//! mirror-symmetric about the coil centre along every axis, with a node or a cell centre at the
//! centre, chosen per axis so that the coil's parts land on mirror-image grid positions:
//! - x and y: a rung on an axis needs a node there, a ring gap (high-pass or band-pass capacitor)
//!   whose segment middle lies on an axis needs an edge midpoint there, i.e. a cell centre at the
//!   centre (the 16-rung body coil, rungs at 11.25° + 22.5° j, has its ring gaps at 0°, 90°, ..);
//!   an axis with neither takes whichever choice moves the rungs least along the ring.
//! - z: with rung gaps (low-pass, band-pass) a cell centre, so that the rung capacitor's edge spans
//!   -d/2..+d/2; the end rings then sit at ±(m + 1/2) d, nearest ±L/2 (ties: the longer), exact
//!   when L/d is odd and half a cell off when it is even (then reported). Without rung gaps,
//!   whichever of node or cell centre puts the rings nearer ±L/2 (at most a quarter cell off).
//! Ties in the nearest-node and nearest-edge choices are decided in exact half-cell integer
//! coordinates by mirror-symmetric rules, so the rung nodes and the set of gap edges map onto
//! themselves under x -> -x and y -> -y (and under x <-> y except where a segment middle lies on a
//! diagonal, which no edge midpoint does). How far each part moved is kept in
//! [`BirdcageMesh::snaps`]; moves over a quarter cell are warned about.
//!
//! The box holds the coil (or its shield) and the whole phantom with `margin_m` of free space
//! before the absorbing layers; the field probes ([`BirdcageMesh::interior`]) cover the coil
//! interior and the whole phantom. With a shield, the lateral walls are PEC two cells outside the
//! shield (the shield bounds the field; the open ends leak along z, which ends in a CPML); without
//! one, CPML on every face.
//!
//! Drives:
//! - *ideal*: no conductor for rungs and rings; instead an impressed current on every grid edge of
//!   each rung path (uniform along the rung) and of the end-ring paths, the ring segment currents
//!   following from Kirchhoff's current law with no net circulating ring current. Rung `j` carries
//!   the complex current `w_j`; the homogeneous quadrature mode is `w_j = exp(-i phi_j)`, which under
//!   the e^{+i w t} convention makes a field rotating from +x to +y (B1+ = (Bx + i By)/2). With no
//!   floating conductors there are no structural resonances to ring on, so the steady state comes
//!   quickly even in an empty lossless coil; the fields are linear in the weights, so one run per
//!   basis pattern gives the twin's basis fields.
//! - *resonant*: real capacitors as lumped elements in the ring gaps (high-pass), rung gaps
//!   (low-pass) or both (band-pass), and drive ports as ideal current sources across the port
//!   capacitors (they do not load the coil, so the mode spectrum is the unloaded one).

use num_complex::Complex64;

use super::config::{CoilConfig, CoilType, Shield};
use super::phantom::PhantomConfig;
use crate::error::{Error, Result};
use crate::fdtd::{Boundary, LumpedSpec, SimulationSpec, Waveform};
use crate::grid::{Comp, Grid, Material, VoxelModel};

/// The default cell of the coarse (whole-coil) FDTD model (m): 10 mm, for `rftwin coil simulate`,
/// `twin fit`, `twin synth`, `implant search` and `assess` alike.
pub const DEFAULT_COARSE_CELL_M: f64 = 0.010;

/// How the coil is put on the grid.
#[derive(Clone, Debug)]
pub struct MeshOptions {
    /// Cell size (m); about 10 mm for a body coil (B1 maps are measured at 4-8 mm).
    pub cell_m: f64,
    /// Free space between the coil (or shield) ends and the z CPML (m).
    pub margin_m: f64,
    pub cpml_layers: usize,
    pub courant: f64,
    /// A box `[axis][lo, hi]` (m, coil frame) that the grid and the field box hold in addition to
    /// the coil and the phantom. The twin sets it around the phantom file's position
    /// ([`cover_around`]) so that its bases with the phantom moved by a few cm (offset fits) share
    /// one grid and one field box.
    pub cover_m: Option<[[f64; 2]; 3]>,
}

/// A box around `p`'s bounding box with `2 d + 20 mm` of slack on every side (see
/// [`MeshOptions::cover_m`]).
pub fn cover_around(p: &PhantomConfig, d: f64) -> [[f64; 2]; 3] {
    let (c, h) = (p.centre_m(), p.bounding_half_m());
    let s = 2.0 * d + 0.02;
    [0, 1, 2].map(|a| [c[a] - h[a] - s, c[a] + h[a] + s])
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            cell_m: DEFAULT_COARSE_CELL_M,
            margin_m: 0.06,
            cpml_layers: 8,
            courant: 0.98,
            cover_m: None,
        }
    }
}

/// Which model of the coil to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Impressed currents on the rung and ring paths (no coil conductors).
    Ideal,
    /// PEC rungs and rings with the gaps of `Gaps` for capacitors and ports.
    Resonant(Gaps),
}

/// Where the gaps go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gaps {
    /// A gap in the middle of every rung; rings continuous (ideal drive, low-pass capacitors).
    Rungs,
    /// A gap in every end-ring segment; rungs continuous (high-pass capacitors).
    Rings,
    /// Both (band-pass).
    Both,
}

impl Gaps {
    /// The gaps a resonant model of this coil type needs.
    pub fn for_type(t: CoilType) -> Self {
        match t {
            CoilType::LowPass => Gaps::Rungs,
            CoilType::HighPass => Gaps::Rings,
            CoilType::BandPass => Gaps::Both,
        }
    }
    fn rungs(self) -> bool {
        matches!(self, Gaps::Rungs | Gaps::Both)
    }
    fn rings(self) -> bool {
        matches!(self, Gaps::Rings | Gaps::Both)
    }
}

/// An E edge: component and start node.
pub type Edge = (usize, [usize; 3]);

/// The coil on the grid.
#[derive(Clone, Debug)]
pub struct BirdcageMesh {
    pub model: VoxelModel,
    pub boundaries: [[Boundary; 2]; 3],
    pub courant: f64,
    /// Grid node of each rung (x, y).
    pub rung_nodes: Vec<[usize; 2]>,
    /// Azimuth of each snapped rung (rad).
    pub rung_angles_rad: Vec<f64>,
    /// z nodes of the two end rings.
    pub ring_k: [usize; 2],
    /// Rung gap edges (z edges), one per rung, when the rungs have gaps.
    pub rung_gaps: Vec<Edge>,
    /// Ring gap edges: `[ring][segment]`, segment j between rungs j and j+1, when the rings have gaps.
    pub ring_gaps: [Vec<Edge>; 2],
    /// Ideal drive: the edges of each rung (all +z).
    pub rung_paths: Vec<Vec<Edge>>,
    /// Ideal drive: the edges of each ring segment j (rung j to rung j+1, +phi), with the sign of
    /// the edge direction relative to +phi; `[ring][segment]`.
    pub ring_paths: [Vec<Vec<(Edge, f64)>>; 2],
    /// The isocentre node.
    pub iso_node: [usize; 3],
    /// Material index of the phantom, if any.
    pub phantom_material: Option<u8>,
    /// Node box of the field probes: the coil interior (rung radius) along the whole grid inside
    /// the absorbing layers, widened to the phantom where it reaches beyond the rungs.
    pub interior: [std::ops::Range<usize>; 3],
    /// How far the grid moved each rung, ring, gap and shield end from its ideal position.
    pub snaps: GeometrySnaps,
}

/// One part of the coil as placed on the grid, and how far the grid moved it from its ideal position.
#[derive(Clone, Debug, PartialEq)]
pub struct Snap {
    /// "rung", "ring", "rung_gap", "ring_gap" or "shield".
    pub part: &'static str,
    /// Rung or segment index; for rings and the shield 0 (-z) and 1 (+z); for ring gaps
    /// `ring * rungs + segment`.
    pub index: usize,
    /// Ideal position (m, coil frame): rung and ring-gap centres in the ring plane (z of the ideal
    /// ring), ring, shield and rung-gap planes on the axis.
    pub ideal_m: [f64; 3],
    /// Where the grid put it (node, or edge midpoint for a gap).
    pub placed_m: [f64; 3],
    /// How far it moved (m): along z for rings, rung gaps and the shield ends; for rungs and ring
    /// gaps along the ring (the azimuthal part, which breaks the coil's rotational symmetry).
    pub moved_m: f64,
    /// For rungs and ring gaps, the radial part (m): the staircase of the ring circle, which no
    /// cell size removes; not counted in `moved_m`.
    pub radial_m: f64,
}

/// Azimuthal and radial parts of the move from `ideal` to `placed` (xy, m): the placed point's
/// distance from the ideal point's radius line, and its radius minus the ideal radius.
fn xy_parts(ideal: [f64; 3], placed: [f64; 3]) -> (f64, f64) {
    let r = ideal[0].hypot(ideal[1]);
    let u = [ideal[0] / r, ideal[1] / r];
    let tangential = (u[0] * placed[1] - u[1] * placed[0]).abs();
    (tangential, placed[0].hypot(placed[1]) - r)
}

/// All the snaps of one mesh of one coil, with the cell they were made at.
#[derive(Clone, Debug, PartialEq)]
pub struct GeometrySnaps {
    pub coil: String,
    pub cell_m: f64,
    pub snaps: Vec<Snap>,
}

impl GeometrySnaps {
    /// The snaps larger than a quarter cell.
    pub fn large(&self) -> impl Iterator<Item = &Snap> {
        let q = 0.25 * self.cell_m * (1.0 + 1e-9);
        self.snaps.iter().filter(move |s| s.moved_m > q)
    }

    /// Largest snap of a part (m; 0 when the mesh has none).
    pub fn max_moved_m(&self, part: &str) -> f64 {
        self.snaps
            .iter()
            .filter(|s| s.part == part)
            .map(|s| s.moved_m)
            .fold(0.0, f64::max)
    }

    /// One warning per kind of part with snaps larger than a quarter cell (count, largest, which).
    /// The shield ends are recorded but not warned about: they lie far from the coil (a cell off
    /// there changes nothing the twin sees).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for part in ["rung", "ring", "rung_gap", "ring_gap"] {
            let big: Vec<&Snap> = self.large().filter(|s| s.part == part).collect();
            let Some(worst) = big.iter().max_by(|a, b| a.moved_m.total_cmp(&b.moved_m)) else {
                continue;
            };
            let total = self.snaps.iter().filter(|s| s.part == part).count();
            let (what, fix) = match part {
                "rung" => (
                    "rungs moved along the ring",
                    "smaller cells (cell_m, --cell-mm) place them closer",
                ),
                "ring_gap" => (
                    "ring capacitor gaps moved along the ring",
                    "smaller cells (cell_m, --cell-mm) place them closer",
                ),
                "ring" => (
                    "end-ring planes moved along z",
                    "a cell that divides rung_length_m (a half of it with rung capacitors) places them exactly",
                ),
                _ => (
                    "rung capacitor gaps moved along z",
                    "a cell that divides rung_length_m places them exactly",
                ),
            };
            out.push(format!(
                "{}: at {} mm cells {} of {} {} by more than a quarter cell ({:.2} mm), up to {:.2} mm ({} {}): the model is not the coil file's geometry; {fix}",
                self.coil,
                fmt_mm(self.cell_m),
                big.len(),
                total,
                what,
                0.25 * self.cell_m * 1e3,
                worst.moved_m * 1e3,
                part.replace('_', " "),
                worst.index
            ));
        }
        out
    }

    /// The `geometry_snaps` entry of a summary: the cell, the largest snap of each part (mm), the
    /// largest radial staircase offset of rungs and ring gaps (mm) and the warnings.
    pub fn to_json(&self) -> serde_json::Value {
        let mm = |p: &str| (self.max_moved_m(p) * 1e6).round() / 1e3;
        let radial = self.snaps.iter().map(|s| s.radial_m.abs()).fold(0.0, f64::max);
        serde_json::json!({
            "cell_m": self.cell_m,
            "max_moved_mm": {"rung": mm("rung"), "ring": mm("ring"), "rung_gap": mm("rung_gap"), "ring_gap": mm("ring_gap"), "shield": mm("shield")},
            "max_radial_staircase_mm": (radial * 1e6).round() / 1e3,
            "larger_than_quarter_cell": self.large().count(),
            "warnings": self.warnings(),
        })
    }
}

fn fmt_mm(d: f64) -> String {
    let v = (d * 1e6).round() / 1e3;
    format!("{v}")
}

/// Meshes `coil` (and `phantom`, checked to fit) with the gaps of `gaps`. Snaps of more than a
/// quarter cell are warned about ([`crate::resources::warn`]) and kept in [`BirdcageMesh::snaps`].
pub fn mesh(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    kind: ModelKind,
    opt: &MeshOptions,
) -> Result<BirdcageMesh> {
    let d = opt.cell_m;
    check_cell(coil, phantom, d)?;
    let l = opt.cpml_layers;
    let lay = layout(coil, phantom, kind, opt)?;
    let n = lay.n;
    if let Some(p) = phantom {
        check_phantom_inside(coil, p, n, d, l)?;
    }
    let mut model = VoxelModel::new(lay.grid.clone(), Material::vacuum())?;
    let phantom_material = match phantom {
        Some(p) => Some(rasterise_symmetric(&mut model, p)?),
        None => None,
    };
    let g = model.grid.clone();
    // The node at the coil centre, or (on an axis with a cell centre there) the one just below it.
    let iso_node = [n[0] / 2, n[1] / 2, n[2] / 2];

    if let (Some(s), Some(sk)) = (&coil.shield, lay.shield_k) {
        add_shield(&mut model, s, &g, n, d, sk)?;
    }
    let ring_k = lay.ring_k;
    let ring_gaps = lay.ring_gaps;
    let mut rung_gaps = Vec::new();
    let mut rung_paths = Vec::new();
    let mut ring_paths: [Vec<Vec<(Edge, f64)>>; 2] = [Vec::new(), Vec::new()];
    match kind {
        ModelKind::Ideal => {
            (rung_paths, ring_paths) = ideal_paths(coil, &g, &lay.outline, &lay.rung_nodes, ring_k)?;
        }
        ModelKind::Resonant(_) => {
            rung_gaps = place_conductors(
                &mut model,
                &lay.outline,
                &ring_gaps,
                &lay.rung_nodes,
                ring_k,
                lay.rung_gap_k,
            )?;
        }
    }
    let interior = probe_box(coil, phantom, opt.cover_m, &g, l);
    let mut boundaries: [[Boundary; 2]; 3] = std::array::from_fn(|_| [lay.lateral.clone(), lay.lateral.clone()]);
    boundaries[2] = [Boundary::cpml(l), Boundary::cpml(l)];
    for w in lay.snaps.warnings() {
        crate::resources::warn(w);
    }
    Ok(BirdcageMesh {
        model,
        boundaries,
        courant: opt.courant,
        rung_nodes: lay.rung_nodes,
        rung_angles_rad: lay.rung_angles_rad,
        ring_k,
        rung_gaps,
        ring_gaps,
        rung_paths,
        ring_paths,
        iso_node,
        phantom_material,
        interior,
        snaps: lay.snaps,
    })
}

/// Fills the cells of `model` whose centres lie inside the phantom, as
/// [`PhantomConfig::rasterise`] but with the cell centres taken in exact half-cell coordinates
/// (`k * d / 2`, `k` an integer, the grid centred on the origin), so that a phantom symmetric about
/// the coil centre is rasterised mirror-symmetrically (a face through a row of cell centres —
/// the ASTM box's ±210 mm at 10 mm with a cell centre at x = 0 — falls on the same side on both
/// ends; node-based centres put it inside on one end and outside on the other). A centre within
/// 1e-9 cell of a face counts as outside (the lighter, more conservative phantom for SAR per
/// watt). Returns the material index.
fn rasterise_symmetric(model: &mut VoxelModel, p: &PhantomConfig) -> Result<u8> {
    let mat = model.add_material(p.em_material())?;
    let shape = p.shape();
    let g = model.grid.clone();
    let n = g.dims();
    let d = g.uniform_spacing().unwrap_or([0.0; 3]);
    let centre = p.centre_m();
    let mut count = 0usize;
    for i in 0..n[0] {
        for j in 0..n[1] {
            for k in 0..n[2] {
                let q = [(i, 0), (j, 1), (k, 2)].map(|(c, a)| (2 * c as i64 + 1 - n[a] as i64) as f64 * (0.5 * d[a]));
                // Nudged away from the phantom's centre by 1e-9 cell: a centre on a face is outside.
                let nudged = [0, 1, 2].map(|a| q[a] + (q[a] - centre[a]).signum() * 1e-9 * d[a]);
                if shape.contains(nudged) {
                    model.set_cell(i, j, k, mat);
                    count += 1;
                }
            }
        }
    }
    if count == 0 {
        return Err(Error::input(
            &p.source_name,
            "position.landmark_from_isocentre_m",
            "the phantom covers no cell centre of the grid",
            "enlarge the grid or move the phantom into it",
        ));
    }
    Ok(mat)
}

/// The node box of the field output: along z the whole grid inside the absorbing layers (so it
/// holds the whole phantom, which the grid holds with its margin), across the coil interior (one
/// cell beyond the rung radius) widened to the phantom and the `cover` box only where they reach
/// beyond it. Independent of the phantom otherwise, so that the twin's empty-coil and phantom
/// bases, and its bases at different phantom offsets, share one field box.
fn probe_box(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    cover: Option<[[f64; 2]; 3]>,
    g: &Grid,
    cpml_layers: usize,
) -> [std::ops::Range<usize>; 3] {
    let d = g.axes[0].cell_size(0);
    let r = coil.rung_radius_m + d;
    let mut lo = [-r, -r, 0.0];
    let mut hi = [r, r, 0.0];
    if let Some(p) = phantom {
        let (c, h) = (p.centre_m(), p.bounding_half_m());
        for a in 0..2 {
            lo[a] = lo[a].min(c[a] - h[a] - d);
            hi[a] = hi[a].max(c[a] + h[a] + d);
        }
    }
    if let Some(b) = cover {
        for a in 0..2 {
            lo[a] = lo[a].min(b[a][0]);
            hi[a] = hi[a].max(b[a][1]);
        }
    }
    std::array::from_fn(|a| {
        let ax = &g.axes[a];
        let last = ax.cells();
        if a == 2 {
            return cpml_layers.min(last / 2)..last.saturating_sub(cpml_layers).max(last / 2) + 1;
        }
        // The last node at or below lo, the first at or above hi (a 1e-9 cell tolerance).
        let i0 = (0..=last).rev().find(|&i| ax.node(i) <= lo[a] + 1e-9 * d).unwrap_or(0);
        let i1 = (0..=last).find(|&i| ax.node(i) >= hi[a] - 1e-9 * d).unwrap_or(last);
        i0..i1 + 1
    })
}

/// The coil on the grid before any material is painted: grid, ring outline, rung nodes, ring
/// planes, gaps and how far each moved (see [`mesh`]).
struct Layout {
    grid: Grid,
    n: [usize; 3],
    lateral: Boundary,
    outline: Vec<(Comp, usize, usize)>,
    rung_nodes: Vec<[usize; 2]>,
    rung_angles_rad: Vec<f64>,
    ring_k: [usize; 2],
    /// Shield end nodes (-z, +z), when shielded.
    shield_k: Option<[usize; 2]>,
    /// The z edge of the rung gaps (start node), when the rungs have gaps.
    rung_gap_k: Option<usize>,
    ring_gaps: [Vec<Edge>; 2],
    snaps: GeometrySnaps,
}

/// Which axes have a cell centre (instead of a node) at the coil centre, so that the coil's parts
/// land mirror-symmetrically (see the module documentation). x and y by what lies on the other
/// axis: a rung needs a node on it, a ring gap an edge midpoint (a cell centre at the centre); an
/// axis with neither is free, and the free axes (both alike, keeping the swap x <-> y) take the
/// choice that moves the rungs and ring gaps least along the ring (ties: a node, as before). z by
/// the rung gaps (a gap centred on z = 0 needs a cell centre there) or else by which choice puts
/// the ring planes nearer ±L/2.
fn centre_on_cell(coil: &CoilConfig, kind: ModelKind, d: f64) -> [bool; 3] {
    let (rung_gaps, ring_gaps) = match kind {
        ModelKind::Ideal => (false, false),
        ModelKind::Resonant(g) => (g.rungs(), g.rings()),
    };
    let nr = coil.rungs as f64;
    // Whether an azimuth (deg) lies on the x axis (`axis_deg` 0) or on the y axis (90).
    let on = |a: f64, axis_deg: f64| {
        let m = (a - axis_deg).rem_euclid(180.0);
        m.min(180.0 - m) < 1e-9
    };
    let rung_on =
        |axis_deg: f64| (0..coil.rungs).any(|j| on(coil.rung_angle_offset_deg + 360.0 * j as f64 / nr, axis_deg));
    let gap_on = |axis_deg: f64| {
        ring_gaps && (0..coil.rungs).any(|j| on(coil.rung_angle_offset_deg + 360.0 * (j as f64 + 0.5) / nr, axis_deg))
    };
    // x: what lies on the y axis (azimuth 90 deg); y: what lies on the x axis. None: free.
    let fixed = |axis_deg: f64| {
        if rung_on(axis_deg) {
            Some(false)
        } else if gap_on(axis_deg) {
            Some(true)
        } else {
            None
        }
    };
    let (fx, fy) = (fixed(90.0), fixed(0.0));
    let candidates: Vec<[bool; 2]> = match (fx, fy) {
        (Some(x), Some(y)) => vec![[x, y]],
        (Some(x), None) => vec![[x, false], [x, true]],
        (None, Some(y)) => vec![[false, y], [true, y]],
        (None, None) => vec![[false, false], [true, true]],
    };
    let mut best = candidates[0];
    if candidates.len() > 1 {
        let worst = |c: [bool; 2]| xy_snap_worst(coil, ring_gaps, d, c).unwrap_or(f64::INFINITY);
        let w0 = worst(candidates[0]);
        if worst(candidates[1]) < w0 - 1e-9 * d {
            best = candidates[1];
        }
    }
    let cz = if rung_gaps {
        true
    } else {
        let t = coil.rung_length_m / (2.0 * d);
        let f = t - t.floor();
        // Node at 0 puts the rings min(f, 1-f) cells off, a cell centre |f - 1/2|.
        f.min(1.0 - f) > (f - 0.5).abs() + 1e-9
    };
    [best[0], best[1], cz]
}

/// The largest move along the ring of a rung (and, with `ring_gaps`, of a ring gap) on a small grid
/// around the ring with cell centres at the centre along the axes of `centre` (m).
fn xy_snap_worst(coil: &CoilConfig, ring_gaps: bool, d: f64, centre: [bool; 2]) -> Result<f64> {
    let h = coil.rung_radius_m + 3.0 * d;
    let n = [
        axis_count(h, d, centre[0]).unwrap_or(2),
        axis_count(h, d, centre[1]).unwrap_or(2),
        2,
    ];
    let g = Grid::uniform([0, 1, 2].map(|a| -(n[a] as f64) * d / 2.0), [d; 3], n)?;
    let outline = ring_outline(n, d, coil.rung_radius_m);
    let (nodes, _) = snap_rungs(coil, &g, &outline)?;
    let mut worst: f64 = 0.0;
    for (j, rn) in nodes.iter().enumerate() {
        let q = [g.axes[0].node(rn[0]), g.axes[1].node(rn[1]), 0.0];
        worst = worst.max(xy_parts(coil.rung_point(j, 0.0), q).0);
    }
    if ring_gaps {
        let r = coil.rung_radius_m;
        for (j, &(c, [i, jj, _])) in ring_gap_edges(coil, &g, &outline, [0, 1])[0].iter().enumerate() {
            let a = segment_mid_rad(coil, j);
            let mut q = [g.axes[0].node(i), g.axes[1].node(jj), 0.0];
            q[c] += 0.5 * d;
            worst = worst.max(xy_parts([r * a.cos(), r * a.sin(), 0.0], q).0);
        }
    }
    Ok(worst)
}

/// Nodes `(lo, hi)` mirror-symmetric about the centre of an axis of `n` cells of `d`, nearest to
/// `±half_m` (ties: the longer span), and the half-span they give (m).
fn symmetric_nodes(n: usize, d: f64, half_m: f64) -> (usize, usize, f64) {
    let t = half_m / d;
    if n % 2 == 0 {
        let c = n / 2;
        let m = ((t + 0.5 + 1e-9).floor() as usize).clamp(1, c);
        (c - m, c + m, m as f64 * d)
    } else {
        let c = n / 2; // the node at -d/2
        let m = ((t + 1e-9).floor() as usize).min(c);
        (c - m, c + 1 + m, (m as f64 + 0.5) * d)
    }
}

/// Cells along one axis for a half-extent of at least `half_m` with a node (`cell_centre` false)
/// or a cell centre (true) at the middle; `None` when it overflows.
fn axis_count(half_m: f64, d: f64, cell_centre: bool) -> Option<usize> {
    if cell_centre {
        crate::resources::axis_cells((half_m / d - 0.5).max(0.0))
            .and_then(|c| c.checked_mul(2))
            .and_then(|c| c.checked_add(1))
    } else {
        crate::resources::axis_cells(half_m / d).and_then(|c| c.checked_mul(2))
    }
}

/// Half-cell coordinate of node `i` on an axis of `n` cells: the node sits at `h * d / 2` from the
/// centre. Exact integers, so mirror images compare exactly.
fn half_cells(i: usize, n: usize) -> i64 {
    2 * i as i64 - n as i64
}

/// The staircased outline of the ring circle: the x- and y-edges `(comp, i, j)` between cell
/// columns whose centres lie inside radius `r` and those outside (as
/// [`VoxelModel::disc_outline_edges`], but decided in exact half-cell integers, so that the outline
/// is exactly mirror-symmetric about the centre).
fn ring_outline(n: [usize; 3], d: f64, r: f64) -> Vec<(Comp, usize, usize)> {
    let (nx, ny) = (n[0], n[1]);
    let r2 = (2.0 * r / d).powi(2);
    let inside = |i: i64, j: i64| {
        if i < 0 || j < 0 || i as usize >= nx || j as usize >= ny {
            return false;
        }
        let x = 2 * i + 1 - nx as i64;
        let y = 2 * j + 1 - ny as i64;
        ((x * x + y * y) as f64) <= r2
    };
    let mut edges = Vec::new();
    for i in 0..=nx as i64 {
        for j in 0..ny as i64 {
            if inside(i - 1, j) != inside(i, j) {
                edges.push((Comp::Y, i as usize, j as usize));
            }
        }
    }
    for j in 0..=ny as i64 {
        for i in 0..nx as i64 {
            if inside(i, j - 1) != inside(i, j) {
                edges.push((Comp::X, i as usize, j as usize));
            }
        }
    }
    edges
}

/// The coil's layout on the grid of `opt` (no materials yet).
fn layout(coil: &CoilConfig, phantom: Option<&PhantomConfig>, kind: ModelKind, opt: &MeshOptions) -> Result<Layout> {
    let d = opt.cell_m;
    let r = coil.rung_radius_m;
    let centre = centre_on_cell(coil, kind, d);
    let (n, lateral) = box_cells(coil, phantom, centre, opt)?;
    let origin = [0, 1, 2].map(|a| -(n[a] as f64) * d / 2.0);
    let grid = Grid::uniform(origin, [d; 3], n)?;
    let mut snaps = Vec::new();
    let (k0, k1, half) = symmetric_nodes(n[2], d, coil.rung_length_m / 2.0);
    let ring_k = [k0, k1];
    for (ri, s) in [-1.0, 1.0].into_iter().enumerate() {
        snaps.push(Snap {
            part: "ring",
            index: ri,
            ideal_m: [0.0, 0.0, s * coil.rung_length_m / 2.0],
            placed_m: [0.0, 0.0, s * half],
            moved_m: (half - coil.rung_length_m / 2.0).abs(),
            radial_m: 0.0,
        });
    }
    let shield_k = coil.shield.as_ref().map(|s| {
        let (a, b, h) = symmetric_nodes(n[2], d, s.length_m / 2.0);
        for (ri, sg) in [-1.0, 1.0].into_iter().enumerate() {
            snaps.push(Snap {
                part: "shield",
                index: ri,
                ideal_m: [0.0, 0.0, sg * s.length_m / 2.0],
                placed_m: [0.0, 0.0, sg * h],
                moved_m: (h - s.length_m / 2.0).abs(),
                radial_m: 0.0,
            });
        }
        [a, b]
    });
    let outline = ring_outline(n, d, r);
    let (rung_nodes, rung_angles_rad) = snap_rungs(coil, &grid, &outline)?;
    for (j, rn) in rung_nodes.iter().enumerate() {
        let p = coil.rung_point(j, 0.0);
        let q = [grid.axes[0].node(rn[0]), grid.axes[1].node(rn[1]), 0.0];
        snaps.push(Snap {
            part: "rung",
            index: j,
            ideal_m: p,
            placed_m: q,
            moved_m: xy_parts(p, q).0,
            radial_m: xy_parts(p, q).1,
        });
    }
    let (mut rung_gap_k, mut ring_gaps) = (None, [Vec::new(), Vec::new()]);
    if let ModelKind::Resonant(gaps) = kind {
        if gaps.rings() {
            ring_gaps = ring_gap_edges(coil, &grid, &outline, ring_k);
            for (ri, ring) in ring_gaps.iter().enumerate() {
                for (j, &(c, [i, jj, k])) in ring.iter().enumerate() {
                    let a = segment_mid_rad(coil, j);
                    let ideal = [r * a.cos(), r * a.sin(), [-1.0, 1.0][ri] * coil.rung_length_m / 2.0];
                    let mut q = [grid.axes[0].node(i), grid.axes[1].node(jj), grid.axes[2].node(k)];
                    q[c] += 0.5 * d;
                    snaps.push(Snap {
                        part: "ring_gap",
                        index: ri * coil.rungs + j,
                        ideal_m: ideal,
                        placed_m: q,
                        moved_m: xy_parts(ideal, q).0,
                        radial_m: xy_parts(ideal, q).1,
                    });
                }
            }
        }
        if gaps.rungs() {
            // The z edge nearest the coil centre: with the centre on a cell (see centre_on_cell) it
            // spans -d/2..+d/2.
            let k = (n[2] / 2).clamp(ring_k[0] + 1, ring_k[1].saturating_sub(2).max(ring_k[0] + 1));
            rung_gap_k = Some(k);
            let zm = grid.axes[2].node(k) + 0.5 * d;
            for j in 0..coil.rungs {
                snaps.push(Snap {
                    part: "rung_gap",
                    index: j,
                    ideal_m: [0.0; 3],
                    placed_m: [0.0, 0.0, zm],
                    moved_m: zm.abs(),
                    radial_m: 0.0,
                });
            }
        }
    }
    Ok(Layout {
        grid,
        n,
        lateral,
        outline,
        rung_nodes,
        rung_angles_rad,
        ring_k,
        shield_k,
        rung_gap_k,
        ring_gaps,
        snaps: GeometrySnaps {
            coil: coil.name.clone(),
            cell_m: d,
            snaps,
        },
    })
}

/// How far the grid of `opt` moves each part of `coil` (rungs, rings, gaps, shield ends) from its
/// ideal position, without building the model (cheap: for summaries whose basis came from a cache).
pub fn geometry_snaps(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    kind: ModelKind,
    opt: &MeshOptions,
) -> Result<GeometrySnaps> {
    check_cell(coil, phantom, opt.cell_m)?;
    Ok(layout(coil, phantom, kind, opt)?.snaps)
}

/// Azimuth (rad) of the middle of ring segment `j` (between rungs `j` and `j + 1`).
fn segment_mid_rad(coil: &CoilConfig, j: usize) -> f64 {
    (coil.rung_angle_offset_deg + 360.0 * (j as f64 + 0.5) / coil.rungs as f64).to_radians()
}

/// Refuses a cell that is not positive or too coarse for the rung spacing, and a phantom that does
/// not fit the coil.
fn check_cell(coil: &CoilConfig, phantom: Option<&PhantomConfig>, d: f64) -> Result<()> {
    let src = coil.source_name.as_str();
    if !(d > 0.0) {
        return Err(Error::input(
            src,
            "cell_m",
            format!("cell size {d} m is not positive"),
            "use e.g. 0.01",
        ));
    }
    if let Some(p) = phantom {
        p.check_fits(coil)?;
    }
    let r = coil.rung_radius_m;
    let spacing = 2.0 * std::f64::consts::PI * r / coil.rungs as f64;
    if spacing < 3.0 * d {
        return Err(Error::input(
            src,
            "rungs",
            format!(
                "rungs are {:.1} mm apart, under 3 cells of {:.1} mm",
                spacing * 1e3,
                d * 1e3
            ),
            "use smaller cells (cell_m) for this coil",
        ));
    }
    Ok(())
}

/// Cells of the simulated box (checked against the memory limit before anything is allocated) and
/// the lateral boundary (PEC at a shield, else CPML). The box holds the coil (or its shield) and
/// the whole phantom with `margin_m` of free space before the absorbing layers; `centre` says which
/// axes have a cell centre at the coil centre (an odd cell count) instead of a node.
fn box_cells(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    centre: [bool; 3],
    opt: &MeshOptions,
) -> Result<([usize; 3], Boundary)> {
    let src = coil.source_name.as_str();
    let d = opt.cell_m;
    let r = coil.rung_radius_m;
    let l = opt.cpml_layers;
    // The phantom's farthest reach from the coil centre along each axis.
    let mut reach = phantom.map_or([0.0; 3], |p| {
        let (c, h) = (p.centre_m(), p.bounding_half_m());
        [0, 1, 2].map(|a| (c[a] - h[a]).abs().max((c[a] + h[a]).abs()))
    });
    if let Some(b) = opt.cover_m {
        for a in 0..3 {
            reach[a] = reach[a].max(b[a][0].abs()).max(b[a][1].abs());
        }
    }
    let (half_x, half_y, lateral) = match &coil.shield {
        Some(s) => (s.radius_m + 2.0 * d, s.radius_m + 2.0 * d, Boundary::Pec),
        None => (
            r.max(reach[0]) + opt.margin_m + l as f64 * d,
            r.max(reach[1]) + opt.margin_m + l as f64 * d,
            Boundary::cpml(l),
        ),
    };
    let zlen = coil
        .shield
        .as_ref()
        .map_or(coil.rung_length_m, |s| s.length_m.max(coil.rung_length_m));
    let half_z = (0.5 * zlen).max(reach[2]) + opt.margin_m + l as f64 * d;
    // Sized in f64 and checked before anything is allocated: a tiny cell is a refusal naming the
    // cell option with the finest cell that fits, not an abort.
    let n = match (
        axis_count(half_x, d, centre[0]),
        axis_count(half_y, d, centre[1]),
        axis_count(half_z, d, centre[2]),
    ) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    crate::resources::check_bytes(
        src,
        "cell_m (--cell-mm, or [twin] cell_m in a recipe)",
        &format!(
            "the coil model at {} mm cells ({})",
            d * 1e3,
            n.map_or("too many".into(), |n| format!("{} x {} x {} cells", n[0], n[1], n[2]))
        ),
        n.and_then(|n| crate::resources::fdtd_bytes(n, 1)),
        |r| {
            if r.is_finite() {
                format!(
                    "use cells of {} mm or more (--cell-mm), or set RFTWIN_MAX_MEMORY if more memory is free",
                    crate::resources::fmt_sig(crate::resources::round_up(
                        d * 1e3 * crate::resources::coarsen_factor(r)
                    ))
                )
            } else {
                "use a cell of a few mm or more (body coils: 10 mm)".into()
            }
        },
    )?;
    Ok((n.expect("checked above"), lateral))
}

/// Refuses a phantom that reaches beyond the simulated box of `n` cells of `d` without its
/// absorbing layers (`l` cells).
fn check_phantom_inside(coil: &CoilConfig, p: &PhantomConfig, n: [usize; 3], d: f64, l: usize) -> Result<()> {
    let src = coil.source_name.as_str();
    // The simulated box without its absorbing layers: a phantom reaching beyond would be clipped
    // silently (a 3 m phantom became a 1 m one) and its SAR and loading would be wrong.
    let inner_xy = if coil.shield.is_some() { 0.0 } else { l as f64 * d };
    let inner_half = [
        n[0] as f64 * d / 2.0 - inner_xy,
        n[1] as f64 * d / 2.0 - inner_xy,
        n[2] as f64 * d / 2.0 - l as f64 * d,
    ];
    let (c, h) = (p.centre_m(), p.bounding_half_m());
    for a in 0..3 {
        let (lo, hi) = (c[a] - h[a], c[a] + h[a]);
        if lo < -inner_half[a] - 1e-9 || hi > inner_half[a] + 1e-9 {
            let key = match (p.shape, a) {
                (_, 2) => "length_m",
                (super::phantom::PhantomShape::Cylinder, _) => "radius_m",
                (_, 0) => "width_m",
                _ => "depth_m",
            };
            return Err(Error::input(
                &p.source_name,
                key,
                format!(
                    "the phantom spans {lo:.4} to {hi:.4} m along {} but the simulated box of {} ({src}) spans {:.4} to {:.4} m there (without its absorbing layers): it would be clipped",
                    ["x", "y", "z"][a],
                    coil.name,
                    -inner_half[a],
                    inner_half[a]
                ),
                "give the phantom's true size (metres, not millimetres), make it smaller, or move it towards the isocentre so that it lies inside the coil's simulated box",
            ));
        }
    }
    Ok(())
}

/// The shield: a PEC cylinder shell between the end nodes `k` (mirror-symmetric, see
/// [`symmetric_nodes`]), with the space between it and the lateral PEC walls filled.
fn add_shield(model: &mut VoxelModel, s: &Shield, g: &Grid, n: [usize; 3], d: f64, k: [usize; 2]) -> Result<()> {
    model.pec_cylinder_shell_z([0.0, 0.0], s.radius_m, g.axes[2].node(k[0]), g.axes[2].node(k[1]))?;
    // Fill the space between the shield and the lateral PEC walls with metal: left empty it
    // would be a coaxial line (shield inside, walls outside) resonating near c / (2 L_shield).
    let fill = model.add_material(Material::pec("shield_outside"))?;
    for i in 0..n[0] {
        for j in 0..n[1] {
            let c = g.cell_centre(i, j, 0);
            if c[0].hypot(c[1]) > s.radius_m + 0.5 * d {
                for kk in k[0]..k[1].min(n[2]) {
                    model.set_cell(i, j, kk, fill);
                }
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` are equal to within rounding (`scale` the size of the values).
fn tie(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.max(1.0)
}

/// Snaps the rungs to the loop nodes of the ring outline nearest to their ideal azimuths: the node
/// `(i, j)` and the azimuth (rad) of each rung. Distances are taken in exact half-cell coordinates
/// and ties broken by a mirror-symmetric rule (nearer the rung radius, then farther from the y
/// axis), so that mirror-image rungs snap to mirror-image nodes.
fn snap_rungs(coil: &CoilConfig, g: &Grid, outline: &[(Comp, usize, usize)]) -> Result<(Vec<[usize; 2]>, Vec<f64>)> {
    let src = coil.source_name.as_str();
    let (nx, ny) = (g.axes[0].cells(), g.axes[1].cells());
    let d = g.axes[0].cell_size(0);
    let rh = 2.0 * coil.rung_radius_m / d;
    let mut loop_nodes = std::collections::BTreeSet::new();
    for &(c, i, j) in outline {
        loop_nodes.insert((i, j));
        loop_nodes.insert(if c == Comp::X { (i + 1, j) } else { (i, j + 1) });
    }
    let mut rung_nodes = Vec::new();
    let mut rung_angles_rad = Vec::new();
    for jr in 0..coil.rungs {
        let a = coil.rung_angle_rad(jr);
        let p = [rh * a.cos(), rh * a.sin()];
        // (distance^2, |radius - R|, -|x|) in half cells: compared with a rounding tolerance.
        let key = |n: &(usize, usize)| {
            let (x, y) = (half_cells(n.0, nx) as f64, half_cells(n.1, ny) as f64);
            [
                (x - p[0]).powi(2) + (y - p[1]).powi(2),
                (x.hypot(y) - rh).abs(),
                -x.abs(),
            ]
        };
        let best = loop_nodes
            .iter()
            .min_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                for t in 0..3 {
                    if !tie(ka[t], kb[t], rh * rh) {
                        return ka[t].total_cmp(&kb[t]);
                    }
                }
                a.cmp(b)
            })
            .copied()
            .expect("outline is not empty");
        if rung_nodes.contains(&[best.0, best.1]) {
            return Err(Error::input(
                src,
                "rungs",
                "two rungs snap to the same grid node",
                "use smaller cells (cell_m)",
            ));
        }
        rung_nodes.push([best.0, best.1]);
        rung_angles_rad.push((half_cells(best.1, ny) as f64).atan2(half_cells(best.0, nx) as f64));
    }
    Ok((rung_nodes, rung_angles_rad))
}

/// Ideal drive: the +z edges of each rung and the edges of each ring segment with their signs.
#[allow(clippy::type_complexity)]
fn ideal_paths(
    coil: &CoilConfig,
    g: &Grid,
    outline: &[(Comp, usize, usize)],
    rung_nodes: &[[usize; 2]],
    ring_k: [usize; 2],
) -> Result<(Vec<Vec<Edge>>, [Vec<Vec<(Edge, f64)>>; 2])> {
    let src = coil.source_name.as_str();
    let mut rung_paths = Vec::new();
    let mut ring_paths: [Vec<Vec<(Edge, f64)>>; 2] = [Vec::new(), Vec::new()];
    let cycle = ordered_loop(outline, g).ok_or_else(|| {
        Error::input(
            src,
            "rung_radius_m",
            "the staircased ring is not a simple loop on this grid",
            "change cell_m slightly",
        )
    })?;
    let pos: Vec<usize> = rung_nodes
        .iter()
        .map(|rn| {
            cycle
                .iter()
                .position(|c| *c == (rn[0], rn[1]))
                .expect("rung node on the loop")
        })
        .collect();
    for jr in 0..coil.rungs {
        rung_paths.push(
            (ring_k[0]..ring_k[1])
                .map(|k| (2usize, [rung_nodes[jr][0], rung_nodes[jr][1], k]))
                .collect(),
        );
        let (a, b) = (pos[jr], pos[(jr + 1) % coil.rungs]);
        let mut path = Vec::new();
        let mut t = a;
        while t != b {
            let u = (t + 1) % cycle.len();
            let (p, q) = (cycle[t], cycle[u]);
            let (comp, start, sign) = if q.0 == p.0 + 1 {
                (0usize, p, 1.0)
            } else if p.0 == q.0 + 1 {
                (0, q, -1.0)
            } else if q.1 == p.1 + 1 {
                (1, p, 1.0)
            } else {
                (1, q, -1.0)
            };
            path.push(((comp, [start.0, start.1, 0]), sign));
            t = u;
        }
        for (ri, &k) in ring_k.iter().enumerate() {
            ring_paths[ri].push(path.iter().map(|&((c, [i, j, _]), sg)| ((c, [i, j, k]), sg)).collect());
        }
    }
    Ok((rung_paths, ring_paths))
}

/// Resonant model with ring gaps: per ring segment, the outline edge whose midpoint azimuth is
/// nearest the segment's ideal middle; `[ring][segment]`. Azimuths come from exact half-cell
/// coordinates and ties are broken by a mirror-symmetric rule (midpoint nearer the ring radius,
/// then an x edge before a y edge), so the set of gaps maps onto itself under x -> -x and y -> -y
/// whenever the coil does (with the grid centred as [`centre_on_cell`] chooses). Under the swap
/// x <-> y it can only where no segment middle lies on a diagonal: an edge midpoint never does.
fn ring_gap_edges(coil: &CoilConfig, g: &Grid, outline: &[(Comp, usize, usize)], ring_k: [usize; 2]) -> [Vec<Edge>; 2] {
    let (nx, ny) = (g.axes[0].cells(), g.axes[1].cells());
    let d = g.axes[0].cell_size(0);
    let rh = 2.0 * coil.rung_radius_m / d;
    let mut ring_gaps: [Vec<Edge>; 2] = [Vec::new(), Vec::new()];
    for jr in 0..coil.rungs {
        let mid = segment_mid_rad(coil, jr);
        let u = [mid.cos(), mid.sin()];
        // (|azimuth difference|, |radius - R|, y edge after x edge) of an edge's midpoint.
        let key = |&(c, i, j): &(Comp, usize, usize)| {
            let (mut x, mut y) = (half_cells(i, nx) as f64, half_cells(j, ny) as f64);
            if c == Comp::X {
                x += 1.0;
            } else {
                y += 1.0;
            }
            let ang = (u[0] * y - u[1] * x).atan2(u[0] * x + u[1] * y).abs();
            [ang, (x.hypot(y) - rh).abs(), if c == Comp::X { 0.0 } else { 1.0 }]
        };
        let e = outline
            .iter()
            .min_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                for t in 0..3 {
                    if !tie(ka[t], kb[t], 1.0) {
                        return ka[t].total_cmp(&kb[t]);
                    }
                }
                (a.0.index(), a.1, a.2).cmp(&(b.0.index(), b.1, b.2))
            })
            .copied()
            .expect("outline");
        for (ri, &k) in ring_k.iter().enumerate() {
            ring_gaps[ri].push((e.0.index(), [e.1, e.2, k]));
        }
    }
    ring_gaps
}

/// Resonant model: PEC rings (but their gaps) and PEC rungs between the rings, with a gap at
/// `rung_gap_k` when given; returns the rung gap edges.
fn place_conductors(
    model: &mut VoxelModel,
    outline: &[(Comp, usize, usize)],
    ring_gaps: &[Vec<Edge>; 2],
    rung_nodes: &[[usize; 2]],
    ring_k: [usize; 2],
    rung_gap_k: Option<usize>,
) -> Result<Vec<Edge>> {
    let mut rung_gaps = Vec::new();
    for &(c, i, j) in outline {
        for (ri, &k) in ring_k.iter().enumerate() {
            if ring_gaps[ri].contains(&(c.index(), [i, j, k])) {
                continue;
            }
            model.set_pec_edge(c, i, j, k)?;
        }
    }
    for &[i, j] in rung_nodes {
        for k in ring_k[0]..ring_k[1] {
            if rung_gap_k == Some(k) {
                rung_gaps.push((2, [i, j, k]));
                continue;
            }
            model.set_pec_edge(Comp::Z, i, j, k)?;
        }
    }
    Ok(rung_gaps)
}

/// Rung weights of the homogeneous mode: quadrature `exp(-i phi_j)` (B1+ rotating), or linear
/// `cos(phi_j - phi_port)` for a linear drive at `phi_port`.
pub fn homogeneous_weights(mesh: &BirdcageMesh, quadrature: bool, phi_port_rad: f64) -> Vec<Complex64> {
    mesh.rung_angles_rad
        .iter()
        .map(|&phi| {
            if quadrature {
                Complex64::from_polar(1.0, -phi)
            } else {
                Complex64::new((phi - phi_port_rad).cos(), 0.0)
            }
        })
        .collect()
}

impl BirdcageMesh {
    /// A steady-state simulation at `freq_hz` with the ideal drive: rung `j` carries the complex
    /// current `weights[j]` (A, +z), and the end rings carry the currents that close them.
    pub fn ideal_drive(&self, freq_hz: f64, weights: &[Complex64]) -> Result<SimulationSpec> {
        let n = self.rung_paths.len();
        if n == 0 {
            return Err(Error::input(
                "coil",
                "drive",
                "this mesh has no ideal-drive paths",
                "mesh the coil with ModelKind::Ideal",
            ));
        }
        if weights.len() != n {
            return Err(Error::input(
                "coil",
                "weights",
                format!("{} weights for {} rungs", weights.len(), n),
                "give one complex weight per rung",
            ));
        }
        // Segment j (rung j -> j+1) of the +z ring: cumulative sum of rung currents, minus its mean
        // (no net circulating ring current). The -z ring carries the opposite.
        let mut seg = vec![Complex64::default(); n];
        let mut acc = Complex64::default();
        for j in 0..n {
            acc += weights[j];
            seg[j] = acc;
        }
        let mean = seg.iter().sum::<Complex64>() / n as f64;
        seg.iter_mut().for_each(|x| *x -= mean);
        let mut spec = SimulationSpec::new(self.model.clone());
        spec.cell_key = (
            "coil model".into(),
            "cell_m (--cell-mm, or [twin] cell_m in a recipe)".into(),
        );
        spec.boundaries = self.boundaries.clone();
        spec.courant = self.courant;
        spec.cw_freq_hz = Some(freq_hz);
        spec.port_freqs_hz = vec![freq_hz];
        let mut push = |name: String, edge: Edge, cur: Complex64| {
            if cur.norm() > 0.0 {
                let wf = Waveform::Cw {
                    freq_hz,
                    amplitude: 1.0,
                    phase_rad: cur.arg(),
                    ramp_periods: 3.0,
                };
                spec.lumped
                    .push(LumpedSpec::current_source(&name, edge.0, edge.1, cur.norm(), wf));
            }
        };
        for (j, path) in self.rung_paths.iter().enumerate() {
            for (t, &e) in path.iter().enumerate() {
                push(format!("rung{j}_{t}"), e, weights[j]);
            }
        }
        for (ri, ring) in self.ring_paths.iter().enumerate() {
            let ring_sign = if ri == 1 { 1.0 } else { -1.0 };
            for (j, path) in ring.iter().enumerate() {
                for (t, &(e, sg)) in path.iter().enumerate() {
                    push(format!("ring{ri}_{j}_{t}"), e, seg[j] * (sg * ring_sign));
                }
            }
        }
        Ok(spec)
    }
}

/// Orders the nodes of a closed loop of xy grid edges counter-clockwise (+phi). `None` if a node
/// has other than two loop edges.
fn ordered_loop(edges: &[(Comp, usize, usize)], g: &Grid) -> Option<Vec<(usize, usize)>> {
    use std::collections::HashMap;
    let mut adj: HashMap<(usize, usize), Vec<(usize, usize)>> = HashMap::new();
    for &(c, i, j) in edges {
        let b = if c == Comp::X { (i + 1, j) } else { (i, j + 1) };
        adj.entry((i, j)).or_default().push(b);
        adj.entry(b).or_default().push((i, j));
    }
    if adj.values().any(|v| v.len() != 2) {
        return None;
    }
    let start = *adj.keys().min()?;
    let mut cycle = vec![start];
    let mut prev = start;
    let mut cur = adj[&start][0];
    while cur != start {
        cycle.push(cur);
        let nb = &adj[&cur];
        let next = if nb[0] == prev { nb[1] } else { nb[0] };
        prev = cur;
        cur = next;
        if cycle.len() > adj.len() {
            return None;
        }
    }
    if cycle.len() != adj.len() {
        return None;
    }
    // Shoelace: positive area = counter-clockwise.
    let area: f64 = (0..cycle.len())
        .map(|t| {
            let (a, b) = (cycle[t], cycle[(t + 1) % cycle.len()]);
            g.axes[0].node(a.0) * g.axes[1].node(b.1) - g.axes[0].node(b.0) * g.axes[1].node(a.1)
        })
        .sum();
    if area < 0.0 {
        cycle.reverse();
    }
    Some(cycle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_nodes_mirror_about_the_centre_and_snap_to_the_nearest() {
        // Node at the centre (even count): +-L/2 = +-125 mm at 10 mm -> 12.5 cells, a tie: the
        // longer span (13 cells, 130 mm).
        let (lo, hi, h) = symmetric_nodes(40, 0.010, 0.125);
        assert_eq!((lo, hi), (7, 33));
        assert!((h - 0.130).abs() < 1e-12);
        // Cell centre at the centre (odd count): nodes at +-(m + 1/2) d: 125 mm at 10 mm exactly.
        let (lo, hi, h) = symmetric_nodes(41, 0.010, 0.125);
        assert_eq!(20 - lo, hi - 21);
        assert!((h - 0.125).abs() < 1e-12, "{h}");
        for n in [40usize, 41] {
            for half in [0.031, 0.077, 0.1249, 0.1251] {
                let (lo, hi, h) = symmetric_nodes(n, 0.010, half);
                assert_eq!(2 * lo as i64 - n as i64, -(2 * hi as i64 - n as i64), "{n} {half}");
                // Nearest of the symmetric choices: within half a cell.
                assert!((h - half).abs() <= 0.005 + 1e-12, "{n} {half}: {h}");
            }
        }
    }

    #[test]
    fn axis_count_parity_puts_a_node_or_a_cell_centre_at_the_middle() {
        for half in [0.1, 0.123, 0.5] {
            let even = axis_count(half, 0.01, false).unwrap();
            let odd = axis_count(half, 0.01, true).unwrap();
            assert_eq!(even % 2, 0);
            assert_eq!(odd % 2, 1);
            // Both reach at least `half` from the middle.
            assert!(even as f64 * 0.01 / 2.0 >= half - 1e-12 && odd as f64 * 0.01 / 2.0 >= half - 1e-12);
        }
    }

    #[test]
    fn ring_outline_is_mirror_symmetric_even_on_exact_ties() {
        // r = 325 mm at 5 mm with a cell centre at the middle: (125, 300) mm is a cell centre
        // exactly on the circle (a tie that node-based float centres decide differently on each side).
        for n in [131usize, 132] {
            let e: std::collections::BTreeSet<(usize, usize, usize)> = ring_outline([n, n, 2], 0.005, 0.325)
                .into_iter()
                .map(|(c, i, j)| (c.index(), i, j))
                .collect();
            for &(c, i, j) in &e {
                // x -> -x: an x edge (i, j) spans nodes i..i+1, its image n-1-i..n-i.
                let mx = if c == 0 { (c, n - 1 - i, j) } else { (c, n - i, j) };
                let my = if c == 1 { (c, i, n - 1 - j) } else { (c, i, n - j) };
                let sw = (1 - c, j, i);
                assert!(
                    e.contains(&mx) && e.contains(&my) && e.contains(&sw),
                    "{n}: {:?}",
                    (c, i, j)
                );
            }
        }
    }
}
