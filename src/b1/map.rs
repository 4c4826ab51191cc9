//! The measured B1 map type and its units.

use ndarray::{Array3, Zip};

use super::affine::Affine;
use crate::error::{Error, Result};

/// Proton gyromagnetic ratio γ/2π (Hz/T), CODATA 2018 (shielded proton in water: 42.576 MHz/T).
pub const GAMMA_BAR_PROTON_HZ_PER_T: f64 = 42.577_478_5e6;

/// Whether a relative map is stored as a fraction (1.0 = nominal) or in percent (100 = nominal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelativeScale {
    Fraction,
    Percent,
}

/// What the stored numbers of a B1 map mean.
///
/// Physics: a pulse of envelope `B1(t)` tips the magnetisation by `α = γ ∫ B1(t) dt` (`γ B1 τ` for a
/// rectangular pulse of length τ). The flip angle is proportional to the local B1+, so the relative
/// B1 is `α / α_nominal` and `B1 = (α / α_nominal) · B1_nominal`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum B1Unit {
    /// |B1+| in microtesla.
    MicroTesla,
    /// Flip angle: the stored number is `scale × degrees` (Siemens tfl_b1map / dcm2niix stores
    /// `scale = 10`, i.e. 800 = 80°), for a nominal (prescribed) flip angle `nominal_deg`.
    FlipAngleDeg { nominal_deg: f64, scale: f64 },
    /// Relative to nominal B1 (B1 / B1_nominal).
    Relative { fraction_or_percent: RelativeScale },
}

impl B1Unit {
    /// Parses a unit string: `uT`/`µT`/`microtesla`; `deg` (needs `nominal_deg`; `scale` defaults to 1);
    /// `percent`/`%`; `fraction`/`relative`. `source` and `key` name the origin for errors; the
    /// nominal angle and scale are named as the HDF5 attributes `nominal_flip_deg` and `flip_scale`
    /// (see [`B1Unit::parse_keyed`] for other sources).
    pub fn parse(text: &str, nominal_deg: Option<f64>, scale: Option<f64>, source: &str, key: &str) -> Result<B1Unit> {
        let keys = UnitKeys {
            unit: key.to_string(),
            ..UnitKeys::h5_attributes("")
        };
        Self::parse_keyed(text, nominal_deg, scale, source, &keys)
    }

