//! Regression comparison on synthetic result directories: an unchanged copy passes; a field scaled by
//! 5 % (B1+ complex, SAR real) or a summary quantity moved by 5 % fails against 1 % tolerances, and the
//! messages name the quantity and the change; a missing dataset or quantity fails.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use num_complex::Complex32;
use rftwin::io::{write_h5_fields, FieldDataset};
use rftwin::report::regress::{compare_dirs, Tolerances};
use rftwin::report::{criteria, write_report, Report};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-regress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A result directory: summary (SAR and ΔT with a criterion) + fields.h5 (complex B1+, real SAR).
/// `b1_scale`, `sar_scale` scale the fields; `dt_scale` the ΔT quantity.
fn result_dir(dir: &Path, b1_scale: f32, sar_scale: f32, dt_scale: f64) {
    let mut r = Report::new("regress test");
    r.date_utc = "2026-01-01T00:00:00Z".into();
    r.quantity(criteria::KEY_SAR_10G, 3.2 * sar_scale as f64, "W/kg", "peak 10 g SAR");
    r.quantity(criteria::KEY_TEMPERATURE_RISE, 1.234 * dt_scale, "K", "max ΔT");
    r.quantity("grid.cells", 4096.0, "", "cells");
    let c = criteria::Criterion {
        id: "temperature_rise".into(),
        label: "ΔT".into(),
        value_key: criteria::KEY_TEMPERATURE_RISE.into(),
        unit: "K".into(),
        limit: 2.0,
        uncertainty_factor: 1.0,
    };
    criteria::evaluate(&mut r, &[c]).unwrap();
    write_report(&r, dir, true).unwrap();

    let n = 16;
    let b1 = Array3::from_shape_fn((n, n, n), |(i, j, k)| {
        let (x, y, z) = (i as f32 / n as f32, j as f32 / n as f32, k as f32 / n as f32);
        Complex32::from_polar(1e-6 * (1.0 + x * y - 0.3 * z), 0.5 * x - y) * b1_scale
    });
    // SAR is zero outside a "phantom" (the mask), large inside.
    let sar = Array3::from_shape_fn((n, n, n), |(i, j, k)| {
        if (4..12).contains(&i) && (4..12).contains(&j) {
            Complex32::new(sar_scale * (1.0 + (i * j + k) as f32 * 0.01), 0.0)
        } else {
            Complex32::new(0.0, 0.0)
        }
    });
    let ds = |name: &str, data, unit| FieldDataset {
        name: name.into(),
        data,
        origin_m: [0.0; 3],
        spacing_m: [0.01; 3],
        unit,
        freq_hz: 63.87e6,
        quantity: "test",
    };
    write_h5_fields(
        &dir.join("fields.h5"),
        &[ds("b1/plus", &b1, "T"), ds("sar/local", &sar, "W/kg")],
    )
    .unwrap();
}

