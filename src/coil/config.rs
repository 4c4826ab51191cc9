//! Coil definitions (`coils/*.toml`): serde structs with units in the key names, and one validation
//! pass that turns the raw file into a [`CoilConfig`] the rest of rftwin trusts.
//!
//! Geometry conventions: the coil axis is z; the isocentre is the origin; rung `j` sits at azimuth
//! `rung_angle_offset_deg + j * 360 / rungs` (degrees from +x towards +y) on radius `rung_radius_m`;
//! `rung_length_m` is the distance between the centrelines of the two end rings (which sit at
//! `z = +-rung_length_m / 2`). Strip widths are measured along the surface of the cylinder.
//!
//! Example (see `coils/` for complete, cited files):
//! ```toml
//! name = "head_3t_lp8"
//! type = "low_pass"            # low_pass | high_pass | band_pass
//! rungs = 8
//! rung_radius_m = 0.12
//! rung_length_m = 0.25
//! rung_width_m = 0.01
//! ring_width_m = 0.01
//! shield_radius_m = 0.32       # omit both shield keys for an unshielded coil
//! shield_length_m = 1.6
//! freq_hz = 127.7e6            # or: field_t = 3.0 and nucleus = "1H"
//! capacitance_f = "auto"       # LP: rung capacitors, HP: ring capacitors; BP: rung_capacitance_f + ring_capacitance_f
//! drive = "quadrature"         # quadrature (2 ports 90 deg apart) | linear (>= 1 port)
//! [[ports]]
//! angle_deg = 180.0
//! [[ports]]
//! angle_deg = 270.0
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::spec::{self, Problems};

/// Capacitor placement of a birdcage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoilType {
    /// Capacitors in the rungs.
    LowPass,
    /// Capacitors in the end-ring segments (one per segment in each ring).
    HighPass,
    /// Capacitors in both.
    BandPass,
}

/// How the ports are driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drive {
    /// Two ports 90 degrees apart in azimuth, driven 90 degrees apart in phase (circular polarisation).
    Quadrature,
    /// One or more ports driven in phase.
    Linear,
}

/// Which conductor a port (or its capacitor gap) sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortElement {
    /// In a rung, at the rung's azimuth.
    Rung,
    /// In a segment of the end ring at `z = +rung_length_m / 2`, at the segment's mid-azimuth.
    Ring,
}

/// A capacitance: a value in farads, or `"auto"` (solved by the circuit model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapValue {
    Farads(f64),
    Text(String),
}

/// One port as written in the TOML.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortToml {
    pub angle_deg: Option<f64>,
    /// `rung` or `ring`; default: `ring` for high-pass coils, `rung` otherwise.
    pub element: Option<PortElement>,
    /// Port (source) impedance; default 50 ohm.
    pub impedance_ohm: Option<f64>,
    /// Drive phase; default: 0 for linear drive, `-(angle - first port angle)` for quadrature.
    pub phase_deg: Option<f64>,
    /// Rung ports only: the port sits in its own gap in series in the rung at this z (m, coil
    /// frame; e.g. next to a ring) instead of across the rung's capacitor. Used by the
    /// co-simulation model (`--model cosim`).
    pub z_m: Option<f64>,
}

/// A coil file exactly as written (every key optional here, so that validation can name what is missing).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoilToml {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub coil_type: Option<CoilType>,
    pub rungs: Option<i64>,
    pub rung_radius_m: Option<f64>,
    pub rung_length_m: Option<f64>,
    pub rung_width_m: Option<f64>,
    pub ring_width_m: Option<f64>,
    pub rung_angle_offset_deg: Option<f64>,
    pub shield_radius_m: Option<f64>,
    pub shield_length_m: Option<f64>,
    pub freq_hz: Option<f64>,
    pub field_t: Option<f64>,
    pub nucleus: Option<String>,
    pub capacitance_f: Option<CapValue>,
    pub rung_capacitance_f: Option<CapValue>,
    pub ring_capacitance_f: Option<CapValue>,
    pub drive: Option<Drive>,
    #[serde(default)]
    pub ports: Vec<PortToml>,
}

/// A cylindrical RF shield, coaxial with the coil and centred on the isocentre.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Shield {
    pub radius_m: f64,
    pub length_m: f64,
}