    /// [`B1Unit::parse`] with the names of the keys the values came from, for the messages.
    pub fn parse_keyed(
        text: &str,
        nominal_deg: Option<f64>,
        scale: Option<f64>,
        source: &str,
        keys: &UnitKeys,
    ) -> Result<B1Unit> {
        let t = text.trim().to_ascii_lowercase();
        let u = match t.as_str() {
            "ut" | "µt" | "μt" | "microtesla" | "micro_tesla" => B1Unit::MicroTesla,
            "deg" | "degree" | "degrees" | "flip_angle_deg" => {
                let nominal_deg = nominal_deg.ok_or_else(|| {
                    Error::input(
                        source,
                        &keys.nominal,
                        format!(
                            "a flip-angle map ({} = \"{text}\") needs its nominal (prescribed) flip angle",
                            keys.unit
                        ),
                        keys.fix_flip(),
                    )
                })?;
                B1Unit::FlipAngleDeg {
                    nominal_deg,
                    scale: scale.unwrap_or(1.0),
                }
            }
            "percent" | "%" | "pct" => B1Unit::Relative {
                fraction_or_percent: RelativeScale::Percent,
            },
            "fraction" | "relative" | "ratio" => B1Unit::Relative {
                fraction_or_percent: RelativeScale::Fraction,
            },
            _ => {
                return Err(Error::input(
                    source,
                    &keys.unit,
                    format!("unknown B1 unit '{text}'"),
                    format!(
                        "use one of: uT, deg (with {} and {}, e.g. 10 for Siemens), percent, fraction{}",
                        keys.nominal,
                        keys.scale,
                        if keys.options.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", keys.options)
                        }
                    ),
                ))
            }
        };
        u.validate_keyed(source, keys)?;
        Ok(u)
    }

    /// The unit string written to files (`uT`, `deg`, `percent`, `fraction`).
    pub fn as_str(&self) -> &'static str {
        match self {
            B1Unit::MicroTesla => "uT",
            B1Unit::FlipAngleDeg { .. } => "deg",
            B1Unit::Relative {
                fraction_or_percent: RelativeScale::Percent,
            } => "percent",
            B1Unit::Relative {
                fraction_or_percent: RelativeScale::Fraction,
            } => "fraction",
        }
    }

    /// Checks the nominal angle and scale (named as the HDF5 attributes).
    pub fn validate(&self, source: &str) -> Result<()> {
        self.validate_keyed(source, &UnitKeys::h5_attributes(""))
    }

    /// Checks the nominal angle and scale, naming them by `keys`.
    pub fn validate_keyed(&self, source: &str, keys: &UnitKeys) -> Result<()> {
        if let B1Unit::FlipAngleDeg { nominal_deg, scale } = *self {
            if !(nominal_deg > 0.0) || !nominal_deg.is_finite() {
                return Err(Error::input(
                    source,
                    &keys.nominal,
                    format!("nominal flip angle {nominal_deg}° is not positive and finite"),
                    keys.fix_flip(),
                ));
            }
            if !(scale > 0.0) || !scale.is_finite() {
                return Err(Error::input(
                    source,
                    &keys.scale,
                    format!("flip-angle scale {scale} is not positive and finite"),
                    keys.fix_flip(),
                ));
            }
        }
        Ok(())
    }

    /// Factor that turns a stored value into relative B1 (B1 / B1_nominal). For `MicroTesla` it needs
    /// the nominal B1 in µT.
    pub fn to_relative_factor(&self, nominal_b1_ut: Option<f64>, source: &str) -> Result<f64> {
        Ok(match *self {
            B1Unit::FlipAngleDeg { nominal_deg, scale } => 1.0 / (scale * nominal_deg),
            B1Unit::Relative {
                fraction_or_percent: RelativeScale::Fraction,
            } => 1.0,
            B1Unit::Relative {
                fraction_or_percent: RelativeScale::Percent,
            } => 0.01,
            B1Unit::MicroTesla => 1.0 / positive_nominal(nominal_b1_ut, source)?,
        })
    }

    /// Factor that turns a stored value into µT. Relative units and flip angles need the nominal B1 in µT.
    pub fn to_microtesla_factor(&self, nominal_b1_ut: Option<f64>, source: &str) -> Result<f64> {
        Ok(match self {
            B1Unit::MicroTesla => 1.0,
            _ => self.to_relative_factor(None, source)? * positive_nominal(nominal_b1_ut, source)?,
        })
    }
}

/// The names under which a file stores a map's unit, nominal flip angle and flip-angle scale, for
/// messages that name the key to add or fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitKeys {
    pub unit: String,
    pub nominal: String,
    pub scale: String,
    /// True for a JSON sidecar (keys), false for HDF5 attributes.
    pub json: bool,
    /// The options that can give the same values instead (e.g. "or give `--unit deg
    /// --nominal-flip-deg 80 --scale 10` (rftwin twin fit)"), appended to the fixes; empty: none.
    pub options: String,
}

impl UnitKeys {
    /// The keys of a NIfTI map's JSON sidecar (`B1Unit`, `B1NominalFlipAngleDeg`, `B1FlipAngleScale`).
    pub fn sidecar() -> Self {
        UnitKeys {
            unit: "B1Unit".into(),
            nominal: "B1NominalFlipAngleDeg".into(),
            scale: "B1FlipAngleScale".into(),
            json: true,
            options: String::new(),
        }
    }

    /// The attributes of an HDF5 map dataset (`unit`, `nominal_flip_deg`, `flip_scale`); `dataset`
    /// (when not empty) prefixes the names as `dataset.unit`.
    pub fn h5_attributes(dataset: &str) -> Self {
        let p = if dataset.is_empty() {
            String::new()
        } else {
            format!("{dataset}.")
        };
        UnitKeys {
            unit: format!("{p}unit"),
            nominal: format!("{p}nominal_flip_deg"),
            scale: format!("{p}flip_scale"),
            json: false,
            options: String::new(),
        }
    }

    /// These keys with `options` (see the field) appended to their fixes.
    pub fn with_options(mut self, options: &str) -> Self {
        self.options = options.to_string();
        self
    }

