//! `rftwin twin fit | synth` (the work: [`crate::twin::command`]).

use crate::twin::command::{self, cache_choice, FitCommand, SynthCommand};

#[derive(clap::Subcommand)]
pub enum TwinCommand {
    /// Fit the ideal-drive coil's two linear-mode weights (port amplitude imbalance and phase error,
    /// overall scale), optionally the phantom offset (--fit-offset) and gel conductivity/permittivity
    /// (--fit-gel), to a measured |B1+| map; writes twin.toml (parameters, 95 % intervals),
    /// twin_fields.h5 (+ .xmf: E, H, materials of the fitted twin), fit.json and fit.png into --out.
    /// Fits the automatic mask (the phantom eroded by half a voxel diagonal, above the background's
    /// noise floor) unless --mask is given. Exit 1 when the fit does not converge, or the map covers
    /// less than half the phantom or has an SNR below 5. Formats and units: docs/b1-maps.md.
    Fit {
        #[arg(long)]
        coil: std::path::PathBuf,
        #[arg(long)]
        phantom: std::path::PathBuf,
        /// Measured map: .nii/.nii.gz (with its dcm2niix/BIDS JSON sidecar), .h5, or a directory
        /// (or .dcm file) holding a DICOM series.
        #[arg(long)]
        measured: std::path::PathBuf,
        /// Which frame the map's positions are in: patient (scanner patient coordinates, moved to
        /// the coil frame by --patient-position and --table-position-m) or coil. Default: patient
        /// for DICOM and scanner NIfTI (and HDF5 with frame = scanner_ras), coil for rftwin's own maps and other HDF5.
        #[arg(long, value_name = "coil|patient")]
        frame: Option<String>,
        /// How the patient lay: HFS, FFS, HFP, FFP, HFDR, HFDL, FFDR or FFDL (default: the
        /// sidecar's or DICOM PatientPosition).
        #[arg(long, value_name = "POS")]
        patient_position: Option<String>,
        /// Coil-frame z (m) of the patient coordinates' origin (default 0: landmark at isocentre).
        #[arg(long, value_name = "M", allow_negative_numbers = true)]
        table_position_m: Option<f64>,
        /// Which volume of a 4-D measured map to fit, 0-based (NIfTI dim[4], the last axis of an
        /// HDF5 dataset); required when the map holds more than one volume.
        #[arg(long, value_name = "N")]
        volume: Option<usize>,
        /// What the map's numbers are, overriding its sidecar / HDF5 attributes: uT (|B1+|), deg
        /// (flip angle: with --nominal-flip-deg and --scale), percent or fraction (of nominal B1).
        /// See docs/b1-maps.md.
        #[arg(long, value_name = "UNIT")]
        unit: Option<String>,
        /// The prescribed flip angle of a flip-angle map (degrees), e.g. 80 for a Siemens tfl_b1map.
        #[arg(long, value_name = "DEG")]
        nominal_flip_deg: Option<f64>,
        /// Stored numbers per unit (the stored value is SCALE x the value in the unit): 10 for a
        /// Siemens tfl_b1map (800 = 80 deg); default 1.
        #[arg(long, value_name = "SCALE")]
        scale: Option<f64>,
        /// The HDF5 dataset holding the map (default b1, or the only 3-D dataset at the root).
        #[arg(long, value_name = "NAME")]
        dataset: Option<String>,
        /// A mask on the map's grid (NIfTI or HDF5, nonzero = use) instead of the automatic mask
        /// (the phantom at its placement, eroded by half a voxel diagonal, above the background's
        /// noise floor).
        #[arg(long, value_name = "FILE")]
        mask: Option<std::path::PathBuf>,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Cell size of the coil model in mm.
        #[arg(long, default_value_t = crate::coil::DEFAULT_COARSE_CELL_M * 1e3)]
        cell_mm: f64,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
        /// Do not read or write the basis cache (basis runs are cached in HDF5 files keyed by a hash
        /// of coil, phantom, offset, cell size, frequency, solver options and version).
        #[arg(long)]
        no_cache: bool,
        /// Basis cache directory (default: $RFTWIN_CACHE, else ~/.cache/rftwin).
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
        /// Also fit the phantom's rigid translation (x, y, z) with the weights; the basis is
        /// re-simulated with the phantom at the fitted offset when it exceeds a quarter cell (2 more
        /// FDTD runs for the empty coil, 2 per outer iteration).
        #[arg(long)]
        fit_offset: bool,
        /// Also fit a small rotation of the phantom about its centre (a rotation vector: angles
        /// about x, y and z), usually with --fit-offset; re-simulated like the offset.
        #[arg(long)]
        fit_rotation: bool,
        /// Placement sensitivities from design runs (the phantom moved by a quarter cell per fitted
        /// offset/rotation parameter: 2 FDTD runs each) instead of carrying the phantom's
        /// contribution along; on by default with --fit-rotation.
        #[arg(long)]
        placement_runs: bool,
        /// Also fit the gel conductivity and permittivity (FDTD design runs at sigma +-15 % and
        /// eps +15 %, interpolation, one re-simulation at the fit: 10 phantom runs at most).
        #[arg(long)]
        fit_gel: bool,
        /// Residual-bootstrap refits for percentile 95 % intervals (0 = Jacobian intervals only).
        #[arg(long, default_value_t = 0)]
        bootstrap: usize,
        /// Seed of the bootstrap.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Never re-simulate the basis at the fitted offset/gel values (first-order model only).
        #[arg(long)]
        no_resimulate: bool,
        /// Outer iterations (re-simulation + refit) at most (default 1 with --fit-gel, else 2).
        #[arg(long)]
        max_outer: Option<usize>,
        /// Levenberg–Marquardt iteration limit; a fit that stops there without converging exits 1.
        #[arg(long, default_value_t = 300)]
        max_iterations: usize,
        /// The coil model: `cosim` (the default: the resonant coil by circuit co-simulation:
        /// conductors, capacitors tuned to Larmor and feeds with their source impedance; one FDTD
        /// port run per capacitor and feed, fewer by mirror symmetry, cached) or `ideal` (impressed
        /// uniform rung currents).
        #[arg(long, default_value = "cosim")]
        model: crate::coil::run::DriveModel,
        /// With --model cosim: also fit every capacitor's deviation from its tuned (or file) value,
        /// by circuit algebra on the port runs (no new FDTD run), with a Gaussian prior of width
        /// --cap-prior.
        #[arg(long)]
        fit_caps: bool,
        /// With --model cosim: never fit the capacitors. Without --fit-caps or --fixed-caps they
        /// are fitted when the residual of the fit at the tuned capacitors is spatially coherent
        /// (model error that the drive weights could absorb, e.g. a coarse grid's snapped rungs),
        /// so that the drive's intervals hold the capacitors' tolerance.
        #[arg(long)]
        fixed_caps: bool,
        /// Prior width of the capacitor deviations (relative; a typical tolerance is 0.05).
        #[arg(long, default_value_t = 0.05)]
        cap_prior: f64,
    },
    /// Make a synthetic measured |B1+| map (µT) of the phantom from the model, with a known port
    /// imbalance, phase error and noise (for tests and examples). Output .nii.gz or .h5.
    Synth {
        #[arg(long)]
        coil: std::path::PathBuf,
        #[arg(long)]
        phantom: std::path::PathBuf,
        /// The map file (.nii.gz, .nii or .h5; a NIfTI map gets a .json sidecar beside it).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if the file exists (never one of the run's inputs).
        #[arg(long)]
        force: bool,
        #[arg(long, default_value_t = crate::coil::DEFAULT_COARSE_CELL_M * 1e3)]
        cell_mm: f64,
        /// Voxel size of the map in mm.
        #[arg(long, default_value_t = 8.0)]
        voxel_mm: f64,
        /// Port-2 amplitude relative to port 1.
        #[arg(long, default_value_t = 1.05)]
        imbalance: f64,
        /// Port-2 phase error (deg).
        #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
        phase_deg: f64,
        /// Noise standard deviation relative to the mean magnitude.
        #[arg(long, default_value_t = 0.02)]
        noise: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// |B1+| at the isocentre (µT).
        #[arg(long, default_value_t = 2.0)]
        centre_ut: f64,
        /// Phantom translation from its file position, "x,y,z" in mm (the map covers the moved phantom).
        #[arg(long, default_value = "0,0,0", allow_hyphen_values = true)]
        offset_mm: String,
        /// Phantom rotation about its centre, "x,y,z" rotation vector in degrees, added to the file's
        /// (the map keeps the voxels 1 cm inside the turned phantom's walls).
        #[arg(long, default_value = "0,0,0", allow_hyphen_values = true)]
        rotation_deg: String,
        /// Gel conductivity as a multiple of the phantom file's value.
        #[arg(long, default_value_t = 1.0)]
        sigma_scale: f64,
        /// Gel permittivity as a multiple of the phantom file's value.
        #[arg(long, default_value_t = 1.0)]
        eps_scale: f64,
        /// The coil model: `cosim` (the default: the resonant coil by circuit co-simulation:
        /// conductors, capacitors tuned to Larmor and feeds with their source impedance; one FDTD
        /// port run per capacitor and feed, fewer by mirror symmetry, cached) or `ideal` (impressed
        /// uniform rung currents).
        #[arg(long, default_value = "cosim")]
        model: crate::coil::run::DriveModel,
    },
}