/// A capacitor position's setting after validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapSetting {
    /// No capacitor at this position (a plain conductor).
    None,
    /// To be solved by the circuit model.
    Auto,
    /// A fixed value (F).
    Fixed(f64),
}

impl CapSetting {
    pub fn fixed(&self) -> Option<f64> {
        match self {
            CapSetting::Fixed(c) => Some(*c),
            _ => None,
        }
    }
}

/// A validated port.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Port {
    /// Azimuth of the port (deg): the rung's azimuth or the ring segment's mid-azimuth.
    pub angle_deg: f64,
    pub element: PortElement,
    /// Index of the rung, or of the ring segment (segment `j` joins rungs `j` and `j+1`).
    pub index: usize,
    pub impedance_ohm: f64,
    /// Phase of the port's source (deg, time factor e^{+i w t}).
    pub phase_deg: f64,
    /// Rung ports: z of the port's own series gap (m); `None`: across the rung capacitor (or, for
    /// ring ports, across the ring capacitor).
    pub z_m: Option<f64>,
}

/// A validated coil: plain typed data in SI units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoilConfig {
    /// Where the definition came from (file path or a name), used in error messages.
    pub source_name: String,
    pub name: String,
    pub description: String,
    pub coil_type: CoilType,
    pub rungs: usize,
    pub rung_radius_m: f64,
    pub rung_length_m: f64,
    pub rung_width_m: f64,
    pub ring_width_m: f64,
    pub rung_angle_offset_deg: f64,
    pub shield: Option<Shield>,
    /// Larmor (target) frequency of the homogeneous mode (Hz).
    pub freq_hz: f64,
    pub field_t: Option<f64>,
    pub nucleus: Option<String>,
    /// Capacitor in each rung.
    pub rung_capacitor: CapSetting,
    /// Capacitor in each end-ring segment (each ring).
    pub ring_capacitor: CapSetting,
    pub drive: Drive,
    pub ports: Vec<Port>,
}

/// Gyromagnetic ratios gamma / 2 pi (Hz/T). 1H: CODATA 2018 proton value; the others after
/// Harris et al., Pure Appl. Chem. 73, 1795 (2001), IUPAC NMR nomenclature, table of nuclear properties.
pub const NUCLEI: &[(&str, f64)] = &[
    ("1H", 42.577_478_5e6),
    ("13C", 10.7084e6),
    ("19F", 40.078e6),
    ("23Na", 11.262e6),
    ("31P", 17.235e6),
    ("129Xe", -11.777e6),
];

/// Larmor frequency (Hz, positive) of `nucleus` at `field_t`.
pub fn larmor_hz(nucleus: &str, field_t: f64) -> Option<f64> {
    NUCLEI
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(nucleus))
        .map(|(_, g)| (g * field_t).abs())
}

/// Smallest coil dimension the models accept (m).
pub const MIN_COIL_SIZE_M: f64 = 1e-3;
/// Largest rung radius (and strip width) the models accept (m).
pub const MAX_COIL_RADIUS_M: f64 = 2.0;
/// Largest rung length the models accept (m).
pub const MAX_COIL_LENGTH_M: f64 = 5.0;

const COIL_KEYS: &str = "name, description, type, rungs, rung_radius_m, rung_length_m, rung_width_m, ring_width_m, rung_angle_offset_deg, shield_radius_m, shield_length_m, freq_hz, field_t, nucleus, capacitance_f, rung_capacitance_f, ring_capacitance_f, drive, [[ports]] (angle_deg, element, impedance_ohm, phase_deg, z_m)";

fn cap_value(p: &mut Problems, key: &str, v: &CapValue) -> CapSetting {
    match v {
        CapValue::Text(t) if t.eq_ignore_ascii_case("auto") => CapSetting::Auto,
        CapValue::Text(t) => {
            p.add(
                key,
                format!("\"{t}\" is neither a capacitance nor \"auto\""),
                format!("give farads (e.g. `{key} = 12e-12`) or `{key} = \"auto\"`"),
            );
            CapSetting::Auto
        }
        CapValue::Farads(c) if !(*c > 0.0) || !c.is_finite() => {
            p.add(
                key,
                format!("{c} F is not a positive capacitance"),
                format!("give a capacitance > 0 in farads (e.g. `{key} = 12e-12`) or \"auto\""),
            );
            CapSetting::Auto
        }
        CapValue::Farads(c) => CapSetting::Fixed(*c),
    }
}

