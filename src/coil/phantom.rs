//! Phantom definitions (`phantoms/*.toml`): a homogeneous gel box or cylinder, its electrical and
//! thermal properties, and where it sits in the coil. Rasterised onto a [`VoxelModel`].
//!
//! Frames: the *phantom frame* has its origin at the centre of the phantom's bounding box, x across
//! (left-right), y up (the box's fill depth), z along the bore. The *coil frame* has its origin at the
//! isocentre (the coil centre) with the same axes. `landmark_in_phantom_m` is a point in the phantom
//! frame (default: its centre); `landmark_from_isocentre_m` says where that point sits in the coil
//! frame (default: at the isocentre), as the scanner's laser landmark does.
//!
//! ```toml
//! name = "cylinder_r150"
//! shape = "cylinder"           # box | cylinder (axis along z)
//! radius_m = 0.15
//! length_m = 1.0
//! [material]
//! name = "saline_gel"
//! eps_r = 80.0
//! sigma_s_per_m = 0.47
//! density_kg_per_m3 = 1000.0
//! k_w_per_m_k = 0.6
//! c_j_per_kg_k = 4150.0
//! [position]
//! landmark_in_phantom_m = [0.0, 0.0, 0.0]
//! landmark_from_isocentre_m = [0.0, 0.0, 0.0]
//! rotation_deg = [0.0, 0.0, 0.0]  # about the phantom's centre (rotation vector, degrees)
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::CoilConfig;
use crate::error::{Error, Result};
use crate::spec::{self, Problems};
use crate::grid::{Material, Shape, ShapeKind, ShapeRotation, VoxelModel};

/// The phantom's solid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhantomShape {
    /// Rectangular gel volume: `width_m` (x) by `depth_m` (y, the fill depth) by `length_m` (z).
    Box,
    /// Circular cylinder along z: `radius_m`, `length_m`.
    Cylinder,
}

/// `[material]` as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialToml {
    pub name: Option<String>,
    pub eps_r: Option<f64>,
    pub sigma_s_per_m: Option<f64>,
    pub density_kg_per_m3: Option<f64>,
    pub k_w_per_m_k: Option<f64>,
    pub c_j_per_kg_k: Option<f64>,
}

/// `[position]` as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionToml {
    pub landmark_in_phantom_m: Option<[f64; 3]>,
    pub landmark_from_isocentre_m: Option<[f64; 3]>,
    pub rotation_deg: Option<[f64; 3]>,
}

/// A phantom file as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhantomToml {
    pub name: Option<String>,
    pub description: Option<String>,
    pub shape: Option<PhantomShape>,
    pub width_m: Option<f64>,
    pub depth_m: Option<f64>,
    pub length_m: Option<f64>,
    pub radius_m: Option<f64>,
    pub material: Option<MaterialToml>,
    pub position: Option<PositionToml>,
}

/// Electrical and thermal properties of a homogeneous phantom medium (SI).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhantomMaterial {
    pub name: String,
    pub eps_r: f64,
    pub sigma_s_per_m: f64,
    pub density_kg_per_m3: f64,
    /// Thermal conductivity (W/(m K)).
    pub k_w_per_m_k: f64,
    /// Specific heat capacity (J/(kg K)).
    pub c_j_per_kg_k: f64,
}

/// A validated phantom.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhantomConfig {
    pub source_name: String,
    pub name: String,
    pub description: String,
    pub shape: PhantomShape,
    /// Box: x, y, z extents (m); cylinder: (2r, 2r, length).
    pub size_m: [f64; 3],
    pub material: PhantomMaterial,
    pub landmark_in_phantom_m: [f64; 3],
    pub landmark_from_isocentre_m: [f64; 3],
    /// Rotation of the phantom about its centre, as a rotation vector in degrees (axis times angle;
    /// for small angles the rotations about x, y and z): a phantom never sits exactly square.
    pub rotation_deg: [f64; 3],
}

const PHANTOM_KEYS: &str = "name, description, shape, width_m, depth_m, length_m, radius_m, [material] (name, eps_r, sigma_s_per_m, density_kg_per_m3, k_w_per_m_k, c_j_per_kg_k), [position] (landmark_in_phantom_m, landmark_from_isocentre_m, rotation_deg)";

