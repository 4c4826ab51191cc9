//! `rftwin sar` and `rftwin heat` (the work: [`crate::dosimetry::run`]).

/// Field selection and normalisation shared by `sar` and `heat`.
#[derive(clap::Args)]
pub struct FieldArgs {
    /// whole-phantom=W_PER_KG | b1rms-ut=MICROTESLA | power-w=WATTS | mode=normal|first-level.
    #[arg(long)]
    normalise: Option<crate::dosimetry::run::NormaliseSpec>,
    /// E probe (HDF5 group) to use; default: the only one.
    #[arg(long = "e-probe")]
    e_probe: Option<String>,
    /// Frequency index of the phasors.
    #[arg(long, default_value_t = 0)]
    freq_index: usize,
    /// Isocentre X,Y,Z (m) for b1rms-ut; default: centre of the grid.
    #[arg(long, value_parser = crate::dosimetry::run::parse_point_m)]
    isocentre_m: Option<[f64; 3]>,
}

impl FieldArgs {
    pub fn options(self, fields: &std::path::Path) -> crate::dosimetry::run::FieldOptions {
        crate::dosimetry::run::FieldOptions {
            fields: fields.to_path_buf(),
            probe: self.e_probe,
            freq_index: self.freq_index,
            normalise: self.normalise,
            isocentre_m: self.isocentre_m,
        }
    }
}

#[derive(clap::Args)]
pub struct SarArgs {
    /// fields.h5 of `rftwin fdtd run` (CW, with an E probe and the materials/ group).
    pub fields: std::path::PathBuf,
    #[command(flatten)]
    pub field: FieldArgs,
    /// TOML overriding conductivity/density per material name (format: docs of `dosimetry::io::MaterialsFile`).
    #[arg(long)]
    pub materials: Option<std::path::PathBuf>,
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Do not print the summary.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct HeatArgs {
    /// sar.h5 of `rftwin sar`, or fields.h5 of `rftwin fdtd run`.
    pub input: std::path::PathBuf,
    #[command(flatten)]
    pub field: FieldArgs,
    /// TOML with thermal properties per material name, probes, exposure, boundaries, implant
    /// (format: docs of `dosimetry::io::MaterialsFile`).
    #[arg(long)]
    pub materials: Option<std::path::PathBuf>,
    /// Temperature probe NAME:X,Y,Z or NAME:X,Y,Z:RADIUS (m); repeatable.
    #[arg(long = "probe", value_name = "NAME:X,Y,Z[:R]")]
    pub probes: Vec<String>,
    /// Exposure length (s); default 900 (ASTM F2182) or [exposure] duration_s.
    #[arg(long, allow_negative_numbers = true)]
    pub duration_s: Option<f64>,
    /// Time step (s; accuracy only, any value is stable); default 5.
    #[arg(long, allow_negative_numbers = true)]
    pub dt_s: Option<f64>,
    /// Uniform starting temperature (°C, -20 to 60); default 22.
    #[arg(long, allow_negative_numbers = true)]
    pub initial_temperature_c: Option<f64>,
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub quiet: bool,
}

pub fn sar(a: SarArgs) -> anyhow::Result<i32> {
    let v = crate::dosimetry::run::run_sar(&crate::dosimetry::run::SarOptions {
        field: a.field.options(&a.fields),
        materials: a.materials,
        out: a.out,
        force: a.force,
    })?;
    if !a.quiet {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(0)
}

pub fn heat(a: HeatArgs) -> anyhow::Result<i32> {
    let v = crate::dosimetry::run::run_heat(&crate::dosimetry::run::HeatOptions {
        field: a.field.options(&a.input),
        input: a.input,
        materials: a.materials,
        probes: a
            .probes
            .iter()
            .map(|p| crate::dosimetry::io::parse_probe_arg(p))
            .collect::<crate::error::Result<_>>()?,
        duration_s: a.duration_s,
        dt_s: a.dt_s,
        initial_temperature_c: a.initial_temperature_c,
        out: a.out,
        force: a.force,
    })?;
    if !a.quiet {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(0)
}