fn wrap_deg(a: f64) -> f64 {
    a.rem_euclid(360.0)
}

/// Smallest absolute difference of two angles (deg).
pub(crate) fn angle_diff_deg(a: f64, b: f64) -> f64 {
    let d = wrap_deg(a - b);
    d.min(360.0 - d)
}

impl CoilConfig {
    /// Reads and validates a coil TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        spec::load(path, Self::from_toml_str)
    }

    /// Parses and validates coil TOML text; `source_name` (usually the path) appears in errors.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self> {
        Self::from_raw(spec::parse(text, source_name, COIL_KEYS)?, source_name)
    }

    /// The validation pass: every problem of the file is reported in one error, section by section.
    pub fn from_raw(raw: CoilToml, source_name: &str) -> Result<Self> {
        let mut p = Problems::new(source_name);
        let coil_type = check_type(&mut p, raw.coil_type);
        let rungs = check_rungs(&mut p, raw.rungs);
        let s = check_sizes(&mut p, &raw, rungs);
        let shield = check_shield(&mut p, &raw, &s);
        let freq_hz = check_frequency(&mut p, &raw, &s);
        let (rung_capacitor, ring_capacitor) = check_capacitors(&mut p, &raw, coil_type);
        let (drive, ports) = check_ports(&mut p, &raw, coil_type, rungs, s.rung_angle_offset_deg);
        p.finish()?;
        Ok(Self {
            source_name: source_name.into(),
            name: crate::spec::name_or_stem(raw.name, Path::new(source_name), "coil"),
            description: raw.description.unwrap_or_default(),
            coil_type,
            rungs,
            rung_radius_m: s.rung_radius_m,
            rung_length_m: s.rung_length_m,
            rung_width_m: s.rung_width_m,
            ring_width_m: s.ring_width_m,
            rung_angle_offset_deg: s.rung_angle_offset_deg,
            shield,
            freq_hz,
            field_t: raw.field_t,
            nucleus: raw.nucleus,
            rung_capacitor,
            ring_capacitor,
            drive,
            ports,
        })
    }

    /// Azimuth of rung `j` (rad).
    pub fn rung_angle_rad(&self, j: usize) -> f64 {
        (self.rung_angle_offset_deg + 360.0 * j as f64 / self.rungs as f64).to_radians()
    }

    /// Centre of rung `j` at height z (m).
    pub fn rung_point(&self, j: usize, z: f64) -> [f64; 3] {
        let a = self.rung_angle_rad(j % self.rungs);
        [self.rung_radius_m * a.cos(), self.rung_radius_m * a.sin(), z]
    }

    /// Arc length of one end-ring segment between two rung centres (m).
    pub fn ring_segment_arc_m(&self) -> f64 {
        2.0 * std::f64::consts::PI * self.rung_radius_m / self.rungs as f64
    }
}

/// `type`: the capacitor placement.
fn check_type(p: &mut Problems, t: Option<CoilType>) -> CoilType {
    t.unwrap_or_else(|| {
        p.add(
            "type",
            "missing",
            "add `type = \"high_pass\"` (or \"low_pass\", \"band_pass\")",
        );
        CoilType::HighPass
    })
}

/// `rungs`: an even number from 4 to 256 (0 after a problem).
fn check_rungs(p: &mut Problems, rungs: Option<i64>) -> usize {
    match rungs {
        None => {
            p.add("rungs", "missing", "add `rungs = 16` (an even number >= 4)");
            0
        }
        Some(n) if n < 4 => {
            p.add(
                "rungs",
                format!("{n} rungs: a birdcage needs at least 4"),
                "give an even number of rungs >= 4, e.g. 8, 12 or 16",
            );
            0
        }
        Some(n) if n % 2 == 1 => {
            p.add(
                "rungs",
                format!("{n} rungs is odd: the mode pairs and the quadrature ports need an even number"),
                format!("use {} or {}", n - 1, n + 1),
            );
            0
        }
        Some(n) if n > 256 => {
            p.add("rungs", format!("{n} rungs is more than 256"), "give at most 256 rungs");
            0
        }
        Some(n) => n as usize,
    }
}

