//! Regular sampled fields on axis-aligned grids: [`RegularField`] (values with an origin and a
//! spacing, trilinear interpolation with exact gradients), the [`Interp`] values it can combine, and
//! [`GridPlacement`] (where the samples of a regular grid sit) with [`sample_on`]. Used by the coil
//! fields, B1 maps, dosimetry and the implant's local model.

use ndarray::{Array3, Zip};
use num_complex::{Complex32, Complex64};

use crate::error::{Error, Result};

/// Values that trilinear interpolation can combine.
pub trait Interp: Copy + Send + Sync + 'static {
    fn zero() -> Self;
    /// Not-a-number (marks points outside the grid).
    fn nan() -> Self;
    /// `self + w * x`.
    fn axpy(self, w: f64, x: Self) -> Self;
    fn is_finite_value(&self) -> bool;
}

impl Interp for f32 {
    fn zero() -> Self {
        0.0
    }
    fn nan() -> Self {
        f32::NAN
    }
    #[inline]
    fn axpy(self, w: f64, x: Self) -> Self {
        (self as f64 + w * x as f64) as f32
    }
    fn is_finite_value(&self) -> bool {
        self.is_finite()
    }
}
impl Interp for f64 {
    fn zero() -> Self {
        0.0
    }
    fn nan() -> Self {
        f64::NAN
    }
    #[inline]
    fn axpy(self, w: f64, x: Self) -> Self {
        self + w * x
    }
    fn is_finite_value(&self) -> bool {
        self.is_finite()
    }
}
impl Interp for Complex32 {
    fn zero() -> Self {
        Complex32::new(0.0, 0.0)
    }
    fn nan() -> Self {
        Complex32::new(f32::NAN, f32::NAN)
    }
    #[inline]
    fn axpy(self, w: f64, x: Self) -> Self {
        Complex32::new(
            (self.re as f64 + w * x.re as f64) as f32,
            (self.im as f64 + w * x.im as f64) as f32,
        )
    }
    fn is_finite_value(&self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
}
impl Interp for Complex64 {
    fn zero() -> Self {
        Complex64::new(0.0, 0.0)
    }
    fn nan() -> Self {
        Complex64::new(f64::NAN, f64::NAN)
    }
    #[inline]
    fn axpy(self, w: f64, x: Self) -> Self {
        self + x * w
    }
    fn is_finite_value(&self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
}

/// Tolerance (in index units) for points on the boundary of a grid.
const EDGE_TOL: f64 = 1e-6;

/// Values on an axis-aligned regular grid in the simulation frame: `data[[i, j, k]]` sits at
/// `origin_m + (i dx, j dy, k dz)`. This is the placement rftwin writes with every field dataset
/// (`origin_m` = position of element `[0, 0, 0]`, `spacing_m`).
#[derive(Clone, Debug)]
pub struct RegularField<T> {
    pub data: Array3<T>,
    pub origin_m: [f64; 3],
    pub spacing_m: [f64; 3],
}

/// Trilinear stencil at one point: 8 flat indices into the array and their weights, plus the
/// derivative weights along each axis (per metre).
struct Stencil {
    idx: [[usize; 3]; 8],
    w: [f64; 8],
    dw: [[f64; 8]; 3],
}

/// Lower index and fraction along one axis, or None outside `[0, n-1]`.
#[inline]
fn axis_locate(u: f64, n: usize) -> Option<(usize, f64)> {
    if !u.is_finite() || u < -EDGE_TOL || u > (n - 1) as f64 + EDGE_TOL {
        return None;
    }
    if n == 1 {
        return Some((0, 0.0));
    }
    let u = u.clamp(0.0, (n - 1) as f64);
    let i0 = (u.floor() as usize).min(n - 2);
    Some((i0, u - i0 as f64))
}

impl<T: Interp> RegularField<T> {
    /// A field; the spacing must be positive and finite.
    pub fn new(data: Array3<T>, origin_m: [f64; 3], spacing_m: [f64; 3]) -> Result<Self> {
        if spacing_m.iter().any(|d| !(*d > 0.0) || !d.is_finite()) || origin_m.iter().any(|o| !o.is_finite()) {
            return Err(Error::input(
                "field",
                "spacing_m",
                format!("origin {origin_m:?} / spacing {spacing_m:?} m: spacing must be > 0 and both finite"),
                "give a positive grid spacing in metres",
            ));
        }
        if data.is_empty() {
            return Err(Error::input(
                "field",
                "data",
                "the field array is empty",
                "give at least one sample",
            ));
        }
        Ok(Self {
            data,
            origin_m,
            spacing_m,
        })
    }