impl PhantomConfig {
    pub fn load(path: &Path) -> Result<Self> {
        spec::load(path, Self::from_toml_str)
    }

    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self> {
        Self::from_raw(spec::parse(text, source_name, PHANTOM_KEYS)?, source_name)
    }

    /// The validation pass (every problem reported at once).
    pub fn from_raw(raw: PhantomToml, source_name: &str) -> Result<Self> {
        let mut p = Problems::new(source_name);
        let shape = raw.shape.unwrap_or_else(|| {
            p.add("shape", "missing", "add `shape = \"box\"` or `shape = \"cylinder\"`");
            PhantomShape::Box
        });
        let size_m = match shape {
            PhantomShape::Box => {
                if raw.radius_m.is_some() {
                    p.add(
                        "radius_m",
                        "a box has no radius",
                        "remove radius_m, or use `shape = \"cylinder\"`",
                    );
                }
                let w = p.positive("width_m", raw.width_m, "0.42");
                let d = p.positive("depth_m", raw.depth_m, "0.09");
                let l = p.positive("length_m", raw.length_m, "0.65");
                [w, d, l]
            }
            PhantomShape::Cylinder => {
                for (k, v) in [("width_m", raw.width_m), ("depth_m", raw.depth_m)] {
                    if v.is_some() {
                        p.add(
                            k,
                            "a cylinder has no width or depth",
                            format!("remove {k} (give radius_m), or use `shape = \"box\"`"),
                        );
                    }
                }
                let r = p.positive("radius_m", raw.radius_m, "0.15");
                let l = p.positive("length_m", raw.length_m, "1.0");
                [2.0 * r, 2.0 * r, l]
            }
        };
        let m = raw.material.unwrap_or_default();
        let eps_r = match m.eps_r {
            None => {
                p.add("material.eps_r", "missing", "add `eps_r = 80.0` under [material]");
                f64::NAN
            }
            Some(e) if !(e >= 1.0) || !e.is_finite() => {
                p.add(
                    "material.eps_r",
                    format!("eps_r = {e} is below 1"),
                    "give a relative permittivity >= 1",
                );
                f64::NAN
            }
            Some(e) => e,
        };
        let sigma = match m.sigma_s_per_m {
            None => {
                p.add(
                    "material.sigma_s_per_m",
                    "missing",
                    "add `sigma_s_per_m = 0.47` under [material]",
                );
                f64::NAN
            }
            Some(s) if !(s >= 0.0) || !s.is_finite() => {
                p.add(
                    "material.sigma_s_per_m",
                    format!("{s} S/m is negative"),
                    "give a conductivity >= 0",
                );
                f64::NAN
            }
            Some(s) => s,
        };
        let density = p.positive("material.density_kg_per_m3", m.density_kg_per_m3, "1000.0");
        let k = p.positive("material.k_w_per_m_k", m.k_w_per_m_k, "0.5");
        let c = p.positive("material.c_j_per_kg_k", m.c_j_per_kg_k, "4150.0");
        let pos = raw.position.unwrap_or_default();
        let landmark_in_phantom_m = pos.landmark_in_phantom_m.unwrap_or([0.0; 3]);
        let landmark_from_isocentre_m = pos.landmark_from_isocentre_m.unwrap_or([0.0; 3]);
        let rotation_deg = pos.rotation_deg.unwrap_or([0.0; 3]);
        for (key, v) in [
            ("position.landmark_in_phantom_m", landmark_in_phantom_m),
            ("position.landmark_from_isocentre_m", landmark_from_isocentre_m),
            ("position.rotation_deg", rotation_deg),
        ] {
            if v.iter().any(|x| !x.is_finite()) {
                p.add(
                    key,
                    "not finite",
                    "give three coordinates in metres, e.g. [0.0, 0.0, 0.0]",
                );
            }
        }
        let angle = rotation_deg.iter().map(|v| v * v).sum::<f64>().sqrt();
        if angle > 45.0 {
            p.add(
                "position.rotation_deg",
                format!("rotation of {angle:.1} degrees: the phantom's axes are meant to follow the coil's"),
                "give the small misalignment only (at most 45 degrees); describe a phantom turned further with its width/depth/length",
            );
        }
        if p.is_empty() {
            for a in 0..3 {
                if landmark_in_phantom_m[a].abs() > 0.5 * size_m[a] + 1e-12 {
                    p.add(
                        "position.landmark_in_phantom_m",
                        format!(
                            "coordinate {a} ({} m) lies outside the phantom (half-size {} m)",
                            landmark_in_phantom_m[a],
                            0.5 * size_m[a]
                        ),
                        "give a landmark inside the phantom's bounding box (origin at its centre)",
                    );
                    break;
                }
            }
        }
        p.finish()?;
        Ok(Self {
            source_name: source_name.into(),
            name: crate::spec::name_or_stem(raw.name, Path::new(source_name), "phantom"),
            description: raw.description.unwrap_or_default(),
            shape,
            size_m,
            material: PhantomMaterial {
                name: m.name.unwrap_or_else(|| "phantom_gel".into()),
                eps_r,
                sigma_s_per_m: sigma,
                density_kg_per_m3: density,
                k_w_per_m_k: k,
                c_j_per_kg_k: c,
            },
            landmark_in_phantom_m,
            landmark_from_isocentre_m,
            rotation_deg,
        })
    }

