//! The keys of an assessment report's quantities (`summary.json`, `{key}` in paragraphs), defined
//! once. The pipeline, the report sections, the criteria and the regression glue name a quantity
//! through these constants and functions, never through a string literal; the file format (the keys
//! themselves) is what `tests/` check.
//!
//! Families of keys that carry an index or a name are typed: [`Implant`] (`implant<n>.<what>`),
//! [`Probe`] (`implant<n>.probe_<name>.<what>`), [`Interval`] (`<key>_ci95_low|high`),
//! [`Placement`] (`twin.phantom_offset_<axis>` …), [`SetupImplant`] (`setup.implant<i>.<what>`).

/// Peak 1 g SAR over all implants (or of the coarse grid when the recipe has none); a criterion reads it.
pub const SAR_1G: &str = "sar.peak_1g";
/// Peak 10 g SAR over all implants (or of the coarse grid); a criterion reads it.
pub const SAR_10G: &str = "sar.peak_10g";
/// Largest temperature rise over all implants; a criterion reads it.
pub const TEMPERATURE_RISE: &str = "thermal.max_temperature_rise";
/// Largest CEM43 at the probes over all implants; a criterion reads it.
pub const CEM43: &str = "thermal.cem43";
/// Wall time of the whole assessment.
pub const TIMING_RUN: &str = "timing.run";

/// The recipe's set-up (section "Assessment set-up").
pub mod setup {
    pub const WHOLE_PHANTOM_SAR: &str = "setup.whole_phantom_sar";
    pub const B1_PLUS_RMS: &str = "setup.b1_plus_rms";
    pub const INPUT_POWER: &str = "setup.input_power";
    pub const EXPOSURE_TIME: &str = "setup.exposure_time";
    pub const BASELINE_TEMPERATURE: &str = "setup.baseline_temperature";
    pub const CELL_SIZE: &str = "setup.cell_size";

    /// `setup.limit.<criterion id>`.
    pub fn limit(criterion_id: &str) -> String {
        format!("setup.limit.{criterion_id}")
    }
}

/// One implant's placement in the set-up, `setup.implant<i>.<what>` (`i` 0-based, as the recipe lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupImplant<'a> {
    /// `position_<axis>`.
    Position(&'a str),
    Roll,
    /// `direction_<axis>`.
    Direction(&'a str),
    /// `euler_<alpha|beta|gamma>`.
    Euler(&'a str),
}

impl SetupImplant<'_> {
    pub fn key(self, i: usize) -> String {
        match self {
            SetupImplant::Position(a) => format!("setup.implant{i}.position_{a}"),
            SetupImplant::Roll => format!("setup.implant{i}.roll"),
            SetupImplant::Direction(a) => format!("setup.implant{i}.direction_{a}"),
            SetupImplant::Euler(a) => format!("setup.implant{i}.euler_{a}"),
        }
    }
}

/// The coil twin (section "Coil twin").
pub mod twin {
    pub const CELL: &str = "twin.cell";
    pub const FREQUENCY: &str = "twin.frequency";
    pub const NRMSE: &str = "twin.nrmse";
    pub const CORRELATION: &str = "twin.correlation";
    pub const P95_ABS_RESIDUAL: &str = "twin.p95_abs_residual";
    pub const PORT2_RELATIVE_AMPLITUDE: &str = "twin.port2_relative_amplitude";
    pub const PORT2_PHASE_ERROR: &str = "twin.port2_phase_error";
    pub const GEL_SIGMA: &str = "twin.gel_sigma";
    pub const GEL_EPS_R: &str = "twin.gel_eps_r";
    /// Quality of the measured map (see `b1::quality`): signal-to-noise ratio, voxels fitted and
    /// the fraction of the phantom they cover.
    pub const MAP_SNR: &str = "twin.map_snr";
    pub const MAP_VOXELS_USED: &str = "twin.map_voxels_used";
    pub const MAP_PHANTOM_COVERAGE: &str = "twin.map_phantom_coverage";
    /// FDTD basis runs made by the calibration (not from the cache).
    pub const FDTD_RUNS: &str = "timing.twin_fdtd_runs";
    /// Wall time of the calibration.
    pub const CALIBRATION_TIME: &str = "timing.twin_calibration";
}

/// A fitted placement parameter of the phantom, per axis: `twin.phantom_offset_<axis>`,
/// `twin.phantom_rotation_<axis>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Offset,
    Rotation,
}

