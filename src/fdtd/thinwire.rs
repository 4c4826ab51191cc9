//! Sub-cell thin wires (radius below the cell size), bare or insulated.
//!
//! Method (Umashankar, Taflove & Beker, IEEE Trans. AP 35, 1987; Taflove & Hagness ch. 10.3): a wire
//! runs along Yee E edges (a polyline is staircased onto edges, and the staircase length error is
//! reported). E on the wire edges is zero (they are thin PEC edges). Near the wire, the circulating H
//! and the radial E vary as 1/r; integrating Faraday's law over the cell face between the wire
//! surface (r = a) and the next E edge (r = d) gives, for each H component circulating a wire edge,
//! the usual update with the term of the far, parallel E edge multiplied by `2 / ln(d / a)` instead
//! of 1 (the radial-E terms keep their coefficients because flux and line integral share the
//! same `ln(d/a)` factor). With a = 0.135 d the factor is 1: the plain PEC edge is this model's
//! wire of radius 0.135 d. The correction is applied after the fused step as an extra H increment,
//! linear in the new E, so the hot loop is untouched. In a gap of the wire (a lumped element on a
//! wire edge) both parallel E terms get the factor.
//!
//! Insulation (coating of outer radius b and permittivity eps_i): the wire's capacitance per unit
//! length becomes `2 pi / (ln(b/a)/eps_i + ln(d/b)/eps_m)` (two coaxial layers in series), while the
//! inductance keeps `ln(d/a)`. It is modelled by giving the radial E edges that touch the insulated
//! part of the wire the effective complex permittivity `eps_eff = ln(d/a) / (ln(b/a)/eps_i +
//! ln(d/b)/eps_m)`, with `eps_m = eps_r - i sigma/(w eps0)` of the surrounding medium at the CW
//! frequency, split back into `eps_r = Re eps_eff` and `sigma = -w eps0 Im eps_eff` (the
//! effective-permittivity form of the insulated-wire correction; cf. Edelvik, IEEE Trans. AP 51,
//! 2003). Bare lengths at the start and the end of the path keep the medium.
//!
//! The current along the wire is read from the loop integral of H around each wire edge
//! (`I = (curl H) . A` on the edge's dual face), Fourier transformed on the fly
//! ([`WireCurrentProbe`]).
//!
//! Accuracy (tests/fdtd_thinwire.rs): current wavenumbers of bare and insulated wires in ASTM gel
//! agree with the gel's k and King's insulated-wire formula within 5 %. Input impedances do not
//! reach 5 %: a centre-fed dipole in free space (1 cm cells, a = 0.1-0.025 cells) has R within
//! ~11 % of a Hallen moment-method reference but X 23-36 Ohm more inductive, as if the wire were
//! about 0.6 cell longer at each end, and X moves with the radius by about a third of the
//! reference's change; halving the cell changes Z by ~20 %. Tried and dropped: also scaling the
//! radial-edge permittivity by the same log factor (capacitance correction): right at a = 0.1 d,
//! far too strong radius dependence below.

use std::collections::BTreeMap;

use num_complex::Complex64;

use super::extension::{Extension, Probe, StepCtx};
use super::fields::{Fields, Window};
use super::operator::Operator;
use crate::error::{Error, Result};
use crate::grid::{Comp, Grid, VoxelModel, EPS0};