    /// The phantom's rotation about its centre (None when square to the coil).
    pub fn rotation(&self) -> Option<ShapeRotation> {
        if self.rotation_deg.iter().all(|&v| v == 0.0) {
            return None;
        }
        Some(ShapeRotation::from_vector(
            self.centre_m(),
            self.rotation_deg.map(|v| v.to_radians()),
        ))
    }

    /// A coil-frame point in the phantom's own axes, relative to its centre (m).
    pub fn to_phantom_frame(&self, p: [f64; 3]) -> [f64; 3] {
        let c = self.centre_m();
        let q = match self.rotation() {
            Some(r) => r.inverse_apply(p),
            None => p,
        };
        [0, 1, 2].map(|a| q[a] - c[a])
    }

    /// Half-extents of the phantom's axis-aligned bounding box in the coil frame (m).
    pub fn bounding_half_m(&self) -> [f64; 3] {
        let h = self.size_m.map(|s| 0.5 * s);
        match self.rotation() {
            None => h,
            Some(r) => [0, 1, 2].map(|a| (0..3).map(|b| r.matrix[a][b].abs() * h[b]).sum()),
        }
    }

    /// Centre of the phantom's bounding box in the coil frame (m).
    pub fn centre_m(&self) -> [f64; 3] {
        [0, 1, 2].map(|a| self.landmark_from_isocentre_m[a] - self.landmark_in_phantom_m[a])
    }

    /// The phantom's solid in the coil frame.
    pub fn shape(&self) -> Shape {
        let c = self.centre_m();
        let h = self.size_m.map(|s| 0.5 * s);
        match self.shape {
            PhantomShape::Box => Shape::boxed(
                &self.name,
                [c[0] - h[0], c[1] - h[1], c[2] - h[2]],
                [c[0] + h[0], c[1] + h[1], c[2] + h[2]],
            ),
            PhantomShape::Cylinder => Shape::new(
                &self.name,
                ShapeKind::Cylinder {
                    axis: 2,
                    centre_m: c,
                    radius_m: h[0],
                    start_m: c[2] - h[2],
                    end_m: c[2] + h[2],
                },
            ),
        }
        .rotated(self.rotation())
    }

    /// The electromagnetic material for the voxel model.
    pub fn em_material(&self) -> Material {
        Material::dielectric(
            &self.material.name,
            self.material.eps_r,
            self.material.sigma_s_per_m,
            self.material.density_kg_per_m3,
        )
    }

    /// Largest distance (m) of the phantom from the coil axis.
    pub fn max_radius_m(&self) -> f64 {
        let c = self.centre_m();
        let h = self.size_m.map(|s| 0.5 * s);
        match self.shape {
            PhantomShape::Box => {
                let rot = self.rotation();
                let mut r: f64 = 0.0;
                for sx in [-1.0, 1.0] {
                    for sy in [-1.0, 1.0] {
                        for sz in [-1.0, 1.0] {
                            let q = [c[0] + sx * h[0], c[1] + sy * h[1], c[2] + sz * h[2]];
                            let q = rot.as_ref().map_or(q, |r| r.apply(q));
                            r = r.max(q[0].hypot(q[1]));
                        }
                    }
                }
                r
            }
            // A tilted cylinder reaches at most its radius plus the tilt of its half-length.
            PhantomShape::Cylinder => {
                let b = self.bounding_half_m();
                c[0].hypot(c[1]) + h[0] + (b[0].max(b[1]) - h[0]).max(0.0)
            }
        }
    }

