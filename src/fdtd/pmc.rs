//! PMC faces: the E edges tangential to a PMC face are updated with image H (tangential H odd
//! about the face), since the core update covers interior edges only.

use super::extension::{Extension, StepCtx};
use super::fields::Fields;
use super::operator::{Boundary, Operator};

/// Updates boundary-plane E edges on PMC faces.
pub struct PmcFaces {
    /// (component, flat index, i, j, k) of every E edge on a PMC face and on no PEC face.
    edges: Vec<(u8, u32, [u32; 3])>,
}

impl PmcFaces {
    /// Returns `None` when no face is PMC.
    pub fn new(op: &Operator) -> Option<Self> {
        if !op.boundaries.iter().flatten().any(|b| *b == Boundary::Pmc) {
            return None;
        }
        let n = op.layout.n;
        let mut edges = Vec::new();
        for c in 0..3 {
            let act = op.e_active_range(c);
            let core = op.e_core_range(c);
            for i in act[0].clone() {
                for j in act[1].clone() {
                    for k in act[2].clone() {
                        if core[0].contains(&i) && core[1].contains(&j) && core[2].contains(&k) {
                            continue;
                        }
                        let _ = n;
                        let idx = op.layout.idx(i, j, k);
                        edges.push((c as u8, idx as u32, [i as u32, j as u32, k as u32]));
                    }
                }
            }
        }
        Some(Self { edges })
    }
}

impl Extension for PmcFaces {
    fn name(&self) -> &str {
        "pmc"
    }
    fn post_e(&mut self, f: &mut Fields, ctx: &StepCtx) {
        let op = ctx.op;
        for &(c, idx, p) in &self.edges {
            let c = c as usize;
            let idx = idx as usize;
            let coef = op.edge_coef(c, idx);
            let curl = op.curl_h_at(f, c, p[0] as usize, p[1] as usize, p[2] as usize);
            f.e[c][idx] = (coef.ca as f64 * f.e[c][idx] as f64 + coef.cb as f64 * curl) as f32;
        }
    }
    fn bytes(&self) -> usize {
        self.edges.capacity() * std::mem::size_of::<(u8, u32, [u32; 3])>()
    }
}
