//! Bad input gives clear `Error::Input` errors (exit code 2) naming the file/item, never a panic.

use ndarray::Array3;
use num_complex::Complex;
use rftwin::dosimetry::normalise::{normalise, NormaliseTarget};
use rftwin::dosimetry::sar::{self, SarInput};
use rftwin::dosimetry::thermal::{Boundaries, Boundary, Probe, ThermalMaterial, ThermalModel, ThermalSettings};
use rftwin::dosimetry::VoxelGrid;
use rftwin::error::Error;

fn expect_input<T: std::fmt::Debug>(r: rftwin::error::Result<T>, key_part: &str, source: &str) -> String {
    let e = r.expect_err("bad input must fail");
    assert_eq!(e.exit_code(), 2);
    match &e {
        Error::Input { source_name, key, .. } => {
            assert_eq!(source_name, source, "{e}");
            assert!(key.contains(key_part), "key {key:?} should name {key_part:?}: {e}");
        }
        other => panic!("expected an input error, got {other}"),
    }
    e.to_string()
}

fn grid() -> VoxelGrid {
    VoxelGrid::new([1e-3; 3]).unwrap()
}

#[test]
fn nan_in_field_names_component_and_voxel() {
    let dims = (4, 3, 2);
    let mut ey = Array3::<Complex<f32>>::zeros(dims);
    ey[[2, 1, 0]] = Complex::new(f32::NAN, 0.0);
    let z = Array3::<Complex<f32>>::zeros(dims);
    let sigma = Array3::<f32>::from_elem(dims, 0.5);
    let rho = Array3::<f32>::from_elem(dims, 1000.0);
    let msg = expect_input(
        SarInput::from_phasors("fields.h5", [&z, &ey, &z], &sigma, rho, grid()),
        "Ey[2, 1, 0]",
        "fields.h5",
    );
    assert!(msg.contains("NaN"), "{msg}");
}

#[test]
fn negative_and_zero_density_are_rejected() {
    let dims = (3, 3, 3);
    let e = Array3::<f32>::from_elem(dims, 4.0);
    let sigma = Array3::<f32>::from_elem(dims, 0.5);
    let mut rho = Array3::<f32>::from_elem(dims, 1000.0);
    rho[[1, 1, 1]] = -5.0;
    expect_input(
        SarInput::from_e_squared("fields.h5", &e, &sigma, rho.clone(), grid()),
        "density_kg_per_m3[1, 1, 1]",
        "fields.h5",
    );
    rho[[1, 1, 1]] = 0.0; // conducting voxel without mass: SAR undefined
    let msg = expect_input(
        SarInput::from_e_squared("fields.h5", &e, &sigma, rho.clone(), grid()),
        "density_kg_per_m3[1, 1, 1]",
        "fields.h5",
    );
    assert!(msg.contains("zero density"), "{msg}");
    // air (sigma = 0, rho = 0) is fine
    let mut sigma_air = sigma.clone();
    sigma_air[[1, 1, 1]] = 0.0;
    assert!(SarInput::from_e_squared("fields.h5", &e, &sigma_air, rho, grid()).is_ok());
}

#[test]
fn shape_mismatch_and_bad_voxel_size() {
    let e = Array3::<f32>::from_elem((3, 3, 3), 1.0);
    let sigma = Array3::<f32>::from_elem((3, 3, 2), 0.5);
    let rho = Array3::<f32>::from_elem((3, 3, 3), 1000.0);
    expect_input(
        SarInput::from_e_squared("fields.h5", &e, &sigma, rho, grid()),
        "sigma_s_per_m",
        "fields.h5",
    );
    expect_input(VoxelGrid::new([1e-3, 0.0, 1e-3]), "voxel_size_m[1]", "dosimetry grid");
}

#[test]
fn averaging_mass_checks() {
    let rho = Array3::<f32>::from_elem((4, 4, 4), 1000.0);
    let p = Array3::<f32>::from_elem((4, 4, 4), 1000.0);
    let input = SarInput::from_power_density("small.h5", p, rho, grid()).unwrap(); // 64 mg
    expect_input(
        sar::mass_averaged_sar(&input, sar::MASS_1G_KG),
        "averaging_mass_kg",
        "small.h5",
    );
    expect_input(sar::mass_averaged_sar(&input, -1.0), "averaging_mass_kg", "small.h5");
    let empty =
        SarInput::from_power_density("empty.h5", Array3::zeros((2, 2, 2)), Array3::zeros((2, 2, 2)), grid()).unwrap();
    expect_input(sar::whole_phantom_sar(&empty), "density_kg_per_m3", "empty.h5");
}

