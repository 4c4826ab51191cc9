//! `twin fit --fit-caps` on cached ports (issue 16 item 5 / Speed): the basis cache holds the
//! co-simulation's port basis (Z(f), the isocentre H over the band, E and H per port), so a fit with
//! capacitor deviations whose bases are not cached rebuilds them by circuit algebra from the cached
//! ports, with no FDTD run, and gets the same fit as the run that made the ports.

mod common;
use common::bin;

fn fit_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("fit.json")).unwrap()).unwrap()
}

#[test]
fn a_capacitor_fit_on_cached_ports_makes_no_fdtd_run() {
    let d = common::tmpdir("ports");
    let root = env!("CARGO_MANIFEST_DIR");
    let coil = format!("{root}/coils/ref_3t_lp8.toml");
    let phantom = format!("{root}/phantoms/ref_gel_cylinder.toml");
    let map = d.join("map.h5");
    let o = bin()
        .args(["twin", "synth", "--model", "cosim", "--coil", &coil, "--phantom", &phantom])
        .args(["--cell-mm", "10", "--voxel-mm", "10", "--imbalance", "1.05", "--phase-deg", "3"])
        .args(["--noise", "0.01", "--out"])
        .arg(&map)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let cache = d.join("cache");
    let fit = |out: &str| {
        let o = bin()
            .args(["twin", "fit", "--model", "cosim", "--fit-caps", "--quiet", "--coil", &coil, "--phantom", &phantom])
            .args(["--cell-mm", "10", "--measured"])
            .arg(&map)
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(d.join(out))
            .output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        fit_json(&d.join(out))
    };
    let first = fit("first");
    let runs = |v: &serde_json::Value| v["full"]["fdtd_runs"].as_u64().unwrap();
    assert!(runs(&first) > 0, "the first fit made the port runs");
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(files.iter().filter(|f| f.starts_with("ports-")).count(), 1, "{files:?}");
    // Only the ports stay: both calibrations' bases (tuned and fitted capacitors) must be rebuilt.
    for f in files.iter().filter(|f| f.starts_with("basis-")) {
        std::fs::remove_file(cache.join(f)).unwrap();
    }
    let second = fit("second");
    assert_eq!(runs(&second), 0, "the fit on cached ports ran FDTD");
    for key in ["capacitors", "calibration"] {
        assert_eq!(first[key], second[key], "{key} differs between the fits");
    }
    // A damaged port file is not trusted: the port runs are made again.
    let ports = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("ports-"))
        .unwrap();
    let mut bytes = std::fs::read(&ports).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x55;
    std::fs::write(&ports, bytes).unwrap();
    for f in std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()) {
        if f.file_name().unwrap().to_string_lossy().starts_with("basis-") {
            std::fs::remove_file(f).unwrap();
        }
    }
    let third = fit("third");
    assert!(runs(&third) > 0, "a corrupted port file was used");
    assert_eq!(first["capacitors"], third["capacitors"]);
}