pub fn run(what: TwinCommand) -> anyhow::Result<i32> {
    match what {
        TwinCommand::Synth {
            coil,
            phantom,
            out,
            force,
            cell_mm,
            voxel_mm,
            imbalance,
            phase_deg,
            noise,
            seed,
            centre_ut,
            offset_mm,
            rotation_deg,
            sigma_scale,
            eps_scale,
            model,
        } => {
            let s = command::synth(&SynthCommand {
                coil,
                phantom,
                out,
                force,
                cell_mm,
                voxel_mm,
                imbalance,
                phase_deg,
                noise,
                seed,
                centre_ut,
                offset_mm,
                rotation_deg,
                sigma_scale,
                eps_scale,
                model,
            })?;
            println!("{}", serde_json::to_string_pretty(&s.to_json())?);
            Ok(0)
        }
        TwinCommand::Fit {
            coil,
            phantom,
            measured,
            frame,
            patient_position,
            table_position_m,
            volume,
            unit,
            nominal_flip_deg,
            scale,
            dataset,
            mask,
            out,
            cell_mm,
            force,
            quiet,
            no_cache,
            cache_dir,
            fit_offset,
            fit_rotation,
            placement_runs,
            fit_gel,
            bootstrap,
            seed,
            no_resimulate,
            max_outer,
            max_iterations,
            model,
            fit_caps,
            fixed_caps,
            cap_prior,
        } => {
            let cmd = FitCommand {
                cache_dir: cache_choice(no_cache, cache_dir, &out),
                coil,
                phantom,
                measured,
                map: crate::b1::MapReadOptions {
                    unit,
                    nominal_flip_deg,
                    scale,
                    dataset,
                    volume,
                    mask,
                    frame,
                    patient_position,
                    table_position_m,
                    names: crate::b1::OptionNames::command_line(),
                },
                out,
                cell_mm,
                force,
                fit_offset,
                fit_rotation,
                placement_runs,
                fit_gel,
                bootstrap,
                seed,
                no_resimulate,
                max_outer,
                max_iterations,
                model,
                fit_caps,
                fixed_caps,
                cap_prior,
            };
            let bar = super::spinner(quiet);
            let mut log = |m: &str| {
                bar.set_message(m.to_string());
                bar.tick();
            };
            let r = command::fit(&cmd, &mut log);
            bar.finish_and_clear();
            let r = r?;
            let mut v = r.to_json();
            if !r.converged() {
                let f = &r.full.fit;
                eprintln!(
                    "error: the twin fit did not converge in {} iterations (best NRMSE {:.4}); outputs written to {} for inspection",
                    f.iterations,
                    f.nrmse,
                    cmd.out.display()
                );
                v["exit_code"] = serde_json::json!(1);
            }
            if let Some(why) = r.quality_failure() {
                eprintln!(
                    "error: the measured map {} is not good enough to calibrate the twin: {why}; outputs written to {} for inspection",
                    cmd.measured.display(),
                    cmd.out.display()
                );
                v["exit_code"] = serde_json::json!(1);
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(v.get("exit_code").and_then(|c| c.as_i64()).unwrap_or(0) as i32)
        }
    }
}
