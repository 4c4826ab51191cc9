//! Placement of an implant in a phantom: position and orientation (TOML or command line), the check
//! that the whole implant lies in the gel at least a stated distance from every wall or surface, the
//! world-space geometry ([`PlacedImplant`]), and the options of the fine local grid around it (the
//! voxel model itself is `raster::local_model`).
//!
//! Frames: `position_m` is where the implant frame's origin goes, in the *phantom frame* (origin at
//! the centre of the phantom's bounding box; see [`crate::coil::phantom`]); world coordinates are the
//! coil frame (isocentre origin). The orientation maps the implant's `+z` axis (its length, tip at
//! `-z` for straight kinds) onto `direction` and then turns it by `roll_deg` about that axis, or is
//! given as intrinsic z-y-z Euler angles `euler_deg = [alpha, beta, gamma]`, R = Rz(α) Ry(β) Rz(γ).
//! Position and orientation are in the phantom's own axes: a phantom moved (`landmark_from_isocentre_m`)
//! or turned (`rotation_deg`), e.g. to the placement a twin fit found, carries the implant with it.
//!
//! ```toml
//! position_m = [0.10, 0.0, 0.0]
//! direction = [0.0, 0.0, 1.0]
//! roll_deg = 0.0
//! min_wall_distance_m = 0.02
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::{norm, point_at, Implant};
use crate::spec::{self, Problems};
use crate::coil::phantom::{PhantomConfig, PhantomShape};
use crate::error::{Error, Result};

/// Default minimum distance from the implant's surface to any phantom wall or the gel surface (m).
pub const DEFAULT_MIN_WALL_DISTANCE_M: f64 = 0.02;

/// A 3x3 rotation, `r[i][j]`: row i, column j; columns are the implant axes in world coordinates.
pub type Rotation = [[f64; 3]; 3];

/// A placement file as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementToml {
    pub position_m: Option<[f64; 3]>,
    pub direction: Option<[f64; 3]>,
    pub roll_deg: Option<f64>,
    pub euler_deg: Option<[f64; 3]>,
    pub min_wall_distance_m: Option<f64>,
}

const PLACEMENT_KEYS: &str = "position_m, direction, roll_deg, euler_deg, min_wall_distance_m";

/// A validated placement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Where the values came from (a file, or "command line"), for error messages.
    pub source_name: String,
    /// Implant-frame origin in the phantom frame (m).
    pub position_m: [f64; 3],
    pub rotation: Rotation,
    pub min_wall_distance_m: f64,
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// The rotation taking the implant's z axis to `dir` (unit) and its x axis to a vector
/// perpendicular to it, turned by `roll_rad` about `dir`. The reference x axis is the world x axis
/// projected off `dir` (world y when `dir` is nearly along x), so `dir = +z, roll = 0` is the identity.
pub fn rotation_from_direction(dir: [f64; 3], roll_rad: f64) -> Rotation {
    let n = norm(dir);
    let w = [dir[0] / n, dir[1] / n, dir[2] / n];
    let a = if w[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let d = a[0] * w[0] + a[1] * w[1] + a[2] * w[2];
    let u0 = [a[0] - d * w[0], a[1] - d * w[1], a[2] - d * w[2]];
    let nu = norm(u0);
    let u0 = [u0[0] / nu, u0[1] / nu, u0[2] / nu];
    let v0 = cross(w, u0);
    let (s, c) = roll_rad.sin_cos();
    let u = [0, 1, 2].map(|i| c * u0[i] + s * v0[i]);
    let v = cross(w, u);
    [[u[0], v[0], w[0]], [u[1], v[1], w[1]], [u[2], v[2], w[2]]]
}

/// Intrinsic z-y-z Euler rotation R = Rz(α) Ry(β) Rz(γ) (radians).
pub fn rotation_from_euler_zyz(a: f64, b: f64, g: f64) -> Rotation {
    let rz = |t: f64| [[t.cos(), -t.sin(), 0.0], [t.sin(), t.cos(), 0.0], [0.0, 0.0, 1.0]];
    let ry = |t: f64| [[t.cos(), 0.0, t.sin()], [0.0, 1.0, 0.0], [-t.sin(), 0.0, t.cos()]];
    matmul(matmul(rz(a), ry(b)), rz(g))
}

fn matmul(a: Rotation, b: Rotation) -> Rotation {
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

/// `r p`.
pub fn rotate(r: &Rotation, p: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2])
}

