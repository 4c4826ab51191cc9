//! The birdcage on the FDTD grid: rungs, end rings and shield as thin PEC (staircased onto grid
//! edges), gaps for capacitors or sources, the phantom, and the drive.
//!
//! Frame: the coil frame (origin at the isocentre, z along the bore). The grid is uniform with a
//! node at the isocentre. With a shield, the lateral walls are PEC two cells outside the shield (the
//! shield bounds the field; the open ends leak along z, which ends in a CPML); without one, CPML on
//! every face.
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
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            cell_m: DEFAULT_COARSE_CELL_M,
            margin_m: 0.06,
            cpml_layers: 8,
            courant: 0.98,
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
    /// Node box around the coil interior (rung radius, between the rings) for field probes.
    pub interior: [std::ops::Range<usize>; 3],
}

/// Meshes `coil` (and `phantom`, checked to fit) with the gaps of `gaps`.
pub fn mesh(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    kind: ModelKind,
    opt: &MeshOptions,
) -> Result<BirdcageMesh> {
    let d = opt.cell_m;
    check_cell(coil, phantom, d)?;
    let r = coil.rung_radius_m;
    let l = opt.cpml_layers;
    let (n, lateral) = box_cells(coil, opt)?;
    let origin = [
        -(n[0] as f64) * d / 2.0,
        -(n[1] as f64) * d / 2.0,
        -(n[2] as f64) * d / 2.0,
    ];
    let grid = Grid::uniform(origin, [d; 3], n)?;
    if let Some(p) = phantom {
        check_phantom_inside(coil, p, n, d, l)?;
    }
    let mut model = VoxelModel::new(grid, Material::vacuum())?;
    let phantom_material = match phantom {
        Some(p) => Some(p.rasterise(&mut model)?.0),
        None => None,
    };
    let g = model.grid.clone();
    let iso_node = [n[0] / 2, n[1] / 2, n[2] / 2];

    if let Some(s) = &coil.shield {
        add_shield(&mut model, s, &g, n, d)?;
    }

    // End rings: the staircased outline of the rung circle at the two ring planes.
    let outline = model.disc_outline_edges([0.0, 0.0], r);
    let ring_k = [
        g.axes[2].nearest_node(-coil.rung_length_m / 2.0),
        g.axes[2].nearest_node(coil.rung_length_m / 2.0),
    ];
    // Rungs at the loop nodes nearest to their ideal azimuths.
    let (rung_nodes, rung_angles_rad) = snap_rungs(coil, &g, &outline)?;
    let mut ring_gaps: [Vec<Edge>; 2] = [Vec::new(), Vec::new()];
    let mut rung_gaps = Vec::new();
    let mut rung_paths = Vec::new();
    let mut ring_paths: [Vec<Vec<(Edge, f64)>>; 2] = [Vec::new(), Vec::new()];
    match kind {
        ModelKind::Ideal => {
            (rung_paths, ring_paths) = ideal_paths(coil, &g, &outline, &rung_nodes, ring_k)?;
        }
        ModelKind::Resonant(gaps) => {
            // Ring gap per segment: the outline edge whose midpoint azimuth is nearest the segment's middle.
            if gaps.rings() {
                ring_gaps = ring_gap_edges(coil, &g, &outline, &rung_angles_rad, ring_k, d);
            }
            // Rungs along z between the rings, with a gap at the middle when asked.
            let gap_k = iso_node[2].clamp(ring_k[0] + 1, ring_k[1] - 2);
            let rung_gap_k = gaps.rungs().then_some(gap_k);
            rung_gaps = place_conductors(&mut model, &outline, &ring_gaps, &rung_nodes, ring_k, rung_gap_k)?;
        }
    }
    let rn = (r / d).ceil() as usize + 1;
    let interior = [
        iso_node[0].saturating_sub(rn)..(iso_node[0] + rn + 1).min(n[0] + 1),
        iso_node[1].saturating_sub(rn)..(iso_node[1] + rn + 1).min(n[1] + 1),
        ring_k[0]..ring_k[1] + 1,
    ];
    let mut boundaries: [[Boundary; 2]; 3] = std::array::from_fn(|_| [lateral.clone(), lateral.clone()]);
    boundaries[2] = [Boundary::cpml(l), Boundary::cpml(l)];
    Ok(BirdcageMesh {
        model,
        boundaries,
        courant: opt.courant,
        rung_nodes,
        rung_angles_rad,
        ring_k,
        rung_gaps,
        ring_gaps,
        rung_paths,
        ring_paths,
        iso_node,
        phantom_material,
        interior,
    })
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
/// the lateral boundary (PEC at a shield, else CPML).
fn box_cells(coil: &CoilConfig, opt: &MeshOptions) -> Result<([usize; 3], Boundary)> {
    let src = coil.source_name.as_str();
    let d = opt.cell_m;
    let r = coil.rung_radius_m;
    let l = opt.cpml_layers;
    let (half_xy, lateral) = match &coil.shield {
        Some(s) => (s.radius_m + 2.0 * d, Boundary::Pec),
        None => (r + opt.margin_m + l as f64 * d, Boundary::cpml(l)),
    };
    let zlen = coil
        .shield
        .as_ref()
        .map_or(coil.rung_length_m, |s| s.length_m.max(coil.rung_length_m));
    let half_z = 0.5 * zlen + opt.margin_m + l as f64 * d;
    // Sized in f64 and checked before anything is allocated: a tiny cell is a refusal naming the
    // cell option with the finest cell that fits, not an abort.
    let cells = |h: f64| crate::resources::axis_cells(h / d).and_then(|c| c.checked_mul(2));
    let n = match (cells(half_xy), cells(half_z)) {
        (Some(a), Some(b)) => Some([a, a, b]),
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
                    crate::resources::fmt_sig(crate::resources::round_up(d * 1e3 * crate::resources::coarsen_factor(r)))
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

/// The shield: a PEC cylinder shell, with the space between it and the lateral PEC walls filled.
fn add_shield(model: &mut VoxelModel, s: &Shield, g: &Grid, n: [usize; 3], d: f64) -> Result<()> {
    model.pec_cylinder_shell_z([0.0, 0.0], s.radius_m, -s.length_m / 2.0, s.length_m / 2.0)?;
    // Fill the space between the shield and the lateral PEC walls with metal: left empty it
    // would be a coaxial line (shield inside, walls outside) resonating near c / (2 L_shield).
    let fill = model.add_material(Material::pec("shield_outside"))?;
    let k0 = g.axes[2].cell_of(-s.length_m / 2.0 + 0.5 * d).unwrap_or(0);
    let k1 = g.axes[2].cell_of(s.length_m / 2.0 - 0.5 * d).unwrap_or(n[2] - 1);
    for i in 0..n[0] {
        for j in 0..n[1] {
            let c = g.cell_centre(i, j, 0);
            if c[0].hypot(c[1]) > s.radius_m + 0.5 * d {
                for k in k0..=k1 {
                    model.set_cell(i, j, k, fill);
                }
            }
        }
    }
    Ok(())
}

/// Snaps the rungs to the loop nodes of the ring outline nearest to their ideal azimuths: the node
/// `(i, j)` and the azimuth (rad) of each rung.
fn snap_rungs(coil: &CoilConfig, g: &Grid, outline: &[(Comp, usize, usize)]) -> Result<(Vec<[usize; 2]>, Vec<f64>)> {
    let src = coil.source_name.as_str();
    let mut loop_nodes = std::collections::BTreeSet::new();
    for &(c, i, j) in outline {
        loop_nodes.insert((i, j));
        loop_nodes.insert(if c == Comp::X { (i + 1, j) } else { (i, j + 1) });
    }
    let mut rung_nodes = Vec::new();
    let mut rung_angles_rad = Vec::new();
    for jr in 0..coil.rungs {
        let p = coil.rung_point(jr, 0.0);
        let best = loop_nodes
            .iter()
            .min_by(|a, b| {
                let da = (g.axes[0].node(a.0) - p[0]).powi(2) + (g.axes[1].node(a.1) - p[1]).powi(2);
                let db = (g.axes[0].node(b.0) - p[0]).powi(2) + (g.axes[1].node(b.1) - p[1]).powi(2);
                da.total_cmp(&db)
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
        rung_angles_rad.push(g.axes[1].node(best.1).atan2(g.axes[0].node(best.0)));
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
/// nearest the segment's middle; `[ring][segment]`.
fn ring_gap_edges(
    coil: &CoilConfig,
    g: &Grid,
    outline: &[(Comp, usize, usize)],
    rung_angles_rad: &[f64],
    ring_k: [usize; 2],
    d: f64,
) -> [Vec<Edge>; 2] {
    let mut ring_gaps: [Vec<Edge>; 2] = [Vec::new(), Vec::new()];
    for jr in 0..coil.rungs {
        let a0 = rung_angles_rad[jr];
        let mut a1 = rung_angles_rad[(jr + 1) % coil.rungs];
        if a1 < a0 {
            a1 += 2.0 * std::f64::consts::PI;
        }
        let mid = 0.5 * (a0 + a1);
        let e = outline
            .iter()
            .min_by(|x, y| {
                let ang = |&(c, i, j): &(Comp, usize, usize)| {
                    let (xm, ym) = if c == Comp::X {
                        (g.axes[0].node(i) + d / 2.0, g.axes[1].node(j))
                    } else {
                        (g.axes[0].node(i), g.axes[1].node(j) + d / 2.0)
                    };
                    let a = ym.atan2(xm);
                    let diff = (a - mid).rem_euclid(2.0 * std::f64::consts::PI);
                    diff.min(2.0 * std::f64::consts::PI - diff)
                };
                ang(x).total_cmp(&ang(y))
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
        spec.cell_key = ("coil model".into(), "cell_m (--cell-mm, or [twin] cell_m in a recipe)".into());
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
