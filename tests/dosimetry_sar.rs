//! SAR checks: point and whole-phantom SAR against hand values, normalisation, the JSON summary and
//! determinism (the dosimetry validation cases, the same definitions as `rftwin validate`, run in
//! `validation_cases.rs`).

use ndarray::Array3;
use num_complex::Complex;
use rftwin::dosimetry::normalise::{normalise, NormaliseTarget, OperatingMode};
use rftwin::dosimetry::sar::{self, SarInput};
use rftwin::dosimetry::summary::{AveragedSummary, DosimetrySummary};
use rftwin::dosimetry::{validation, VoxelGrid};

#[test]
fn validation_cases_are_registered() {
    let names: Vec<&str> = rftwin::validate::all_cases().iter().map(|c| c.name).collect();
    for n in [
        "sar_avg_vs_bruteforce",
        "sar_uniform_block",
        "sar_half_air_block",
        "thermal_1d_perfusion_steady",
        "thermal_gaussian_transient",
        "thermal_energy_balance",
        "thermal_metal_slab_steady",
    ] {
        assert!(names.contains(&n), "{n} missing from validate::all_cases()");
    }
}

/// Two tissue voxels and one air voxel with hand-computed SAR.
fn tiny() -> SarInput {
    let dims = (3, 1, 1);
    let mut ex = Array3::<Complex<f32>>::zeros(dims);
    let ey = Array3::<Complex<f32>>::zeros(dims);
    let mut ez = Array3::<Complex<f32>>::zeros(dims);
    ex[[0, 0, 0]] = Complex::new(3.0, 4.0); // |E|^2 = 25
    ez[[1, 0, 0]] = Complex::new(0.0, 10.0); // |E|^2 = 100
    ex[[2, 0, 0]] = Complex::new(7.0, 0.0); // air: no SAR
    let sigma = Array3::from_shape_vec(dims, vec![0.5f32, 0.8, 0.0]).unwrap();
    let rho = Array3::from_shape_vec(dims, vec![1000.0f32, 1100.0, 0.0]).unwrap();
    SarInput::from_phasors(
        "tiny.h5",
        [&ex, &ey, &ez],
        &sigma,
        rho,
        VoxelGrid::new([0.01, 0.01, 0.01]).unwrap(),
    )
    .unwrap()
}

#[test]
fn point_and_whole_phantom_sar_match_hand_values() {
    let input = tiny();
    let s = sar::point_sar(&input);
    // SAR = sigma |E|^2 / (2 rho)
    let s0 = 0.5 * 25.0 / (2.0 * 1000.0);
    let s1 = 0.8 * 100.0 / (2.0 * 1100.0);
    assert!((s[[0, 0, 0]] as f64 - s0).abs() < 1e-7 * s0);
    assert!((s[[1, 0, 0]] as f64 - s1).abs() < 1e-7 * s1);
    assert_eq!(s[[2, 0, 0]], 0.0);
    let w = sar::whole_phantom_sar(&input).unwrap();
    let v = 1e-6;
    let mass = (1000.0 + 1100.0) * v;
    let power = (0.5 * 0.5 * 25.0 + 0.5 * 0.8 * 100.0) * v;
    assert!((w.total_mass_kg - mass).abs() < 1e-12 * mass);
    assert!((w.absorbed_power_w - power).abs() < 1e-7 * power);
    assert!((w.sar_w_per_kg - power / mass).abs() < 1e-7 * power / mass);
    assert_eq!(w.peak_point_index, [1, 0, 0]);
    assert!((w.peak_point_position_m[0] - 0.015).abs() < 1e-12);
}

