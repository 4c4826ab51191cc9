//! 4x4 affine transforms in metres, and the rigid offset of the phantom.

use crate::error::{Error, Result};

/// A 4x4 homogeneous affine `[[a, b, c, tx], [d, e, f, ty], [g, h, i, tz], [0, 0, 0, 1]]` (row-major),
/// mapping a column vector `(x, y, z, 1)` to `(x', y', z', 1)`. Translations in metres.
///
/// As a voxel affine it maps the voxel index `(i, j, k)` (0-based, the index of `Array3[[i, j, k]]`,
/// i.e. the voxel centre) to world coordinates in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub m: [[f64; 4]; 4],
}

impl Default for Affine {
    fn default() -> Self {
        Self::identity()
    }
}

impl Affine {
    pub fn identity() -> Self {
        let mut m = [[0.0; 4]; 4];
        for (a, row) in m.iter_mut().enumerate() {
            row[a] = 1.0;
        }
        Self { m }
    }

    /// An affine from its top 3 rows (`[[a, b, c, tx], ...]`); the bottom row is `[0, 0, 0, 1]`.
    pub fn from_rows(rows: [[f64; 4]; 3]) -> Self {
        Self {
            m: [rows[0], rows[1], rows[2], [0.0, 0.0, 0.0, 1.0]],
        }
    }

    /// The axis-aligned voxel affine of a regular grid: index `(i, j, k)` → `origin + (i dx, j dy, k dz)`.
    pub fn from_origin_spacing(origin_m: [f64; 3], spacing_m: [f64; 3]) -> Self {
        let mut m = Self::identity().m;
        for a in 0..3 {
            m[a][a] = spacing_m[a];
            m[a][3] = origin_m[a];
        }
        Self { m }
    }

    /// A translation by `t` (m).
    pub fn translation(t: [f64; 3]) -> Self {
        Self::from_origin_spacing(t, [1.0; 3])
    }

    /// A linear map `r` (3x3) followed by a translation `t`.
    pub fn from_linear(r: [[f64; 3]; 3], t: [f64; 3]) -> Self {
        Self::from_rows([
            [r[0][0], r[0][1], r[0][2], t[0]],
            [r[1][0], r[1][1], r[1][2], t[1]],
            [r[2][0], r[2][1], r[2][2], t[2]],
        ])
    }

    /// The 3x3 linear part.
    pub fn linear(&self) -> [[f64; 3]; 3] {
        let mut r = [[0.0; 3]; 3];
        for a in 0..3 {
            for b in 0..3 {
                r[a][b] = self.m[a][b];
            }
        }
        r
    }

    /// The translation column.
    pub fn offset(&self) -> [f64; 3] {
        [self.m[0][3], self.m[1][3], self.m[2][3]]
    }

    /// Applies the affine to a point.
    #[inline]
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.m;
        [
            m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2] + m[0][3],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2] + m[1][3],
            m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2] + m[2][3],
        ]
    }

    /// Applies only the linear part (for direction vectors).
    #[inline]
    pub fn apply_vector(&self, v: [f64; 3]) -> [f64; 3] {
        let m = &self.m;
        [
            m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
        ]
    }

    /// `self ∘ other`: applies `other` first, then `self`.
    pub fn compose(&self, other: &Affine) -> Affine {
        let mut m = [[0.0; 4]; 4];
        for a in 0..4 {
            for b in 0..4 {
                m[a][b] = (0..4).map(|c| self.m[a][c] * other.m[c][b]).sum();
            }
        }
        Affine { m }
    }

    /// Determinant of the linear part.
    pub fn det3(&self) -> f64 {
        det3(&self.linear())
    }

    /// Whether every entry is finite and the bottom row is `[0, 0, 0, 1]`.
    pub fn is_finite(&self) -> bool {
        self.m.iter().flatten().all(|v| v.is_finite()) && self.m[3] == [0.0, 0.0, 0.0, 1.0]
    }

    /// The inverse affine. `name` names the file or item for the error message.
    pub fn inverse(&self, name: &str) -> Result<Affine> {
        let r = self.linear();
        let det = det3(&r);
        let scale = (0..3)
            .map(|a| (0..3).map(|b| r[a][b] * r[a][b]).sum::<f64>().sqrt())
            .fold(0.0, f64::max);
        if !self.is_finite() || !(det.abs() > 1e-12 * scale.powi(3)) {
            return Err(Error::input(
                name,
                "affine",
                format!(
                    "the voxel-to-world affine is singular or not finite (det = {det:.3e}): {:?}",
                    self.m
                ),
                "write the map with a valid sform/qform (NIfTI) or `affine`/`origin_m`+`spacing_m` (HDF5) attributes",
            ));
        }
        let mut inv = [[0.0; 3]; 3];
        for a in 0..3 {
            for b in 0..3 {
                // Adjugate: cofactor of (b, a).
                let (b1, b2) = ((b + 1) % 3, (b + 2) % 3);
                let (a1, a2) = ((a + 1) % 3, (a + 2) % 3);
                inv[a][b] = (r[b1][a1] * r[b2][a2] - r[b1][a2] * r[b2][a1]) / det;
            }
        }
        let t = self.offset();
        let ti = [
            -(inv[0][0] * t[0] + inv[0][1] * t[1] + inv[0][2] * t[2]),
            -(inv[1][0] * t[0] + inv[1][1] * t[1] + inv[1][2] * t[2]),
            -(inv[2][0] * t[0] + inv[2][1] * t[1] + inv[2][2] * t[2]),
        ];
        Ok(Affine::from_linear(inv, ti))
    }

    /// Length of each voxel axis (the column norms of the linear part), in metres for a voxel affine.
    pub fn voxel_size(&self) -> [f64; 3] {
        let mut s = [0.0; 3];
        for (b, sb) in s.iter_mut().enumerate() {
            *sb = (0..3).map(|a| self.m[a][b] * self.m[a][b]).sum::<f64>().sqrt();
        }
        s
    }

    /// Largest absolute difference of the entries.
    pub fn max_abs_diff(&self, other: &Affine) -> f64 {
        self.m
            .iter()
            .flatten()
            .zip(other.m.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }
}

