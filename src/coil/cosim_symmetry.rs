//! Mirror symmetries of a co-simulation model: a port run's mirror image is another port's run.
//!
//! A mirror plane through the coil centre (x = 0, y = 0 or z = 0) is used only when it maps the
//! discrete model onto itself exactly: the grid nodes, every cell's material, every thin PEC edge,
//! the sub-cell phantom's edge materials (to rounding), the boundaries, the field boxes and the set
//! of port edges (all ports are terminated alike in the port runs; feeds in their own gaps are
//! completed by shorted ports at their mirror images, see [`completion`]). The run that excites port `k` then mirrors into the run that excites port `M(k)`:
//! E (a polar vector) keeps its components parallel to the plane and flips the normal one, H (an
//! axial vector) the opposite; a port edge normal to the plane reverses direction, so its voltage
//! and current change sign. With the mirrors of a body coil (x, y and z planes) 32 capacitor and
//! feed ports need 5 runs instead of 32 (ring gaps on a mirror plane are their own images).

use num_complex::Complex32;

use super::fdtd_model::{BirdcageMesh, Edge};
use crate::fdtd::{FieldKind, YeeVector};
use crate::grid::{Comp, RegularField};

/// The mirror planes (axes 0, 1, 2) that map `mesh` and the port edges onto themselves, with each
/// plane's port permutation.
pub fn symmetries(mesh: &BirdcageMesh, ports: &[Edge], boxes: &[[std::ops::Range<usize>; 3]]) -> Vec<(usize, Vec<usize>)> {
    let m = &mesh.model;
    let g = &m.grid;
    let n = g.dims();
    let mut out = Vec::new();
    let debug = std::env::var_os("RFTWIN_DEBUG_SYMMETRY").is_some();
    let why = |a: usize, w: &str| {
        if debug {
            eprintln!("symmetry: no mirror normal to axis {a}: {w}");
        }
    };
    'axis: for a in 0..3 {
        // Grid nodes symmetric about 0.
        for i in 0..=n[a] {
            let (p, q) = (g.axes[a].node(i), g.axes[a].node(n[a] - i));
            if (p + q).abs() > 1e-9 * (1.0 + p.abs()) {
                why(a, "grid nodes");
                continue 'axis;
            }
        }
        if mesh.boundaries[a][0] != mesh.boundaries[a][1] {
            why(a, "boundaries");
            continue;
        }
        for b in boxes {
            if b[a].start + b[a].end - 1 != n[a] {
                why(a, "field boxes");
                continue 'axis;
            }
        }
        // Cells.
        for i in 0..n[0] {
            for j in 0..n[1] {
                for k in 0..n[2] {
                    let mut q = [i, j, k];
                    q[a] = n[a] - 1 - q[a];
                    if m.cell_material(i, j, k) != m.cell_material(q[0], q[1], q[2]) {
                        why(a, &format!("cell ({i},{j},{k}) material"));
                        continue 'axis;
                    }
                }
            }
        }
        // Thin PEC edges.
        for (c, comp) in [Comp::X, Comp::Y, Comp::Z].into_iter().enumerate() {
            let mut lim = [n[0] + 1, n[1] + 1, n[2] + 1];
            lim[c] -= 1;
            for i in 0..lim[0] {
                for j in 0..lim[1] {
                    for k in 0..lim[2] {
                        let p = mirror_edge(n, a, (c, [i, j, k]));
                        if m.is_thin_pec(comp, i, j, k) != m.is_thin_pec(comp, p.1[0], p.1[1], p.1[2]) {
                            why(a, &format!("thin PEC edge {c} ({i},{j},{k})"));
                            continue 'axis;
                        }
                    }
                }
            }
        }
        // Edge materials set by the sub-cell phantom: each must meet its mirror image's material
        // (equal up to the rounding of the volume fractions computed at mirrored positions).
        for (c, p, (eps, sig)) in m.edge_overrides() {
            let (_, q) = mirror_edge(n, a, (c, p));
            let comp = [Comp::X, Comp::Y, Comp::Z][c];
            let same = match m.edge_material(comp, q[0], q[1], q[2]) {
                Some((e2, s2)) => (eps - e2).abs() <= 1e-9 * eps.abs().max(1.0) && (sig - s2).abs() <= 1e-9 * sig.abs().max(1e-3),
                None => false,
            };
            if !same {
                why(a, &format!("sub-cell edge material {c} {p:?}"));
                continue 'axis;
            }
        }
        // Ports.
        let mut perm = Vec::with_capacity(ports.len());
        for e in ports {
            let me = mirror_edge(n, a, *e);
            match ports.iter().position(|q| *q == me) {
                Some(t) => perm.push(t),
                None => {
                    why(a, &format!("port edge {e:?}"));
                    continue 'axis;
                }
            }
        }
        out.push((a, perm));
    }
    out
}

/// The mirror image of an edge under the plane normal to axis `a` (grid of `n` cells).
pub fn mirror_edge(n: [usize; 3], a: usize, e: Edge) -> Edge {
    let (c, mut p) = e;
    p[a] = if c == a { n[a] - 1 - p[a] } else { n[a] - p[a] };
    (c, p)
}

/// Sign of a port's voltage and current under the mirror normal to axis `a`.
pub fn edge_sign(a: usize, e: Edge) -> f32 {
    if e.0 == a {
        -1.0
    } else {
        1.0
    }
}

