//! Implant definitions (`phantoms/implants/*.toml`): the conductor geometry in the implant's own
//! frame, its insulation, and its material (electrical and thermal properties).
//!
//! Implant frame: straight kinds (bare wire, insulated wire, rod, plate) lie along z and are centred
//! on the origin; the *tip* (the end the transfer function refers to) is the `-z` end. A lead's path
//! is given explicitly (polyline, tip first) or as a helix along `+z` starting at the origin.
//!
//! ```toml
//! name = "insulated_wire_200mm"
//! kind = "insulated_wire"      # bare_wire | insulated_wire | lead | rod | plate
//! material = "ti6al4v"          # ti6al4v | ti_grade2 | ptir_90_10 | ss316l, or [material_values]
//! length_m = 0.200
//! radius_m = 0.0005             # conductor radius
//! [insulation]
//! thickness_m = 0.00025
//! eps_r = 2.1
//! bare_ends_m = [0.01, 0.01]   # bare length at the tip end and at the far end
//! ```
//!
//! A lead adds `[path] points_m = [[x, y, z], ...]` or `[helix] radius_m, pitch_m, length_m`
//! (axial length) and `tip_electrode_length_m` (bare at the tip; the rest insulated). A plate uses
//! `width_m` (x), `length_m` (z) and `thickness_m` (y).
//!
//! Electrodes (insulated wires and leads): bare rings or tips anywhere along the conductor, e.g. the
//! four rings of a DBS lead or the tip and ring of a bipolar pacing lead:
//!
//! ```toml
//! [[electrodes]]
//! start_m = 0.0015      # arc length from the tip to the electrode's near edge
//! length_m = 0.0015
//! radius_m = 0.000635   # optional: the bare metal's radius (default: the conductor's)
//! ```
//!
//! Insulation seals: every part of an insulated conductor that is not a bare end, the tip
//! electrode or an `[[electrodes]]` entry is coated, its end faces included. A lead with
//! `[[electrodes]]` may omit `tip_electrode_length_m` (a sealed tip).
//!
//! Parsing is strict: unknown keys, unknown materials, non-positive sizes, a path of zero length or
//! one that comes back within a conductor diameter of itself (self-intersecting) are errors that
//! name the file, the key and the fix.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::spec::{self, Problems};

/// Electrical and thermal properties of an implant metal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metal {
    pub name: String,
    /// Electrical conductivity (S/m) at room temperature.
    pub sigma_s_per_m: f64,
    /// Thermal conductivity (W/(m K)).
    pub k_w_per_m_k: f64,
    /// Mass density (kg/m^3).
    pub density_kg_per_m3: f64,
    /// Specific heat capacity (J/(kg K)).
    pub c_j_per_kg_k: f64,
}

/// The built-in metal table. Room-temperature handbook values (electrical conductivity is the
/// inverse of the quoted resistivity):
/// - `ti6al4v` (Ti-6Al-4V, grade 5): resistivity 178 µΩ cm, k 6.7 W/(m K), 4430 kg/m^3,
///   526 J/(kg K) — ASM Aerospace Specification Metals data sheet "Titanium Ti-6Al-4V (Grade 5),
///   Annealed" (asm.matweb.com).
/// - `ti_grade2` (commercially pure Ti, grade 2): 56 µΩ cm, 16.4 W/(m K), 4510 kg/m^3,
///   523 J/(kg K) — ASM data sheet "Titanium Grade 2".
/// - `ptir_90_10` (Pt-Ir 90/10): 25 µΩ cm, about 31 W/(m K), 21 560 kg/m^3, about 133 J/(kg K)
///   — typical supplier data for the electrode alloy (Goodfellow / Johnson Matthey tables;
///   thermal values vary between suppliers by about 10 %).
/// - `ss316l` (AISI 316L stainless steel): 74 µΩ cm, 16.3 W/(m K), 8000 kg/m^3, 500 J/(kg K)
///   — ASM / AK Steel 316/316L product data bulletin.
pub fn metal_table() -> Vec<Metal> {
    let m = |name: &str, rho_uohm_cm: f64, k: f64, d: f64, c: f64| Metal {
        name: name.into(),
        sigma_s_per_m: 1.0 / (rho_uohm_cm * 1e-8),
        k_w_per_m_k: k,
        density_kg_per_m3: d,
        c_j_per_kg_k: c,
    };
    vec![
        m("ti6al4v", 178.0, 6.7, 4430.0, 526.0),
        m("ti_grade2", 56.0, 16.4, 4510.0, 523.0),
        m("ptir_90_10", 25.0, 31.0, 21560.0, 133.0),
        m("ss316l", 74.0, 16.3, 8000.0, 500.0),
    ]
}

