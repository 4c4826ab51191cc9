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

/// A named solid.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub name: String,
    pub kind: ShapeKind,
}

impl Shape {
    pub fn new(name: &str, kind: ShapeKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
    pub fn boxed(name: &str, min_m: [f64; 3], max_m: [f64; 3]) -> Self {
        Self::new(name, ShapeKind::Box { min_m, max_m })
    }
    /// Whether point `p` lies inside (boundary included).
    pub fn contains(&self, p: [f64; 3]) -> bool {
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
