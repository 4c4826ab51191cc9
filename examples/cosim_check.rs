//! Co-simulates a coil + phantom and prints the port runs made, the mirror planes used, the time,
//! the tuned capacitors and the feeds. Usage: cosim_check COIL PHANTOM CELL_MM. Env SYM=0: no
//! mirror symmetry; PULSE_BW: the pulse bandwidth relative to the band (default: PortRunOptions's);
//! COMPARE=1: also without symmetry (and with the pulse bandwidth REF_PULSE_BW if given), and the
//! differences in B1+, Z at Larmor and tuned capacitance between the two.
use num_complex::Complex64;
use rftwin::coil::cosim::{self, PortRunOptions};
use rftwin::coil::fdtd_model::{self, Gaps, MeshOptions, ModelKind};
use rftwin::coil::{CoilConfig, PhantomConfig};

fn main() -> rftwin::error::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let coil = CoilConfig::load(a[1].as_ref())?;
    let ph = PhantomConfig::load(a[2].as_ref())?;
    let cell: f64 = a[3].parse().expect("cell mm");
    let opt = MeshOptions {
        cell_m: cell * 1e-3,
        ..MeshOptions::default()
    };
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::for_type(coil.coil_type)), &opt)?;
    let ports = cosim::cosim_ports(&coil, &mut mesh)?;
    let mut po = PortRunOptions {
        use_symmetry: std::env::var("SYM").map_or(true, |v| v != "0"),
        ..Default::default()
    };
    if let Some(bw) = std::env::var("PULSE_BW").ok().and_then(|v| v.parse().ok()) {
        po.pulse_bandwidth = bw;
    }
    let pb = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &po, None)?;
    println!(
        "{} ports, {} FDTD runs, mirrors {:?}, {:.1} s, steps {:?}",
        pb.n(),
        pb.fdtd_runs,
        pb.mirror_axes,
        pb.seconds,
        pb.run_steps.iter().max()
    );
    let (circ, t) = cosim::tune(&coil, &pb, 1e-5)?;
    println!("{}", serde_json::to_string(&t).unwrap());
    println!("{}", serde_json::to_string(&cosim::feed_reports(&coil, &pb, &circ)?).unwrap());
    let emf = [Complex64::new(1.0, 0.0), Complex64::new(0.0, -1.0)];
    let b = cosim::b1_plus_of(&pb, &circ, &emf)?;
    if std::env::var("COMPARE").is_ok_and(|v| v == "1") {
        po.use_symmetry = false;
        if let Some(bw) = std::env::var("REF_PULSE_BW").ok().and_then(|v| v.parse().ok()) {
            po.pulse_bandwidth = bw;
        }
        let pb2 = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &po, None)?;
        let b2 = cosim::b1_plus_of(&pb2, &circ, &emf)?;
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (x, y) in b.data.iter().zip(b2.data.iter()) {
            num += (x - y).norm_sqr() as f64;
            den += y.norm_sqr() as f64;
        }
        println!(
            "reference (no symmetry, pulse bandwidth {}): {} runs, {:.1} s, steps {:?}; B1+ relative RMS difference {:.2e}",
            po.pulse_bandwidth,
            pb2.fdtd_runs,
            pb2.seconds,
            pb2.run_steps.iter().max(),
            (num / den).sqrt()
        );
        for f in [0, pb.i0, pb.band_hz.len() - 1] {
            let zmax = pb2.z[f].iter().map(|x| x.norm()).fold(0.0, f64::max);
            let d = pb.z[f].iter().zip(&pb2.z[f]).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
            println!("Z at {:.2} MHz: max |difference| / max |Z| = {:.2e}", pb.band_hz[f] / 1e6, d / zmax);
        }
        let (_, t2) = cosim::tune(&coil, &pb2, 1e-5)?;
        println!("reference tuning {}", serde_json::to_string(&t2).unwrap());
    }
    Ok(())
}
