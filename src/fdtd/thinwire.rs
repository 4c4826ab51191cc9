//! Sub-cell thin wires (radius below the cell size), bare or insulated.
//!
//! A wire runs along Yee E edges (a polyline is staircased onto edges, and the staircase length
//! error is reported); E on the wire edges is zero (thin PEC edges), except in a gap that carries a
//! lumped element (feed or load).
//!
//! Method: first-ring correction of the lattice's per-unit-length capacitance and inductance. An
//! unmodified lattice wire behaves like a wire of radius `r0 = 0.1985 d` (the 2-D lattice Green's
//! function grows as `(ln r + gamma + 1.5 ln 2) / (2 pi)`, so a line source on a node looks like one
//! of radius `e^-gamma / 2^1.5` cells; cf. the 0.199 cells found for a PEC edge by Asada et al., IEEE
//! Trans. EMC 57, 2015). By symmetry the four nearest nodes of a wire node are at one potential, so
//! the four E edges joining them to the wire are in series with the rest of the lattice: scaling
//! their permittivity (and conductivity) by `s = 1 / (1 + (2/pi) ln(r0/a))` adds exactly the missing
//! `ln(r0/a) / (2 pi eps)` of a wire of radius `a` (static 2-D limit). The four H samples circulating
//! each wire edge form the dual first ring and get `mu / s` the same way (the correction runs after
//! the fused step as an extra H increment, linear in the new E, so the hot loop is untouched). The
//! static L and C per length are then those of radius `a`, with `L C = mu eps`. The coating of an
//! insulated part adds its layer in series: `1/eps_edge = 1/eps_m + (2/pi) [ln(b/a)/eps_i +
//! ln(r0/b)/eps_m]` with the complex `eps_m = eps_r - i sigma/(w eps0)` of the medium at the CW
//! frequency. The first ring stands for the radii `a` to `d' = r0 e^(pi/2) = 0.955 d` (its own
//! edge adds `(2/pi) ln(d'/r0) = 1`), so the formula reads `1/eps_edge = (2/pi) [ln(b/a)/eps_i +
//! ln(d'/b)/eps_m]`; a coating thicker than that (`b > d'`, e.g. 0.75 mm at 0.5 mm cells) fills the
//! first ring (`ln(d'/a)/eps_i`) and covers the lattice edges beyond it ([`CoatingRegion`]: within
//! `b` of the coated path, and `b - a` past a sealed end): each carries the coating and the medium
//! in series, `1/eps_edge = phi/eps_i + (1 - phi)/eps_m`, `phi` the share of the edge's radial
//! potential drop (samples weighted by `1/rho`) inside the coating. Bare parts (bare ends, ring or tip electrodes of their own radius, anywhere along the
//! wire) and the coated rest are in parallel: a node carries half of each neighbouring edge, and its
//! edges get the bare and the coated permittivity weighted by the fractions of that length that are
//! bare and coated, so a bare part exposes exactly its length, not a whole number of cells. Ends: an
//! end node carries half a cell of wire, so all its lattice edges, the axial edge beyond the end
//! included, get half the first-ring factor ([`END_FACTOR`]); without this the wire acts ~0.7 cell
//! per end longer. A sealed end (coated end node) thus closes the wire with the coating's
//! capacitance: its end node and the edge beyond it carry the coated permittivity, and only
//! displacement current through the coating leaves it.
//!
//! Field in the medium: a coated first-ring edge carries the voltage across the coating and the
//! medium in series, so its E is not the field in the medium next to the coating. The simulation
//! lists these edges with the factor `g = eps_edge / eps_bare` ([`Staircase::medium_field`],
//! [`medium_field_factor`]); SAR is read from `g E` there, the field a bare edge carrying the same
//! current shows (issue 18: without it a sealed insulated end, where the coating's voltage peaks,
//! read as the hottest point of the wire).
//!
//! Stability: where the relative permittivity or permeability drops below 1 the local wave speed
//! exceeds c0, so the simulation scales its Courant number by `sqrt(min(1, eps_r min) min(1, mu_r
//! min))` over the modified samples (returned by `apply_to_model`): in vacuum e.g. 0.46 for
//! a = 0.025 d (the end edges, eps_r = s/2) and 0.71 for a = 0.4 d (mu_r = 1/s); in gel only the
//! permeability counts (1 for a <= 0.1985 d, 0.92 for a = 0.25 d).
//!
//! The current along the wire is read from the loop integral of H around each wire edge
//! (`I = (curl H) . A` on the edge's dual face), Fourier transformed on the fly
//! ([`WireCurrentProbe`]).
//!
//! Accuracy (tests/fdtd_thinwire.rs, rftwin validate): a centre-fed 0.465-wavelength dipole in free
//! space (1 cm cells) matches a Hallen moment-method reference within 4 % in Z_in for radii 0.025 to
//! 0.4 cells, and its reactance follows the reference's radius dependence (-10.4 to -36.3 Ohm vs
//! -7.7 to -36.5 Ohm from 0.2 to 0.025 cells); current wavenumbers in ASTM gel match the gel's k (bare)
//! and King's insulated-wire formula within 5 %; the tip 1 g SAR of a bare wire in gel changes by
//! 2.5 % from 1 mm to 0.5 mm cells. History: an Umashankar-Taflove model (H only, `2/ln(d/a)` on the
//! far E term) left X 23-36 Ohm too inductive and the tip SAR drifting ~15 % per halving of the cell.

