//! Co-simulates a coil + phantom and prints the port runs made, the mirror planes used, the time,
//! the tuned capacitors and the feeds. Usage: cosim_check COIL PHANTOM CELL_MM. Env SYM=0: no
//! mirror symmetry; COMPARE=1: also without symmetry, and the B1+ difference between the two.
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
        let pb2 = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &po, None)?;
        let b2 = cosim::b1_plus_of(&pb2, &circ, &emf)?;
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (x, y) in b.data.iter().zip(b2.data.iter()) {
            num += (x - y).norm_sqr() as f64;
            den += y.norm_sqr() as f64;
        }
        println!("no symmetry: {} runs, {:.1} s; B1+ relative RMS difference {:.2e}", pb2.fdtd_runs, pb2.seconds, (num / den).sqrt());
    }
    Ok(())
}
