//! Electrode current of straight leads in the ASTM gel against length: rftwin's local run (the
//! implant file's lead as the sub-cell thin wire, 64 MHz plane wave with 1 V/m along the lead) beside
//! the transmission-line reference (`tests/data/lead_tl`), as the `lead_tl_*` validation cases compare.
//!
//! `cargo run --release --example lead_currents -- bare|both_bare|tip_sealed CELL_M LENGTH_M [LENGTH_M ...]`
//! e.g. `-- both_bare 0.003 0.2 0.3 0.4`.
use rftwin::implant::lead_validation::{electrode_current, lead_wire_current, tl_curve, LeadKind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: lead_currents bare|both_bare|tip_sealed CELL_M LENGTH_M [LENGTH_M ...]";
    if args.len() < 3 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let kind = match args[0].as_str() {
        "bare" => LeadKind::Bare,
        "both_bare" => LeadKind::BothBare,
        "tip_sealed" => LeadKind::TipSealed,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let nums: Vec<f64> = args[1..]
        .iter()
        .map(|a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("{usage}");
                std::process::exit(2)
            })
        })
        .collect();
    let tl = tl_curve(kind, 64e6).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    println!("TL resonant length {:.3} m", tl.resonant_length_m);
    println!("length_m  |I_e| rftwin (mA per V/m)  |I_e| TL  ratio  seconds");
    for &l in &nums[1..] {
        let t0 = std::time::Instant::now();
        match lead_wire_current(kind, l, nums[0], 1.0) {
            Ok(c) => {
                let i = electrode_current(&c).norm();
                let r = tl.at(l).norm();
                println!(
                    "{l:8.3}  {:22.4}  {:8.4}  {:5.3}  {:.1}",
                    i * 1e3,
                    r * 1e3,
                    i / r,
                    t0.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
}