use std::collections::BTreeMap;

use num_complex::Complex64;

use super::extension::{Extension, Probe, StepCtx};
use super::fields::{Fields, Window};
use super::operator::Operator;
use crate::error::{Error, Result};
use crate::grid::{staircase_edges, StairEdge};
use crate::grid::{Comp, Grid, VoxelModel, EPS0};

/// A thin wire along a polyline.
#[derive(Clone, Debug, PartialEq)]
pub struct ThinWire {
    /// Polyline vertices (m); each is snapped to its nearest grid node.
    pub nodes_m: Vec<[f64; 3]>,
    /// Conductor radius (m), below half the cell size.
    pub radius_m: f64,
    pub insulation: Option<Insulation>,
    /// Uninsulated parts of an insulated wire (electrodes, bare ends), as arc-length intervals
    /// along the polyline from its first point (m). Ignored without insulation.
    pub bare: Vec<BareSpan>,
}

/// An uninsulated part of an insulated thin wire: a bare end or an electrode (ring or tip).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BareSpan {
    /// Arc length (m along the polyline from its first point) where the bare part starts and ends.
    pub from_m: f64,
    pub to_m: f64,
    /// Radius of the bare metal (m): the conductor's, or a ring electrode's (below half a cell).
    pub radius_m: f64,
}

/// A dielectric coating around a thin wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Insulation {
    /// Outer radius of the coating (m), above the conductor radius.
    pub outer_radius_m: f64,
    /// Relative permittivity of the coating (lossless).
    pub eps_r: f64,
}

impl ThinWire {
    /// A bare straight wire from `a` to `b`.
    pub fn straight(a: [f64; 3], b: [f64; 3], radius_m: f64) -> Self {
        Self {
            nodes_m: vec![a, b],
            radius_m,
            insulation: None,
            bare: Vec::new(),
        }
    }

    /// Bare lengths at the start and the end of the path (m), of the conductor's radius.
    pub fn with_bare_ends(mut self, start_m: f64, end_m: f64) -> Self {
        let len = self.polyline_length_m();
        if start_m > 0.0 {
            self.bare.push(BareSpan {
                from_m: 0.0,
                to_m: start_m,
                radius_m: self.radius_m,
            });
        }
        if end_m > 0.0 {
            self.bare.push(BareSpan {
                from_m: len - end_m,
                to_m: len,
                radius_m: self.radius_m,
            });
        }
        self
    }

    /// Length of the polyline (m).
    pub fn polyline_length_m(&self) -> f64 {
        self.nodes_m.windows(2).map(|w| dist(w[0], w[1])).sum()
    }

    /// The wire staircased onto grid edges. `item` names the wire in errors.
    pub fn staircase(&self, grid: &Grid, item: &str) -> Result<Staircase> {
        if self.nodes_m.len() < 2 {
            return Err(Error::input(
                "thin_wires",
                &format!("{item}.nodes_m"),
                "a wire needs at least two points",
                "give the path as two or more points",
            ));
        }
        let d = grid
            .uniform_spacing()
            .ok_or_else(|| Error::input("thin_wires", item, "thin wires need a uniform grid", "use uniform axes"))?;
        let dmin = d.iter().cloned().fold(f64::INFINITY, f64::min);
        if !(self.radius_m > 0.0 && self.radius_m < 0.5 * dmin) {
            return Err(Error::input(
                "thin_wires",
                &format!("{item}.radius_m"),
                format!(
                    "radius {} m is not in (0, half the cell size = {} m)",
                    self.radius_m,
                    0.5 * dmin
                ),
                "use a finer grid or model the conductor as a solid (PEC cells)",
            ));
        }
        if let Some(ins) = &self.insulation {
            if !(ins.outer_radius_m > self.radius_m && ins.eps_r >= 1.0 && ins.eps_r.is_finite()) {
                return Err(Error::input(
                    "thin_wires",
                    &format!("{item}.insulation"),
                    format!(
                        "outer radius {} m must exceed the conductor radius {} m and eps_r {} must be >= 1",
                        ins.outer_radius_m, self.radius_m, ins.eps_r
                    ),
                    "fix the insulation",
                ));
            }
        }
        let poly_len = self.polyline_length_m();
        for (bi, b) in self.bare.iter().enumerate() {
            if !(b.from_m >= -1e-12 && b.to_m > b.from_m && b.to_m <= poly_len + 1e-9) {
                return Err(Error::input(
                    "thin_wires",
                    &format!("{item}.bare[{bi}]"),
                    format!(
                        "bare part [{}, {}] m does not lie on the wire (0 to {poly_len} m) or has no length",
                        b.from_m, b.to_m
                    ),
                    "give a bare part inside the wire with from_m < to_m",
                ));
            }
            if !(b.radius_m > 0.0 && b.radius_m < 0.5 * dmin) {
                return Err(Error::input(
                    "thin_wires",
                    &format!("{item}.bare[{bi}].radius_m"),
                    format!("radius {} m is not in (0, half the cell size = {} m)", b.radius_m, 0.5 * dmin),
                    "use a finer grid or a smaller electrode radius",
                ));
            }
        }
        let n = grid.dims();
        let node = |p: [f64; 3], vi: usize| -> Result<[usize; 3]> {
            for a in 0..3 {
                let ax = &grid.axes[a];
                if !(p[a] >= ax.start() - 1e-12 && p[a] <= ax.end() + 1e-12) {
                    return Err(Error::input(
                        "thin_wires",
                        &format!("{item}.nodes_m[{vi}]"),
                        format!("point {p:?} lies outside the grid"),
                        "move the wire inside the grid",
                    ));
                }
            }
            Ok(std::array::from_fn(|a| grid.axes[a].nearest_node(p[a])))
        };
        let mut edges: Vec<WireEdge> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut arc = 0.0;
        let mut cur = node(self.nodes_m[0], 0)?;
        for (vi, p) in self.nodes_m.iter().enumerate().skip(1) {
            let target = node(*p, vi)?;
            for StairEdge { axis: best, start, dir } in staircase_edges(cur, target) {
                if !seen.insert((best, start)) {
                    return Err(Error::input(
                        "thin_wires",
                        &format!("{item}.nodes_m"),
                        format!("the staircased path runs twice over the edge {best}@{start:?}"),
                        "use a path that does not cross itself (at this cell size)",
                    ));
                }
                edges.push(WireEdge {
                    comp: best,
                    node: start,
                    dir: dir as i8,
                    arc_m: arc + 0.5 * d[best],
                });
                arc += d[best];
            }
            cur = target;
        }
        if edges.is_empty() {
            return Err(Error::input(
                "thin_wires",
                &format!("{item}.nodes_m"),
                "the wire has zero length on this grid (all points snap to one node)",
                "give a longer path or use a finer grid",
            ));
        }
        for e in &edges {
            for a in 0..3 {
                if a != e.comp && (e.node[a] == 0 || e.node[a] == n[a]) {
                    return Err(Error::input(
                        "thin_wires",
                        &format!("{item}.nodes_m"),
                        "the wire touches the domain boundary",
                        "keep the wire at least one cell inside the domain",
                    ));
                }
            }
        }
        let poly = self.polyline_length_m();
        Ok(Staircase {
            edges,
            length_m: arc,
            polyline_length_m: poly,
            d,
            medium_field: Vec::new(),
        })
    }
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
}