/// The conductor sizes (NaN where a problem was recorded).
struct Sizes {
    rung_radius_m: f64,
    rung_length_m: f64,
    rung_width_m: f64,
    ring_width_m: f64,
    rung_angle_offset_deg: f64,
}

/// Rung radius, lengths and strip widths: positive, in the range of MRI coils, strips that fit.
fn check_sizes(p: &mut Problems, raw: &CoilToml, rungs: usize) -> Sizes {
    let rung_radius_m = p.positive("rung_radius_m", raw.rung_radius_m, "0.33");
    let rung_length_m = p.positive("rung_length_m", raw.rung_length_m, "0.45");
    let rung_width_m = p.positive("rung_width_m", raw.rung_width_m, "0.02");
    let ring_width_m = p.positive("ring_width_m", raw.ring_width_m, "0.02");
    // The circuit and FDTD models are for MRI coils: sizes from a millimetre (small-animal coils) to
    // a few metres; beyond, the inductance formulas lose all precision (a 1e30 m radius gave
    // "rung capacitors of NaN F").
    for (key, v, hi) in [
        ("rung_radius_m", rung_radius_m, MAX_COIL_RADIUS_M),
        ("rung_length_m", rung_length_m, MAX_COIL_LENGTH_M),
        ("rung_width_m", rung_width_m, MAX_COIL_RADIUS_M),
        ("ring_width_m", ring_width_m, MAX_COIL_RADIUS_M),
    ] {
        if v.is_finite() && !(MIN_COIL_SIZE_M..=hi).contains(&v) {
            p.add(
                key,
                format!("{v} m is outside the range of an MRI birdcage coil ({MIN_COIL_SIZE_M} to {hi} m)"),
                format!("give the size in metres between {MIN_COIL_SIZE_M} and {hi}, e.g. `{key} = 0.33` for a body coil's radius"),
            );
        }
    }
    let rung_angle_offset_deg = raw.rung_angle_offset_deg.unwrap_or(0.0);
    if !rung_angle_offset_deg.is_finite() {
        p.add(
            "rung_angle_offset_deg",
            "not a finite number",
            "give an angle in degrees, e.g. 0",
        );
    }

    if rungs >= 4 && rung_radius_m.is_finite() {
        let spacing = 2.0 * std::f64::consts::PI * rung_radius_m / rungs as f64;
        if rung_width_m.is_finite() && rung_width_m >= spacing {
            p.add("rung_width_m", format!("{rung_width_m} m strips are wider than the rung spacing {spacing:.4} m (2 pi r / N): the rungs would touch"), format!("use rung_width_m < {spacing:.4} (typically below a third of it)"));
        }
        if ring_width_m.is_finite() && ring_width_m >= spacing {
            p.add("ring_width_m", format!("{ring_width_m} m is wider than the end-ring segment length {spacing:.4} m; the strip formulas need width << length"), format!("use ring_width_m < {spacing:.4}"));
        }
    }
    if rung_length_m.is_finite() && ring_width_m.is_finite() && ring_width_m >= rung_length_m {
        p.add(
            "ring_width_m",
            format!("{ring_width_m} m end rings would overlap on {rung_length_m} m rungs"),
            "use ring_width_m well below rung_length_m",
        );
    }
    if rung_length_m.is_finite() && rung_width_m.is_finite() && rung_width_m >= rung_length_m {
        p.add(
            "rung_width_m",
            format!("{rung_width_m} m is not smaller than the rung length {rung_length_m} m"),
            "use rung_width_m well below rung_length_m",
        );
    }
    Sizes {
        rung_radius_m,
        rung_length_m,
        rung_width_m,
        ring_width_m,
        rung_angle_offset_deg,
    }
}