impl Placement {
    pub fn key(self, axis: &str) -> String {
        match self {
            Placement::Offset => format!("twin.phantom_offset_{axis}"),
            Placement::Rotation => format!("twin.phantom_rotation_{axis}"),
        }
    }
}

/// An end of a fitted value's 95 % interval: `<key>_ci95_low`, `<key>_ci95_high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Low,
    High,
}

impl Interval {
    pub fn key(self, value_key: &str) -> String {
        match self {
            Interval::Low => format!("{value_key}_ci95_low"),
            Interval::High => format!("{value_key}_ci95_high"),
        }
    }
}

/// The normalisation (appended to the section "Coil twin").
pub mod normalisation {
    pub const WHOLE_PHANTOM_SAR: &str = "normalisation.whole_phantom_sar";
    pub const INPUT_POWER: &str = "normalisation.input_power";
    pub const B1_PLUS_ISOCENTRE: &str = "normalisation.b1_plus_isocentre";
    pub const PHANTOM_MASS: &str = "normalisation.phantom_mass";
}

/// One implant's results, `implant<n>.<what>` (`n` 1-based), and the wall time of its local FDTD run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implant {
    Length,
    WallDistance,
    FineCell,
    FdtdCells,
    FdtdPeriods,
    /// `timing.implant<n>_fdtd`.
    FdtdTime,
    SarPointPeak,
    SarPointPeakBackground,
    Sar1gPeak,
    Sar10gPeak,
    Sar1gPeakBackground,
    Sar10gPeakBackground,
    MaxTemperatureRise,
    MaxTemperatureRiseBackground,
    ImplantExcessRise,
}

impl Implant {
    fn name(self) -> &'static str {
        match self {
            Implant::Length => "length",
            Implant::WallDistance => "wall_distance",
            Implant::FineCell => "fine_cell",
            Implant::FdtdCells => "fdtd_cells",
            Implant::FdtdPeriods => "fdtd_periods",
            Implant::FdtdTime => "fdtd",
            Implant::SarPointPeak => "sar_point_peak",
            Implant::SarPointPeakBackground => "sar_point_peak_background",
            Implant::Sar1gPeak => "sar_1g_peak",
            Implant::Sar10gPeak => "sar_10g_peak",
            Implant::Sar1gPeakBackground => "sar_1g_peak_background",
            Implant::Sar10gPeakBackground => "sar_10g_peak_background",
            Implant::MaxTemperatureRise => "max_temperature_rise",
            Implant::MaxTemperatureRiseBackground => "max_temperature_rise_background",
            Implant::ImplantExcessRise => "implant_excess_rise",
        }
    }

    /// The key of implant `n` (1-based).
    pub fn key(self, n: usize) -> String {
        match self {
            Implant::FdtdTime => format!("timing.implant{n}_{}", self.name()),
            _ => format!("implant{n}.{}", self.name()),
        }
    }
}

/// A hot spot of an implant, `implant<n>.hotspot_<what>.<axis>` (phantom frame, mm) and
/// `implant<n>.hotspot_<what>.coil_<axis>` (coil frame, mm); `what` is one of [`HotSpot::WHATS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotSpot {
    /// Phantom frame (origin at the phantom's centre, its own axes).
    Phantom,
    /// Coil frame (origin at the isocentre).
    Coil,
}

impl HotSpot {
    /// What is located: the largest temperature rise, the peak point, 1 g and 10 g SAR.
    pub const WHATS: [&'static str; 4] = ["max_temperature_rise", "sar_point_peak", "sar_1g_peak", "sar_10g_peak"];

    pub fn key(self, n: usize, what: &str, axis: &str) -> String {
        match self {
            HotSpot::Phantom => format!("implant{n}.hotspot_{what}.{axis}"),
            HotSpot::Coil => format!("implant{n}.hotspot_{what}.coil_{axis}"),
        }
    }
}

/// An implant's parameter, `implant<n>.param_<what>` (the implant parameter table).
pub fn implant_parameter(n: usize, what: &str) -> String {
    format!("implant{n}.param_{what}")
}

/// A temperature probe of an implant, `implant<n>.probe_<name>.<what>` (spaces in the name become `_`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    FinalRise,
    FinalRiseBackground,
    Cem43,
}

impl Probe {
    pub fn key(self, n: usize, probe_name: &str) -> String {
        let slug = probe_name.replace(' ', "_");
        let what = match self {
            Probe::FinalRise => "final_rise",
            Probe::FinalRiseBackground => "final_rise_background",
            Probe::Cem43 => "cem43",
        };
        format!("implant{n}.probe_{slug}.{what}")
    }
}

