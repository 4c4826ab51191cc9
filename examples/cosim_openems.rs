//! Co-simulates the openEMS reference coil (coils/ref_3t_lp8.toml + phantoms/ref_gel_cylinder.toml)
//! at a cell size (env CELL_MM, default 10) and prints the comparison with tests/data/openems_lp8.
fn main() -> rftwin::error::Result<()> {
    let cell_mm: f64 = std::env::var("CELL_MM").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let c = rftwin::coil::cosim_validation::compare(cell_mm * 1e-3)?;
    println!("cell {cell_mm} mm: port runs {:.1} s", c.port_runs_s);
    println!("|B1+| NRMSE in the gel (normalised to centre): {:.4}", c.nrmse);
    println!(
        "B1-/B1+ centre: {:.4} (openEMS {:.4})",
        c.b1m_over_b1p_centre,
        c.reference.b1m_centre.norm() / c.reference.b1p_centre.norm()
    );
    println!(
        "|B1+| centre per sqrt(W): {:.4} uT (openEMS {:.4})",
        c.b1p_centre_ut_per_sqrt_w, c.ref_b1p_centre_ut_per_sqrt_w
    );
    println!(
        "Zin port 1, tuned: {:.3}; at C = 2.661 pF: {:.3} (openEMS {:.3}) ohm",
        c.zin_ohm, c.zin_at_reference_c_ohm, c.reference.zin_ohm
    );
    println!(
        "tuned C: {:.4} pF (openEMS {:.4} pF)",
        c.tuned_capacitance_f * 1e12,
        c.reference.capacitance_f * 1e12
    );
    Ok(())
}
