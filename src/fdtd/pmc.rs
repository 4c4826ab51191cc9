//! PMC faces: the E edges tangential to a PMC face are updated with image H (tangential H odd
//! about the face), since the core update covers interior edges only. Runs as a plane hook before
//! the CPML, so CPML corrections also reach PMC-face edges inside a slab.

use super::engine::PlaneHook;
use super::fields::Window;
use super::operator::{Boundary, Operator};

/// Updates boundary-plane E edges on PMC faces.
pub struct PmcFaces {
    /// Per x-plane: (component, offset within the plane, j, k) of every E edge on a PMC face.
    planes: Vec<Vec<(u8, u32, u32, u32)>>,
}

impl PmcFaces {
    /// Returns `None` when no face is PMC.
    pub fn new(op: &Operator) -> Option<Self> {
        if !op.boundaries.iter().flatten().any(|b| *b == Boundary::Pmc) {
            return None;
        }
        let n = op.layout.n;
        let mut planes = vec![Vec::new(); n[0] + 1];
        for c in 0..3 {
            let act = op.e_active_range(c);
            let core = op.e_core_range(c);
            for i in act[0].clone() {
                for j in act[1].clone() {
                    for k in act[2].clone() {
                        if core[0].contains(&i) && core[1].contains(&j) && core[2].contains(&k) {
                            continue;
                        }
                        let off = op.layout.idx(0, j, k);
                        planes[i].push((c as u8, off as u32, j as u32, k as u32));
                    }
                }
            }
        }
        Some(Self { planes })
    }
}

impl PlaneHook for PmcFaces {
    fn name(&self) -> &str {
        "pmc"
    }
    fn bytes(&self) -> usize {
        self.planes.iter().map(|p| p.capacity() * 16).sum()
    }
    fn e_plane(&self, op: &Operator, i: usize, e: &mut [&mut [f32]; 3], h: &Window) {
        let base = i * op.layout.sx;
        for &(c, off, j, k) in &self.planes[i] {
            let c = c as usize;
            let off = off as usize;
            let coef = op.edge_coef(c, base + off);
            let curl = op.curl_h_at(h, c, i, j as usize, k as usize);
            e[c][off] = (coef.ca as f64 * e[c][off] as f64 + coef.cb as f64 * curl) as f32;
        }
    }
    fn h_plane(&self, _op: &Operator, _i: usize, _h: &mut [&mut [f32]; 3], _e: &Window) {}
}
