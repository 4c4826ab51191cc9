//! Stages 3–5 for one implant: placement, local fine-grid fields driven by the normalised twin,
//! SAR (point, 1 g, 10 g) and heating with and without the implant; its figures and `fields.h5`
//! datasets.

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array3;

use super::figures::{implant_figures, ImplantPlots};
use super::twin::CoilTwin;
use super::Stage;
use crate::dosimetry::normalise::Normalisation;
use crate::dosimetry::thermal::ThermalSettings;
use crate::error::Result;
use crate::implant::local::{run_local, LocalDosimetry, LocalFields, LocalOptions, TwinIncident};
use crate::implant::placement::{place, PlacedImplant, Placement as ImplantPlacementSpec};
use crate::implant::Implant;
use crate::report::recipe::{ImplantPlacement, Orientation};
use crate::report::keys::HotSpot as HotSpotKey;
use crate::report::sections::implant::{ElectrodeFacts, HotSpotFacts, ImplantFacts, ImplantFigures, ImplantParameters, ProbeFacts};
use crate::report::sections::placement::ImplantPlacementFacts;

/// The datasets of one implant in `fields.h5` (`implant<n>/…`, on the local grid's cell centres).
pub(super) const DATASETS: [&str; 5] = ["sar_point", "sar_1g", "sar_10g", "temperature_rise", "e_abs"];

/// What the stages gave for one implant.
pub(super) struct ImplantOutcome {
    pub facts: ImplantFacts,
    /// Where it was placed (phantom and coil frame).
    pub placement: ImplantPlacementFacts,
    pub figures: ImplantFigures,
    /// Largest CEM43 at the probes (minutes).
    pub cem43_min: f64,
    /// The conductor's centre line (coil frame, tip first) and the probe curves (the budget's inputs).
    pub path_m: Vec<[f64; 3]>,
    pub cem43_curves: crate::report::sections::budget::Cem43Curves,
}

impl ImplantOutcome {
    /// The values the criteria read, for the worst case over implants: peak 1 g SAR, peak 10 g SAR,
    /// largest temperature rise, largest CEM43 at the probes.
    pub fn criteria_values(&self) -> [f64; 4] {
        [
            self.facts.sar_1g_peak,
            self.facts.sar_10g_peak,
            self.facts.max_rise_k,
            self.cem43_min,
        ]
    }
}

/// Places implant `spec` in the twin's phantom (checking the wall distance).
fn placed(st: &Stage, spec: &ImplantPlacement, implant: &Implant, twin: &CoilTwin) -> Result<PlacedImplant> {
    let src = st.recipe.path.display().to_string();
    let mut pl = match &spec.orientation {
        Orientation::Direction { direction, roll_deg } => {
            ImplantPlacementSpec::new(&src, spec.position_m, *direction, *roll_deg)?
        }
        Orientation::EulerZyzDeg(e) => {
            let r = e.map(f64::to_radians);
            let mut p = ImplantPlacementSpec::new(&src, spec.position_m, [0.0, 0.0, 1.0], 0.0)?;
            p.rotation = crate::implant::placement::rotation_from_euler_zyz(r[0], r[1], r[2]);
            p
        }
    };
    if let Some(m) = spec.min_wall_distance_m {
        pl.min_wall_distance_m = m;
    }
    place(implant, &twin.phantom, &pl)
}

fn peak_of(a: &Array3<f32>) -> (f64, [usize; 3]) {
    let mut best = (f32::MIN, [0usize; 3]);
    for ((i, j, k), v) in a.indexed_iter() {
        if v.is_finite() && *v > best.0 {
            best = (*v, [i, j, k]);
        }
    }
    (best.0 as f64, best.1)
}

