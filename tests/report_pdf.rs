//! Report writer: a synthetic report with known numbers is written (PDF + PNG + summary.json); the PDF
//! text (pdftotext) contains every quantity exactly as summary.json formats it, Unicode symbols survive,
//! pages render (pdftoppm), and a killed writer leaves no output directory. The poppler tools are
//! optional: those checks are skipped with a message when the tools are absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use rftwin::report::criteria::{self, Criterion};
use rftwin::report::summary::Summary;
use rftwin::report::{format_quantity, write_report, Cell, InputFile, Report, Section, Table, Verdict};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small RGB gradient PNG (w × h).
fn write_png(path: &Path, w: u32, h: u32) {
    let f = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().unwrap();
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 128]);
        }
    }
    wr.write_image_data(&data).unwrap();
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("-v").output().is_ok()
}

/// A report with awkward numbers, Unicode, a long table (page breaks) and two figures.
fn synthetic(dir: &Path) -> Report {
    let mut r = Report::new("Implant RF-heating assessment — synthetic test");
    r.subtitle = "1.5 T body coil, ASTM F2182 phantom, insulated wire 20 cm".into();
    r.date_utc = "2026-11-27T12:00:00Z".into();
    r.quantity(
        criteria::KEY_TEMPERATURE_RISE,
        1.6180339,
        "K",
        "maximum temperature rise ΔT at the implant",
    );
    r.quantity(criteria::KEY_SAR_10G, 3.2109876, "W/kg", "peak 10 g averaged SAR");
    r.quantity(criteria::KEY_SAR_1G, 12.98765, "W/kg", "peak 1 g averaged SAR");
    r.quantity(
        criteria::KEY_CEM43,
        0.000123456,
        "min",
        "thermal dose CEM43 at the hottest probe",
    );
    r.quantity("b1.rms", 2.5, "µT", "B1+rms at the isocentre");
    r.quantity("thermal.baseline", 37.0, "°C", "baseline temperature");
    r.quantity("grid.voxels", 123456.0, "", "voxels of the coil model");
    r.quantity("twin.phase_error", -3.97, "°", "fitted quadrature phase error");
    r.quantity("phantom.volume", 0.0245, "m³", "gel volume");
    r.quantity(
        "sar.whole_phantom",
        2.0,
        "W/kg",
        "whole-phantom SAR after normalisation",
    );
    for i in 0..60 {
        r.quantity(
            &format!("probe.p{i:02}.delta_t"),
            0.01 * (i as f64 + 1.0) + 0.00037,
            "K",
            "probe ΔT",
        );
    }
    let crit = vec![
        Criterion {
            id: "temperature_rise".into(),
            label: "Max temperature rise ΔT at the implant".into(),
            value_key: criteria::KEY_TEMPERATURE_RISE.into(),
            unit: "K".into(),
            limit: 2.0,
            uncertainty_factor: 1.5,
        },
        Criterion {
            id: "sar_10g".into(),
            label: "Peak 10 g SAR".into(),
            value_key: criteria::KEY_SAR_10G.into(),
            unit: "W/kg".into(),
            limit: 10.0,
            uncertainty_factor: 1.2,
        },
    ];
    criteria::evaluate(&mut r, &crit).unwrap();

    let input = dir.join("coil.toml");
    std::fs::write(&input, "name = \"test coil\"\n").unwrap();
    r.inputs.push(InputFile::hash("coil", &input).unwrap());

    let f1 = dir.join("map_src.png");
    let f2 = dir.join("tall_src.png");
    write_png(&f1, 320, 200);
    write_png(&f2, 100, 400);
    let rows: Vec<Vec<Cell>> = (0..60)
        .map(|i| {
            vec![
                Cell::text(format!("probe {i}")),
                Cell::num(&format!("probe.p{i:02}.delta_t")),
            ]
        })
        .collect();
    r.sections.push(
        Section::new("Coil twin")
            .paragraph("The whole-phantom SAR was normalised to {sar.whole_phantom} at B1+rms = {b1.rms}; the fitted phase error is {twin.phase_error}. Baseline {thermal.baseline}, gel volume {phantom.volume}, {grid.voxels} voxels. Criterion: ΔT ≤ 2 K.")
            .figure(&f1, "sar_map.png", "Peak 10 g SAR map (W/kg) in the coronal plane through the implant."),
    );
    r.sections.push(
        Section::new("Temperature at the probes")
            .paragraph("Peak 1 g SAR {sar.peak_1g}; CEM43 {thermal.cem43}; ΔT {thermal.max_temperature_rise}.")
            .table(Table {
                caption: "Temperature rise at the probes".into(),
                header: vec!["Probe".into(), "ΔT (K)".into()],
                rows,
            })
            .figure(&f2, "probe_curves.png", "Temperature–time curves at the probes."),
    );
    r
}

