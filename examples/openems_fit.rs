//! Fits twin maps made from the openEMS reference (src/twin/openems_fit.rs) and prints the result.
//! Env: CELL_MM (10), DETUNED (0/1), AMP (0.9), PHASE (10), NOISE (0.02), SEED (1).
use rftwin::twin::openems_fit::{fit_case, MapCase, Reference};
fn env(k: &str, d: f64) -> f64 {
    std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d)
}
fn main() -> rftwin::error::Result<()> {
    let case = MapCase {
        reference: if env("DETUNED", 0.0) > 0.0 { Reference::DetunedRung3 } else { Reference::Tuned },
        amplitude: env("AMP", 0.9),
        phase_deg: env("PHASE", 10.0),
        noise: env("NOISE", 0.02),
        seed: env("SEED", 1.0) as u64,
        fit_caps: env("CAPS", 0.0) > 0.0,
    };
    let work = std::env::temp_dir().join(format!("rftwin-openems-fit-{}", std::process::id()));
    let cache = std::env::temp_dir().join("rftwin-openems-fit-cache");
    let o = fit_case(&case, env("CELL_MM", 10.0) * 1e-3, &work, Some(&cache))?;
    println!("{case:?}");
    println!(
        "amplitude {:.4} [{:.4}, {:.4}]  phase {:.2} [{:.2}, {:.2}] deg",
        o.amplitude, o.amplitude_ci95[0], o.amplitude_ci95[1], o.phase_deg, o.phase_ci95_deg[0], o.phase_ci95_deg[1]
    );
    println!("nrmse {:.4} (noise {:.4}, ratio {:.2}), corr {:.4}, converged {}, gate {:?}", o.nrmse, o.noise, o.nrmse / o.noise, o.correlation, o.converged, o.gate);
    if let Some(cf) = &o.capacitors {
        println!("caps: nrmse {:.4} -> {:.4}, {} iterations, converged {}", cf.nrmse_before, cf.nrmse, cf.iterations, cf.converged);
        for c in &cf.capacitors {
            println!("  {:24} {:+.4} [{:+.4}, {:+.4}] identified {}", c.port, c.deviation, c.deviation_ci95[0], c.deviation_ci95[1], c.identified);
        }
    }
    println!("{}", serde_json::to_string_pretty(&o.fit_json["fit_gate"]).unwrap());
    Ok(())
}