    /// Checks that the phantom fits inside `coil`: strictly within the rung radius over the coil's
    /// length (rings included), and inside the shield radius beyond it. The error names the phantom
    /// file and the position key.
    pub fn check_fits(&self, coil: &CoilConfig) -> Result<()> {
        let c = self.centre_m();
        let hz = self.bounding_half_m()[2];
        let (z0, z1) = (c[2] - hz, c[2] + hz);
        let coil_half = 0.5 * (coil.rung_length_m + coil.ring_width_m);
        let r = self.max_radius_m();
        let inner = coil.rung_radius_m;
        let overlaps_coil = z1 > -coil_half && z0 < coil_half;
        if overlaps_coil && r >= inner {
            return Err(Error::input(
                &self.source_name,
                "position.landmark_from_isocentre_m",
                format!("the phantom reaches {:.4} m from the coil axis but the rungs of {} ({}) are at {:.4} m: it does not fit inside the coil", r, coil.name, coil.source_name, coil.rung_radius_m),
                "use a larger coil, a smaller phantom, or move the phantom towards the axis",
            ));
        }
        if let Some(sh) = coil.shield {
            let shield_half = 0.5 * sh.length_m;
            let beyond = z0 < -coil_half || z1 > coil_half;
            if beyond && r >= sh.radius_m && z1 > -shield_half && z0 < shield_half {
                return Err(Error::input(
                    &self.source_name,
                    "position.landmark_from_isocentre_m",
                    format!("beyond the coil the phantom reaches {:.4} m from the axis, outside the shield radius {:.4} m of {}", r, sh.radius_m, coil.name),
                    "use a smaller phantom or move it towards the axis",
                ));
            }
        }
        Ok(())
    }

    /// Volume-fraction rasterisation of the phantom, replacing its whole-cell one in `model`
    /// (material `pm`): a cell that the phantom fills by a fraction `f` gets
    /// `eps_r = 1 + f (eps_gel - 1)`, `sigma = f sigma_gel`, `rho = f rho_gel` (background mixed with
    /// the gel; fraction from 6 x 6 x 6 sub-samples per cell, rounded to 1/200, or 1/48 for a curved
    /// or rotated phantom), so that a sub-cell shift of the phantom changes the fields smoothly and a
    /// curved outline carries its true volume. Only cells holding the background (index 0) or `pm`
    /// are changed.
    pub fn rasterise_subcell(&self, model: &mut VoxelModel, pm: u8, freq_hz: f64) -> Result<()> {
        let phantom = self;
        let shape: Shape = phantom.shape();
        let gel = phantom.em_material();
        let bg = model.materials()[0].clone();
        let g = model.grid.clone();
        let d = g
            .uniform_spacing()
            .ok_or_else(|| Error::Other("sub-cell phantom: non-uniform grid".into()))?;
        let c = phantom.centre_m();
        let half = phantom.bounding_half_m();
        let n = g.dims();
        let range = |a: usize| {
            let lo = g.axes[a].cell_of(c[a] - half[a] - d[a]).unwrap_or(0);
            let hi = g.axes[a].cell_of(c[a] + half[a] + d[a]).unwrap_or(n[a] - 1);
            lo..=hi
        };
        const S: usize = 6;
        // Fraction levels. An edge averages its four cells, and the mixtures are linear in the
        // fraction, so an edge's material is the mixture at the mean: 4 LEVELS + 1 values at most. A
        // square phantom has few distinct fractions; a rotated or curved one (cylinder, sphere: every
        // fraction somewhere on its outline, more when an offset breaks its symmetry) has all of them,
        // and the operator's table holds 255 edge materials: 48 levels then (fraction steps of 1/48).
        let curved = !matches!(phantom.shape, PhantomShape::Box);
        let levels: f64 = if phantom.rotation().is_some() || curved { 48.0 } else { 200.0 };
        let mut mixed: std::collections::HashMap<u32, u8> = std::collections::HashMap::new();
        for i in range(0) {
            for j in range(1) {
                for k in range(2) {
                    let m = model.cell_material(i, j, k);
                    if m != 0 && m != pm {
                        continue;
                    }
                    let o = g.node_pos(i, j, k);
                    let mut inside = 0usize;
                    for a in 0..S {
                        for b in 0..S {
                            for e in 0..S {
                                let p = [
                                    o[0] + (a as f64 + 0.5) / S as f64 * d[0],
                                    o[1] + (b as f64 + 0.5) / S as f64 * d[1],
                                    o[2] + (e as f64 + 0.5) / S as f64 * d[2],
                                ];
                                if shape.contains(p) {
                                    inside += 1;
                                }
                            }
                        }
                    }
                    let level = ((inside as f64 / (S * S * S) as f64) * levels).round() as u32;
                    let mat = if level == 0 {
                        0
                    } else if level as f64 >= levels {
                        pm
                    } else {
                        match mixed.get(&level) {
                            Some(&m) => m,
                            None => {
                                let f = level as f64 / levels;
                                let mix = Material::dielectric(
                                    &format!("{}_fraction_{level:03}", gel.name),
                                    bg.eps_r + f * (gel.eps_r - bg.eps_r),
                                    bg.sigma_s_per_m + f * (gel.sigma_s_per_m - bg.sigma_s_per_m),
                                    bg.density_kg_per_m3 + f * (gel.density_kg_per_m3 - bg.density_kg_per_m3),
                                );
                                let idx = model.add_material(mix)?;
                                mixed.insert(level, idx);
                                idx
                            }
                        }
                    };
                    model.set_cell(i, j, k, mat);
                }
            }
        }
        let mixtures: Vec<u8> = mixed.into_values().collect();
        self.anisotropic_edges(model, pm, &mixtures, freq_hz)
    }