/// One wire edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WireEdge {
    /// Edge component (axis) and start node.
    pub comp: usize,
    pub node: [usize; 3],
    /// +1 if the path runs along +axis over this edge, -1 if along -axis.
    pub dir: i8,
    /// Arc length along the staircase at the edge centre (m).
    pub arc_m: f64,
}

/// A wire on the grid.
#[derive(Clone, Debug)]
pub struct Staircase {
    pub edges: Vec<WireEdge>,
    /// Length of the staircase (m).
    pub length_m: f64,
    /// Length of the original polyline (m).
    pub polyline_length_m: f64,
    d: [f64; 3],
    /// The first-ring edges of coated wire nodes, `(axis, start node, g)`: `g E` is the field the
    /// medium next to the coating carries (see [`medium_field_factor`]); filled by the simulation.
    pub medium_field: Vec<(usize, [usize; 3], Complex64)>,
}

impl Staircase {
    /// Staircase minus polyline length (m): the length error of the rasterisation.
    pub fn length_error_m(&self) -> f64 {
        self.length_m - self.polyline_length_m
    }
    /// The edge whose centre lies nearest to arc length `arc_m` (for a gap with a lumped element:
    /// a feed at the centre, a source at the tip).
    pub fn edge_at(&self, arc_m: f64) -> WireEdge {
        *self
            .edges
            .iter()
            .min_by(|a, b| (a.arc_m - arc_m).abs().total_cmp(&(b.arc_m - arc_m).abs()))
            .expect("non-empty")
    }
    /// The grid nodes of the path in order, with their arc length (m).
    pub fn nodes(&self) -> Vec<([usize; 3], f64)> {
        let mut out = Vec::with_capacity(self.edges.len() + 1);
        for e in &self.edges {
            let (a, b) = endpoints(e);
            let first = if e.dir > 0 { a } else { b };
            if out.is_empty() {
                out.push((first, e.arc_m - 0.5 * self.d[e.comp]));
            }
            let last = if e.dir > 0 { b } else { a };
            out.push((last, e.arc_m + 0.5 * self.d[e.comp]));
        }
        out
    }
}

fn endpoints(e: &WireEdge) -> ([usize; 3], [usize; 3]) {
    let mut b = e.node;
    b[e.comp] += 1;
    (e.node, b)
}

/// The neighbours used by the H update of component `q` at node `p`: `(curl E)_q = sum w E`.
fn h_neighbours(q: usize, p: [usize; 3], d: [f64; 3]) -> [(usize, [usize; 3], f64, usize); 4] {
    let (a, b) = ((q + 1) % 3, (q + 2) % 3);
    let mut pa = p;
    pa[a] += 1;
    let mut pb = p;
    pb[b] += 1;
    // (E component, node, weight, axis of the difference)
    [
        (b, pa, 1.0 / d[a], a),
        (b, p, -1.0 / d[a], a),
        (a, pb, -1.0 / d[b], b),
        (a, p, 1.0 / d[b], b),
    ]
}