pub(crate) fn det3(r: &[[f64; 3]; 3]) -> f64 {
    r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0])
}

/// Rigid displacement of the phantom (and the simulated field that moves with it), in the simulation frame.
///
/// A point `x` of the phantom as simulated moves to `x' = R (x - c) + c + t` with `c = centre_m`,
/// `t = translation_m` and `R = Rz(γ) Ry(β) Rx(α)` for `rotation_rad = [α, β, γ]` (right-handed
/// rotations about the x, y and z axes through `c`, applied x first). Resampling evaluates the
/// simulated map at `x = Rᵀ (x' - c - t) + c`.
///
/// The field is carried along as a scalar: for a rotation about the B0 (z) axis the phase of a complex
/// B1+ would also turn by `γ`, which is not applied here (small angles, magnitude fits).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RigidTransform {
    pub translation_m: [f64; 3],
    pub rotation_rad: [f64; 3],
    /// Centre of rotation (m), e.g. the phantom centre.
    pub centre_m: [f64; 3],
}

/// Rotation matrix about axis `a` by `t` rad, and its derivative.
fn axis_rot(a: usize, t: f64) -> ([[f64; 3]; 3], [[f64; 3]; 3]) {
    let (s, c) = t.sin_cos();
    let (b, d) = ((a + 1) % 3, (a + 2) % 3);
    let mut r = [[0.0; 3]; 3];
    let mut dr = [[0.0; 3]; 3];
    r[a][a] = 1.0;
    r[b][b] = c;
    r[d][d] = c;
    r[b][d] = -s;
    r[d][b] = s;
    dr[b][b] = -s;
    dr[d][d] = -s;
    dr[b][d] = -c;
    dr[d][b] = c;
    (r, dr)
}

pub(crate) fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

pub(crate) fn transpose(a: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = a[j][i];
        }
    }
    m
}

impl RigidTransform {
    /// A pure translation.
    pub fn shift(translation_m: [f64; 3]) -> Self {
        Self {
            translation_m,
            ..Default::default()
        }
    }

    /// The 6 parameters `[tx, ty, tz, α, β, γ]` (m, rad).
    pub fn params(&self) -> [f64; 6] {
        let t = self.translation_m;
        let r = self.rotation_rad;
        [t[0], t[1], t[2], r[0], r[1], r[2]]
    }

    /// From the 6 parameters `[tx, ty, tz, α, β, γ]` and a centre.
    pub fn from_params(p: [f64; 6], centre_m: [f64; 3]) -> Self {
        Self {
            translation_m: [p[0], p[1], p[2]],
            rotation_rad: [p[3], p[4], p[5]],
            centre_m,
        }
    }

    /// `R = Rz Ry Rx`.
    pub fn rotation(&self) -> [[f64; 3]; 3] {
        let [a, b, g] = self.rotation_rad;
        let (rx, _) = axis_rot(0, a);
        let (ry, _) = axis_rot(1, b);
        let (rz, _) = axis_rot(2, g);
        matmul(&rz, &matmul(&ry, &rx))
    }

    /// Derivatives `dR/dα, dR/dβ, dR/dγ`.
    pub fn rotation_derivatives(&self) -> [[[f64; 3]; 3]; 3] {
        let [a, b, g] = self.rotation_rad;
        let (rx, drx) = axis_rot(0, a);
        let (ry, dry) = axis_rot(1, b);
        let (rz, drz) = axis_rot(2, g);
        [
            matmul(&rz, &matmul(&ry, &drx)),
            matmul(&rz, &matmul(&dry, &rx)),
            matmul(&drz, &matmul(&ry, &rx)),
        ]
    }

    /// The forward map `x ↦ R (x - c) + c + t` as an affine.
    pub fn forward(&self) -> Affine {
        let r = self.rotation();
        let c = self.centre_m;
        let rc = [
            r[0][0] * c[0] + r[0][1] * c[1] + r[0][2] * c[2],
            r[1][0] * c[0] + r[1][1] * c[1] + r[1][2] * c[2],
            r[2][0] * c[0] + r[2][1] * c[1] + r[2][2] * c[2],
        ];
        let t = [
            c[0] - rc[0] + self.translation_m[0],
            c[1] - rc[1] + self.translation_m[1],
            c[2] - rc[2] + self.translation_m[2],
        ];
        Affine::from_linear(r, t)
    }

    /// The inverse map `x' ↦ Rᵀ (x' - c - t) + c` (where the simulated map is evaluated).
    pub fn inverse(&self) -> Affine {
        let rt = transpose(&self.rotation());
        let c = self.centre_m;
        let u = [
            -c[0] - self.translation_m[0],
            -c[1] - self.translation_m[1],
            -c[2] - self.translation_m[2],
        ];
        let ru = [
            rt[0][0] * u[0] + rt[0][1] * u[1] + rt[0][2] * u[2],
            rt[1][0] * u[0] + rt[1][1] * u[1] + rt[1][2] * u[2],
            rt[2][0] * u[0] + rt[2][1] * u[1] + rt[2][2] * u[2],
        ];
        Affine::from_linear(rt, [ru[0] + c[0], ru[1] + c[1], ru[2] + c[2]])
    }
}