    /// The E edges along the phantom's outline get the effective permittivity of the gel/background
    /// mixture in their dual cell, by the orientation of the outline (Kaneda, Houshmand & Itoh, IEEE
    /// Trans. MTT 45, 1997; Farjadpour et al., Opt. Lett. 31, 2006): the field along an edge parallel to
    /// the surface sees the two media side by side (the volume mean of the complex permittivity), an
    /// edge crossing the surface sees them in series (the mean of its inverse), and an edge at an
    /// angle the mix `eps = (1 - n_a^2) <eps> + n_a^2 / <1/eps>`, `n_a` the component of the surface
    /// normal along the edge. Without it (a cell-wise mean for every edge) a thin sliver of gel in a
    /// cell holds the normal E of the air outside it at a hundredth of the gel's permittivity and
    /// dissipates up to 1/f^2 too much: +6 % in the port resistance of the openEMS reference coil.
    ///
    /// Complex permittivities are mixed at `freq_hz` (exact there; near it the mixture's loss moves
    /// slightly with frequency, on the outline's edges only). The fraction `f` (6 x 6 x 6 samples of the
    /// dual cell) is quantised to 1/24 and `n_a^2` to quarters, so at most 24 x 5 edge materials.
    fn anisotropic_edges(&self, model: &mut VoxelModel, pm: u8, mixtures: &[u8], freq_hz: f64) -> Result<()> {
        use num_complex::Complex64;
        let shape: Shape = self.shape();
        let gel = self.em_material();
        let bg = model.materials()[0].clone();
        let g = model.grid.clone();
        let Some(d) = g.uniform_spacing() else {
            return Ok(());
        };
        let w = 2.0 * std::f64::consts::PI * freq_hz * crate::grid::EPS0;
        if !(w > 0.0) {
            return Ok(());
        }
        let eps_c = |m: &crate::grid::Material| Complex64::new(m.eps_r, -m.sigma_s_per_m / w);
        let (e_bg, e_gel) = (eps_c(&bg), eps_c(&gel));
        let c = self.centre_m();
        let half = self.bounding_half_m();
        let n = g.dims();
        // Background, gel, or one of the gel/background mixtures the cell pass made.
        let gel_family = |m: u8| m == 0 || m == pm || mixtures.contains(&m);
        let node_range = |a: usize| {
            let lo = g.axes[a].cell_of(c[a] - half[a] - d[a]).unwrap_or(0);
            let hi = g.axes[a].cell_of(c[a] + half[a] + d[a]).map(|h| h + 1).unwrap_or(n[a]);
            lo..=hi
        };
        const S: usize = 6;
        const F_LEVELS: f64 = 24.0;
        const N_LEVELS: f64 = 4.0;
        let mut memo: std::collections::HashMap<(u32, u32), (f64, f64)> = std::collections::HashMap::new();
        let mut overrides = Vec::new();
        for a in 0..3 {
            let (b, cc) = ((a + 1) % 3, (a + 2) % 3);
            let (ri, rj, rk) = (node_range(0), node_range(1), node_range(2));
            for i in ri.clone() {
                for j in rj.clone() {
                    for k in rk.clone() {
                        let p = [i, j, k];
                        if p[a] >= n[a] {
                            continue;
                        }
                        // The (up to 4) cells around the edge: all background or gel, not all alike.
                        let mut cells = Vec::with_capacity(4);
                        for db in 0..2usize {
                            for dc in 0..2usize {
                                if p[b] + db < 1 || p[cc] + dc < 1 || p[b] + db > n[b] || p[cc] + dc > n[cc] {
                                    continue;
                                }
                                let mut q = p;
                                q[b] = p[b] + db - 1;
                                q[cc] = p[cc] + dc - 1;
                                cells.push(model.cell_material(q[0], q[1], q[2]));
                            }
                        }
                        if cells.is_empty() || !cells.iter().all(|&m| gel_family(m)) {
                            continue;
                        }
                        if cells.iter().all(|&m| m == cells[0]) && (cells[0] == 0 || cells[0] == pm) {
                            continue;
                        }
                        // Dual cell of the edge: centred on its midpoint, one cell on each axis.
                        let o = g.node_pos(i, j, k);
                        let mut mid = o;
                        mid[a] += 0.5 * d[a];
                        let (mut inside, mut c_in, mut c_all) = (0usize, [0.0f64; 3], [0.0f64; 3]);
                        for sa in 0..S {
                            for sb in 0..S {
                                for sc in 0..S {
                                    let u = [sa, sb, sc].map(|s| (s as f64 + 0.5) / S as f64 - 0.5);
                                    let q = [0, 1, 2].map(|x| mid[x] + u[x] * d[x]);
                                    for x in 0..3 {
                                        c_all[x] += u[x];
                                    }
                                    if shape.contains(q) {
                                        inside += 1;
                                        for x in 0..3 {
                                            c_in[x] += u[x];
                                        }
                                    }
                                }
                            }
                        }
                        let total = (S * S * S) as f64;
                        let f = inside as f64 / total;
                        let fq = (f * F_LEVELS).round() as u32;
                        // Surface normal from the centroid of the inside samples (against the
                        // outside ones): exact for a plane through the dual cell.
                        let nq = if inside == 0 || inside == S * S * S {
                            0
                        } else {
                            let ni = inside as f64;
                            let no = total - ni;
                            let v = [0, 1, 2].map(|x| c_in[x] / ni - (c_all[x] - c_in[x]) / no);
                            let len2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                            if len2 > 0.0 {
                                ((v[a] * v[a] / len2) * N_LEVELS).round() as u32
                            } else {
                                0
                            }
                        };
                        let val = *memo.entry((fq, nq)).or_insert_with(|| {
                            let f = fq as f64 / F_LEVELS;
                            let na2 = nq as f64 / N_LEVELS;
                            let mean = e_bg * (1.0 - f) + e_gel * f;
                            let series = 1.0 / ((1.0 - f) / e_bg + f / e_gel);
                            let e = mean * (1.0 - na2) + series * na2;
                            (e.re, (-e.im * w).max(0.0))
                        });
                        overrides.push((a, p, val));
                    }
                }
            }
        }
        for (a, p, (e, s)) in overrides {
            model.set_edge_material(crate::grid::Comp::from_index(a), p[0], p[1], p[2], e, s)?;
        }
        Ok(())
    }

    /// Adds the phantom's material to `model` and fills its cells (cell centres inside the solid).
    /// Returns the material index and the number of cells filled; an error if no cell was filled.
    pub fn rasterise(&self, model: &mut VoxelModel) -> Result<(u8, usize)> {
        let mat = model.add_material(self.em_material())?;
        let count = model.fill(&self.shape(), mat)?;
        if count == 0 {
            return Err(Error::input(
                &self.source_name,
                "position.landmark_from_isocentre_m",
                "the phantom covers no cell centre of the grid",
                "enlarge the grid or move the phantom into it",
            ));
        }
        Ok((mat, count))
    }
}