/// The optional shield: both keys or none, outside the rungs, at least as long as the coil.
fn check_shield(p: &mut Problems, raw: &CoilToml, s: &Sizes) -> Option<Shield> {
    let Sizes {
        rung_radius_m,
        rung_length_m,
        ring_width_m,
        ..
    } = *s;
    match (raw.shield_radius_m, raw.shield_length_m) {
        (None, None) => None,
        (Some(_), None) => {
            p.add(
                "shield_length_m",
                "shield_radius_m is given but shield_length_m is missing",
                "add `shield_length_m = ...` or remove shield_radius_m for an unshielded coil",
            );
            None
        }
        (None, Some(_)) => {
            p.add(
                "shield_radius_m",
                "shield_length_m is given but shield_radius_m is missing",
                "add `shield_radius_m = ...` or remove shield_length_m for an unshielded coil",
            );
            None
        }
        (Some(r), Some(l)) => {
            let r = p.positive("shield_radius_m", Some(r), "0.37");
            let l = p.positive("shield_length_m", Some(l), "1.2");
            if r.is_finite() && rung_radius_m.is_finite() && r <= rung_radius_m {
                p.add(
                    "shield_radius_m",
                    format!("shield radius {r} m is not larger than the rung radius {rung_radius_m} m"),
                    format!(
                        "give shield_radius_m > rung_radius_m (e.g. {:.3}), or remove the shield keys",
                        rung_radius_m * 1.15
                    ),
                );
            }
            let coil_len = rung_length_m + ring_width_m;
            if l.is_finite() && coil_len.is_finite() && l < coil_len {
                p.add(
                    "shield_length_m",
                    format!(
                        "shield length {l} m is shorter than the coil ({coil_len:.3} m: rung length plus ring width)"
                    ),
                    format!("give shield_length_m >= {coil_len:.3}"),
                );
            }
            Some(Shield {
                radius_m: r,
                length_m: l,
            })
        }
    }
}

/// The frequency: `freq_hz`, or `field_t` with `nucleus`; short of the rungs' half wavelength.
fn check_frequency(p: &mut Problems, raw: &CoilToml, s: &Sizes) -> f64 {
    let rung_length_m = s.rung_length_m;
    let freq_hz = match (raw.freq_hz, raw.field_t, raw.nucleus.as_deref()) {
        (Some(f), None, None) => p.positive("freq_hz", Some(f), "63.87e6"),
        (Some(_), _, _) => {
            p.add(
                "freq_hz",
                "both freq_hz and field_t/nucleus are given (contradictory)",
                "give either freq_hz, or field_t and nucleus",
            );
            f64::NAN
        }
        (None, Some(b), Some(n)) => {
            let b = p.positive("field_t", Some(b), "1.5");
            match larmor_hz(n, b) {
                Some(f) => f,
                None => {
                    let known: Vec<_> = NUCLEI.iter().map(|(n, _)| *n).collect();
                    p.add(
                        "nucleus",
                        format!("unknown nucleus \"{n}\""),
                        format!("use one of: {}, or give freq_hz", known.join(", ")),
                    );
                    f64::NAN
                }
            }
        }
        (None, Some(_), None) => {
            p.add("nucleus", "field_t is given without nucleus", "add `nucleus = \"1H\"`");
            f64::NAN
        }
        (None, None, Some(_)) => {
            p.add(
                "field_t",
                "nucleus is given without field_t",
                "add `field_t = 1.5` (tesla)",
            );
            f64::NAN
        }
        (None, None, None) => {
            p.add(
                "freq_hz",
                "no frequency: neither freq_hz nor field_t/nucleus",
                "add `freq_hz = 63.87e6`, or `field_t = 1.5` and `nucleus = \"1H\"`",
            );
            f64::NAN
        }
    };

    // The lumped circuit model needs electrically short conductors: a rung longer than half the
    // free-space wavelength resonates by itself (a 1 THz "coil" gave 0.0000 pF).
    if freq_hz.is_finite() && rung_length_m.is_finite() {
        let half_wave = 0.5 * crate::grid::C0 / freq_hz;
        if rung_length_m > half_wave {
            p.add(
                "freq_hz",
                format!(
                    "{:.4} MHz is beyond the circuit model: the {rung_length_m} m rungs are longer than half the free-space wavelength ({half_wave:.4} m), so they are not lumped conductors",
                    freq_hz / 1e6
                ),
                format!(
                    "give the coil's Larmor frequency (below {:.1} MHz for {rung_length_m} m rungs; 63.87e6 at 1.5 T, 127.7e6 at 3 T), or shorter rungs",
                    0.5 * crate::grid::C0 / rung_length_m / 1e6
                ),
            );
        }
    }
    freq_hz
}