/// The mirror image of a field box under the plane normal to axis `a`. The box's nodes must be
/// symmetric about the plane; a component staggered along `a` then has one layer at one end whose
/// mirror image lies outside the box: it is NaN (record the box one node larger than needed and
/// crop, see [`crop_yee`]).
pub fn mirror_yee(f: &YeeVector, a: usize) -> YeeVector {
    let comps = [0, 1, 2].map(|c| {
        let src = &f.comps[c];
        let sign: f32 = match (f.kind, c == a) {
            (FieldKind::E, true) | (FieldKind::H, false) => -1.0,
            _ => 1.0,
        };
        let len = src.data.shape()[a] as i64;
        // o + i d = -(o + i' d)  =>  i = m - i'.
        let m = (-2.0 * src.origin_m[a] / src.spacing_m[a]).round() as i64;
        let data = ndarray::Array3::from_shape_fn(src.data.dim(), |(i, j, k)| {
            let mut q = [i, j, k];
            let s = m - q[a] as i64;
            if s < 0 || s >= len {
                return Complex32::new(f32::NAN, f32::NAN);
            }
            q[a] = s as usize;
            src.data[q] * sign
        });
        RegularField {
            data,
            origin_m: src.origin_m,
            spacing_m: src.spacing_m,
        }
    });
    YeeVector { kind: f.kind, comps }
}

/// `f` (recorded over the node box `grown`) cut to the node box `keep` inside it.
pub fn crop_yee(f: &YeeVector, grown: &[std::ops::Range<usize>; 3], keep: &[std::ops::Range<usize>; 3]) -> YeeVector {
    let comps = [0, 1, 2].map(|c| {
        let src = &f.comps[c];
        let off: [usize; 3] = std::array::from_fn(|a| keep[a].start - grown[a].start);
        let len: [usize; 3] = std::array::from_fn(|a| keep[a].len());
        let data = src
            .data
            .slice(ndarray::s![off[0]..off[0] + len[0], off[1]..off[1] + len[1], off[2]..off[2] + len[2]])
            .to_owned();
        RegularField {
            data,
            origin_m: std::array::from_fn(|a| src.origin_m[a] + off[a] as f64 * src.spacing_m[a]),
            spacing_m: src.spacing_m,
        }
    });
    YeeVector { kind: f.kind, comps }
}

/// Whether every component of `f` is placed symmetrically about the plane normal to axis `a`.
pub fn box_is_symmetric(f: &YeeVector, a: usize) -> bool {
    f.comps.iter().all(|c| {
        let len = c.data.shape()[a] as f64;
        let lo = c.origin_m[a];
        let hi = lo + (len - 1.0) * c.spacing_m[a];
        (lo + hi).abs() < 1e-6 * c.spacing_m[a].max(1e-12)
    })
}

/// The number of runs (orbits of port edges) that the mirror planes `mirrors` leave for `n` ports.
pub fn orbit_count(n: usize, mirrors: &[(usize, Vec<usize>)]) -> usize {
    let mut seen = vec![false; n];
    let mut count = 0;
    for k in 0..n {
        if seen[k] {
            continue;
        }
        count += 1;
        for mask in 0..(1usize << mirrors.len()) {
            let t = (0..mirrors.len()).filter(|b| mask >> b & 1 == 1).fold(k, |q, b| mirrors[b].1[q]);
            seen[t] = true;
        }
    }
    count
}

/// Shorted ports that restore mirror symmetry. A feed in its own gap of one rung breaks the
/// mirrors that map that rung onto another (the image edge is a conductor, not a port). Cutting the
/// image edges too and making them ports adds no approximation: a port whose voltage is held at zero
/// is the conductor edge it replaced, so the extra ports are removed afterwards exactly by circuit
/// algebra (a Kron reduction with `V = 0` at them, see `cosim::compute_port_basis`). Returns the mesh
/// with the image edges cut and the port edges (`ports` first, then the added ones) when that leaves
/// fewer runs than `ports` alone; each added edge must be a thin PEC edge of `mesh`.
pub fn completion(
    mesh: &BirdcageMesh,
    ports: &[Edge],
    boxes: &[[std::ops::Range<usize>; 3]],
) -> Option<(BirdcageMesh, Vec<Edge>)> {
    let n = mesh.model.grid.dims();
    let base = orbit_count(ports.len(), &symmetries(mesh, ports, boxes));
    let mut best: Option<(usize, BirdcageMesh, Vec<Edge>)> = None;
    // Every set of mirror planes (largest first): close the port set under them.
    'set: for mask in (1..8usize).rev() {
        let axes: Vec<usize> = (0..3).filter(|a| mask >> a & 1 == 1).collect();
        let mut edges = ports.to_vec();
        let mut m = mesh.clone();
        let mut q = 0;
        while q < edges.len() {
            for &a in &axes {
                let me = mirror_edge(n, a, edges[q]);
                if edges.contains(&me) {
                    continue;
                }
                let (c, p) = me;
                if !m.model.clear_pec_edge([Comp::X, Comp::Y, Comp::Z][c], p[0], p[1], p[2]) {
                    continue 'set;
                }
                edges.push(me);
            }
            q += 1;
        }
        if edges.len() == ports.len() {
            continue;
        }
        let runs = orbit_count(edges.len(), &symmetries(&m, &edges, boxes));
        if runs < base && best.as_ref().is_none_or(|b| runs < b.0 || (runs == b.0 && edges.len() < b.2.len())) {
            best = Some((runs, m, edges));
        }
    }
    best.map(|(_, m, e)| (m, e))
}