/// Looks a metal up in [`metal_table`].
pub fn metal(name: &str) -> Option<Metal> {
    metal_table().into_iter().find(|m| m.name == name)
}

/// What the implant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplantKind {
    BareWire,
    InsulatedWire,
    Lead,
    Rod,
    Plate,
}

/// `[insulation]` as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsulationToml {
    pub thickness_m: Option<f64>,
    pub eps_r: Option<f64>,
    pub bare_ends_m: Option<[f64; 2]>,
}

/// `[[electrodes]]` as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectrodeToml {
    pub start_m: Option<f64>,
    pub length_m: Option<f64>,
    pub radius_m: Option<f64>,
}

/// A bare electrode (ring or tip) of an insulated conductor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Electrode {
    /// Arc length from the tip to the electrode's near edge (m).
    pub start_m: f64,
    pub length_m: f64,
    /// Radius of the bare metal (m), at least the conductor's.
    pub radius_m: f64,
}

/// `[path]` as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathToml {
    pub points_m: Vec<[f64; 3]>,
}

/// `[helix]` as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelixToml {
    pub radius_m: f64,
    pub pitch_m: f64,
    pub length_m: f64,
}

/// An implant file as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImplantToml {
    pub name: Option<String>,
    pub description: Option<String>,
    pub kind: Option<ImplantKind>,
    pub material: Option<String>,
    pub material_values: Option<Metal>,
    pub length_m: Option<f64>,
    pub radius_m: Option<f64>,
    pub width_m: Option<f64>,
    pub thickness_m: Option<f64>,
    pub insulation: Option<InsulationToml>,
    pub tip_electrode_length_m: Option<f64>,
    pub electrodes: Option<Vec<ElectrodeToml>>,
    pub path: Option<PathToml>,
    pub helix: Option<HelixToml>,
}

const IMPLANT_KEYS: &str = "name, description, kind, material, [material_values] (name, sigma_s_per_m, k_w_per_m_k, density_kg_per_m3, c_j_per_kg_k), length_m, radius_m, width_m, thickness_m, [insulation] (thickness_m, eps_r, bare_ends_m), tip_electrode_length_m, [[electrodes]] (start_m, length_m, radius_m), [path] (points_m), [helix] (radius_m, pitch_m, length_m)";

/// Insulation around a wire conductor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Insulation {
    pub thickness_m: f64,
    pub eps_r: f64,
}