/// A thin wire along a polyline.
#[derive(Clone, Debug, PartialEq)]
pub struct ThinWire {
    /// Polyline vertices (m); each is snapped to its nearest grid node.
    pub nodes_m: Vec<[f64; 3]>,
    /// Conductor radius (m), below half the cell size.
    pub radius_m: f64,
    pub insulation: Option<Insulation>,
    /// Uninsulated length at the start of the path (m).
    pub bare_start_m: f64,
    /// Uninsulated length at the end of the path (m).
    pub bare_end_m: f64,
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
            bare_start_m: 0.0,
            bare_end_m: 0.0,
        }
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
        if !(self.bare_start_m >= 0.0) || !(self.bare_end_m >= 0.0) {
            return Err(Error::input(
                "thin_wires",
                &format!("{item}.bare_start_m/bare_end_m"),
                "bare lengths must be >= 0",
                "give non-negative bare lengths",
            ));
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
            let total: [i64; 3] = std::array::from_fn(|a| target[a] as i64 - cur[a] as i64);
            let steps: i64 = total.iter().map(|v| v.abs()).sum();
            let mut done = [0i64; 3];
            for s in 0..steps {
                let frac = (s + 1) as f64 / steps as f64;
                let mut best = 0;
                let mut best_lag = f64::NEG_INFINITY;
                for a in 0..3 {
                    if done[a].abs() < total[a].abs() {
                        let lag = (total[a] as f64 * frac - done[a] as f64).abs();
                        if lag > best_lag {
                            best_lag = lag;
                            best = a;
                        }
                    }
                }
                let dir = total[best].signum();
                let mut start = cur;
                if dir < 0 {
                    start[best] -= 1;
                }
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
                if dir > 0 {
                    cur[best] += 1;
                } else {
                    cur[best] -= 1;
                }
                done[best] += dir;
            }
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

/// Applies the wires to a voxel model before the operator is built: thin PEC on every wire edge
/// except the `gaps` (edges carrying lumped elements), and effective permittivity on the radial
/// edges of insulated parts. Returns the staircases.
pub(crate) fn apply_to_model(
    model: &mut VoxelModel,
    wires: &[ThinWire],
    gaps: &[(usize, [usize; 3])],
    freq_hz: Option<f64>,
) -> Result<Vec<Staircase>> {
    let mut out = Vec::new();
    for (wi, w) in wires.iter().enumerate() {
        let item = format!("thin_wires[{wi}]");
        let st = w.staircase(&model.grid, &item)?;
        // Radial edges of insulated parts first (they read the medium around the wire before
        // the PEC edges are set).
        let total = st.length_m;
        let (s0, s1) = (w.bare_start_m, total - w.bare_end_m);
        let nodes = st.nodes();
        let mut dirs: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (ei, e) in st.edges.iter().enumerate() {
            dirs[ei].push(e.comp);
            dirs[ei + 1].push(e.comp);
        }
        let mut set = BTreeMap::new();
        for (ni, (p, s)) in nodes.iter().enumerate() {
            let insulated = w.insulation.as_ref().filter(|_| *s >= s0 - 1e-12 && *s <= s1 + 1e-12);
            for a in 0..3 {
                if dirs[ni].contains(&a) {
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
                    let Some((eps_m, sig_m)) = model.edge_material(Comp::from_index(a), q[0], q[1], q[2]) else {
                        continue;
                    };
                    let dd = st.d[a];
                    let a_r = w.radius_m;
                    let v = match insulated {
                        None => continue,
                        Some(ins) => {
                            let b = ins.outer_radius_m.min(dd);
                            let eps_c = if sig_m > 0.0 {
                                let f = freq_hz.ok_or_else(|| {
                                    Error::input(
                                        "thin_wires",
                                        &format!("{item}.insulation"),
                                        "an insulated wire in a conducting medium needs the CW frequency",
                                        "set cw_freq_hz (or port_freqs_hz) in the simulation spec",
                                    )
                                })?;
                                Complex64::new(eps_m, -sig_m / (2.0 * std::f64::consts::PI * f * EPS0))
                            } else {
                                Complex64::new(eps_m, 0.0)
                            };
                            // Two coaxial layers in series, mapped onto the edge's own ln(d/a0).
                            let eff = (dd / a_r).ln() / ((b / a_r).ln() / ins.eps_r + (dd / b).ln() / eps_c);
                            let sigma = match freq_hz {
                                Some(f) => (-eff.im * 2.0 * std::f64::consts::PI * f * EPS0).max(0.0),
                                None => 0.0,
                            };
                            (eff.re, sigma)
                        }
                    };
                    set.insert((a, q), v);
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
        out.push(st);
    }
    Ok(out)
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

/// The built thin-wire extension: corrected H updates around every wire edge (Umashankar-Taflove).
pub struct ThinWires {
    pub wires: Vec<Staircase>,
    terms: Vec<HTerm>,
}

impl ThinWires {
    pub(crate) fn new(op: &Operator, wires: Vec<Staircase>, specs: &[ThinWire]) -> Result<Self> {
        let d = op.d;
        let n = op.layout.n;
        let mut map: BTreeMap<(usize, usize, usize, usize), f64> = BTreeMap::new();
        for (st, w) in wires.iter().zip(specs) {
            for e in &st.edges {
                let c = e.comp;
                for (q, ph) in circulating_h(c, e.node) {
                    let ok = (0..3).all(|x| if x == q { ph[x] <= n[x] } else { ph[x] < n[x] });
                    if !ok {
                        continue;
                    }
                    for (ec, pe, wgt, axis) in h_neighbours(q, ph, d) {
                        if ec != c {
                            continue;
                        }
                        let f = 2.0 / (d[axis] / w.radius_m).ln();
                        let coef = -op.ch * wgt * (f - 1.0);
                        let hidx = op.layout.idx(ph[0], ph[1], ph[2]);
                        let eidx = op.layout.idx(pe[0], pe[1], pe[2]);
                        map.insert((q, hidx, ec, eidx), coef);
                    }
                }
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
