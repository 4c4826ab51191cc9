//! Stage 1: the coil twin — loaded from a twin directory, or the recipe's coil + phantom driven in
//! ideal quadrature or calibrated to a measured |B1+| map.

use std::path::Path;
use std::time::Instant;

use num_complex::Complex64;

use super::figures::twin_fit_panel;
use super::Stage;
use crate::b1::Placement as MapPlacement;
use crate::coil::{CoilConfig, PhantomConfig};
use crate::error::{Error, Result};
use crate::report::recipe::TwinSource;
use crate::report::sections::placement::PhantomPlacementFacts;
use crate::report::sections::twin::{CalibrationFacts, ModelFacts, TwinFacts};
use crate::twin::TwinFields;

/// The coil twin as the later stages use it.
pub(super) struct CoilTwin {
    pub fields: TwinFields,
    /// The phantom the fields were computed with (fitted offset, rotation and gel applied).
    pub phantom: PhantomConfig,
    /// What the report says about it.
    pub facts: TwinFacts,
    /// The phantom placement of the fields relative to the phantom file, when a fit found it (a
    /// calibration here, or the twin directory's); `phantom` holds it.
    pub placement: Option<PhantomPlacementFacts>,
    /// The calibration's basis and fitted drive (the budget's twin posterior), when calibrated here.
    pub posterior: Option<super::uncertainty::Posterior>,
    /// Why there is no posterior, when there is none.
    pub posterior_missing: String,
}

fn sim_options(cell_m: f64, model: crate::coil::run::DriveModel) -> crate::coil::run::SimulateOptions {
    let mut o = crate::coil::run::SimulateOptions::default();
    o.mesh.cell_m = cell_m;
    o.model = model;
    o
}

/// Runs the stage for the recipe's twin source.
pub(super) fn run(st: &mut Stage) -> Result<CoilTwin> {
    match &st.recipe.twin {
        TwinSource::Dir(d) => {
            st.log("loading the twin");
            let crate::twin::LoadedTwin {
                fields,
                phantom,
                nrmse,
                adjustment,
            } = crate::twin::load_twin_dir(d)?;
            let placement = PhantomPlacementFacts {
                offset_m: adjustment.offset_m.unwrap_or([0.0; 3]),
                rotation_deg: adjustment.rotation_deg.unwrap_or([0.0; 3]),
                source: format!("from the twin directory {}", d.display()),
            };
            Ok(CoilTwin {
                fields,
                phantom,
                facts: TwinFacts::Loaded { dir: d.clone(), nrmse },
                placement: Some(placement),
                posterior: None,
                posterior_missing: "a loaded twin directory (its calibration basis is not at hand)".into(),
            })
        }
        TwinSource::Model {
            coil,
            phantom,
            measured,
            map_options,
            cell_m,
            model: drive_model,
            fit_offset,
            fit_rotation,
            fit_gel,
        } => {
            let c = CoilConfig::load(coil)?;
            let p = PhantomConfig::load(phantom)?;
            let model = ModelFacts {
                coil_name: c.name.clone(),
                phantom_name: p.name.clone(),
                cell_m: cell_m.unwrap_or(st.opt.coarse_cell_m),
                freq_hz: c.freq_hz,
                model: *drive_model,
            };
            match measured {
                Some(path) => {
                    let to = MapFit {
                        path,
                        options: map_options,
                        offset: st.opt.fit_offset || *fit_offset,
                        rotation: *fit_rotation,
                        gel: *fit_gel,
                    };
                    calibrated(st, c, p, model, &to)
                }
                None => {
                    st.log(match model.model {
                        crate::coil::run::DriveModel::Ideal => "twin: basis runs (ideal quadrature drive)",
                        crate::coil::run::DriveModel::Cosim => "twin: co-simulation port runs (nominal quadrature drive)",
                    });
                    let sim = sim_options(model.cell_m, model.model);
                    let fields = crate::twin::ideal_drive_fields(&c, &p, &sim, st.opt.cache_dir.as_deref())?;
                    Ok(CoilTwin {
                        fields,
                        phantom: p,
                        facts: TwinFacts::Ideal(model),
                        placement: None,
                        posterior: None,
                        posterior_missing: "no measured map: the nominal drive, not calibrated".into(),
                    })
                }
            }
        }
    }
}