/// Runs stages 3–5 for implant `n` (1-based) and writes its figures and fields.
pub(super) fn run(
    st: &mut Stage,
    n: usize,
    spec: &ImplantPlacement,
    twin: &CoilTwin,
    norm: &Normalisation,
    h5: &hdf5::File,
) -> Result<ImplantOutcome> {
    let implant = Implant::load(&spec.file)?;
    let placed = placed(st, spec, &implant, twin)?;
    let fine_cell_m = st.opt.fine_cell_m;
    st.log(&format!("{}: fine-grid fields ({} mm cells)", spec.name, fine_cell_m * 1e3));
    let incident = Arc::new(TwinIncident::new(twin.fields.scaled(norm.field_factor)));
    let lopt = LocalOptions {
        cell_m: fine_cell_m,
        pad_m: st.opt.local_pad_m,
        ..LocalOptions::default()
    };
    let t0 = Instant::now();
    let lf = run_local(&placed, &twin.phantom, incident, &lopt)?;
    let fdtd_s = t0.elapsed().as_secs_f64();
    st.advance_implant(0.6);
    st.log(&format!("{}: SAR and heating ({} s)", spec.name, st.recipe.exposure_s));
    let t_init = st.recipe.baseline_temperature();
    let settings = ThermalSettings {
        duration_s: st.recipe.exposure_s,
        dt_s: st.opt.thermal_dt_s.min(st.recipe.exposure_s / 4.0),
        initial_temperature_c: t_init,
        cem43_map: false,
    };
    // 1 mm fibre-optic probe volumes touching the conductor's ends (ASTM F2182).
    let probes = crate::implant::local::end_probes(&placed);
    let dose = lf.dosimetry(&probes, &settings)?;
    let mut facts = facts(n, spec, &implant, &placed, &lf, &dose, fine_cell_m, fdtd_s);
    facts.hot_spots = hot_spots(&twin.phantom, &lf, &dose);
    let cem43_min = dose.thermal[0].probes.iter().map(|p| p.cem43_min).fold(0.0, f64::max);
    let figures = outputs(st, n, spec, twin, norm, &placed, &lf, &dose, t_init, h5)?;
    let placement = ImplantPlacementFacts {
        n,
        position_m: spec.position_m,
        origin_coil_m: crate::implant::placement::origin_in_coil_frame(&twin.phantom, spec.position_m),
    };
    let th = &dose.thermal[0];
    let cem43_curves = crate::report::sections::budget::Cem43Curves {
        baseline_c: t_init,
        curves: th
            .probes
            .iter()
            .map(|p| (th.times_s.clone(), p.temperature_c.iter().map(|t| t - t_init).collect()))
            .collect(),
    };
    Ok(ImplantOutcome {
        facts,
        placement,
        figures,
        cem43_min,
        path_m: placed.path_m.clone(),
        cem43_curves,
    })
}

/// The numbers the report shows for one implant.
#[allow(clippy::too_many_arguments)]
fn facts(
    n: usize,
    spec: &ImplantPlacement,
    implant: &Implant,
    placed: &PlacedImplant,
    lf: &LocalFields,
    dose: &LocalDosimetry,
    fine_cell_m: f64,
    fdtd_s: f64,
) -> ImplantFacts {
    let [psar, psar_bg] = &dose.point;
    let [a1, b1g] = &dose.sar_1g;
    let [a10, b10] = &dose.sar_10g;
    let [th, th_bg] = &dose.thermal;
    let (pk, _) = peak_of(psar);
    let (pk_bg, _) = peak_of(psar_bg);
    let probes = th
        .probes
        .iter()
        .zip(&th_bg.probes)
        .map(|(p, pb)| ProbeFacts {
            name: p.name.clone(),
            final_rise_k: p.final_rise_k,
            final_rise_background_k: pb.final_rise_k,
            cem43_min: p.cem43_min,
        })
        .collect();
    ImplantFacts {
        n,
        label: spec.name.clone(),
        implant_name: implant.name.clone(),
        implant_description: implant.description.clone(),
        position_m: spec.position_m,
        length_m: placed.length_m(),
        wall_distance_m: placed.wall_distance_m,
        fine_cell_m,
        fdtd_cells: lf.fdtd_cells,
        fdtd_periods: lf.stats.periods,
        fdtd_s,
        sar_point_peak: pk,
        sar_point_peak_background: pk_bg,
        hot_spots: Vec::new(),
        parameters: parameters(implant),
        sar_1g_peak: a1.peak.sar_w_per_kg,
        sar_10g_peak: a10.peak.sar_w_per_kg,
        sar_1g_peak_background: b1g.peak.sar_w_per_kg,
        sar_10g_peak_background: b10.peak.sar_w_per_kg,
        max_rise_k: th.peak_rise_k,
        max_rise_background_k: th_bg.peak_rise_k,
        probes,
    }
}

