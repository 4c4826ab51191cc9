//! Local-box boundary study (issue 19 item 2): tip 1 g SAR and tip temperature rise of a shipped
//! implant in the ASTM gel (64 MHz plane wave along it, 100 V/m) against the CPML thickness and the
//! scattered-field gap of the local box, with the cells, steps and run time of each run.
//!
//! `cargo run --release --example local_boundary_study -- IMPLANT CELL_MM PAD_MM CPML:GAP [CPML:GAP ...]`
//! e.g. `-- bare_ti_wire_200mm 2 10 8:3 6:3 4:2` (IMPLANT: a file name under phantoms/implants/).
use rftwin::implant::local::LocalOptions;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 4 {
        eprintln!("usage: local_boundary_study IMPLANT CELL_MM PAD_MM CPML:GAP [CPML:GAP ...]");
        std::process::exit(2);
    }
    let path = format!("phantoms/implants/{}.toml", a[0]);
    let text = std::fs::read_to_string(&path).expect("implant file");
    let implant = rftwin::implant::model::Implant::from_toml_str(&text, &path).expect("implant");
    let cell_m: f64 = a[1].parse::<f64>().expect("CELL_MM") * 1e-3;
    let pad_m: f64 = a[2].parse::<f64>().expect("PAD_MM") * 1e-3;
    for cg in &a[3..] {
        let (c, g) = cg.split_once(':').expect("CPML:GAP");
        let opt = LocalOptions {
            cell_m,
            pad_m,
            cpml_layers: c.parse().expect("CPML"),
            gap_cells: g.parse().expect("GAP"),
            ..LocalOptions::default()
        };
        let t0 = std::time::Instant::now();
        match rftwin::implant::lead_validation::tip_heating_with(&implant, &opt, 100.0) {
            Ok((sar, dt)) => println!(
                "{} cell {} mm pad {} mm cpml {c} gap {g}: tip 1 g SAR {sar:.4} W/kg, tip rise {dt:.4} K ({:.1} s)",
                a[0],
                cell_m * 1e3,
                pad_m * 1e3,
                t0.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
}