/// The phantom the calibrated twin's fields were computed with: the phantom file moved by the final
/// offset, turned by the final rotation and with the final gel (the same adjustment `load_twin_dir`
/// applies to a saved twin).
fn fitted_phantom(p: &PhantomConfig, full: &crate::twin::FullCalibration) -> PhantomConfig {
    full.phantom_adjustment().apply(p)
}

/// The measured map a model twin is calibrated to, and what is fitted besides the drive weights.
struct MapFit<'a> {
    path: &'a Path,
    /// How to read it (unit, dataset, volume, mask).
    options: &'a crate::b1::MapReadOptions,
    offset: bool,
    rotation: bool,
    gel: bool,
}

/// The model calibrated to the measured map: drive weights, and the phantom's offset, rotation and
/// gel when asked for.
fn calibrated(st: &mut Stage, c: CoilConfig, p: PhantomConfig, model: ModelFacts, to: &MapFit) -> Result<CoilTwin> {
    let mpath = to.path;
    let sim = sim_options(model.cell_m, model.model);
    let t0 = Instant::now();
    let crate::b1::MeasuredMap { map, stored_as, info } = crate::b1::read_measured(mpath, to.options)?;
    let scanner = crate::b1::read::info_summary(&info);
    let stored_as = if scanner.is_empty() {
        stored_as
    } else {
        format!("{stored_as}; {scanner}")
    };
    let placement = MapPlacement::default();
    let plan = crate::twin::map_mask::MaskPlan::new(&map, &p, &placement, to.options.mask.is_some())?;
    let fo = crate::twin::FullOptions {
        joint: crate::twin::JointOptions {
            fit_offset: to.offset,
            fit_rotation: to.rotation,
            fit_gel: to.gel,
            ..Default::default()
        },
        auto_mask: plan.auto,
        ..Default::default()
    };
    let cache = st.opt.cache_dir.clone();
    let mut tlog = |m: &str| st.log(&format!("twin: {m}"));
    // The capacitors are fitted too when the residual carries model error (issue 16, item 6).
    let (full, basis, caps) = crate::twin::circuit_fit::calibrate_twin(
        &c,
        &p,
        &map,
        &placement,
        &sim,
        &fo,
        cache.as_deref(),
        0.05,
        crate::twin::circuit_fit::CapacitorMode::Auto,
        &mut tlog,
    )?;
    let f = &full.fit;
    if !f.converged {
        return Err(Error::Doubtful { what: format!(
            "the twin calibration did not converge (best NRMSE {:.4}); check the measured map {}",
            f.nrmse,
            mpath.display()
        )});
    }
    let quality = plan.quality(&map, &p, &placement, &full)?;
    let parameters = fo.joint.parameters() + caps.as_ref().map_or(0, |cf| cf.capacitors.len());
    let gate = crate::twin::gate::FitGate::judge(f, &quality, parameters);
    if let Some(why) = crate::twin::gate::failure(&quality, &gate) {
        return Err(Error::Doubtful {
            what: format!(
                "the twin calibrated to the measured map {} is not to be trusted: {}",
                mpath.display(),
                why
            ),
        });
    }
    let w = [
        Complex64::new(f.weights[0][0], f.weights[0][1]),
        Complex64::new(f.weights[1][0], f.weights[1][1]),
    ];
    let fields = TwinFields::from_basis(&basis, &w)?;
    let weights: Vec<Complex64> = f.weights.iter().map(|x| Complex64::new(x[0], x[1])).collect();
    let posterior = super::uncertainty::Posterior {
        basis,
        weights,
        amplitude: f.relative_amplitude.clone(),
        phase_deg: f.relative_phase_deg.clone(),
    };
    let phantom = fitted_phantom(&p, &full);
    let placement = PhantomPlacementFacts {
        offset_m: full.final_offset_m,
        rotation_deg: full.final_rotation_deg,
        source: if to.offset || to.rotation {
            "fitted to the measured map: the basis point nearest the fitted placement".into()
        } else {
            "the phantom file's: offset and rotation not fitted".into()
        },
    };
    let seconds = t0.elapsed().as_secs_f64();
    let figure = st.dir.path("twin_fit.png");
    let relative = crate::b1::read::is_relative(&map);
    twin_fit_panel(&figure, &map, &full, f.nrmse)?;
    let calibration = CalibrationFacts {
        measured: mpath.to_path_buf(),
        map_unit: if relative { "% of nominal".into() } else { "uT".into() },
        map_scale: if relative { 100.0 } else { 1.0 },
        stored_as,
        quality,
        fdtd_runs: full.fdtd_runs,
        fit: full.fit,
        seconds,
        figure,
    };
    Ok(CoilTwin {
        fields,
        phantom,
        facts: TwinFacts::Calibrated(model, Box::new(calibration)),
        placement: Some(placement),
        posterior: Some(posterior),
        posterior_missing: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::joint::Estimate;
    use crate::twin::{FullCalibration, JointFit};

    fn estimate(value: f64) -> Estimate {
        Estimate {
            value,
            se: 0.0,
            ci95: [value; 2],
            ci95_method: "jacobian".into(),
        }
    }

    fn calibration(offset_m: [f64; 3], rotation_deg: [f64; 3], sigma: f64, eps_r: f64) -> FullCalibration {
        let fit = JointFit {
            weights: vec![[1.0, 0.0], [0.0, 0.0]],
            relative_amplitude: estimate(1.0),
            relative_phase_deg: estimate(0.0),
            offset_m: None,
            rotation_deg: Some(rotation_deg.map(estimate)),
            sigma_s_per_m: None,
            eps_r: None,
            sigma_eps_correlation: None,
            unidentifiable: Vec::new(),
            nrmse: 0.01,
            mean_measured: 1.0,
            measured_spread: 0.1,
            noise_highpass: 0.01,
            residual_correlation_voxels: 1.0,
            residual_correlation_length_voxels: [1.0; 3],
            correlation: 1.0,
            max_abs_residual: 0.0,
            p95_abs_residual: 0.0,
            iterations: 1,
            converged: true,
            samples: 1,
            bootstrap: 0,
            params: Vec::new(),
            fitted: Vec::new(),
        };
        FullCalibration {
            fit,
            steps: Vec::new(),
            fdtd_runs: 0,
            cached_bases: 0,
            seconds: 0.0,
            final_offset_m: offset_m,
            final_rotation_deg: rotation_deg,
            final_sigma_s_per_m: sigma,
            final_eps_r: eps_r,
            measured: ndarray::Array3::zeros((1, 1, 1)),
            simulated: ndarray::Array3::zeros((1, 1, 1)),
            used: ndarray::Array3::from_elem((1, 1, 1), false),
        }
    }

    /// The calibrated twin's phantom carries the fitted rotation as well as the offset and gel (before
    /// issue 15, assess dropped the rotation while `load_twin_dir` applied it).
    #[test]
    fn calibrated_phantom_has_the_fitted_offset_rotation_and_gel() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("phantoms/astm_f2182.toml");
        let p = PhantomConfig::load(&file).unwrap();
        let full = calibration([0.001, -0.002, 0.003], [1.5, -2.0, 0.5], 0.6, 70.0);
        let q = fitted_phantom(&p, &full);
        for a in 0..3 {
            assert_eq!(q.rotation_deg[a], p.rotation_deg[a] + full.final_rotation_deg[a]);
            assert_eq!(
                q.landmark_from_isocentre_m[a],
                p.landmark_from_isocentre_m[a] + full.final_offset_m[a]
            );
        }
        assert_ne!(q.rotation_deg, p.rotation_deg);
        assert_eq!(q.material.sigma_s_per_m, 0.6);
        assert_eq!(q.material.eps_r, 70.0);
        // Nothing fitted: the phantom file as it is.
        let none = calibration([0.0; 3], [0.0; 3], p.material.sigma_s_per_m, p.material.eps_r);
        let q0 = fitted_phantom(&p, &none);
        assert_eq!(q0.rotation_deg, p.rotation_deg);
        assert_eq!(q0.landmark_from_isocentre_m, p.landmark_from_isocentre_m);
    }
}