#[test]
fn normalisation_factors() {
    let input = tiny();
    let w = sar::whole_phantom_sar(&input).unwrap();
    let n = normalise(
        &w,
        &NormaliseTarget::OperatingMode {
            mode: OperatingMode::Normal,
        },
    )
    .unwrap();
    assert!((n.whole_phantom_sar_w_per_kg - 2.0).abs() < 1e-12);
    let scaled = input.scaled(n.power_factor).unwrap();
    let w2 = sar::whole_phantom_sar(&scaled).unwrap();
    assert!(
        (w2.sar_w_per_kg - 2.0).abs() < 1e-6,
        "scaled whole-phantom SAR {}",
        w2.sar_w_per_kg
    );
    let n4 = normalise(
        &w,
        &NormaliseTarget::OperatingMode {
            mode: OperatingMode::FirstLevel,
        },
    )
    .unwrap();
    assert!((n4.power_factor / n.power_factor - 2.0).abs() < 1e-12);
    // B1+rms: fields scale with the B1 ratio, powers with its square
    let nb = normalise(
        &w,
        &NormaliseTarget::B1PlusRms {
            b1_plus_rms_ut: 3.0,
            solution_b1_plus_ut: 1.5,
        },
    )
    .unwrap();
    assert!((nb.field_factor - 2.0).abs() < 1e-12 && (nb.power_factor - 4.0).abs() < 1e-12);
    let np = normalise(
        &w,
        &NormaliseTarget::InputPower {
            input_power_w: 10.0,
            solution_input_power_w: 0.5,
        },
    )
    .unwrap();
    assert!((np.power_factor - 20.0).abs() < 1e-12);
    assert!((np.whole_phantom_sar_w_per_kg - 20.0 * w.sar_w_per_kg).abs() < 1e-12);
    // config form
    let t: NormaliseTarget = serde_json::from_str(r#"{"kind":"operating_mode","mode":"first_level"}"#).unwrap();
    assert_eq!(
        t,
        NormaliseTarget::OperatingMode {
            mode: OperatingMode::FirstLevel
        }
    );
}

#[test]
fn summary_serialises_to_json() {
    let input = validation::random_sar_input(11, [10, 10, 10], [3e-3; 3], 2, false).unwrap();
    let w = sar::whole_phantom_sar(&input).unwrap();
    let a1 = sar::mass_averaged_sar(&input, sar::MASS_1G_KG).unwrap();
    let s = DosimetrySummary {
        source: "random".into(),
        normalisation: None,
        whole_phantom: w,
        sar_1g: Some(AveragedSummary::from(&a1)),
        sar_10g: None,
        thermal: None,
    };
    let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    assert!(v["whole_phantom"]["sar_w_per_kg"].as_f64().unwrap() > 0.0);
    assert_eq!(
        v["sar_1g"]["peak"]["sar_w_per_kg"].as_f64().unwrap(),
        a1.peak.sar_w_per_kg
    );
    assert_eq!(
        v["sar_1g"]["counts"]["valid"].as_u64().unwrap() as usize,
        a1.counts.valid
    );
    let c = a1.counts;
    assert_eq!(c.air + c.valid + c.used + c.unused + c.unassigned, 1000);
}

#[test]
fn averaging_is_identical_on_1_and_2_threads() {
    let input = validation::random_sar_input(7, [20, 18, 22], [2e-3, 2.5e-3, 2e-3], 8, false).unwrap();
    let run = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| sar::mass_averaged_sar(&input, sar::MASS_1G_KG).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert!(
        a.counts.valid > 0 && a.counts.used > 0 && a.counts.unused > 0,
        "{:?}",
        a.counts
    );
    assert_eq!(a.status, b.status);
    assert!(a
        .sar_w_per_kg
        .iter()
        .zip(b.sar_w_per_kg.iter())
        .all(|(x, y)| x.to_bits() == y.to_bits()));
    assert_eq!(a.peak.index, b.peak.index);
}

#[test]
fn ten_gram_is_smoother_than_one_gram() {
    // averaging over more mass cannot raise the peak of a field with one hot voxel cluster
    let mut input_p = Array3::<f32>::from_elem((24, 24, 24), 1000.0);
    input_p[[12, 12, 12]] = 1000.0 * 500.0;
    let rho = Array3::<f32>::from_elem((24, 24, 24), 1000.0);
    let input = SarInput::from_power_density("hot voxel", input_p, rho, VoxelGrid::new([2e-3; 3]).unwrap()).unwrap();
    let a1 = sar::mass_averaged_sar(&input, sar::MASS_1G_KG).unwrap();
    let a10 = sar::mass_averaged_sar(&input, sar::MASS_10G_KG).unwrap();
    let point = 500.0;
    assert!(a1.peak.sar_w_per_kg < point && a10.peak.sar_w_per_kg < a1.peak.sar_w_per_kg);
    // every cube that fully holds the hot voxel ties; the first in index order is reported
    assert!(
        a1.peak.index.iter().all(|i| (10..=14).contains(i)),
        "{:?}",
        a1.peak.index
    );
    // the 1 g cube (edge 10 mm = 5 voxels) holds the hot voxel's excess 499 W/kg * 8 mg over 1 g
    let expected = 1.0 + 499.0 * 8e-6 / 1e-3;
    assert!(
        (a1.peak.sar_w_per_kg - expected).abs() < 1e-5 * expected,
        "{} vs {expected}",
        a1.peak.sar_w_per_kg
    );
}
