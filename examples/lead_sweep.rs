//! Length sweep of tip heating (issue 18, item 5): the peak 1 g SAR at the tip of a straight lead in
//! the ASTM gel against its length, for a bare Ti wire (radius 0.5 mm) and for a PTFE-insulated wire
//! (0.25 mm, εr 2.1) with a 1 cm bare tip and a sealed far end, each centred in the gel along z in a
//! 64 MHz plane wave with E along the lead (a uniform tangential field, as in the references), from
//! rftwin's local run (fine grid, sub-cell thin wire; `implant::lead_validation::lead_end_sar`).
//! The plot puts the independent references on the same axes:
//! - insulated lead: the transmission-line tip potential × the finite-element tip near field
//!   (`tests/data/lead_tl`, `tests/data/lead_tip`; W/kg per (V/m)², incident field included);
//! - bare wire: the transmission-line electrode current squared (`tests/data/lead_tl`), which has no
//!   finite-element near field, scaled to rftwin's largest value (a shape reference only).
//!
//! `cargo run --release --example lead_sweep -- [OUT.png] [CELL_M] [LENGTH_M ...]`
//! (defaults: `lead_sweep.png`, 0.002, 0.10 0.15 ... 0.50; about a minute per run on two cores).
//! Prints a table of SAR per (V/m)² (multiply by E² for a field of E V/m along the lead).
use rftwin::implant::lead_validation::{lead_end_sar, tip_sar_reference_curve, tl_curve, LeadKind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().cloned().unwrap_or_else(|| "lead_sweep.png".into());
    let cell: f64 = match args.get(1).map(|a| a.parse()) {
        None => 0.002,
        Some(Ok(v)) => v,
        Some(Err(_)) => fail("CELL_M must be a number of metres, e.g. 0.002"),
    };
    let lengths: Vec<f64> = if args.len() > 2 {
        args[2..]
            .iter()
            .map(|a| {
                a.parse()
                    .unwrap_or_else(|_| fail("LENGTH_M must be numbers of metres, e.g. 0.2"))
            })
            .collect()
    } else {
        (0..9).map(|i| 0.10 + 0.05 * i as f64).collect()
    };
    if let Err(e) = run(&out, cell, &lengths) {
        fail(&e.to_string());
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("lead_sweep: {msg}");
    std::process::exit(2)
}

fn run(out: &str, cell: f64, lengths: &[f64]) -> rftwin::error::Result<()> {
    let f = 64e6;
    let e0 = 1.0;
    let mut bare = Vec::new();
    let mut ins = Vec::new();
    println!(
        "length_m  bare_tip_sar_1g  insulated_tip_sar_1g  insulated_far_end_sar_1g   (W/kg per (V/m)^2, {} mm cells)",
        cell * 1e3
    );
    for &l in lengths {
        let (b, _) = lead_end_sar(LeadKind::Bare, l, cell, e0)?;
        let (t, far) = lead_end_sar(LeadKind::TipSealed, l, cell, e0)?;
        println!("{l:8.3}  {b:15.4e}  {t:20.4e}  {far:24.4e}");
        bare.push(b);
        ins.push(t);
    }
    let (ref_l, ref_ins) = tip_sar_reference_curve(LeadKind::TipSealed, f)?;
    let tl = tl_curve(LeadKind::Bare, f)?;
    let lo = lengths.iter().cloned().fold(f64::INFINITY, f64::min) - 1e-9;
    let hi = lengths.iter().cloned().fold(f64::NEG_INFINITY, f64::max) + 1e-9;
    let (mut rl, mut rs) = (Vec::new(), Vec::new());
    for (l, s) in ref_l.iter().zip(&ref_ins) {
        if *l >= lo && *l <= hi {
            rl.push(*l);
            rs.push(*s);
        }
    }
    let (mut bl, mut bi) = (Vec::new(), Vec::new());
    for (l, i) in tl.lengths_m.iter().zip(&tl.i_tip) {
        if *l >= lo && *l <= hi {
            bl.push(*l);
            bi.push(i.norm_sqr());
        }
    }
    let peak_fdtd = bare.iter().cloned().fold(0.0, f64::max);
    let peak_tl = bi.iter().cloned().fold(0.0, f64::max);
    let scale = if peak_tl > 0.0 { peak_fdtd / peak_tl } else { 0.0 };
    let bi: Vec<f64> = bi.iter().map(|v| v * scale).collect();
    let plot = rftwin::plot::LinePlot::new(
        "Tip 1 g SAR vs lead length, ASTM gel, 64 MHz, uniform E along the lead",
        "lead length (m)",
        "tip 1 g SAR (W/kg per (V/m)^2)",
    )
    .series("rftwin: bare Ti wire", lengths, &bare)
    .series("rftwin: insulated, 1 cm bare tip, sealed far end", lengths, &ins)
    .series("TL x FEM reference: insulated, bare tip", &rl, &rs)
    .series("TL |I_e|^2, bare wire (scaled to rftwin's peak)", &bl, &bi)
    .size(1000, 600);
    rftwin::plot::line_plot(std::path::Path::new(out), &plot)?;
    println!("wrote {out}");
    Ok(())
}