/// The capacitors: one value (low and high pass) or a rung and a ring value (band pass).
fn check_capacitors(p: &mut Problems, raw: &CoilToml, coil_type: CoilType) -> (CapSetting, CapSetting) {
    match coil_type {
        CoilType::LowPass | CoilType::HighPass => {
            for (k, v) in [
                ("rung_capacitance_f", &raw.rung_capacitance_f),
                ("ring_capacitance_f", &raw.ring_capacitance_f),
            ] {
                if v.is_some() {
                    p.add(
                        k,
                        format!(
                            "{k} is for band_pass coils; a {} coil has one capacitor value",
                            if coil_type == CoilType::LowPass {
                                "low_pass"
                            } else {
                                "high_pass"
                            }
                        ),
                        format!("use `capacitance_f` instead of `{k}`"),
                    );
                }
            }
            let c = match &raw.capacitance_f {
                None => {
                    p.add(
                        "capacitance_f",
                        "missing",
                        "add `capacitance_f = \"auto\"` (solved for the Larmor frequency) or a value in farads",
                    );
                    CapSetting::Auto
                }
                Some(v) => cap_value(p, "capacitance_f", v),
            };
            if coil_type == CoilType::LowPass {
                (c, CapSetting::None)
            } else {
                (CapSetting::None, c)
            }
        }
        CoilType::BandPass => {
            if raw.capacitance_f.is_some() {
                p.add(
                    "capacitance_f",
                    "a band_pass coil has rung and ring capacitors",
                    "use `rung_capacitance_f` and `ring_capacitance_f` (one of them may be \"auto\")",
                );
            }
            let mut get = |k: &str, v: &Option<CapValue>| match v {
                None => {
                    p.add(
                        k,
                        "missing",
                        format!("add `{k} = ...` in farads, or \"auto\" for the one to solve"),
                    );
                    CapSetting::Fixed(f64::NAN)
                }
                Some(v) => cap_value(p, k, v),
            };
            let rc = get("rung_capacitance_f", &raw.rung_capacitance_f);
            let gc = get("ring_capacitance_f", &raw.ring_capacitance_f);
            if rc == CapSetting::Auto && gc == CapSetting::Auto {
                p.add(
                    "ring_capacitance_f",
                    "both band_pass capacitors are \"auto\": one equation cannot fix two values",
                    "give one of rung_capacitance_f / ring_capacitance_f in farads",
                );
            }
            (rc, gc)
        }
    }
}

/// The drive and the ports: each port at a rung or ring-segment centre and across a capacitor;
/// quadrature needs two ports 90 deg apart on a multiple of 4 rungs.
fn check_ports(
    p: &mut Problems,
    raw: &CoilToml,
    coil_type: CoilType,
    rungs: usize,
    offset_deg: f64,
) -> (Drive, Vec<Port>) {
    let drive = raw.drive.unwrap_or_else(|| {
        p.add("drive", "missing", "add `drive = \"quadrature\"` (or \"linear\")");
        Drive::Quadrature
    });
    let mut ports = Vec::new();
    if raw.ports.is_empty() {
        p.add(
            "ports",
            "no ports",
            "add `[[ports]]` tables with `angle_deg` (two, 90 deg apart, for quadrature drive)",
        );
    }
    let default_element = if coil_type == CoilType::HighPass {
        PortElement::Ring
    } else {
        PortElement::Rung
    };
    for (i, pt) in raw.ports.iter().enumerate() {
        if let Some(port) = check_port(p, i, pt, default_element, coil_type, rungs, offset_deg) {
            ports.push(port);
        }
    }
    set_drive_phases(p, drive, &mut ports, raw.ports.len(), rungs);
    (drive, ports)
}