#[test]
fn normalisation_needs_positive_targets() {
    let rho = Array3::<f32>::from_elem((2, 2, 2), 1000.0);
    let input = SarInput::from_power_density("f.h5", Array3::zeros((2, 2, 2)), rho, grid()).unwrap();
    let w = sar::whole_phantom_sar(&input).unwrap();
    // no absorbed power: cannot normalise to a SAR
    expect_input(
        normalise(&w, &NormaliseTarget::WholePhantomSar { sar_w_per_kg: 2.0 }),
        "solution whole-phantom SAR",
        "normalisation",
    );
    expect_input(
        normalise(
            &w,
            &NormaliseTarget::B1PlusRms {
                b1_plus_rms_ut: 2.0,
                solution_b1_plus_ut: 0.0,
            },
        ),
        "solution_b1_plus_ut",
        "normalisation",
    );
}

fn gel_model() -> ThermalModel {
    let mut labels = Array3::<u8>::zeros((6, 5, 4));
    labels[[5, 4, 3]] = 1; // air voxel
    ThermalModel::from_labels(
        "phantom.toml",
        &labels,
        &[Some(ThermalMaterial::astm_gel()), None],
        grid(),
        Boundaries::uniform(Boundary::Insulating),
    )
    .unwrap()
}

#[test]
fn missing_thermal_properties() {
    let labels = Array3::<u8>::from_elem((3, 3, 3), 2);
    let msg = expect_input(
        ThermalModel::from_labels(
            "phantom.toml",
            &labels,
            &[Some(ThermalMaterial::astm_gel())],
            grid(),
            Boundaries::uniform(Boundary::Insulating),
        ),
        "labels[0, 0, 0]",
        "phantom.toml",
    );
    assert!(msg.contains("material id 2"), "{msg}");
    let mut bad = ThermalMaterial::astm_gel();
    bad.conductivity_w_per_m_k = 0.0;
    expect_input(
        ThermalModel::from_labels(
            "phantom.toml",
            &labels,
            &[None, None, Some(bad)],
            grid(),
            Boundaries::uniform(Boundary::Insulating),
        ),
        "conductivity_w_per_m_k",
        "phantom.toml",
    );
    // power absorbed where there is no thermal material
    let m = gel_model();
    let mut p = Array3::<f32>::zeros((6, 5, 4));
    p[[5, 4, 3]] = 10.0;
    expect_input(
        m.run(&p, &[], &ThermalSettings::default()),
        "voxel [5, 4, 3]",
        "phantom.toml",
    );
    p[[5, 4, 3]] = 0.0;
    p[[0, 0, 0]] = f32::NAN;
    expect_input(
        m.run(&p, &[], &ThermalSettings::default()),
        "power_density_w_per_m3[0, 0, 0]",
        "phantom.toml",
    );
}

#[test]
fn probe_outside_grid_or_in_air() {
    let m = gel_model();
    let p = Array3::<f32>::zeros((6, 5, 4));
    let s = ThermalSettings {
        duration_s: 10.0,
        dt_s: 5.0,
        ..ThermalSettings::default()
    };
    let msg = expect_input(
        m.run(&p, &[Probe::point("tip", [0.002, 0.010, 0.001])], &s),
        "probes.tip",
        "phantom.toml",
    );
    assert!(msg.contains("outside the grid"), "{msg}");
    expect_input(
        m.run(&p, &[Probe::sphere("ring", [-0.001, 0.001, 0.001], 1e-3)], &s),
        "probes.ring",
        "phantom.toml",
    );
    // a sphere holding only the air voxel
    let msg = expect_input(
        m.run(&p, &[Probe::sphere("in_air", m.centre_m([5, 4, 3]), 1e-4)], &s),
        "probes.in_air",
        "phantom.toml",
    );
    assert!(msg.contains("air"), "{msg}");
    expect_input(
        m.run(&p, &[], &ThermalSettings { dt_s: 0.0, ..s.clone() }),
        "dt_s",
        "phantom.toml",
    );
}