/// A validated implant in its own frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Implant {
    pub source_name: String,
    pub name: String,
    pub description: String,
    pub kind: ImplantKind,
    pub metal: Metal,
    /// Conductor centre line, tip first (implant frame, m). For a plate: its centre line along z.
    pub path_m: Vec<[f64; 3]>,
    /// Conductor radius (m); for a plate, half its thickness.
    pub radius_m: f64,
    /// Plate width (m) along x of the implant frame; 0 otherwise.
    pub width_m: f64,
    pub insulation: Option<Insulation>,
    /// Bare (uninsulated) arc-length intervals `[from, to]` (m from the tip), in order: bare ends,
    /// the tip electrode and the `[[electrodes]]`; the whole length when there is no insulation.
    pub bare_m: Vec<[f64; 2]>,
    /// The `[[electrodes]]` (their intervals are in `bare_m` too).
    #[serde(default)]
    pub electrodes: Vec<Electrode>,
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// Smallest distance between segments `p0-p1` and `q0-q1` (sampled minimisation on the clamped
/// closed form of Lumelsky / Eberly).
pub(crate) fn segment_distance(p0: [f64; 3], p1: [f64; 3], q0: [f64; 3], q1: [f64; 3]) -> f64 {
    let d1 = sub(p1, p0);
    let d2 = sub(q1, q0);
    let r = sub(p0, q0);
    let a = dot(d1, d1);
    let e = dot(d2, d2);
    let f = dot(d2, r);
    let (s, t);
    if a <= 1e-300 && e <= 1e-300 {
        return norm(r);
    }
    if a <= 1e-300 {
        s = 0.0;
        t = (f / e).clamp(0.0, 1.0);
    } else {
        let c = dot(d1, r);
        if e <= 1e-300 {
            t = 0.0;
            s = (-c / a).clamp(0.0, 1.0);
        } else {
            let b = dot(d1, d2);
            let den = a * e - b * b;
            let mut s0 = if den > 1e-300 {
                ((b * f - c * e) / den).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let mut t0 = (b * s0 + f) / e;
            if t0 < 0.0 {
                t0 = 0.0;
                s0 = (-c / a).clamp(0.0, 1.0);
            } else if t0 > 1.0 {
                t0 = 1.0;
                s0 = ((b - c) / a).clamp(0.0, 1.0);
            }
            s = s0;
            t = t0;
        }
    }
    let cp = [p0[0] + d1[0] * s, p0[1] + d1[1] * s, p0[2] + d1[2] * s];
    let cq = [q0[0] + d2[0] * t, q0[1] + d2[1] * t, q0[2] + d2[2] * t];
    norm(sub(cp, cq))
}

/// Arc length of a polyline.
pub fn path_length(path: &[[f64; 3]]) -> f64 {
    path.windows(2).map(|w| norm(sub(w[1], w[0]))).sum()
}

/// Point and unit tangent at arc length `s` along a polyline (clamped to its ends).
pub fn point_at(path: &[[f64; 3]], s: f64) -> ([f64; 3], [f64; 3]) {
    let mut acc = 0.0;
    let nseg = path.len() - 1;
    for (i, w) in path.windows(2).enumerate() {
        let d = sub(w[1], w[0]);
        let l = norm(d);
        if l <= 0.0 {
            continue;
        }
        if s <= acc + l || i == nseg - 1 {
            let u = ((s - acc) / l).clamp(0.0, 1.0);
            let t = [d[0] / l, d[1] / l, d[2] / l];
            return ([w[0][0] + d[0] * u, w[0][1] + d[1] * u, w[0][2] + d[2] * u], t);
        }
        acc += l;
    }
    (path[0], [0.0, 0.0, 1.0])
}

impl Implant {
    pub fn load(path: &Path) -> Result<Self> {
        spec::load(path, Self::from_toml_str)
    }

    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self> {
        Self::from_raw(spec::parse(text, source_name, IMPLANT_KEYS)?, source_name)
    }

    /// Total conductor length along the path (m).
    pub fn length_m(&self) -> f64 {
        path_length(&self.path_m)
    }

    /// Outer radius (conductor plus insulation).
    pub fn outer_radius_m(&self) -> f64 {
        self.radius_m + self.insulation.as_ref().map_or(0.0, |i| i.thickness_m)
    }

    /// Radius of the bare metal of the bare interval `bare_m[i]`: an electrode's, else the conductor's.
    pub fn bare_radius_m(&self, i: usize) -> f64 {
        let b = self.bare_m[i];
        self.electrodes
            .iter()
            .find(|e| (e.start_m - b[0]).abs() < 1e-12 && (e.start_m + e.length_m - b[1]).abs() < 1e-12)
            .map_or(self.radius_m, |e| e.radius_m)
    }

    /// Whether arc length `s` (m from the tip) is bare.
    pub fn is_bare(&self, s: f64) -> bool {
        self.bare_m.iter().any(|b| s >= b[0] - 1e-12 && s <= b[1] + 1e-12)
    }

    /// True for kinds rasterised as solid metal (rod, plate) rather than as a wire.
    pub fn is_solid(&self) -> bool {
        matches!(self.kind, ImplantKind::Rod | ImplantKind::Plate)
    }

    /// The validation pass: every problem at once.
    pub fn from_raw(raw: ImplantToml, source_name: &str) -> Result<Self> {
        let mut p = Problems::new(source_name);
        let kind = raw.kind.unwrap_or_else(|| {
            p.add(
                "kind",
                "missing",
                "add `kind = \"bare_wire\"` (or insulated_wire, lead, rod, plate)",
            );
            ImplantKind::BareWire
        });
        let name = crate::spec::name_or_stem(raw.name.clone(), Path::new(source_name), "implant");
        let metal_v = check_metal(&mut p, &raw);
        let radius = positive(&mut p, "radius_m", raw.radius_m, "0.0005");
        let path_m = check_path(&mut p, &raw, kind);
        let total = path_length(&path_m);
        if path_m.len() >= 2 && !(total > 0.0) && kind == ImplantKind::Lead {
            p.add("path", "the path has zero length", "give distinct points");
        }
        let (width, insulation, mut bare) = check_cover(&mut p, &raw, kind, radius, total);
        let electrodes = check_electrodes(&mut p, &raw, kind, radius, total, &mut bare);
        if kind != ImplantKind::Lead {
            forbid(&mut p, kind, "tip_electrode_length_m", raw.tip_electrode_length_m.is_some());
        }
        check_self_intersection(&mut p, &raw, kind, radius, &insulation, &path_m);
        p.finish()?;
        Ok(Self {
            source_name: source_name.into(),
            name,
            description: raw.description.unwrap_or_default(),
            kind,
            metal: metal_v,
            path_m,
            radius_m: radius,
            width_m: width,
            insulation,
            bare_m: bare,
            electrodes,
        })
    }
}

/// The metal: a name from the built-in table, or `[material_values]` (positive values).
fn check_metal(p: &mut Problems, raw: &ImplantToml) -> Metal {
    let known: Vec<String> = metal_table().into_iter().map(|m| m.name).collect();
    match (&raw.material, &raw.material_values) {
        (_, Some(v)) => {
            let mut v = v.clone();
            if let Some(n) = &raw.material {
                v.name = n.clone();
            }
            for (key, val) in [
                ("material_values.sigma_s_per_m", v.sigma_s_per_m),
                ("material_values.k_w_per_m_k", v.k_w_per_m_k),
                ("material_values.density_kg_per_m3", v.density_kg_per_m3),
                ("material_values.c_j_per_kg_k", v.c_j_per_kg_k),
            ] {
                if !(val > 0.0) || !val.is_finite() {
                    p.add(
                        key,
                        format!("{val} is not a positive number"),
                        "give the value in SI units (> 0)",
                    );
                }
            }
            v
        }
        (Some(n), None) => match metal(n) {
            Some(m) => m,
            None => {
                p.add(
                    "material",
                    format!("unknown material '{n}'"),
                    format!(
                        "use one of: {}, or give explicit values in [material_values]",
                        known.join(", ")
                    ),
                );
                metal_table().remove(0)
            }
        },
        (None, None) => {
            p.add(
                "material",
                "missing",
                format!("add `material = \"...\"`, one of: {}", known.join(", ")),
            );
            metal_table().remove(0)
        }
    }
}

/// A required positive size (m).
fn positive(p: &mut Problems, key: &str, v: Option<f64>, eg: &str) -> f64 {
    match v {
        None => {
            p.add(key, "missing", format!("add `{key} = {eg}` (metres)"));
            f64::NAN
        }
        Some(x) if !(x > 0.0) || !x.is_finite() => {
            p.add(
                key,
                format!("{x} m is not > 0"),
                format!("give a positive size, e.g. `{key} = {eg}`"),
            );
            f64::NAN
        }
        Some(x) => x,
    }
}

/// A key the implant's kind does not use.
fn forbid(p: &mut Problems, kind: ImplantKind, key: &str, present: bool) {
    if present {
        p.add(
            key,
            format!("not used by kind {kind:?}"),
            "remove the key (see the implant file documentation)",
        );
    }
}

/// The conductor's path in the implant frame: a straight piece along z, or a lead's polyline or helix.
fn check_path(p: &mut Problems, raw: &ImplantToml, kind: ImplantKind) -> Vec<[f64; 3]> {
    match kind {
        ImplantKind::BareWire | ImplantKind::InsulatedWire | ImplantKind::Rod | ImplantKind::Plate => {
            forbid(p, kind, "path", raw.path.is_some());
            forbid(p, kind, "helix", raw.helix.is_some());
            forbid(p, kind, "tip_electrode_length_m", raw.tip_electrode_length_m.is_some());
            let l = positive(p, "length_m", raw.length_m, "0.1");
            vec![[0.0, 0.0, -0.5 * l], [0.0, 0.0, 0.5 * l]]
        }
        ImplantKind::Lead => {
            forbid(p, kind, "length_m", raw.length_m.is_some());
            match (&raw.path, &raw.helix) {
                (Some(pt), None) => {
                    if pt.points_m.len() < 2 {
                        p.add(
                            "path.points_m",
                            "fewer than 2 points",
                            "give the path as >= 2 points, tip first",
                        );
                    }
                    for (i, w) in pt.points_m.windows(2).enumerate() {
                        if !(norm(sub(w[1], w[0])) > 0.0) {
                            p.add(
                                &format!("path.points_m[{}]", i + 1),
                                "a segment of zero length (repeated point)",
                                "remove the repeated point",
                            );
                        }
                    }
                    pt.points_m.clone()
                }
                (None, Some(h)) => {
                    let ok = |x: f64| x > 0.0 && x.is_finite();
                    if !ok(h.radius_m) {
                        p.add(
                            "helix.radius_m",
                            format!("{} m is not > 0", h.radius_m),
                            "give a positive radius",
                        );
                    }
                    if !ok(h.pitch_m) {
                        p.add(
                            "helix.pitch_m",
                            format!("{} m is not > 0", h.pitch_m),
                            "give a positive pitch",
                        );
                    }
                    if !ok(h.length_m) {
                        p.add(
                            "helix.length_m",
                            format!("{} m is not > 0", h.length_m),
                            "give a positive axial length",
                        );
                    }
                    if ok(h.radius_m) && ok(h.pitch_m) && ok(h.length_m) {
                        // 24 straight pieces per turn: the chord error is below 1 % of the radius.
                        let turns = h.length_m / h.pitch_m;
                        let n = ((turns * 24.0).ceil() as usize).max(2);
                        (0..=n)
                            .map(|i| {
                                let u = i as f64 / n as f64;
                                let a = 2.0 * std::f64::consts::PI * turns * u;
                                [h.radius_m * a.cos(), h.radius_m * a.sin(), h.length_m * u]
                            })
                            .collect()
                    } else {
                        vec![[0.0; 3], [0.0, 0.0, 1.0]]
                    }
                }
                (Some(_), Some(_)) => {
                    p.add("path", "both [path] and [helix] given", "keep one of them");
                    vec![[0.0; 3], [0.0, 0.0, 1.0]]
                }
                (None, None) => {
                    p.add("path", "a lead needs a path", "add [path] points_m = [...] or [helix]");
                    vec![[0.0; 3], [0.0, 0.0, 1.0]]
                }
            }
        }
    }
}

/// What each kind adds to the conductor: a plate's width and thickness, the insulation and the bare
/// parts (arc-length intervals from the tip). Returns (width, insulation, bare).
fn check_cover(
    p: &mut Problems,
    raw: &ImplantToml,
    kind: ImplantKind,
    radius: f64,
    total: f64,
) -> (f64, Option<Insulation>, Vec<[f64; 2]>) {
    let mut width = 0.0;
    let mut insulation = None;
    let mut bare: Vec<[f64; 2]> = Vec::new();
    match kind {
        ImplantKind::BareWire | ImplantKind::Rod => {
            forbid(p, kind, "insulation", raw.insulation.is_some());
            forbid(p, kind, "width_m", raw.width_m.is_some());
            forbid(p, kind, "thickness_m", raw.thickness_m.is_some());
            bare.push([0.0, total]);
        }
        ImplantKind::Plate => {
            forbid(p, kind, "insulation", raw.insulation.is_some());
            width = positive(p, "width_m", raw.width_m, "0.01");
            let t = positive(p, "thickness_m", raw.thickness_m, "0.001");
            if t.is_finite() && radius.is_finite() && (0.5 * t - radius).abs() > 1e-12 {
                p.add(
                    "radius_m",
                    format!("a plate's radius_m must be half its thickness ({} m)", 0.5 * t),
                    "omit nothing: set radius_m = thickness_m / 2",
                );
            }
            bare.push([0.0, total]);
        }
        ImplantKind::InsulatedWire | ImplantKind::Lead => {
            forbid(p, kind, "width_m", raw.width_m.is_some());
            forbid(p, kind, "thickness_m", raw.thickness_m.is_some());
            match &raw.insulation {
                None => p.add(
                    "insulation",
                    "missing",
                    "add [insulation] thickness_m = ..., eps_r = ... (and bare_ends_m for an insulated wire)",
                ),
                Some(ins) => {
                    let t = positive(p, "insulation.thickness_m", ins.thickness_m, "0.00025");
                    let er = ins.eps_r.unwrap_or(f64::NAN);
                    if !(er >= 1.0) || !er.is_finite() {
                        p.add(
                            "insulation.eps_r",
                            format!("{er} is missing or below 1"),
                            "give the insulation's relative permittivity (>= 1), e.g. 2.1 for PTFE",
                        );
                    }
                    insulation = Some(Insulation {
                        thickness_m: t,
                        eps_r: er,
                    });
                    let ends = if kind == ImplantKind::Lead {
                        if ins.bare_ends_m.is_some() {
                            p.add(
                                "insulation.bare_ends_m",
                                "a lead's bare part is its tip electrode",
                                "use tip_electrode_length_m instead",
                            );
                        }
                        let has_rings = raw.electrodes.as_ref().is_some_and(|e| !e.is_empty());
                        let te = if has_rings && raw.tip_electrode_length_m.is_none() {
                            0.0
                        } else {
                            positive(p, "tip_electrode_length_m", raw.tip_electrode_length_m, "0.003")
                        };
                        [te, 0.0]
                    } else {
                        match ins.bare_ends_m {
                            None => {
                                p.add(
                                    "insulation.bare_ends_m",
                                    "missing",
                                    "add `bare_ends_m = [0.01, 0.01]` (tip end, far end; 0 for none)",
                                );
                                [0.0, 0.0]
                            }
                            Some(b) => {
                                if b.iter().any(|x| !(*x >= 0.0)) {
                                    p.add(
                                        "insulation.bare_ends_m",
                                        format!("{b:?} has a negative length"),
                                        "give lengths >= 0",
                                    );
                                }
                                b
                            }
                        }
                    };
                    if ends[0] + ends[1] >= total {
                        p.add(
                            if kind == ImplantKind::Lead {
                                "tip_electrode_length_m"
                            } else {
                                "insulation.bare_ends_m"
                            },
                            format!("bare lengths {ends:?} m leave nothing insulated on a {total} m conductor"),
                            "make the bare parts shorter than the conductor",
                        );
                    }
                    if ends[0] > 0.0 {
                        bare.push([0.0, ends[0]]);
                    }
                    if ends[1] > 0.0 {
                        bare.push([total - ends[1], total]);
                    }
                }
            }
        }
    }
    (width, insulation, bare)
}

/// The `[[electrodes]]` of an insulated wire or lead: inside the conductor, not overlapping each
/// other or a bare end, of positive length and a radius at least the conductor's. Adds their
/// intervals to `bare` (kept in order along the conductor).
fn check_electrodes(
    p: &mut Problems,
    raw: &ImplantToml,
    kind: ImplantKind,
    radius: f64,
    total: f64,
    bare: &mut Vec<[f64; 2]>,
) -> Vec<Electrode> {
    let Some(list) = &raw.electrodes else {
        return Vec::new();
    };
    if !matches!(kind, ImplantKind::InsulatedWire | ImplantKind::Lead) {
        forbid(p, kind, "electrodes", true);
        return Vec::new();
    }
    let mut out = Vec::new();
    let ends: Vec<[f64; 2]> = bare.clone();
    for (i, e) in list.iter().enumerate() {
        let key = |k: &str| format!("electrodes[{i}].{k}");
        let start = match e.start_m {
            Some(x) if x >= 0.0 && x.is_finite() => x,
            Some(x) => {
                p.add(&key("start_m"), format!("{x} m is negative"), "give the arc length from the tip (>= 0 m)");
                continue;
            }
            None => {
                p.add(&key("start_m"), "missing", "add `start_m = ...` (arc length from the tip to the electrode, m)");
                continue;
            }
        };
        let len = positive(p, &key("length_m"), e.length_m, "0.0015");
        let r = match e.radius_m {
            None => radius,
            Some(x) if x.is_finite() && x >= radius - 1e-15 => x,
            Some(x) => {
                p.add(
                    &key("radius_m"),
                    format!("{x} m is below the conductor radius {radius} m"),
                    "give the bare metal's radius (>= radius_m), or omit it for the conductor's",
                );
                radius
            }
        };
        if !len.is_finite() {
            continue;
        }
        if total.is_finite() && start + len > total + 1e-9 {
            p.add(
                &key("start_m"),
                format!(
                    "the electrode [{start}, {}] m runs past the end of the {total} m conductor",
                    start + len
                ),
                "move the electrode onto the lead (start_m + length_m <= its length)",
            );
            continue;
        }
        let iv = [start, start + len];
        let overlaps = |b: &[f64; 2]| iv[0] < b[1] - 1e-12 && b[0] < iv[1] - 1e-12;
        if let Some(b) = ends.iter().find(|b| overlaps(b)) {
            p.add(
                &key("start_m"),
                format!("the electrode [{}, {}] m overlaps the bare part [{}, {}] m", iv[0], iv[1], b[0], b[1]),
                "move the electrode or shorten the bare end / tip electrode",
            );
            continue;
        }
        if let Some(j) = out.iter().position(|o: &Electrode| overlaps(&[o.start_m, o.start_m + o.length_m])) {
            p.add(
                &key("start_m"),
                format!("the electrode [{}, {}] m overlaps electrodes[{j}]", iv[0], iv[1]),
                "give electrodes that do not overlap",
            );
            continue;
        }
        out.push(Electrode {
            start_m: start,
            length_m: len,
            radius_m: r,
        });
        bare.push(iv);
    }
    bare.sort_by(|a, b| a[0].total_cmp(&b[0]));
    out
}

fn check_self_intersection(
    p: &mut Problems,
    raw: &ImplantToml,
    kind: ImplantKind,
    radius: f64,
    insulation: &Option<Insulation>,
    path_m: &[[f64; 3]],
) {
    // Self-intersection: non-adjacent pieces of the path must stay more than one outer diameter apart.
    let outer = radius + insulation.as_ref().map_or(0.0, |i: &Insulation| i.thickness_m);
    if kind == ImplantKind::Lead && outer.is_finite() && path_m.len() >= 3 {
        let mut cum = vec![0.0];
        for w in path_m.windows(2) {
            cum.push(cum.last().unwrap() + norm(sub(w[1], w[0])));
        }
        'outer: for i in 0..path_m.len() - 1 {
            for j in i + 2..path_m.len() - 1 {
                let d = segment_distance(path_m[i], path_m[i + 1], path_m[j], path_m[j + 1]);
                // Pieces that are adjacent along the curve (a helix's neighbours) are skipped by
                // arc-length: only pieces further apart along the path than 2 pi outer radii count.
                if cum[j] - cum[i + 1] > std::f64::consts::PI * outer && d < 2.0 * outer {
                    let key = if raw.helix.is_some() {
                        "helix.pitch_m".to_string()
                    } else {
                        format!("path.points_m[{}]", j)
                    };
                    p.add(
                        &key,
                        format!(
                            "the path is self-intersecting: segments {i} and {j} come within {d:.2e} m, less than the conductor's outer diameter {:.2e} m",
                            2.0 * outer
                        ),
                        "move the points apart (or increase the helix pitch) so the lead does not cross itself",
                    );
                    break 'outer;
                }
            }
        }
    }
}