#[test]
fn pdf_numbers_equal_summary_json() {
    let dir = tmp("pdf");
    let r = synthetic(&dir);
    assert_eq!(r.verdict(), Verdict::Fail, "ΔT 1.618 × 1.5 = 2.43 K > 2 K must fail");
    let out = dir.join("out");
    write_report(&r, &out, false).unwrap();
    for f in ["report.pdf", "summary.json", "sar_map.png", "probe_curves.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // No temporary directory left next to the output.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    // A second write without overwrite is refused.
    assert!(write_report(&r, &out, false).is_err());
    // The same report gives the same bytes (reproducible PDFs for golden results).
    let again = dir.join("again");
    write_report(&r, &again, false).unwrap();
    for f in ["report.pdf", "summary.json"] {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(again.join(f)).unwrap(),
            "{f} differs"
        );
    }
    std::fs::remove_dir_all(&again).unwrap();

    let s = Summary::load(&out.join("summary.json")).unwrap();
    assert_eq!(s.quantities.len(), r.quantities.len());
    assert_eq!(s.verdict, Verdict::Fail);
    assert_eq!(s.criteria.len(), 2);
    assert_eq!(s.criteria[0].verdict, Verdict::Fail);
    assert_eq!(s.criteria[1].verdict, Verdict::Pass);
    assert!((s.criteria[0].assessed - 1.6180339 * 1.5).abs() < 1e-12);
    for q in &s.quantities {
        assert_eq!(q.text, format_quantity(q.value, &q.unit), "{}", q.key);
        let orig = r.get(&q.key).unwrap();
        // serde_json's default float parser may be off by one unit in the last place.
        assert!(
            (q.value - orig.value).abs() <= 4.0 * f64::EPSILON * orig.value.abs(),
            "{}: full precision",
            q.key
        );
    }
    assert_eq!(s.inputs[0].sha256.len(), 64);
    schema_check(&out.join("summary.json"));

    if !tool("pdftotext") {
        eprintln!("SKIP text checks: pdftotext not installed (apt-get install poppler-utils)");
        return;
    }
    let o = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(out.join("report.pdf"))
        .arg("-")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    // Whitespace-normalised text, for matches across line breaks.
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut missing = Vec::new();
    for q in &s.quantities {
        if !flat.contains(&q.text) {
            missing.push(format!("{} = '{}'", q.key, q.text));
        }
    }
    assert!(missing.is_empty(), "quantities not found in the PDF text: {missing:?}");
    for needle in [
        "Overall verdict: FAIL",
        "PASS",
        "ΔT ≤ 2 K",
        "2.500 µT",
        "37.00 °C",
        "0.02450 m³",
        "-3.970 °",
        "1.235e-4 min",
        "1.235e5 voxels",
        "normalised to 2.000 W/kg",
        &s.inputs[0].sha256,
        "Temperature–time curves",
    ] {
        assert!(flat.contains(needle), "'{needle}' not in PDF text");
    }
    let pages = flat.matches("page 1 of ").count();
    assert_eq!(pages, 1);
    let n: usize = flat
        .split("page 1 of ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(
        n >= 5,
        "expected title, 2 sections (table over pages), appendix: {n} pages"
    );
    assert!(flat.contains(&format!("page {n} of {n}")));

    if !tool("pdftoppm") {
        eprintln!("SKIP render check: pdftoppm not installed");
        return;
    }
    let prefix = dir.join("page");
    let o = Command::new("pdftoppm")
        .args(["-r", "20", "-png"])
        .arg(out.join("report.pdf"))
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        o.stderr.is_empty(),
        "pdftoppm warnings: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rendered = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("page"))
        .count();
    assert_eq!(rendered, n, "every page renders");
    if std::env::var_os("RFTWIN_KEEP_TEST_OUTPUT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Validates summary.json against reports/summary.schema.json when Python's `jsonschema` is present.
fn schema_check(summary: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/summary.schema.json");
    let script = "import json,sys,jsonschema\n\
        s=json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(s)\n\
        jsonschema.validate(json.load(open(sys.argv[2])), s)\n";
    let has = Command::new("python3").args(["-c", "import jsonschema"]).output();
    if !has.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP schema check: python3 with jsonschema not available");
        return;
    }
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(summary)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "summary.json does not match the schema: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_reports_are_refused_with_named_problems() {
    let dir = tmp("bad");
    let mut r = synthetic(&dir);
    r.sections
        .push(Section::new("Broken").paragraph("uses {no.such.key}").figure(
            &dir.join("absent.png"),
            "x.png",
            "absent",
        ));
    let e = write_report(&r, &dir.join("out"), false).unwrap_err().to_string();
    assert!(e.contains("no.such.key") && e.contains("absent.png"), "{e}");
    assert!(!dir.join("out").exists());
    // A figure that is not a PNG: the error names the file.
    let mut r = synthetic(&dir);
    let fake = dir.join("fake.png");
    std::fs::write(&fake, b"not a png").unwrap();
    r.sections.push(Section::new("Fake").figure(&fake, "fake.png", "fake"));
    let e = write_report(&r, &dir.join("out2"), false).unwrap_err().to_string();
    assert!(e.contains("fake.png"), "{e}");
    assert!(!dir.join("out2").exists(), "no partial output after an error");
    std::fs::remove_dir_all(&dir).unwrap();
}

const CHILD_ENV: &str = "RFTWIN_REPORT_KILL_CHILD_DIR";

/// Child half of `killed_writer_leaves_no_output`: opens the atomic dir, writes part of the report,
/// signals, then waits to be killed. Runs only when the parent sets the environment variable.
#[test]
#[ignore]
fn child_writes_then_hangs() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let dir = PathBuf::from(dir);
    let ad = rftwin::io::AtomicDir::new(&dir.join("out"), &rftwin::io::OutputPolicy::new("test", false)).unwrap();
    std::fs::write(ad.path("summary.json"), "{ \"partial\": ").unwrap();
    std::fs::write(dir.join("ready"), "").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn killed_writer_leaves_no_output() {
    let dir = tmp("kill");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "child_writes_then_hangs", "--test-threads", "1"])
        .env(CHILD_ENV, &dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !dir.join("ready").exists() {
        assert!(t0.elapsed().as_secs() < 30, "child did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(
        !dir.join("out").exists(),
        "a killed run must not leave the output directory"
    );
    // What remains is only the hidden temporary directory, never under the final name.
    for e in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
        let n = e.file_name().to_string_lossy().to_string();
        // (and the run's lock file, which the next run into this parent takes and removes)
        assert!(
            n == "ready" || n.starts_with(".out.tmp-") || n == ".out.lock-rftwin",
            "unexpected entry {n}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