#[test]
fn unchanged_passes_and_five_percent_fails_with_named_change() {
    let root = tmp("main");
    let golden = root.join("golden");
    result_dir(&golden, 1.0, 1.0, 1.0);
    let tol = Tolerances::default();

    let same = root.join("same");
    result_dir(&same, 1.0, 1.0, 1.0);
    let c = compare_dirs(&golden, &same, &tol).unwrap();
    assert!(c.pass(), "{}", c.text());
    assert_eq!(c.exit_code(), 0);
    // 3 summary quantities + 3 criterion quantities + verdict + 1 criterion + 2 datasets × 2 metrics.
    assert_eq!(c.checks.len(), 12, "{:#?}", c.checks);

    // B1+ field scaled by 5 %: NRMSE and peak both 5 %.
    let b1 = root.join("b1");
    result_dir(&b1, 1.05, 1.0, 1.0);
    let c = compare_dirs(&golden, &b1, &tol).unwrap();
    assert!(!c.pass());
    assert_eq!(c.exit_code(), 1);
    let f = c.failures();
    assert_eq!(f.len(), 2, "{}", c.text());
    for x in &f {
        assert!(x.what.starts_with("fields.h5:/b1/plus"), "{}", x.what);
        assert!((x.change - 0.05).abs() < 1e-5, "{} {}", x.what, x.change);
    }
    let text = c.text();
    assert!(text.contains("fields.h5:/b1/plus: NRMSE 5.000 %"), "{text}");

    // SAR scaled by 5 % in both the field and the summary.
    let sar = root.join("sar");
    result_dir(&sar, 1.0, 1.05, 1.0);
    let c = compare_dirs(&golden, &sar, &tol).unwrap();
    let text = c.text();
    assert!(
        text.contains("summary:sar.peak_10g: 3.200 W/kg -> 3.360 W/kg (+5.000 %"),
        "{text}"
    );
    assert!(text.contains("fields.h5:/sar/local: peak |value|"), "{text}");
    assert!(text.contains("fields.h5:/sar/local: NRMSE 5.000 %"), "{text}");
    // A per-class tolerance of 6 % on SAR lets the same change through.
    let loose = Tolerances {
        classes: vec![("sar.".into(), 0.06), ("fields.h5:/sar/".into(), 0.06)],
        ..Default::default()
    };
    let c = compare_dirs(&golden, &sar, &loose).unwrap();
    assert!(c.pass(), "{}", c.text());
    // The same tolerances stated in the golden directory's tolerances.toml.
    std::fs::write(
        golden.join("tolerances.toml"),
        "[classes]\n\"sar.\" = 0.06\n\"fields.h5:/sar/\" = 0.06\n",
    )
    .unwrap();
    let stated = Tolerances::for_golden_dir(&golden).unwrap();
    assert!(compare_dirs(&golden, &sar, &stated).unwrap().pass());
    std::fs::write(golden.join("tolerances.toml"), "field_nrmse = -1\nfeld_peak = 2\n").unwrap();
    let e = Tolerances::for_golden_dir(&golden).unwrap_err().to_string();
    assert!(e.contains("tolerances.toml") && e.contains("feld_peak"), "{e}");
    std::fs::write(golden.join("tolerances.toml"), "field_nrmse = -1\n").unwrap();
    let e = Tolerances::for_golden_dir(&golden).unwrap_err().to_string();
    assert!(e.contains("field_nrmse"), "{e}");
    std::fs::remove_file(golden.join("tolerances.toml")).unwrap();

    // ΔT up by 70 %: the quantity moves and the criterion verdict flips (1.234 → 2.098 K > 2 K).
    let hot = root.join("hot");
    result_dir(&hot, 1.0, 1.0, 1.7);
    let c = compare_dirs(&golden, &hot, &tol).unwrap();
    let text = c.text();
    assert!(text.contains("verdict: PASS -> FAIL"), "{text}");
    assert!(text.contains("criterion:temperature_rise: PASS -> FAIL"), "{text}");
    assert!(
        text.contains("summary:thermal.max_temperature_rise: 1.234 K -> 2.098 K (+70.00 %"),
        "{text}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn missing_items_fail_and_bad_dirs_are_errors() {
    let root = tmp("missing");
    let golden = root.join("golden");
    result_dir(&golden, 1.0, 1.0, 1.0);
    let new = root.join("new");
    result_dir(&new, 1.0, 1.0, 1.0);
    // Drop the SAR dataset: rewrite fields.h5 with B1+ only.
    let n = 16;
    let b1 = Array3::from_shape_fn((n, n, n), |(i, j, k)| {
        let (x, y, z) = (i as f32 / n as f32, j as f32 / n as f32, k as f32 / n as f32);
        Complex32::from_polar(1e-6 * (1.0 + x * y - 0.3 * z), 0.5 * x - y)
    });
    std::fs::remove_file(new.join("fields.h5")).unwrap();
    write_h5_fields(
        &new.join("fields.h5"),
        &[FieldDataset {
            name: "b1/plus".into(),
            data: &b1,
            origin_m: [0.0; 3],
            spacing_m: [0.01; 3],
            unit: "T",
            freq_hz: 63.87e6,
            quantity: "test",
        }],
    )
    .unwrap();
    let c = compare_dirs(&golden, &new, &Tolerances::default()).unwrap();
    let f = c.failures();
    assert_eq!(f.len(), 1, "{}", c.text());
    assert!(
        f[0].message.contains("fields.h5:/sar/local: dataset missing"),
        "{}",
        f[0].message
    );

    // Not a directory / empty golden: errors naming the path.
    let e = compare_dirs(&root.join("nope"), &new, &Tolerances::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(compare_dirs(&empty, &new, &Tolerances::default()).is_err());
    std::fs::remove_dir_all(&root).unwrap();
}