impl Placement {
    /// A placement from values (command line or code); `source_name` names where they came from.
    pub fn new(source_name: &str, position_m: [f64; 3], direction: [f64; 3], roll_deg: f64) -> Result<Self> {
        Self::from_raw(
            PlacementToml {
                position_m: Some(position_m),
                direction: Some(direction),
                roll_deg: Some(roll_deg),
                euler_deg: None,
                min_wall_distance_m: None,
            },
            source_name,
        )
    }

    pub fn load(path: &Path) -> Result<Self> {
        spec::load(path, Self::from_toml_str)
    }

    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self> {
        Self::from_raw(spec::parse(text, source_name, PLACEMENT_KEYS)?, source_name)
    }

    pub fn from_raw(raw: PlacementToml, source_name: &str) -> Result<Self> {
        let mut p = Problems::new(source_name);
        let position_m = raw.position_m.unwrap_or_else(|| {
            p.add(
                "position_m",
                "missing",
                "add `position_m = [x, y, z]` (m, phantom frame)",
            );
            [0.0; 3]
        });
        if position_m.iter().any(|x| !x.is_finite()) {
            p.add("position_m", "not finite", "give finite coordinates in metres");
        }
        let rotation = match (raw.direction, raw.euler_deg) {
            (Some(_), Some(_)) => {
                p.add("euler_deg", "both direction and euler_deg given", "keep one of them");
                rotation_from_direction([0.0, 0.0, 1.0], 0.0)
            }
            (Some(d), None) => {
                if !(norm(d) > 1e-12) || d.iter().any(|x| !x.is_finite()) {
                    p.add(
                        "direction",
                        format!("{d:?} is not a direction"),
                        "give a non-zero vector, e.g. [0, 0, 1]",
                    );
                    rotation_from_direction([0.0, 0.0, 1.0], 0.0)
                } else {
                    rotation_from_direction(d, raw.roll_deg.unwrap_or(0.0).to_radians())
                }
            }
            (None, Some(e)) if e.iter().any(|x| !x.is_finite()) => {
                p.add(
                    "euler_deg",
                    format!("{e:?} is not three finite angles"),
                    "give three angles in degrees, e.g. euler_deg = [0.0, 90.0, 0.0]",
                );
                rotation_from_direction([0.0, 0.0, 1.0], 0.0)
            }
            (None, Some(e)) => {
                if raw.roll_deg.is_some() {
                    p.add(
                        "roll_deg",
                        "roll_deg goes with direction, not euler_deg",
                        "remove roll_deg",
                    );
                }
                rotation_from_euler_zyz(e[0].to_radians(), e[1].to_radians(), e[2].to_radians())
            }
            (None, None) => rotation_from_direction([0.0, 0.0, 1.0], raw.roll_deg.unwrap_or(0.0).to_radians()),
        };
        if let Some(r) = raw.roll_deg.filter(|r| !r.is_finite()) {
            p.add(
                "roll_deg",
                format!("{r} is not a finite angle"),
                "give the roll in degrees, e.g. roll_deg = 0.0",
            );
        }
        let min_wall_distance_m = raw.min_wall_distance_m.unwrap_or(DEFAULT_MIN_WALL_DISTANCE_M);
        if !(min_wall_distance_m >= 0.0) || !min_wall_distance_m.is_finite() {
            p.add(
                "min_wall_distance_m",
                format!("{min_wall_distance_m} m is negative or not finite"),
                "give a distance >= 0 (default 0.02)",
            );
        }
        p.finish()?;
        Ok(Self {
            source_name: source_name.into(),
            position_m,
            rotation,
            min_wall_distance_m,
        })
    }

    /// The implant's length direction (world).
    pub fn direction(&self) -> [f64; 3] {
        [self.rotation[0][2], self.rotation[1][2], self.rotation[2][2]]
    }
}

/// Signed distance (m) from `p` (coil frame) to the phantom's surface: positive inside.
pub fn wall_distance(phantom: &PhantomConfig, p: [f64; 3]) -> f64 {
    let h = phantom.size_m.map(|s| 0.5 * s);
    let q = phantom.to_phantom_frame(p);
    match phantom.shape {
        PhantomShape::Box => (0..3).map(|a| h[a] - q[a].abs()).fold(f64::INFINITY, f64::min),
        PhantomShape::Cylinder => (h[0] - q[0].hypot(q[1])).min(h[2] - q[2].abs()),
    }
}

