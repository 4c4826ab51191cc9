//! Grid convergence of the tip 1 g SAR of a bare wire in the ASTM gel (64 MHz plane wave along the
//! wire, fine-grid TF/SF box with the sub-cell thin wire; `implant::validation::wire_tip_sar_1g_with`).
//!
//! `cargo run --release --example tip_sar_convergence -- LENGTH_M RADIUS_M PAD_M CELL_M [CELL_M ...]`
//! e.g. `-- 0.05 0.0002 0.008 0.002 0.001 0.0005` (the 0.5 mm run takes ~2 min on 2 cores).
fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: LENGTH_M RADIUS_M PAD_M CELL_M..."))
        .collect();
    if args.len() < 4 {
        eprintln!("usage: tip_sar_convergence LENGTH_M RADIUS_M PAD_M CELL_M [CELL_M ...]");
        std::process::exit(2);
    }
    let (len, r, pad) = (args[0], args[1], args[2]);
    for &c in &args[3..] {
        match rftwin::implant::validation::wire_tip_sar_1g_with(len, r, c, pad, None) {
            Ok((s, t)) => println!(
                "length {len} m, radius {r} m, pad {pad} m, cell {c} m: peak tip 1 g SAR {s:.4} W/kg ({t:.1} s)"
            ),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
}