/// The H samples circulating E edge `(c, p)`: `(component, node)`.
fn circulating_h(c: usize, p: [usize; 3]) -> [(usize, [usize; 3]); 4] {
    let (a, b) = ((c + 1) % 3, (c + 2) % 3);
    let mut pa = p;
    pa[a] -= 1;
    let mut pb = p;
    pb[b] -= 1;
    [(b, p), (b, pa), (a, p), (a, pb)]
}

/// Equivalent radius of a line charge (or current) on one node (edge) of the square Yee lattice, in
/// cells: the 2-D lattice Green's function grows as `(ln r + gamma + 1.5 ln 2) / (2 pi)`, so the
/// unmodified lattice wire is a wire of radius `e^-gamma / 2^1.5 = 0.1985` cells (cf. the 0.199
/// cells found for a PEC edge by Asada et al., IEEE Trans. EMC 57, 2015).
pub const LATTICE_RADIUS_CELLS: f64 = 0.198_506_4;

/// The radius (cells) up to which the first ring of lattice edges stands for the medium around a
/// wire: `r0 e^(pi/2) = 0.955` (the lattice edge itself adds `(2/pi) ln(d'/r0) = 1` to the series sum
/// of `first_ring_eps`; the exact lattice Green's function gives the nearest nodes the potential
/// of radius 0.955 cells in the continuum).
pub const FIRST_RING_RADIUS_CELLS: f64 = LATTICE_RADIUS_CELLS * 4.810_477_380_965_351;

/// The first-ring factor `s = 1 / (1 + (2/pi) ln(r0 / a))` of a bare wire of radius `a` on cells of
/// size `d` (`r0 = 0.1985 d`): the four radial E edges at each wire node carry `s eps`, `s sigma`,
/// and the four H samples circulating each wire edge `mu / s`, which makes the lattice's static
/// capacitance and inductance per unit length those of a wire of radius `a` (see the module doc).
pub fn first_ring_factor(radius_m: f64, d: f64) -> f64 {
    1.0 / (1.0 + std::f64::consts::FRAC_2_PI * (LATTICE_RADIUS_CELLS * d / radius_m).ln())
}

/// The complex permittivity of a first-ring radial edge of a wire of radius `a` on cells of `d`,
/// in a medium `eps_m` (complex relative), optionally coated (outer radius `b`, `eps_i`):
/// `1/eps_edge = 1/eps_m + (2/pi) [ln(b/a)/eps_i + ln(r0/b)/eps_m]` (bare: `b = a`).
fn first_ring_eps(eps_m: Complex64, a: f64, d: f64, coat: Option<(f64, f64)>) -> Complex64 {
    match coat {
        None => eps_m * first_ring_factor(a, d),
        Some((b, eps_i)) => {
            // The first ring stands for the radii a..d' (d' = r0 e^(pi/2) = 0.955 d: the lattice's
            // own edge adds (2/pi) ln(d'/r0) = 1); a coating beyond d' fills it (and the edges
            // beyond it carry the rest, `coating_edges`).
            let r1 = FIRST_RING_RADIUS_CELLS * d;
            let bc = b.min(r1);
            let k = std::f64::consts::FRAC_2_PI;
            1.0 / (k * ((bc / a).ln() / eps_i + (r1 / bc).ln() / eps_m))
        }
    }
}

/// The field in the medium next to a coated first-ring edge, per unit edge field: `g =
/// eps_edge / eps_bare`, the ratio of the coated edge's complex permittivity to that of the same
/// edge on a bare wire. The lattice edge of a coated wire carries the voltage across the coating
/// (a lossless dielectric) and the medium in series; the current it carries is
/// `i w eps0 eps_edge E`, and the medium next to the coating carries that current at the field a
/// bare edge would show, `g E`. SAR next to a coated wire is `sigma |g E|^2` (the same read-out as
/// next to a bare wire): without `g` the coating's voltage counts as a field in the medium, and a
/// sealed end (where that voltage peaks) reads hotter than a bare electrode.
pub fn medium_field_factor(eps_edge: Complex64, eps_bare: Complex64) -> Complex64 {
    if eps_bare.norm() > 0.0 {
        eps_edge / eps_bare
    } else {
        Complex64::new(1.0, 0.0)
    }
}

/// The bare parts of `w` on its staircase's arc length, `(from, to, radius)`: a part that touches an
/// end of the polyline keeps its length from that end; an inner part (an electrode) keeps its length
/// about its centre, placed at the same fraction of the path.
fn bare_spans_on_staircase(w: &ThinWire, st: &Staircase) -> Vec<(f64, f64, f64)> {
    if w.insulation.is_none() {
        return Vec::new();
    }
    let (total, poly) = (st.length_m, st.polyline_length_m);
    let scale = if poly > 0.0 { total / poly } else { 1.0 };
    w.bare
        .iter()
        .map(|b| {
            let (lo, hi) = if b.from_m <= 1e-12 {
                (0.0, if b.to_m >= poly - 1e-9 { total } else { b.to_m.min(total) })
            } else if b.to_m >= poly - 1e-9 {
                ((total - (poly - b.from_m)).max(0.0), total)
            } else {
                let c = 0.5 * (b.from_m + b.to_m) * scale;
                let h = 0.5 * (b.to_m - b.from_m);
                ((c - h).max(0.0), (c + h).min(total))
            };
            (lo, hi, b.radius_m)
        })
        .collect()
}