/// The placement the assessment used (section text from [`super::sections::placement`]): the phantom
/// placement of the twin's fields relative to the phantom file, `twin.fields_phantom_offset_<axis>`
/// and `twin.fields_phantom_rotation_<axis>`, and each implant's origin in the coil frame,
/// `implant<n>.origin_coil_<axis>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementUsed {
    PhantomOffset,
    PhantomRotation,
    /// Of implant `n`.
    ImplantOrigin(usize),
}

impl PlacementUsed {
    pub fn key(self, axis: &str) -> String {
        match self {
            PlacementUsed::PhantomOffset => format!("twin.fields_phantom_offset_{axis}"),
            PlacementUsed::PhantomRotation => format!("twin.fields_phantom_rotation_{axis}"),
            PlacementUsed::ImplantOrigin(n) => format!("implant{n}.origin_coil_{axis}"),
        }
    }
}

/// What [`crate::report::criteria::evaluate`] adds per criterion: `criteria.<id>.<what>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    UncertaintyFactor,
    Assessed,
    Limit,
}

impl Criterion {
    pub fn key(self, criterion_id: &str) -> String {
        let what = match self {
            Criterion::UncertaintyFactor => "uncertainty_factor",
            Criterion::Assessed => "assessed",
            Criterion::Limit => "limit",
        };
        format!("criteria.{criterion_id}.{what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spell_the_summary_format() {
        assert_eq!(Implant::FineCell.key(1), "implant1.fine_cell");
        assert_eq!(Implant::FdtdTime.key(2), "timing.implant2_fdtd");
        assert_eq!(Probe::FinalRise.key(1, "far end"), "implant1.probe_far_end.final_rise");
        assert_eq!(Interval::High.key(twin::GEL_SIGMA), "twin.gel_sigma_ci95_high");
        assert_eq!(Placement::Rotation.key("z"), "twin.phantom_rotation_z");
        assert_eq!(SetupImplant::Position("x").key(0), "setup.implant0.position_x");
        assert_eq!(Criterion::Assessed.key("sar_10g"), "criteria.sar_10g.assessed");
        assert_eq!(PlacementUsed::ImplantOrigin(2).key("y"), "implant2.origin_coil_y");
        assert_eq!(PlacementUsed::PhantomOffset.key("x"), "twin.fields_phantom_offset_x");
        assert_eq!(setup::limit("cem43"), "setup.limit.cem43");
        assert_eq!(HotSpot::Phantom.key(1, "sar_10g_peak", "x"), "implant1.hotspot_sar_10g_peak.x");
        assert_eq!(HotSpot::Coil.key(1, "sar_10g_peak", "x"), "implant1.hotspot_sar_10g_peak.coil_x");
    }
}

/// The worst-case implant search (`rftwin implant search`): the sweep, its ranking
/// (`search.rank<r>.<what>`, r from 1) and the candidates confirmed by full fine-grid runs
/// (`search.confirmed<r>.<what>`, r the estimate rank).
pub mod search {
    pub const PLACEMENTS_TRIED: &str = "search.placements_tried";
    pub const PLACEMENTS_EVALUATED: &str = "search.placements_evaluated";
    pub const MIRROR_IMAGES_MERGED: &str = "search.mirror_images_merged";
    pub const MIRROR_TOLERANCE: &str = "search.mirror_tolerance";
    pub const STEP: &str = "search.step";
    pub const CONFIRMED: &str = "search.confirmed_count";
    pub const SPEARMAN: &str = "search.spearman";
    pub const IMPLIED_A_SPREAD: &str = "search.implied_a_spread";
    pub const WORST_RANK: &str = "search.worst_confirmed_rank";
    pub const FINE_CELL: &str = "search.fine_cell";
    pub const TF_INTEGRAL: &str = "search.tf_abs_integral";

    /// `search.rank<r>.<what>`: `value`, `e_tip`, `position_<axis>`, `direction_<axis>`, `equivalents`.
    pub fn rank(r: usize, what: &str) -> String {
        format!("search.rank{r}.{what}")
    }

    /// `search.confirmed<r>.<what>`: `max_temperature_rise`, `tip_temperature_rise`, `sar_1g`,
    /// `sar_10g`, `sar_point`, `tip_sar_1g`, `cem43`, `tip_<axis>`.
    pub fn confirmed(r: usize, what: &str) -> String {
        format!("search.confirmed{r}.{what}")
    }
}
