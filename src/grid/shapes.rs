//! Solid shapes that fill cells (by cell centre).

/// The geometry of a solid.
#[derive(Clone, Debug, PartialEq)]
pub enum ShapeKind {
    /// Axis-aligned box between two corners.
    Box { min_m: [f64; 3], max_m: [f64; 3] },
    /// Cylinder along axis `axis` (0 = x, 1 = y, 2 = z) through `centre_m`, from `start_m` to `end_m` along that axis.
    Cylinder {
        axis: usize,
        centre_m: [f64; 3],
        radius_m: f64,
        start_m: f64,
        end_m: f64,
    },
    /// Sphere.
    Sphere { centre_m: [f64; 3], radius_m: f64 },
}

/// A rigid rotation of a solid about a point: the solid's point `q` moves to
/// `centre_m + matrix (q - centre_m)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeRotation {
    pub centre_m: [f64; 3],
    /// Orthonormal, row-major.
    pub matrix: [[f64; 3]; 3],
}

impl ShapeRotation {
    /// From a rotation vector (axis times angle, radians; for small angles the rotations about x,
    /// y and z) by Rodrigues' formula.
    pub fn from_vector(centre_m: [f64; 3], r: [f64; 3]) -> Self {
        Self {
            centre_m,
            matrix: rotation_matrix(r),
        }
    }
    /// The solid's own point that lands at `p`.
    pub fn inverse_apply(&self, p: [f64; 3]) -> [f64; 3] {
        let v = [0, 1, 2].map(|a| p[a] - self.centre_m[a]);
        let m = &self.matrix;
        [0, 1, 2].map(|a| self.centre_m[a] + m[0][a] * v[0] + m[1][a] * v[1] + m[2][a] * v[2])
    }
    /// Where the solid's point `q` lands.
    pub fn apply(&self, q: [f64; 3]) -> [f64; 3] {
        let v = [0, 1, 2].map(|a| q[a] - self.centre_m[a]);
        let m = &self.matrix;
        [0, 1, 2].map(|a| self.centre_m[a] + m[a][0] * v[0] + m[a][1] * v[1] + m[a][2] * v[2])
    }
}

/// The rotation matrix of a rotation vector `r` (radians), Rodrigues' formula.
pub fn rotation_matrix(r: [f64; 3]) -> [[f64; 3]; 3] {
    let th = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    let mut m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    if th == 0.0 {
        return m;
    }
    let k = r.map(|v| v / th);
    let (s, c) = th.sin_cos();
    let kx = [[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = c * m[i][j] + s * kx[i][j] + (1.0 - c) * k[i] * k[j];
        }
    }
    m
}

/// A named solid, optionally rotated.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub name: String,
    pub kind: ShapeKind,
    pub rotation: Option<ShapeRotation>,
}

impl Shape {
    pub fn new(name: &str, kind: ShapeKind) -> Self {
        Self {
            name: name.into(),
            kind,
            rotation: None,
        }
    }
    /// The same solid rotated (replaces any rotation it had).
    pub fn rotated(mut self, rotation: Option<ShapeRotation>) -> Self {
        self.rotation = rotation;
        self
    }
    pub fn boxed(name: &str, min_m: [f64; 3], max_m: [f64; 3]) -> Self {
        Self::new(name, ShapeKind::Box { min_m, max_m })
    }
    /// The axis-aligned bounding box `(low, high)` of the solid without its rotation.
    pub fn unrotated_bounds(&self) -> ([f64; 3], [f64; 3]) {
        match &self.kind {
            ShapeKind::Box { min_m, max_m } => (*min_m, *max_m),
            ShapeKind::Cylinder {
                axis,
                centre_m,
                radius_m,
                start_m,
                end_m,
            } => {
                let mut lo = centre_m.map(|c| c - radius_m);
                let mut hi = centre_m.map(|c| c + radius_m);
                lo[*axis] = start_m.min(*end_m);
                hi[*axis] = start_m.max(*end_m);
                (lo, hi)
            }
            ShapeKind::Sphere { centre_m, radius_m } => {
                (centre_m.map(|c| c - radius_m), centre_m.map(|c| c + radius_m))
            }
        }
    }
    /// Whether point `p` lies inside (boundary included).
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let p = match &self.rotation {
            Some(r) => r.inverse_apply(p),
            None => p,
        };
        match &self.kind {
            ShapeKind::Box { min_m, max_m } => (0..3).all(|a| p[a] >= min_m[a] && p[a] <= max_m[a]),
            ShapeKind::Cylinder {
                axis,
                centre_m,
                radius_m,
                start_m,
                end_m,
            } => {
                let a = *axis;
                let (b, c) = ((a + 1) % 3, (a + 2) % 3);
                let (lo, hi) = if start_m <= end_m {
                    (*start_m, *end_m)
                } else {
                    (*end_m, *start_m)
                };
                let db = p[b] - centre_m[b];
                let dc = p[c] - centre_m[c];
                p[a] >= lo && p[a] <= hi && db * db + dc * dc <= radius_m * radius_m
            }
            ShapeKind::Sphere { centre_m, radius_m } => {
                let d2: f64 = (0..3).map(|a| (p[a] - centre_m[a]).powi(2)).sum();
                d2 <= radius_m * radius_m
            }
        }
    }
}