/// One `[[ports]]` table; None when its angle is missing.
fn check_port(
    p: &mut Problems,
    i: usize,
    pt: &PortToml,
    default_element: PortElement,
    coil_type: CoilType,
    rungs: usize,
    offset_deg: f64,
) -> Option<Port> {
    let key = format!("ports[{i}]");
    let Some(angle) = pt.angle_deg.filter(|a| a.is_finite()) else {
        p.add(
            &format!("{key}.angle_deg"),
            "missing or not finite",
            "give the port azimuth in degrees, e.g. `angle_deg = 0.0`",
        );
        return None;
    };
    let element = pt.element.unwrap_or(default_element);
    let impedance_ohm = pt.impedance_ohm.unwrap_or(50.0);
    if !(impedance_ohm > 0.0) || !impedance_ohm.is_finite() {
        p.add(
            &format!("{key}.impedance_ohm"),
            format!("{impedance_ohm} ohm is not positive"),
            "give a port impedance > 0, e.g. 50",
        );
    }
    if element == PortElement::Ring && coil_type == CoilType::LowPass {
        p.add(
            &format!("{key}.element"),
            "a port in an end ring of a low_pass coil has no ring capacitor to sit across",
            "use `element = \"rung\"` for low_pass coils",
        );
    }
    let z_m = pt.z_m;
    if let Some(z) = z_m {
        if element != PortElement::Rung {
            p.add(
                &format!("{key}.z_m"),
                "z_m is for ports in a rung (their own gap at that z); a ring port sits across its ring capacitor",
                "remove z_m, or use `element = \"rung\"`",
            );
        } else if !z.is_finite() {
            p.add(&format!("{key}.z_m"), "not finite", "give the port's z in metres, e.g. 0.1");
        }
    }
    if element == PortElement::Rung && coil_type == CoilType::HighPass && z_m.is_none() {
        p.add(
            &format!("{key}.element"),
            "a port in a rung of a high_pass coil has no rung capacitor to sit across",
            "use `element = \"ring\"` for high_pass coils, or give `z_m` (the port's own gap in the rung)",
        );
    }
    let mut index = 0;
    if rungs >= 4 {
        let step = 360.0 / rungs as f64;
        let base = offset_deg + if element == PortElement::Ring { 0.5 * step } else { 0.0 };
        let k = (wrap_deg(angle - base) / step).round() as usize % rungs;
        let nearest = wrap_deg(base + k as f64 * step);
        if angle_diff_deg(angle, nearest) > 0.5 {
            let below = wrap_deg(base + (wrap_deg(angle - base) / step).floor() * step);
            let next = wrap_deg(below + step);
            let what = if element == PortElement::Rung {
                "rung"
            } else {
                "ring-segment centre"
            };
            p.add(
                &format!("{key}.angle_deg"),
                format!(
                    "{angle} deg is not at a {what} (they are every {step} deg from {:.3} deg)",
                    wrap_deg(base)
                ),
                format!("use e.g. {below:.3} or {next:.3}"),
            );
        }
        index = k;
    }
    Some(Port {
        angle_deg: angle,
        element,
        index,
        impedance_ohm,
        phase_deg: pt.phase_deg.unwrap_or(f64::NAN),
        z_m,
    })
}

/// The drive rules, and the default phases: quadrature lags each port by its azimuth from the first
/// (the forward-rotating B1+ mode), linear drives all in phase.
fn set_drive_phases(p: &mut Problems, drive: Drive, ports: &mut [Port], n_written: usize, rungs: usize) {
    match drive {
        Drive::Quadrature => {
            if ports.len() == 2 {
                let d = angle_diff_deg(ports[0].angle_deg, ports[1].angle_deg);
                if (d - 90.0).abs() > 0.5 {
                    p.add(
                        "ports",
                        format!("quadrature ports are {d:.3} deg apart"),
                        "place the two ports 90 deg apart in azimuth",
                    );
                }
            } else if n_written != 0 {
                p.add(
                    "ports",
                    format!("quadrature drive needs exactly 2 ports, found {}", n_written),
                    "give two [[ports]] 90 deg apart, or use `drive = \"linear\"`",
                );
            }
            if rungs >= 4 && rungs % 4 != 0 {
                p.add(
                    "rungs",
                    format!("{rungs} rungs: quadrature ports 90 deg apart need a multiple of 4 rungs"),
                    format!(
                        "use {} or {} rungs, or linear drive",
                        rungs - rungs % 4,
                        rungs + 4 - rungs % 4
                    ),
                );
            }
            if let Some(a0) = ports.first().map(|q| q.angle_deg) {
                // Phase lag equal to the azimuth from the first port: the forward-rotating (B1+) mode,
                // as openEMS's MRI_LP_Birdcage tutorial drives rungs at -180 and -90 deg with [1, -1j].
                for q in ports.iter_mut() {
                    if q.phase_deg.is_nan() {
                        let d = wrap_deg(q.angle_deg - a0);
                        q.phase_deg = -(if d > 180.0 { d - 360.0 } else { d });
                    }
                }
            }
        }
        Drive::Linear => {
            for q in ports.iter_mut() {
                if q.phase_deg.is_nan() {
                    q.phase_deg = 0.0;
                }
            }
        }
    }
}