/// An implant at its place: world-space (coil-frame) geometry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlacedImplant {
    pub implant: Implant,
    pub placement: Placement,
    /// Conductor centre line in the coil frame, tip first (m).
    pub path_m: Vec<[f64; 3]>,
    /// The implant's x axis in the coil frame (a plate's width direction).
    pub width_axis: [f64; 3],
    /// Smallest distance found from the implant's surface to the phantom's surface (m).
    pub wall_distance_m: f64,
}

impl PlacedImplant {
    /// Conductor length (m).
    pub fn length_m(&self) -> f64 {
        super::model::path_length(&self.path_m)
    }

    /// Sample points on the implant's surface envelope used for the wall check: along the centre
    /// line every `step` (and the ends), offset by the outer radius in 6 directions (and by half the
    /// width for a plate).
    fn envelope(&self, step: f64) -> Vec<[f64; 3]> {
        let len = self.length_m();
        let n = ((len / step).ceil() as usize).max(1);
        let r = self.implant.outer_radius_m();
        let hw = 0.5 * self.implant.width_m;
        let mut pts = Vec::new();
        for i in 0..=n {
            let (c, _) = point_at(&self.path_m, len * i as f64 / n as f64);
            for sw in [-1.0, 0.0, 1.0] {
                let b = [0, 1, 2].map(|a| c[a] + sw * hw * self.width_axis[a]);
                for a in 0..3 {
                    for s in [-1.0, 1.0] {
                        let mut q = b;
                        q[a] += s * r;
                        pts.push(q);
                    }
                }
            }
        }
        pts
    }
}

/// The phantom's axes in the coil frame (its rotation about its centre; the identity when square).
fn phantom_axes(phantom: &PhantomConfig) -> Rotation {
    phantom
        .rotation()
        .map_or([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], |r| r.matrix)
}

/// Where the phantom-frame point `position_m` lies in the coil frame: the phantom's centre plus the
/// position turned by the phantom's rotation, so that a phantom moved or turned (the placement a twin
/// fit found, say) carries the implant with it.
pub fn origin_in_coil_frame(phantom: &PhantomConfig, position_m: [f64; 3]) -> [f64; 3] {
    let c = phantom.centre_m();
    let q = rotate(&phantom_axes(phantom), position_m);
    [0, 1, 2].map(|a| c[a] + q[a])
}

/// The inverse of [`origin_in_coil_frame`]: where the coil-frame point `coil_m` lies in the phantom
/// frame (the phantom's rotation is orthonormal, so its transpose turns back).
pub fn phantom_frame_of(phantom: &PhantomConfig, coil_m: [f64; 3]) -> [f64; 3] {
    let c = phantom.centre_m();
    let r = phantom_axes(phantom);
    let d = [0, 1, 2].map(|a| coil_m[a] - c[a]);
    [0, 1, 2].map(|i| r[0][i] * d[0] + r[1][i] * d[1] + r[2][i] * d[2])
}

/// Places `implant` in `phantom`: transforms the geometry to the coil frame (the position and the
/// orientation are in the phantom frame, so they follow the phantom's placement: its landmark
/// offset and its rotation) and checks that every
/// point of its surface envelope lies in the gel at least `min_wall_distance_m` from the phantom's
/// surface. The error names the placement source, the key `position_m` and the smallest distance
/// found (negative: outside the gel).
pub fn place(implant: &Implant, phantom: &PhantomConfig, placement: &Placement) -> Result<PlacedImplant> {
    let origin = origin_in_coil_frame(phantom, placement.position_m);
    // The implant turns with the phantom: its axes in the coil frame are the phantom's rotation
    // applied to its axes in the phantom frame.
    let rotation = matmul(phantom_axes(phantom), placement.rotation);
    let to_world = |p: [f64; 3]| {
        let q = rotate(&rotation, p);
        [0, 1, 2].map(|a| origin[a] + q[a])
    };
    let path_m: Vec<[f64; 3]> = implant.path_m.iter().map(|p| to_world(*p)).collect();
    let width_axis = rotate(&rotation, [1.0, 0.0, 0.0]);
    let mut placed = PlacedImplant {
        implant: implant.clone(),
        placement: placement.clone(),
        path_m,
        width_axis,
        wall_distance_m: 0.0,
    };
    let mut worst = f64::INFINITY;
    let mut worst_p = [0.0; 3];
    for q in placed.envelope(1e-3) {
        let d = wall_distance(phantom, q);
        if d < worst {
            worst = d;
            worst_p = q;
        }
    }
    placed.wall_distance_m = worst;
    if worst < placement.min_wall_distance_m {
        let where_ = if worst < 0.0 {
            "lies partly outside the gel (crosses a wall or the surface)"
        } else {
            "comes too close to a wall or the gel surface"
        };
        return Err(Error::input(
            &placement.source_name,
            "position_m",
            format!(
                "implant {} ({}) {where_}: smallest distance to the phantom surface {:.4} m at [{:.4}, {:.4}, {:.4}] m (coil frame), minimum {:.4} m (min_wall_distance_m)",
                implant.name, implant.source_name, worst, worst_p[0], worst_p[1], worst_p[2], placement.min_wall_distance_m
            ),
            format!(
                "move the implant towards the centre of {} or turn it so that it stays {:.3} m inside the gel",
                phantom.name, placement.min_wall_distance_m
            ),
        ));
    }
    Ok(placed)
}