    pub fn dims(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    /// Position of element `[i, j, k]` (m).
    pub fn position(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        [
            self.origin_m[0] + i as f64 * self.spacing_m[0],
            self.origin_m[1] + j as f64 * self.spacing_m[1],
            self.origin_m[2] + k as f64 * self.spacing_m[2],
        ]
    }

    fn stencil(&self, p: [f64; 3]) -> Option<Stencil> {
        let n = self.dims();
        let mut lo = [(0usize, 0.0f64); 3];
        for a in 0..3 {
            lo[a] = axis_locate((p[a] - self.origin_m[a]) / self.spacing_m[a], n[a])?;
        }
        let mut st = Stencil {
            idx: [[0; 3]; 8],
            w: [0.0; 8],
            dw: [[0.0; 8]; 3],
        };
        for c in 0..8 {
            let mut w = 1.0;
            let mut dw = [1.0; 3];
            for a in 0..3 {
                let bit = (c >> (2 - a)) & 1;
                let (i0, f) = lo[a];
                // A singleton axis has no neighbour: weight 1 at index 0 and zero derivative.
                let (idx, wa, da) = if n[a] == 1 {
                    (0, if bit == 0 { 1.0 } else { 0.0 }, 0.0)
                } else if bit == 0 {
                    (i0, 1.0 - f, -1.0 / self.spacing_m[a])
                } else {
                    (i0 + 1, f, 1.0 / self.spacing_m[a])
                };
                st.idx[c][a] = idx;
                w *= wa;
                for (b, d) in dw.iter_mut().enumerate() {
                    *d *= if b == a { da } else { wa };
                }
            }
            st.w[c] = w;
            for a in 0..3 {
                st.dw[a][c] = dw[a];
            }
        }
        Some(st)
    }

    /// Trilinear value at `p` (m); NaN outside the grid's sample box (boundary included).
    pub fn sample(&self, p: [f64; 3]) -> T {
        match self.stencil(p) {
            None => T::nan(),
            Some(st) => {
                let mut v = T::zero();
                for c in 0..8 {
                    if st.w[c] != 0.0 {
                        v = v.axpy(st.w[c], self.data[st.idx[c]]);
                    }
                }
                v
            }
        }
    }

    /// Trilinear value and its gradient (per metre) at `p`: the exact derivative of the trilinear
    /// interpolant inside a cell (on a cell face the upper cell's derivative is used). NaN outside.
    pub fn sample_with_gradient(&self, p: [f64; 3]) -> (T, [T; 3]) {
        match self.stencil(p) {
            None => (T::nan(), [T::nan(); 3]),
            Some(st) => {
                let mut v = T::zero();
                let mut g = [T::zero(); 3];
                for c in 0..8 {
                    let x = self.data[st.idx[c]];
                    v = v.axpy(st.w[c], x);
                    for a in 0..3 {
                        g[a] = g[a].axpy(st.dw[a][c], x);
                    }
                }
                (v, g)
            }
        }
    }
}

/// Regular grid placement: element `[i, j, k]` at `origin_m + (i, j, k) * spacing_m`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridPlacement {
    pub origin_m: [f64; 3],
    pub spacing_m: [f64; 3],
    pub dims: [usize; 3],
}

impl GridPlacement {
    /// The cell centres of a uniform grid whose node `(0,0,0)` is at `node_origin_m`.
    pub fn cell_centres(node_origin_m: [f64; 3], spacing_m: [f64; 3], cells: [usize; 3]) -> Self {
        Self {
            origin_m: [
                node_origin_m[0] + 0.5 * spacing_m[0],
                node_origin_m[1] + 0.5 * spacing_m[1],
                node_origin_m[2] + 0.5 * spacing_m[2],
            ],
            spacing_m,
            dims: cells,
        }
    }
    pub fn position(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        [
            self.origin_m[0] + i as f64 * self.spacing_m[0],
            self.origin_m[1] + j as f64 * self.spacing_m[1],
            self.origin_m[2] + k as f64 * self.spacing_m[2],
        ]
    }
}

/// Trilinear samples of `f` at every point of `g`.
pub fn sample_on<T: Interp>(f: &RegularField<T>, g: &GridPlacement) -> Array3<T> {
    let mut out = Array3::from_elem(g.dims, T::zero());
    Zip::indexed(&mut out).par_for_each(|(i, j, k), o| *o = f.sample(g.position(i, j, k)));
    out
}