    /// How to give a flip-angle map's nominal angle and scale in this kind of file (and, when
    /// `options` is set, on the command line or in a recipe).
    pub fn fix_flip(&self) -> String {
        let fix = self.fix_flip_file();
        if self.options.is_empty() {
            fix
        } else {
            format!("{fix}; {}", self.options)
        }
    }

    fn fix_flip_file(&self) -> String {
        if self.json {
            format!(
                "add \"{}\": 80 (the prescribed flip angle in degrees) and \"{}\": 10 (stored units per degree: \
                 10 for Siemens tfl_b1map maps, else 1) to the sidecar",
                self.nominal, self.scale
            )
        } else {
            format!(
                "add the attributes {} = the prescribed flip angle in degrees (e.g. 80) and {} = stored units per \
                 degree (10 for Siemens tfl_b1map maps, else 1)",
                self.nominal, self.scale
            )
        }
    }
}

fn positive_nominal(nominal_b1_ut: Option<f64>, source: &str) -> Result<f64> {
    match nominal_b1_ut {
        Some(b) if b > 0.0 && b.is_finite() => Ok(b),
        _ => Err(Error::input(
            source,
            "nominal_b1_ut",
            "converting between µT and relative B1 needs the nominal B1 of the drive",
            "give nominal_b1_ut (> 0), e.g. from nominal_b1_ut_rect(flip_deg, pulse_s)",
        )),
    }
}

/// Nominal B1 (µT) of a rectangular pulse of duration `pulse_s` with flip angle `flip_deg`:
/// `B1 = α / (γ τ)` with γ = 2π · 42.577 MHz/T. For shaped pulses divide by the pulse's
/// integral-to-peak ratio (not done here).
pub fn nominal_b1_ut_rect(flip_deg: f64, pulse_s: f64) -> f64 {
    let gamma = 2.0 * std::f64::consts::PI * GAMMA_BAR_PROTON_HZ_PER_T;
    flip_deg.to_radians() / (gamma * pulse_s) * 1e6
}

/// Which world frame a voxel affine maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Scanner (patient) coordinates as NIfTI defines them, RAS+: +x toward the subject's right,
    /// +y toward anterior, +z toward superior; metres here (NIfTI files store mm).
    ScannerRas,
    /// rftwin's simulation frame (grid coordinates, metres; the coil axis is z).
    Simulation,
}

impl Frame {
    pub fn as_str(&self) -> &'static str {
        match self {
            Frame::ScannerRas => "scanner_ras",
            Frame::Simulation => "simulation",
        }
    }
    pub fn parse(text: &str, source: &str) -> Result<Frame> {
        match text.trim().to_ascii_lowercase().as_str() {
            "scanner_ras" | "ras" | "scanner" => Ok(Frame::ScannerRas),
            "simulation" | "sim" => Ok(Frame::Simulation),
            _ => Err(Error::input(
                source,
                "frame",
                format!("unknown frame '{text}'"),
                "use scanner_ras or simulation",
            )),
        }
    }
}

/// A measured (or synthetic) B1 map on a voxel grid.
///
/// `magnitude[[i, j, k]]` is the value of voxel `(i, j, k)`, whose centre lies at
/// `affine.apply([i, j, k])` in `frame` (metres). NaN voxels mean "no data" and are excluded by
/// [`B1Map::valid`].
#[derive(Clone, Debug)]
pub struct B1Map {
    /// Stored values in `unit` (magnitude).
    pub magnitude: Array3<f32>,
    /// Optional B1+ phase (rad), same grid.
    pub phase_rad: Option<Array3<f32>>,
    /// Voxel index → world (m).
    pub affine: Affine,
    pub frame: Frame,
    pub unit: B1Unit,
    /// Optional mask (true = use), same grid.
    pub mask: Option<Array3<bool>>,
    /// File (or name) the map came from, for error messages.
    pub source: String,
}

impl B1Map {
    /// A map; checks it with [`B1Map::validate`].
    pub fn new(magnitude: Array3<f32>, affine: Affine, frame: Frame, unit: B1Unit, source: &str) -> Result<Self> {
        let m = Self {
            magnitude,
            phase_rad: None,
            affine,
            frame,
            unit,
            mask: None,
            source: source.into(),
        };
        m.validate()?;
        Ok(m)
    }

    pub fn dims(&self) -> [usize; 3] {
        let s = self.magnitude.shape();
        [s[0], s[1], s[2]]
    }

