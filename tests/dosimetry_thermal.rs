//! Thermal checks (the dosimetry validation cases, the same definitions as `rftwin validate`, run in
//! `validation_cases.rs`).

use ndarray::Array3;
use rftwin::dosimetry::thermal::{
    cem43_rate, Boundaries, Boundary, Probe, ThermalMaterial, ThermalModel, ThermalSettings,
};
use rftwin::dosimetry::VoxelGrid;

#[test]
fn cem43_dose_of_a_constant_temperature() {
    assert!((cem43_rate(43.0) - 1.0).abs() < 1e-15);
    assert!((cem43_rate(44.0) - 2.0).abs() < 1e-12);
    assert!((cem43_rate(42.0) - 0.25).abs() < 1e-12);
    // insulated gel at 43 °C without heating stays there: 10 minutes give CEM43 = 10 min
    let labels = Array3::<u8>::zeros((3, 3, 3));
    let m = ThermalModel::from_labels(
        "cem",
        &labels,
        &[Some(ThermalMaterial::astm_gel())],
        VoxelGrid::new([1e-3; 3]).unwrap(),
        Boundaries::uniform(Boundary::Insulating),
    )
    .unwrap();
    let s = ThermalSettings {
        duration_s: 600.0,
        dt_s: 5.0,
        initial_temperature_c: 43.0,
        cem43_map: true,
    };
    let r = m
        .run(
            &Array3::zeros((3, 3, 3)),
            &[Probe::point("c", m.centre_m([1, 1, 1]))],
            &s,
        )
        .unwrap();
    assert!((r.probes[0].cem43_min - 10.0).abs() < 1e-9, "{}", r.probes[0].cem43_min);
    assert!((r.cem43_max_min.unwrap() - 10.0).abs() < 1e-4);
    assert_eq!(r.times_s.len(), r.probes[0].temperature_c.len());
}

#[test]
fn point_probe_interpolates_between_voxel_centres() {
    let n = 5;
    let labels = Array3::<u8>::zeros((n, 1, 1));
    let m = ThermalModel::from_labels(
        "probe",
        &labels,
        &[Some(ThermalMaterial::astm_gel())],
        VoxelGrid::new([1e-3; 3]).unwrap(),
        Boundaries::uniform(Boundary::Insulating),
    )
    .unwrap();
    let t0 = Array3::from_shape_fn((n, 1, 1), |(i, _, _)| 20.0 + i as f64);
    let s = ThermalSettings {
        duration_s: 1.0,
        dt_s: 1.0,
        ..ThermalSettings::default()
    };
    let probes = [
        Probe::point("centre", [2.5e-3, 0.5e-3, 0.5e-3]),
        Probe::point("between", [3.0e-3, 0.5e-3, 0.5e-3]),
        Probe::sphere("three", [2.5e-3, 0.5e-3, 0.5e-3], 1.01e-3),
    ];
    let r = m.run_from(&Array3::zeros((n, 1, 1)), &probes, &s, &t0).unwrap();
    assert!((r.probes[0].temperature_c[0] - 22.0).abs() < 1e-12);
    assert!((r.probes[1].temperature_c[0] - 22.5).abs() < 1e-12);
    assert!((r.probes[2].temperature_c[0] - 22.0).abs() < 1e-12); // mean of voxels 1, 2, 3
}

#[test]
fn thermal_run_is_identical_on_1_and_2_threads() {
    let (model, p, probes) = rftwin::dosimetry::bench::thermal_phantom(24).unwrap();
    let s = ThermalSettings {
        duration_s: 60.0,
        dt_s: 5.0,
        initial_temperature_c: 22.0,
        cem43_map: false,
    };
    let run = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| model.run(&p, &probes, &s).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert!(a.peak_rise_k > 0.0);
    assert!(a
        .final_temperature_c
        .iter()
        .zip(b.final_temperature_c.iter())
        .all(|(x, y)| x.to_bits() == y.to_bits()));
    assert_eq!(
        a.energy.lost_boundaries_j.to_bits(),
        b.energy.lost_boundaries_j.to_bits()
    );
    assert_eq!(a.probes[0].temperature_c, b.probes[0].temperature_c);
}

#[test]
fn implant_raises_tip_heating_over_background() {
    // ASTM F2182 style comparison: same gel and SAR, with and without a steel rod
    let (model, p, probes) = rftwin::dosimetry::bench::thermal_phantom(24).unwrap();
    let labels0 = Array3::<u8>::zeros((24, 24, 24));
    let bg_model = ThermalModel::from_labels(
        "no implant",
        &labels0,
        &[Some(ThermalMaterial::astm_gel())],
        *model.grid(),
        {
            let mut b = Boundaries::uniform(Boundary::Insulating);
            b.faces[3] = Boundary::Convective {
                h_w_per_m2_k: 10.0,
                ambient_c: 22.0,
            };
            b
        },
    )
    .unwrap();
    let p_bg = Array3::<f32>::from_elem((24, 24, 24), 2.0 * 1000.0);
    let s = ThermalSettings {
        duration_s: 900.0,
        dt_s: 5.0,
        initial_temperature_c: 22.0,
        cem43_map: false,
    };
    let c = rftwin::dosimetry::thermal::astm_f2182_exposure((&model, &p), (&bg_model, &p_bg), &probes, &s).unwrap();
    // uniform 2 W/kg in gel (c = 4150 J/kg/K) for 900 s without losses: 0.434 K; the convective top removes a little
    let adiabatic = 2.0 * 900.0 / 4150.0;
    assert!(
        c.background.peak_rise_k <= adiabatic * 1.0001 && c.background.peak_rise_k > 0.95 * adiabatic,
        "{}",
        c.background.peak_rise_k
    );
    assert!(c.implant_excess_rise_k > 0.0, "{}", c.implant_excess_rise_k);
    assert!(c.with_implant.energy.relative_imbalance < 1e-6);
}
