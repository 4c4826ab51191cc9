//! When a twin fit is not to be trusted (issue 16, item 6): a map whose noise is far below the
//! model's own error must not pass as a calibration (exit 1 with the reason), and options that do
//! not fit the model are refused (exit 2).

mod common;
use common::{bin, tmpdir};

use std::path::PathBuf;

use rftwin::twin::openems_fit::{fit_case, MapCase, Reference};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The openEMS map with 0.5 % noise: the 10 mm twin's own error (about 1.9 % NRMSE against this
/// reference) is then about four times the noise, which the gate must refuse, while the same map
/// with 2 % noise passes (the validation case `twin_openems_fit_residual`).
#[test]
fn a_residual_far_above_the_noise_fails_the_gate() {
    let dir = tmpdir("gate");
    let case = MapCase {
        reference: Reference::Tuned,
        amplitude: 0.9,
        phase_deg: 10.0,
        noise: 0.005,
        seed: 3,
        fit_caps: false,
    };
    let o = fit_case(&case, 0.010, &dir.join("work"), Some(&dir.join("cache"))).unwrap();
    let why = o.gate.clone().expect("a fit 4x above the noise must fail the gate");
    assert!(why.contains("times the noise"), "{why}");
    assert!(o.nrmse / o.noise > 1.5, "nrmse {} noise {}", o.nrmse, o.noise);
    let gate = &o.fit_json["fit_gate"];
    assert_eq!(gate["noise_from"], "background", "{gate}");
    assert!(gate["failure"].is_string(), "{gate}");
}

#[test]
fn fit_caps_needs_the_cosim_model() {
    let dir = tmpdir("caps");
    let o = bin()
        .args(["twin", "fit", "--quiet", "--cell-mm", "20", "--no-cache", "--fit-caps", "--model", "ideal"])
        .arg("--coil")
        .arg(root().join("coils/body_1p5t_hp16.toml"))
        .arg("--phantom")
        .arg(root().join("phantoms/astm_f2182.toml"))
        .arg("--measured")
        .arg(root().join("phantoms/measured/astm_1p5t_b1plus.nii.gz"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--fit-caps") && err.contains("--model cosim"), "{err}");
    assert!(!dir.join("out").exists(), "no output directory for refused options");
}