    /// World position (m) of voxel `(i, j, k)`.
    pub fn voxel_position(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        self.affine.apply([i as f64, j as f64, k as f64])
    }

    /// Checks the map: an invertible finite affine, no ±Inf, not all NaN, not all zero, phase and mask
    /// on the same grid, a valid unit.
    pub fn validate(&self) -> Result<()> {
        let src = self.source.as_str();
        self.affine.inverse(src)?;
        self.unit.validate(src)?;
        if self.magnitude.is_empty() {
            return Err(Error::input(src, "data", "the map has no voxels", "give a 3-D map"));
        }
        let n_inf = self.magnitude.iter().filter(|v| v.is_infinite()).count();
        if n_inf > 0 {
            return Err(Error::input(
                src,
                "data",
                format!("{n_inf} voxels are ±Inf"),
                "replace them by NaN (no data) or 0 and exclude them with a mask",
            ));
        }
        let finite = self.magnitude.iter().filter(|v| v.is_finite()).count();
        if finite == 0 {
            return Err(Error::input(
                src,
                "data",
                "every voxel is NaN",
                "check the file holds the B1 map",
            ));
        }
        if self.magnitude.iter().all(|v| !v.is_finite() || *v == 0.0) {
            return Err(Error::input(
                src,
                "data",
                "every voxel is zero",
                "check the file holds the B1 map (not an empty or magnitude-of-zero volume)",
            ));
        }
        let dims = self.magnitude.shape();
        if let Some(p) = &self.phase_rad {
            if p.shape() != dims {
                return Err(Error::input(
                    src,
                    "phase",
                    format!("phase grid {:?} differs from the magnitude grid {:?}", p.shape(), dims),
                    "give a phase map on the same grid",
                ));
            }
        }
        if let Some(m) = &self.mask {
            if m.shape() != dims {
                return Err(Error::input(
                    src,
                    "mask",
                    format!("mask grid {:?} differs from the map grid {:?}", m.shape(), dims),
                    "give a mask on the same grid",
                ));
            }
            if !Zip::from(m)
                .and(&self.magnitude)
                .fold(false, |acc, &mk, v| acc || (mk && v.is_finite()))
            {
                return Err(Error::input(
                    src,
                    "mask",
                    "the mask selects no voxel with data",
                    "check the mask file or the phantom placement and border",
                ));
            }
        }
        Ok(())
    }

    /// Voxels to use: the mask (if any) and finite magnitude (and finite phase when present).
    pub fn valid(&self) -> Array3<bool> {
        let mut v = self.magnitude.mapv(|x| x.is_finite());
        if let Some(m) = &self.mask {
            Zip::from(&mut v).and(m).for_each(|a, &b| *a = *a && b);
        }
        if let Some(p) = &self.phase_rad {
            Zip::from(&mut v).and(p).for_each(|a, &b| *a = *a && b.is_finite());
        }
        v
    }

    /// The map as relative B1 (B1 / B1_nominal); `nominal_b1_ut` is needed only for µT maps.
    pub fn to_relative(&self, nominal_b1_ut: Option<f64>) -> Result<Array3<f32>> {
        let f = self.unit.to_relative_factor(nominal_b1_ut, &self.source)?;
        Ok(self.magnitude.mapv(|v| (v as f64 * f) as f32))
    }

    /// The map in µT; relative and flip-angle maps need the nominal B1 (µT) of the measurement.
    pub fn to_microtesla(&self, nominal_b1_ut: Option<f64>) -> Result<Array3<f32>> {
        let f = self.unit.to_microtesla_factor(nominal_b1_ut, &self.source)?;
        Ok(self.magnitude.mapv(|v| (v as f64 * f) as f32))
    }

    /// A copy converted to `unit` (values rescaled; `nominal_b1_ut` when crossing µT ↔ relative).
    pub fn converted(&self, unit: B1Unit, nominal_b1_ut: Option<f64>) -> Result<B1Map> {
        unit.validate(&self.source)?;
        let f = if self.unit == unit {
            1.0
        } else {
            self.unit.to_relative_factor(nominal_b1_ut, &self.source)?
                / unit.to_relative_factor(nominal_b1_ut, &self.source)?
        };
        let mut m = self.clone();
        m.magnitude.mapv_inplace(|v| (v as f64 * f) as f32);
        m.unit = unit;
        Ok(m)
    }
}