/// The coating of an insulated wire as a region of space around its staircase: within the outer
/// radius `b` of the coated path (not around its bare parts), and beyond a sealed end up to the
/// coating's thickness `b - a` past the conductor's end.
pub struct CoatingRegion {
    /// Path nodes (m) and their arc length (m).
    pts: Vec<([f64; 3], f64)>,
    node_idx: Vec<[usize; 3]>,
    bare: Vec<(f64, f64)>,
    a: f64,
    b: f64,
    d: f64,
    /// Whether the first and the last end are sealed (coated).
    sealed: [bool; 2],
}

impl CoatingRegion {
    fn new(grid: &Grid, st: &Staircase, spans: &[(f64, f64, f64)], a: f64, b: f64) -> Self {
        let nodes = st.nodes();
        let len = st.length_m;
        let bare: Vec<(f64, f64)> = spans.iter().map(|&(lo, hi, _)| (lo, hi)).collect();
        let is_bare = |s: f64| bare.iter().any(|&(lo, hi)| s >= lo - 1e-12 && s <= hi + 1e-12);
        Self {
            pts: nodes.iter().map(|(p, s)| (grid.node_pos(p[0], p[1], p[2]), *s)).collect(),
            node_idx: nodes.iter().map(|(p, _)| *p).collect(),
            sealed: [!is_bare(0.0), !is_bare(len)],
            bare,
            a,
            b,
            d: st.d.iter().cloned().fold(f64::INFINITY, f64::min),
        }
    }

    /// Whether `p` lies in the coating, searching the path segments `lo..hi`.
    fn contains(&self, p: [f64; 3], lo: usize, hi: usize) -> bool {
        let last = self.pts.len() - 1;
        let mut best = (f64::INFINITY, 0.0, 0.0);
        for i in lo..hi.min(last) {
            let (p0, s0) = self.pts[i];
            let (p1, _) = self.pts[i + 1];
            let t = sub3(p1, p0);
            let l = dot3(t, t).sqrt();
            let u = dot3(sub3(p, p0), t) / l;
            let over = if i == 0 && u < 0.0 {
                u
            } else if i + 1 == last && u > l {
                u - l
            } else {
                0.0
            };
            let uc = u.clamp(0.0, l);
            let q = [0, 1, 2].map(|x| p0[x] + t[x] * uc / l);
            let r2 = dot3(sub3(p, q), sub3(p, q));
            if r2 < best.0 {
                best = (r2, s0 + uc, over);
            }
        }
        let (r2, s, over) = best;
        if over != 0.0 {
            let sealed = if over < 0.0 { self.sealed[0] } else { self.sealed[1] };
            let perp2 = r2 - over * over;
            return sealed && over.abs() < self.b - self.a && perp2 < self.b * self.b;
        }
        r2 < self.b * self.b && !self.bare.iter().any(|&(lo, hi)| s > lo && s < hi)
    }

