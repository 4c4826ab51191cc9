//! Unit conversions of B1 maps: flip angle (x10 storage), percent, fraction, µT.

use ndarray::{arr3, Array3};
use rftwin::b1::*;

fn map(values: Array3<f32>, unit: B1Unit) -> B1Map {
    B1Map::new(values, Affine::identity(), Frame::Simulation, unit, "units").unwrap()
}

#[test]
fn siemens_flip_angle_x10_to_relative_and_microtesla() {
    // Siemens tfl_b1map: stored value = 10 x measured flip angle; 80° prescribed.
    let unit = B1Unit::FlipAngleDeg {
        nominal_deg: 80.0,
        scale: 10.0,
    };
    let m = map(arr3(&[[[800.0, 880.0], [400.0, 0.0]]]), unit);
    let rel = m.to_relative(None).unwrap();
    let want = [1.0, 1.1, 0.5, 0.0];
    for (v, w) in rel.iter().zip(want) {
        assert!((v - w).abs() < 1e-6, "relative {v} vs {w}");
    }
    // µT needs the nominal B1; without it, an input error.
    assert!(m.to_microtesla(None).is_err());
    let ut = m.to_microtesla(Some(11.7)).unwrap();
    assert!((ut[[0, 0, 1]] - 1.1 * 11.7).abs() < 1e-5);
    // Back to percent through `converted`.
    let pct = m
        .converted(
            B1Unit::Relative {
                fraction_or_percent: RelativeScale::Percent,
            },
            None,
        )
        .unwrap();
    assert!((pct.magnitude[[0, 0, 1]] - 110.0).abs() < 1e-4);
}

#[test]
fn percent_fraction_and_microtesla() {
    let pct = map(
        arr3(&[[[100.0, 110.0]]]),
        B1Unit::Relative {
            fraction_or_percent: RelativeScale::Percent,
        },
    );
    let rel = pct.to_relative(None).unwrap();
    assert!((rel[[0, 0, 1]] - 1.1).abs() < 1e-6);
    let frac = map(
        arr3(&[[[0.9, 1.2]]]),
        B1Unit::Relative {
            fraction_or_percent: RelativeScale::Fraction,
        },
    );
    assert!((frac.to_microtesla(Some(10.0)).unwrap()[[0, 0, 1]] - 12.0).abs() < 1e-5);
    let ut = map(arr3(&[[[5.0, 6.0]]]), B1Unit::MicroTesla);
    assert!((ut.to_relative(Some(5.0)).unwrap()[[0, 0, 1]] - 1.2).abs() < 1e-6);
    assert!(
        ut.to_relative(None).is_err(),
        "µT -> relative without nominal must fail"
    );
    // Flip angle in plain degrees (scale 1) from µT.
    let deg = ut
        .converted(
            B1Unit::FlipAngleDeg {
                nominal_deg: 90.0,
                scale: 1.0,
            },
            Some(5.0),
        )
        .unwrap();
    assert!((deg.magnitude[[0, 0, 1]] - 108.0).abs() < 1e-4);
}

#[test]
fn nominal_b1_of_a_rect_pulse() {
    // α = γ B1 τ: 90° in 1 ms -> B1 = (π/2) / (2π · 42.577 MHz/T · 1 ms) = 5.872 µT.
    let b = nominal_b1_ut_rect(90.0, 1e-3);
    assert!((b - 5.8717).abs() < 1e-3, "{b}");
}

#[test]
fn parse_units() {
    assert_eq!(
        B1Unit::parse("µT", None, None, "f", "unit").unwrap(),
        B1Unit::MicroTesla
    );
    assert_eq!(
        B1Unit::parse("deg", Some(80.0), Some(10.0), "f", "unit").unwrap(),
        B1Unit::FlipAngleDeg {
            nominal_deg: 80.0,
            scale: 10.0
        }
    );
    assert_eq!(
        B1Unit::parse("%", None, None, "f", "unit").unwrap(),
        B1Unit::Relative {
            fraction_or_percent: RelativeScale::Percent
        }
    );
    let e = B1Unit::parse("deg", Some(-5.0), None, "map.nii", "unit").unwrap_err();
    assert!(e.to_string().contains("map.nii"), "{e}");
    let e = B1Unit::parse("gauss", None, None, "map.nii", "unit").unwrap_err();
    assert!(e.to_string().contains("unknown B1 unit"), "{e}");
}