/// The fine local grid around a placed implant (`raster::local_model`).
#[derive(Clone, Debug)]
pub struct LocalGridOptions {
    /// Cell size (m); 1 mm by default.
    pub cell_m: f64,
    /// Margin around the implant's bounding box (m).
    pub pad_m: f64,
}

impl Default for LocalGridOptions {
    fn default() -> Self {
        Self {
            cell_m: 1e-3,
            pad_m: 0.02,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> (Implant, PhantomConfig) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let implant = Implant::load(&root.join("phantoms/implants/insulated_wire_100mm.toml")).unwrap();
        let phantom = PhantomConfig::load(&root.join("phantoms/astm_f2182.toml")).unwrap();
        (implant, phantom)
    }

    fn close(a: [f64; 3], b: [f64; 3]) -> bool {
        (0..3).all(|k| (a[k] - b[k]).abs() < 1e-12)
    }

    /// A phantom moved (its landmark offset) carries the implant with it: every point of the placed
    /// path moves by the same offset.
    #[test]
    fn a_moved_phantom_moves_the_implant() {
        let (implant, phantom) = inputs();
        let pl = Placement::new("test", [0.10, 0.0, 0.0], [0.0, 0.0, 1.0], 0.0).unwrap();
        let nominal = place(&implant, &phantom, &pl).unwrap();
        let off = [0.015, -0.004, -0.01];
        let moved = place(&implant, &crate::twin::basis::shifted_phantom(&phantom, off), &pl).unwrap();
        for (p, q) in nominal.path_m.iter().zip(&moved.path_m) {
            assert!(close([p[0] + off[0], p[1] + off[1], p[2] + off[2]], *q), "{p:?} -> {q:?}");
        }
        assert!(close(origin_in_coil_frame(&phantom, pl.position_m), [0.10, 0.0, 0.0]));
        assert!((nominal.wall_distance_m - moved.wall_distance_m).abs() < 1e-9);
    }

    /// A phantom turned about its centre turns the implant's position and direction with it (its
    /// position and orientation are in the phantom's axes): 10 degrees about z takes the position
    /// [0.1, 0, 0] to 0.1 [cos 10, sin 10, 0]; 5 degrees about y tilts a z-directed wire by 5 degrees.
    #[test]
    fn a_turned_phantom_turns_the_implant() {
        let (implant, mut phantom) = inputs();
        let pl = Placement::new("test", [0.10, 0.0, 0.0], [0.0, 0.0, 1.0], 0.0).unwrap();
        phantom.rotation_deg = [0.0, 0.0, 10.0];
        let t = 10f64.to_radians();
        let o = origin_in_coil_frame(&phantom, pl.position_m);
        assert!(close(o, [0.1 * t.cos(), 0.1 * t.sin(), 0.0]), "{o:?}");
        let placed = place(&implant, &phantom, &pl).unwrap();
        // The wire stays along z (a turn about z) and passes through the turned position.
        for p in &placed.path_m {
            assert!((p[0] - o[0]).abs() < 1e-12 && (p[1] - o[1]).abs() < 1e-12, "{p:?}");
        }
        // Its width axis (the implant's x) turned by 10 degrees too.
        assert!(close(placed.width_axis, [t.cos(), t.sin(), 0.0]), "{:?}", placed.width_axis);
        phantom.rotation_deg = [0.0, 5.0, 0.0];
        let placed = place(&implant, &phantom, &pl).unwrap();
        let (a, b) = (placed.path_m[0], placed.path_m[placed.path_m.len() - 1]);
        let d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let tilt = (d[0] / d[2]).atan().to_degrees();
        assert!((tilt - 5.0).abs() < 1e-9, "tilt {tilt} deg");
    }
}