    /// The lattice edges beyond the first ring that the coating covers, with the share `phi` of
    /// the edge's potential drop that lies in the coating: the edge sampled at 16 points, each
    /// weighted by `1 / rho` (the radial field of a line charge), `phi` the weighted fraction in the
    /// coating. Edges touching a wire node (the first ring, the wire's own) are left out.
    fn edges(&self, grid: &Grid) -> Vec<((usize, [usize; 3]), f64)> {
        let n = grid.dims();
        let reach = (self.b / self.d).ceil() as i64 + 1;
        let on_wire: std::collections::HashSet<[usize; 3]> = self.node_idx.iter().cloned().collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let win = 3 * reach as usize + 3;
        for (ni, c) in self.node_idx.iter().enumerate() {
            let (lo, hi) = (ni.saturating_sub(win), ni + win);
            for di in -reach..=reach {
                for dj in -reach..=reach {
                    for dk in -reach..=reach {
                        let q = [c[0] as i64 + di, c[1] as i64 + dj, c[2] as i64 + dk];
                        if (0..3).any(|x| q[x] < 0 || q[x] > n[x] as i64) {
                            continue;
                        }
                        let q = q.map(|v| v as usize);
                        for a in 0..3 {
                            let mut e = q;
                            e[a] += 1;
                            if e[a] > n[a] || on_wire.contains(&q) || on_wire.contains(&e) || !seen.insert((a, q)) {
                                continue;
                            }
                            let p0 = grid.node_pos(q[0], q[1], q[2]);
                            let p1 = grid.node_pos(e[0], e[1], e[2]);
                            let (mut wi, mut wt) = (0.0, 0.0);
                            for k in 0..16 {
                                let f = (k as f64 + 0.5) / 16.0;
                                let p = [0, 1, 2].map(|x| p0[x] + (p1[x] - p0[x]) * f);
                                let rho = self.distance(p, lo, hi).max(1e-3 * self.d);
                                wt += 1.0 / rho;
                                if self.contains(p, lo, hi) {
                                    wi += 1.0 / rho;
                                }
                            }
                            if wi > 0.0 {
                                out.push(((a, q), wi / wt));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Distance from `p` to the path (segments `lo..hi`).
    fn distance(&self, p: [f64; 3], lo: usize, hi: usize) -> f64 {
        let last = self.pts.len() - 1;
        let mut best = f64::INFINITY;
        for i in lo..hi.min(last) {
            let (p0, _) = self.pts[i];
            let (p1, _) = self.pts[i + 1];
            let t = sub3(p1, p0);
            let l2 = dot3(t, t);
            let u = (dot3(sub3(p, p0), t) / l2).clamp(0.0, 1.0);
            let q = [0, 1, 2].map(|x| p0[x] + t[x] * u);
            best = best.min(dot3(sub3(p, q), sub3(p, q)));
        }
        best.sqrt()
    }
}

fn sub3(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot3(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl ThinWire {
    /// Grid cells whose centre lies in the coating (outside the conductor, see [`CoatingRegion`]):
    /// the cells a coating thicker than the first ring spans (0 for a coating inside the first
    /// ring, which the first-ring edges carry alone).
    pub fn coating_cells(&self, grid: &Grid, item: &str) -> Result<usize> {
        let Some(ins) = self.insulation.as_ref() else {
            return Ok(0);
        };
        let st = self.staircase(grid, item)?;
        let spans = bare_spans_on_staircase(self, &st);
        let region = CoatingRegion::new(grid, &st, &spans, self.radius_m, ins.outer_radius_m);
        let n = grid.dims();
        let reach = (ins.outer_radius_m / region.d).ceil() as i64 + 1;
        let win = 3 * reach as usize + 3;
        let mut seen = std::collections::HashSet::new();
        let mut count = 0;
        for (ni, c) in region.node_idx.iter().enumerate() {
            let (lo, hi) = (ni.saturating_sub(win), ni + win);
            for di in -reach..reach {
                for dj in -reach..reach {
                    for dk in -reach..reach {
                        let q = [c[0] as i64 + di, c[1] as i64 + dj, c[2] as i64 + dk];
                        if (0..3).any(|x| q[x] < 0 || q[x] >= n[x] as i64) {
                            continue;
                        }
                        let q = q.map(|v| v as usize);
                        if !seen.insert(q) {
                            continue;
                        }
                        let p0 = grid.node_pos(q[0], q[1], q[2]);
                        let p1 = grid.node_pos(q[0] + 1, q[1] + 1, q[2] + 1);
                        let centre = [0, 1, 2].map(|x| 0.5 * (p0[x] + p1[x]));
                        if region.distance(centre, lo, hi) > self.radius_m && region.contains(centre, lo, hi) {
                            count += 1;
                        }
                    }
                }
            }
        }
        Ok(count)
    }
}

/// The end nodes of a wire carry half a cell of wire: the first-ring factor of their edges (radial,
/// and the axial edge beyond the end) is halved (see the module doc).
pub const END_FACTOR: f64 = 0.5;

/// Applies the wires to a voxel model before the operator is built: thin PEC on every wire edge
/// except the `gaps` (edges carrying lumped elements), and the first-ring permittivity on the edges
/// that join each wire node to the lattice (bare or insulated; halved at the ends). Returns the
/// staircases and the smallest relative permeability of the circulating H samples (`mu / s`). The
/// lowered first-ring permittivity is in the model's edge materials; the operator sets the time
/// step from both (`OperatorSpec::mu_r_min`): the local wave speed there can exceed the medium's.
pub(crate) fn apply_to_model(
    model: &mut VoxelModel,
    wires: &[ThinWire],
    gaps: &[(usize, [usize; 3])],
    freq_hz: Option<f64>,
) -> Result<(Vec<Staircase>, f64)> {
    let mut mu_min: f64 = 1.0;
    let omega = freq_hz.map(|f| 2.0 * std::f64::consts::PI * f);
    let mut out = Vec::new();
    for (wi, w) in wires.iter().enumerate() {
        let item = format!("thin_wires[{wi}]");
        let st = w.staircase(&model.grid, &item)?;
        // Radial edges first (they read the medium around the wire before the PEC edges are set).
        let nodes = st.nodes();
        let last = nodes.len() - 1;
        let spans = bare_spans_on_staircase(w, &st);
        let mut medium_field = Vec::new();
        let mut dirs: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (ei, e) in st.edges.iter().enumerate() {
            dirs[ei].push(e.comp);
            dirs[ei + 1].push(e.comp);
        }
        // (axis, edge start node) -> (eps_r, sigma)
        let mut set = BTreeMap::new();
        for (ni, (p, s)) in nodes.iter().enumerate() {
            let is_end = ni == 0 || ni == last;
            // The length of wire this node carries: half of each neighbouring edge.
            let h0 = if ni == 0 { 0.0 } else { 0.5 * st.d[st.edges[ni - 1].comp] };
            let h1 = if ni == last { 0.0 } else { 0.5 * st.d[st.edges[ni].comp] };
            // Bare parts of that length, each with its radius: (fraction, radius).
            let bare_parts: Vec<(f64, f64)> = if w.insulation.is_some() {
                spans
                    .iter()
                    .map(|&(lo, hi, r)| (((s + h1).min(hi) - (s - h0).max(lo)).max(0.0) / (h0 + h1), r))
                    .filter(|(f, _)| *f > 0.0)
                    .collect()
            } else {
                Vec::new()
            };
            let f_bare = bare_parts.iter().map(|(f, _)| f).sum::<f64>().min(1.0);
            let insulated = w.insulation.as_ref().filter(|_| f_bare < 1.0 - 1e-9);
            // Transverse cell size of the wire at this node (cubic cells in practice); the circulating
            // H of its edges get mu / s (ThinWires::new).
            let wa = dirs[ni][0];
            let dd = (st.d[(wa + 1) % 3] * st.d[(wa + 2) % 3]).sqrt();
            mu_min = mu_min.min(first_ring_factor(w.radius_m, dd).recip());
            for a in 0..3 {
                let along = dirs[ni].contains(&a);
                if along && !is_end {
                    continue;
                }
                for back in [false, true] {
                    let mut q = *p;
                    if back {
                        if q[a] == 0 {
                            continue;
                        }
                        q[a] -= 1;
                    }
                    if along && st.edges.iter().any(|e| e.comp == a && e.node == q) {
                        // The wire's own edge at an end (PEC); the one beyond the end is a
                        // first-ring edge.
                        continue;
                    }
                    let Some((eps_m, sig_m)) = model.edge_material(Comp::from_index(a), q[0], q[1], q[2]) else {
                        continue;
                    };
                    let eps_c = if sig_m > 0.0 {
                        let w0 = omega.ok_or_else(|| {
                            Error::input(
                                "thin_wires",
                                &item,
                                "a thin wire in a conducting medium needs the CW frequency",
                                "set cw_freq_hz (or port_freqs_hz) in the simulation spec",
                            )
                        })?;
                        Complex64::new(eps_m, -sig_m / (w0 * EPS0))
                    } else {
                        Complex64::new(eps_m, 0.0)
                    };
                    // A node's edges carry the admittance of its length of wire: the bare parts
                    // (each with its radius) and the coated rest, in parallel.
                    let bare_eps: Complex64 = bare_parts
                        .iter()
                        .map(|&(f, r)| first_ring_eps(eps_c, r, dd, None) * f)
                        .sum();
                    let mut eff = match insulated {
                        None if bare_parts.is_empty() => first_ring_eps(eps_c, w.radius_m, dd, None),
                        None => bare_eps,
                        Some(ins) => {
                            let coat = Some((ins.outer_radius_m, ins.eps_r));
                            let rest = 1.0 - f_bare;
                            let eff = bare_eps + first_ring_eps(eps_c, w.radius_m, dd, coat) * rest;
                            let bare_ref = bare_eps + first_ring_eps(eps_c, w.radius_m, dd, None) * rest;
                            medium_field.push((a, q, medium_field_factor(eff, bare_ref)));
                            eff
                        }
                    };
                    if is_end {
                        eff *= END_FACTOR;
                    }
                    if !(eff.re > 0.0) || !eff.re.is_finite() {
                        return Err(Error::input(
                            "thin_wires",
                            &format!("{item}.insulation"),
                            format!("the coating gives a non-positive edge permittivity {eff}"),
                            "use a thinner coating or larger cells",
                        ));
                    }
                    let sigma = match omega {
                        Some(w0) => (-eff.im * w0 * EPS0).max(0.0),
                        None => 0.0,
                    };
                    set.insert((a, q), (eff.re, sigma));
                }
            }
        }
        // A coating reaching beyond the first ring: the lattice edges it covers carry the coating
        // and the medium in series, each by its share of the radial potential drop.
        if let Some(ins) = w.insulation.as_ref() {
            let r1 = FIRST_RING_RADIUS_CELLS * st.d.iter().cloned().fold(f64::INFINITY, f64::min);
            if ins.outer_radius_m > r1 {
                let region = CoatingRegion::new(&model.grid, &st, &spans, w.radius_m, ins.outer_radius_m);
                for ((a, q), phi) in region.edges(&model.grid) {
                    if set.contains_key(&(a, q)) {
                        continue;
                    }
                    let Some((eps_m, sig_m)) = model.edge_material(Comp::from_index(a), q[0], q[1], q[2]) else {
                        continue;
                    };
                    let eps_c = match omega {
                        Some(w0) => Complex64::new(eps_m, -sig_m / (w0 * EPS0)),
                        None => Complex64::new(eps_m, 0.0),
                    };
                    let eff = 1.0 / (phi / ins.eps_r + (1.0 - phi) / eps_c);
                    medium_field.push((a, q, medium_field_factor(eff, eps_c)));
                    let sigma = match omega {
                        Some(w0) => (-eff.im * w0 * EPS0).max(0.0),
                        None => 0.0,
                    };
                    set.insert((a, q), (eff.re, sigma));
                }
            }
        }
        for ((a, q), (e, s)) in set {
            model.set_edge_material(Comp::from_index(a), q[0], q[1], q[2], e, s)?;
        }
        for e in &st.edges {
            if !gaps.contains(&(e.comp, e.node)) {
                model.set_pec_edge(Comp::from_index(e.comp), e.node[0], e.node[1], e.node[2])?;
            }
        }
        medium_field.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
        medium_field.dedup_by(|x, y| (x.0, x.1) == (y.0, y.1));
        let mut st = st;
        st.medium_field = medium_field;
        out.push(st);
    }
    Ok((out, mu_min))
}

/// One H correction: `h[hc][hidx] += coef * e[ec][eidx]`.
#[derive(Clone, Copy, Debug)]
struct HTerm {
    hidx: u32,
    eidx: u32,
    hc: u8,
    ec: u8,
    coef: f32,
}

/// The built thin-wire extension: the first-ring H samples around every wire edge updated with `mu / s`.
pub struct ThinWires {
    pub wires: Vec<Staircase>,
    terms: Vec<HTerm>,
}

impl ThinWires {
    pub(crate) fn new(op: &Operator, wires: Vec<Staircase>, specs: &[ThinWire]) -> Result<Self> {
        let d = op.d;
        let n = op.layout.n;
        // First-ring H samples, each with its factor: the whole H update is scaled (mu -> mu / f).
        let mut ring: BTreeMap<(usize, [usize; 3]), f64> = BTreeMap::new();
        for (st, w) in wires.iter().zip(specs) {
            for e in &st.edges {
                let c = e.comp;
                let (b_ax, c_ax) = ((c + 1) % 3, (c + 2) % 3);
                let f = first_ring_factor(w.radius_m, (d[b_ax] * d[c_ax]).sqrt());
                for (q, ph) in circulating_h(c, e.node) {
                    let ok = (0..3).all(|x| if x == q { ph[x] <= n[x] } else { ph[x] < n[x] });
                    if ok {
                        ring.entry((q, ph)).or_insert(f);
                    }
                }
            }
        }
        let mut map: BTreeMap<(usize, usize, usize, usize), f64> = BTreeMap::new();
        for ((q, ph), f) in ring {
            for (ec, pe, wgt, _axis) in h_neighbours(q, ph, d) {
                let coef = -op.ch * wgt * (f - 1.0);
                let hidx = op.layout.idx(ph[0], ph[1], ph[2]);
                let eidx = op.layout.idx(pe[0], pe[1], pe[2]);
                map.insert((q, hidx, ec, eidx), coef);
            }
        }
        let terms = map
            .into_iter()
            .map(|((hc, hidx, ec, eidx), coef)| HTerm {
                hidx: hidx as u32,
                eidx: eidx as u32,
                hc: hc as u8,
                ec: ec as u8,
                coef: coef as f32,
            })
            .collect();
        Ok(Self { wires, terms })
    }
    pub fn is_empty(&self) -> bool {
        self.wires.is_empty()
    }
}

impl Extension for ThinWires {
    fn name(&self) -> &str {
        "thin_wires"
    }
    fn post_step(&mut self, f: &mut Fields, _ctx: &StepCtx) {
        for t in &self.terms {
            let ev = f.e[t.ec as usize][t.eidx as usize];
            f.h[t.hc as usize][t.hidx as usize] += t.coef * ev;
        }
    }
    fn bytes(&self) -> usize {
        self.terms.capacity() * std::mem::size_of::<HTerm>()
    }
}

/// On-the-fly DFT of the current along one wire: `I = dir * (curl H)_c * A` on each wire edge's
/// dual face (H after the step, at `(n+3/2) dt`), positive along the path.
pub struct WireCurrentProbe {
    edges: Vec<(usize, [usize; 3], f64, f64)>,
    freqs: Vec<f64>,
    /// `[edge][freq]` sums of I e^{-i w t}.
    data: Vec<Complex64>,
    samples: usize,
}

impl WireCurrentProbe {
    /// A probe of the wire `st` at `freqs`.
    pub fn new(op: &Operator, st: &Staircase, freqs: &[f64]) -> Result<Self> {
        if freqs.is_empty() || freqs.iter().any(|f| !(*f > 0.0)) {
            return Err(Error::input(
                "probes",
                "wire_current",
                "frequencies must be > 0",
                "give at least one positive frequency",
            ));
        }
        let edges = st
            .edges
            .iter()
            .map(|e| (e.comp, e.node, e.dir as f64 * op.dual_area(e.comp, e.node), e.arc_m))
            .collect::<Vec<_>>();
        Ok(Self {
            data: vec![Complex64::default(); edges.len() * freqs.len()],
            edges,
            freqs: freqs.to_vec(),
            samples: 0,
        })
    }
    /// Complex peak current phasors (A) along the wire at `freqs[fi]`: `(arc length m, I)`, for a
    /// window of whole periods.
    pub fn wire_current(&self, fi: usize) -> Vec<(f64, Complex64)> {
        let s = 2.0 / self.samples.max(1) as f64;
        let nf = self.freqs.len();
        self.edges
            .iter()
            .enumerate()
            .map(|(ei, e)| (e.3, self.data[ei * nf + fi] * s))
            .collect()
    }
}

impl Extension for WireCurrentProbe {
    fn name(&self) -> &str {
        "wire_current"
    }
    fn post_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        let h = Window::all(&f.h);
        let t = ctx.t_h();
        let nf = self.freqs.len();
        for (ei, &(c, p, area, _)) in self.edges.iter().enumerate() {
            let i = ctx.op.curl_h_at(&h, c, p[0], p[1], p[2]) * area;
            for (fi, fr) in self.freqs.iter().enumerate() {
                self.data[ei * nf + fi] += Complex64::from_polar(i, -2.0 * std::f64::consts::PI * fr * t);
            }
        }
        self.samples += 1;
    }
    fn bytes(&self) -> usize {
        self.data.capacity() * 16
    }
}

impl Probe for WireCurrentProbe {
    fn reset(&mut self) {
        self.data.iter_mut().for_each(|x| *x = Complex64::default());
        self.samples = 0;
    }
}