/// Where the largest temperature rise and the peak point, 1 g and 10 g SAR lie (with the implant), in
/// the coil frame and in the phantom frame.
fn hot_spots(phantom: &crate::coil::PhantomConfig, lf: &LocalFields, dose: &LocalDosimetry) -> Vec<HotSpotFacts> {
    let at = |idx: [usize; 3]| lf.cells.position(idx[0], idx[1], idx[2]);
    let idx = [
        dose.thermal[0].peak_index,
        peak_of(&dose.point[0]).1,
        dose.sar_1g[0].peak.index,
        dose.sar_10g[0].peak.index,
    ];
    HotSpotKey::WHATS
        .iter()
        .zip(idx)
        .map(|(what, i)| {
            let coil_m = at(i);
            HotSpotFacts {
                what,
                coil_m,
                phantom_m: phantom.to_phantom_frame(coil_m),
            }
        })
        .collect()
}

/// The implant file's parameters for the report's parameter table.
fn parameters(implant: &Implant) -> ImplantParameters {
    ImplantParameters {
        kind: serde_json::to_value(implant.kind)
            .ok()
            .and_then(|v| v.as_str().map(|k| k.replace('_', " ")))
            .unwrap_or_default(),
        metal: implant.metal.name.clone(),
        metal_sigma_s_per_m: implant.metal.sigma_s_per_m,
        radius_m: implant.radius_m,
        insulation: implant.insulation.as_ref().map(|i| (i.thickness_m, i.eps_r)),
        bare_m: implant.bare_m.clone(),
        electrodes: implant
            .electrodes
            .iter()
            .map(|e| ElectrodeFacts {
                start_m: e.start_m,
                length_m: e.length_m,
                radius_m: e.radius_m,
            })
            .collect(),
    }
}

/// The implant's figures, and its point SAR, 10 g SAR and temperature rise in `fields.h5`
/// (`implant<n>/…`).
#[allow(clippy::too_many_arguments)]
fn outputs(
    st: &Stage,
    n: usize,
    spec: &ImplantPlacement,
    twin: &CoilTwin,
    norm: &Normalisation,
    placed: &PlacedImplant,
    lf: &LocalFields,
    dose: &LocalDosimetry,
    t_init: f64,
    h5: &hdf5::File,
) -> Result<ImplantFigures> {
    let id = format!("implant{n}");
    let place_png = st.dir.path(&format!("{id}_placement.png"));
    crate::implant::run::placement_png(placed, &twin.phantom, &place_png)?;
    let th = &dose.thermal[0];
    let rise = th.final_temperature_c.mapv(|t| (t - t_init) as f32);
    let plots = ImplantPlots {
        label: &spec.name,
        lf,
        placed,
        phantom: &twin.phantom,
        point_sar: &dose.point[0],
        sar_1g: &dose.sar_1g[0].sar_w_per_kg,
        sar_10g: &dose.sar_10g[0].sar_w_per_kg,
        peak_sar: peak_of(&dose.point[0]).0,
        rise: &rise,
        thermal: [th, &dose.thermal[1]],
        initial_temperature_c: t_init,
    };
    let [sar_png, t_png, curves_png] = implant_figures(st.dir, &id, &plots)?;
    let etan_png = st.dir.path(&format!("{id}_etan.png"));
    let incident = twin.fields.scaled(norm.field_factor);
    super::figures::e_tan_figure(&etan_png, &spec.name, placed, &|p| incident.e_at(p))?;

    // Fields for regression.
    let g = &lf.cells;
    let (org, sp) = (g.origin_m, g.spacing_m);
    let h5p = st.dir.path("fields.h5");
    let write = crate::dosimetry::io::write_h5_grid::<f32>;
    write(h5, &h5p, &format!("{id}/sar_point"), &dose.point[0], org, sp, "W/kg")?;
    write(h5, &h5p, &format!("{id}/sar_10g"), &dose.sar_10g[0].sar_w_per_kg, org, sp, "W/kg")?;
    write(h5, &h5p, &format!("{id}/temperature_rise"), &rise, org, sp, "K")?;
    write(h5, &h5p, &format!("{id}/sar_1g"), &dose.sar_1g[0].sar_w_per_kg, org, sp, "W/kg")?;
    let e = &lf.e;
    let mut e_abs = Array3::<f32>::zeros(e[0].dim());
    ndarray::Zip::from(&mut e_abs)
        .and(&e[0])
        .and(&e[1])
        .and(&e[2])
        .for_each(|o, x, y, z| *o = (x.norm_sqr() + y.norm_sqr() + z.norm_sqr()).sqrt());
    write(h5, &h5p, &format!("{id}/e_abs"), &e_abs, org, sp, "V/m")?;
    Ok(ImplantFigures {
        placement: place_png,
        sar: sar_png,
        probes: curves_png,
        temperature: t_png,
        e_tan: Some(etan_png),
    })
}
