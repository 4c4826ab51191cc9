//! The FDTD engine on graded (rectilinear) grids (issue 19, step 1-3): the graded update is the
//! uniform one when the cells are equal (bit for bit), a graded PEC cavity resonates at the
//! analytic TE101 frequency with second-order convergence, the CPML on a graded interior reflects
//! below -40 dB, and the grading generator keeps its promises. All fast (small grids).

use rftwin::fdtd::{Boundary, FieldKind, Simulation, SimulationSpec, SourceSpec, Waveform};
use rftwin::grid::{Axis, Grid, Material, Shape, VoxelModel, C0};

// ---------------------------------------------------------------------------------------------
// The grading generator (`Axis::graded`).

fn check_axis(ax: &Axis, start: f64, end: f64, d_min: f64, d_max: f64, g: f64) {
    assert_eq!(ax.start(), start);
    assert_eq!(ax.end(), end);
    let sizes: Vec<f64> = (0..ax.cells()).map(|i| ax.cell_size(i)).collect();
    let lo = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = sizes.iter().copied().fold(0.0, f64::max);
    assert!(lo <= d_min * (1.0 + 1e-9), "finest cell {lo} > {d_min}");
    assert!(lo >= 0.5 * d_min, "finest cell {lo} much below {d_min}");
    assert!(hi <= d_max * (1.0 + 1e-9), "coarsest cell {hi} > {d_max}");
    let gr = ax.max_growth();
    assert!(gr <= g * (1.0 + 1e-9), "growth {gr} > {g}: {sizes:?}");
}

#[test]
fn graded_axis_fine_line_is_a_node_with_fine_cells_and_bounded_growth() {
    for &g in &[1.1, 1.2, 1.3] {
        let ax = Axis::graded(-0.08, 0.08, &[(0.003, 0.003)], 0.001, 0.004, g).unwrap();
        check_axis(&ax, -0.08, 0.08, 0.001, 0.004, g);
        // The fine line is a node; the cells on either side are fine.
        let i = ax.nearest_node(0.003);
        assert!((ax.node(i) - 0.003).abs() < 1e-12);
        assert!((ax.cell_size(i - 1) - 0.001).abs() < 1e-12 && (ax.cell_size(i) - 0.001).abs() < 1e-12);
        // The bulk at the ends is uniform (a CPML can sit there), at the coarse size at most.
        let d0 = ax.cell_size(0);
        assert!((0..10).all(|q| (ax.cell_size(q) - d0).abs() <= 1e-9 * d0));
        let dn = ax.cell_size(ax.cells() - 1);
        assert!((0..10).all(|q| (ax.cell_size(ax.cells() - 1 - q) - dn).abs() <= 1e-9 * dn));
        assert!(d0 > 0.8 * 0.004 && dn > 0.8 * 0.004, "end cells {d0} {dn}");
        // Far fewer cells than a uniform fine axis (160).
        assert!(ax.cells() < 80, "{} cells at growth {g}", ax.cells());
    }
}

#[test]
fn graded_axis_several_regions_and_merging() {
    // A wire region and an electrode region, two that overlap (merged) and a fine line.
    let fine = [(-0.020, -0.016), (0.010, 0.012), (0.0115, 0.013), (0.030, 0.030)];
    for &g in &[1.15, 1.25, 1.3] {
        let ax = Axis::graded(-0.06, 0.07, &fine, 0.0005, 0.005, g).unwrap();
        check_axis(&ax, -0.06, 0.07, 0.0005, 0.005, g);
        for &(lo, hi) in &fine {
            // (A node belongs to the cell on its right: test just inside the high end.)
            for x in [lo, hi - 1e-7, 0.5 * (lo + hi)] {
                let c = ax.cell_of(x).unwrap();
                assert!(
                    ax.cell_size(c) <= 0.0005 * (1.0 + 1e-9),
                    "cell at {x} is {}",
                    ax.cell_size(c)
                );
            }
        }
        // Deterministic.
        assert_eq!(ax, Axis::graded(-0.06, 0.07, &fine, 0.0005, 0.005, g).unwrap());
    }
}

#[test]
fn graded_axis_equal_sizes_is_uniform_and_bad_input_names_the_key() {
    let ax = Axis::graded(0.0, 0.01, &[(0.005, 0.005)], 0.001, 0.001, 1.2).unwrap();
    assert_eq!(ax.cells(), 10);
    assert!(ax.uniform_size().is_some());
    let e = Axis::graded(0.0, 0.1, &[(0.05, 0.05)], 0.001, 0.004, 1.8).unwrap_err();
    assert!(e.to_string().contains("growth"), "{e}");
    let e = Axis::graded(0.0, 0.1, &[(0.2, 0.3)], 0.001, 0.004, 1.2).unwrap_err();
    assert!(e.to_string().contains("fine region"), "{e}");
    let e = Axis::graded(0.0, 0.1, &[(0.001, 0.002)], 0.001, 0.004, 1.2).unwrap_err();
    assert!(e.to_string().contains("inside the axis ends"), "{e}");
    let e = Axis::graded(0.0, 0.1, &[], 0.004, 0.001, 1.2).unwrap_err();
    assert!(e.to_string().contains("d_min"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// (a) The graded update with equal cells is the uniform update, bit for bit.

fn all_fields(sim: &Simulation) -> Vec<f32> {
    let n = sim.cells();
    let mut v = Vec::new();
    for kind in [FieldKind::E, FieldKind::H] {
        for c in 0..3 {
            for i in 0..=n[0] {
                for j in 0..=n[1] {
                    for k in 0..=n[2] {
                        v.push(sim.field_at(kind, c, [i, j, k]));
                    }
                }
            }
        }
    }
    v
}

#[test]
fn graded_kernels_on_uniform_cells_are_bit_identical() {
    let run = |graded: bool| {
        let grid = Grid::uniform([0.0; 3], [0.004, 0.005, 0.003], [22, 18, 26]).unwrap();
        let mut model = VoxelModel::new(grid, Material::vacuum()).unwrap();
        let gel = model.add_material(Material::astm_gel()).unwrap();
        model
            .fill(&Shape::boxed("gel", [0.03, 0.03, 0.02], [0.07, 0.07, 0.06]), gel)
            .unwrap();
        model.pec_wire([0.05, 0.045, 0.02], [0.05, 0.045, 0.06]).unwrap();
        let mut spec = SimulationSpec::new(model);
        spec.allow_coarse_grid = true;
        spec.boundaries = [
            [Boundary::cpml(4), Boundary::Pmc],
            [Boundary::Pmc, Boundary::cpml(4)],
            [Boundary::cpml(4), Boundary::cpml(5)],
        ];
        spec.sources.push(SourceSpec::EdgeCurrent {
            comp: 2,
            node: [9, 8, 12],
            current_a: 1e-3,
            waveform: Waveform::GaussPulse {
                f0_hz: 3e9,
                bandwidth_hz: 4e9,
            },
        });
        spec.graded_kernels = graded;
        let mut sim = Simulation::new(spec).unwrap();
        sim.run_steps(80, &mut []).unwrap();
        (all_fields(&sim), sim.energy())
    };
    let (a, wa) = run(false);
    let (b, wb) = run(true);
    assert!(a.iter().any(|x| *x != 0.0));
    let diffs = a.iter().zip(&b).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
    assert_eq!(
        diffs, 0,
        "{diffs} field values differ between the uniform and graded kernels"
    );
    assert_eq!(wa, wb);
}

// ---------------------------------------------------------------------------------------------
// (b) PEC cavity with graded cells: TE101 resonance vs analytic, second order.

/// Nodes of `ax` with every cell split in two.
fn bisect(ax: &Axis) -> Axis {
    let mut v = vec![ax.node(0)];
    for i in 0..ax.cells() {
        v.push(ax.cell_centre(i));
        v.push(ax.node(i + 1));
    }
    Axis::from_nodes(v).unwrap()
}

/// The TE101 frequency (Hz) of a PEC cavity on axes `x, y, z` (field uniform in y), from the
/// windowed spectrum of Ey at one node after a pulse.
fn cavity_te101(x: Axis, y: Axis, z: Axis, f_guess: f64) -> f64 {
    let node = [x.nearest_node(0.031), y.nearest_node(0.02), z.nearest_node(0.027)];
    let grid = Grid::new(x, y, z);
    let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    let mut spec = SimulationSpec::new(model);
    spec.sources.push(SourceSpec::EdgeCurrent {
        comp: 1,
        node,
        current_a: 1.0,
        waveform: Waveform::GaussPulse {
            f0_hz: f_guess,
            bandwidth_hz: 1.5e9,
        },
    });
    let mut sim = Simulation::new(spec).unwrap();
    let dt = sim.dt();
    // The pulse is over after 8 tau (tau ~ 0.3 ns); then record 40 periods.
    let t_end = 3.0e-9;
    sim.run_steps((t_end / dt).ceil() as usize, &mut []).unwrap();
    let m = (40.0 / f_guess / dt).ceil() as usize;
    let mut rec = Vec::with_capacity(m);
    for _ in 0..m {
        sim.step(&mut []);
        rec.push(sim.field_at(FieldKind::E, 1, node) as f64);
    }
    // Hann-windowed DFT magnitude, maximised over f by golden-section search near the guess.
    let mag = |f: f64| {
        let (mut re, mut im) = (0.0, 0.0);
        for (t, v) in rec.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * t as f64 / (m as f64 - 1.0)).cos();
            let ph = 2.0 * std::f64::consts::PI * f * t as f64 * dt;
            re += w * v * ph.cos();
            im -= w * v * ph.sin();
        }
        re.hypot(im)
    };
    // Coarse scan (bins of 1/40 of the period count), then refine.
    let (lo0, hi0) = (0.9 * f_guess, 1.1 * f_guess);
    let mut best = lo0;
    let mut best_v = 0.0;
    for s in 0..=80 {
        let f = lo0 + (hi0 - lo0) * s as f64 / 80.0;
        let v = mag(f);
        if v > best_v {
            best_v = v;
            best = f;
        }
    }
    let step = (hi0 - lo0) / 80.0;
    let (mut a, mut b) = (best - step, best + step);
    let r = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let c = b - r * (b - a);
        let d = a + r * (b - a);
        if mag(c) > mag(d) {
            b = d;
        } else {
            a = c;
        }
    }
    0.5 * (a + b)
}

#[test]
fn graded_pec_cavity_te101_second_order() {
    // 100 x 40 x 80 mm; TE101 at c/2 sqrt(1/a^2 + 1/d^2) = 2.400 GHz; the next modes (TE201 at 3.5
    // GHz, TE102 / TM110 at 4.0 GHz) lie far outside the +-10 % search window.
    let (a, d): (f64, f64) = (0.10, 0.08);
    let f_exact = 0.5 * C0 * (1.0 / (a * a) + 1.0 / (d * d)).sqrt();
    let (d_min, d_max) = (0.0025, 0.00625);
    let x = Axis::graded(0.0, a, &[(0.03, 0.03)], d_min, d_max, 1.3).unwrap();
    let z = Axis::graded(0.0, d, &[(0.05, 0.05)], d_min, d_max, 1.3).unwrap();
    assert!(x.uniform_size().is_none() && z.uniform_size().is_none());
    let y = Axis::uniform(0.0, 0.01, 4).unwrap();
    let f1 = cavity_te101(x.clone(), y.clone(), z.clone(), f_exact);
    let f2 = cavity_te101(bisect(&x), bisect(&y), bisect(&z), f_exact);
    let (e1, e2) = ((f1 - f_exact) / f_exact, (f2 - f_exact) / f_exact);
    // Tolerance: the Yee spatial dispersion of a standing wave k_a = pi/L_a sampled with cells h
    // lowers k_a^2 by k_a^4 h^2 / 12, so |df/f| <= sum_a k_a^4 h_max^2 / (24 k^2) with the largest
    // cell (the time-step error has the opposite sign and is smaller at Courant 0.98 x d_min / h).
    let ks = [std::f64::consts::PI / a, std::f64::consts::PI / d];
    let k2: f64 = ks.iter().map(|k| k * k).sum();
    let bound = |h: f64| ks.iter().map(|k| k.powi(4) * h * h).sum::<f64>() / (24.0 * k2);
    println!(
        "TE101 exact {f_exact:.6e} Hz; graded {f1:.6e} (err {e1:.3e}, bound {:.3e}), bisected {f2:.6e} (err {e2:.3e}, bound {:.3e}); ratio {:.2}",
        bound(d_max),
        bound(0.5 * d_max),
        e1 / e2
    );
    assert!(
        e1.abs() <= bound(d_max),
        "graded error {e1:.3e} above {:.3e}",
        bound(d_max)
    );
    assert!(
        e2.abs() <= bound(0.5 * d_max),
        "bisected error {e2:.3e} above {:.3e}",
        bound(0.5 * d_max)
    );
    // Second order: halving every cell divides the error by about 4 (>= 3 asked).
    assert!(
        e1.abs() >= 3.0 * e2.abs(),
        "error ratio {:.2} below 3 (not second order)",
        e1 / e2
    );
}

// ---------------------------------------------------------------------------------------------
// (c) CPML reflection on a graded interior.

/// Ex at the observation node of a TEM parallel-plate line (PEC x faces, PMC y faces, CPML on z)
/// on z nodes `zn`, driven by a current sheet at node `src`; `steps` samples.
fn tem_series(zn: Vec<f64>, src: usize, obs: usize, steps: usize) -> Vec<f64> {
    let d = 0.01;
    let grid = Grid::new(
        Axis::uniform(0.0, d, 2).unwrap(),
        Axis::uniform(0.0, d, 2).unwrap(),
        Axis::from_nodes(zn).unwrap(),
    );
    let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    let mut spec = SimulationSpec::new(model);
    spec.boundaries = [
        [Boundary::Pec, Boundary::Pec],
        [Boundary::Pmc, Boundary::Pmc],
        [Boundary::cpml(10), Boundary::cpml(10)],
    ];
    spec.sources.push(SourceSpec::CurrentSheet {
        comp: 0,
        normal: 2,
        index: src,
        amps_per_m: 1.0,
        waveform: Waveform::GaussPulse {
            f0_hz: 1.0e9,
            bandwidth_hz: 1.6e9,
        },
    });
    let mut sim = Simulation::new(spec).unwrap();
    (0..steps)
        .map(|_| {
            sim.step(&mut []);
            sim.field_at(FieldKind::E, 0, [1, 1, obs]) as f64
        })
        .collect()
}

#[test]
fn cpml_on_graded_interior_reflects_below_40_db() {
    // 1 cm cells at the ends (10 CPML layers + margin), 2.5 mm in the middle, growth 1.25.
    let z = Axis::graded(0.0, 0.8, &[(0.38, 0.42)], 0.0025, 0.01, 1.25).unwrap();
    assert!(z.uniform_size().is_none());
    let src = z.nearest_node(0.2);
    let obs = z.nearest_node(0.6);
    let dt_est = 0.98 / (C0 * (2.0 / 1e-4 + 1.0 / (0.0025f64 * 0.0025)).sqrt());
    // The pulse (8 tau ~ 2.5 ns) from the source past the observer into the CPML and back: 10 ns.
    let steps = (10e-9 / dt_est).ceil() as usize;
    let test = tem_series(z.nodes().to_vec(), src, obs, steps);
    // Reference: 700 more end cells, so nothing returns from the high end within the record.
    let mut zn = z.nodes().to_vec();
    let d_end = z.cell_size(z.cells() - 1);
    let last = *zn.last().unwrap();
    zn.extend((1..=700).map(|q| last + q as f64 * d_end));
    let reference = tem_series(zn, src, obs, steps);
    let peak = reference.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = test
        .iter()
        .zip(&reference)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    let db = 20.0 * (diff / peak).log10();
    println!(
        "graded-interior CPML reflection {db:.1} dB ({steps} steps, {} cells)",
        z.cells()
    );
    assert!(peak > 0.0);
    assert!(db < -40.0, "CPML reflection {db:.1} dB on a graded interior");
}

#[test]
fn grading_inside_the_cpml_is_refused() {
    let z = Axis::graded(0.0, 0.3, &[(0.05, 0.05)], 0.0025, 0.01, 1.25).unwrap();
    let grid = Grid::new(
        Axis::uniform(0.0, 0.01, 2).unwrap(),
        Axis::uniform(0.0, 0.01, 2).unwrap(),
        z,
    );
    let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    let mut spec = SimulationSpec::new(model);
    spec.boundaries[2] = [Boundary::cpml(10), Boundary::cpml(10)];
    let e = Simulation::new(spec)
        .err()
        .expect("graded CPML must be refused")
        .to_string();
    assert!(
        e.contains("graded inside the low CPML") && e.contains("nodes[z]"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Lumped elements on a graded grid: a current source on one fine edge radiates as a Hertzian
// dipole of that edge's length.

#[test]
fn current_source_on_a_fine_edge_radiates_as_a_hertzian_dipole() {
    use rftwin::fdtd::{LumpedSpec, SteadyState};
    let freq = C0 / 0.24;
    let lambda = C0 / freq;
    let run = |axis: Axis| {
        let c = [0, 1, 2].map(|_| axis.nearest_node(0.24));
        let dl = axis.cell_size(c[2]);
        let grid = Grid::new(axis.clone(), axis.clone(), axis);
        let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
        let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(8));
        spec.cw_freq_hz = Some(freq);
        spec.port_freqs_hz = vec![freq];
        spec.lumped
            .push(LumpedSpec::current_source("s", 2, c, 1e-3, Waveform::cw(freq)));
        let mut sim = Simulation::new(spec).unwrap();
        sim.run_cw(
            &SteadyState {
                tol: 1e-5,
                min_periods: 6,
                max_periods: 300,
            },
            &mut [],
        )
        .unwrap();
        let z = sim.lumped().impedance(0)[0];
        // Hertzian dipole: R = 80 pi^2 (dl / lambda)^2 (Balanis eq. 4-19).
        let r_ref = 80.0 * std::f64::consts::PI.powi(2) * (dl / lambda).powi(2);
        (z.re, r_ref, dl)
    };
    let (r_u, ref_u, dl_u) = run(Axis::uniform(0.0, 0.01, 48).unwrap());
    let graded = Axis::graded(0.0, 0.48, &[(0.24, 0.24)], 0.005, 0.01, 1.2).unwrap();
    let cells = graded.cells();
    let (r_g, ref_g, dl_g) = run(graded);
    let (e_u, e_g) = ((r_u - ref_u) / ref_u, (r_g - ref_g) / ref_g);
    println!(
        "uniform 10 mm: R {r_u:.4} Ohm vs {ref_u:.4} (dl {dl_u}, err {e_u:.3}); graded 5 mm at the source ({cells} cells/axis): R {r_g:.4} vs {ref_g:.4} (dl {dl_g}, err {e_g:.3})"
    );
    assert!((dl_g - 0.005).abs() < 1e-12);
    // The graded run is no further from the dipole formula than the uniform one (which samples the
    // near field with cells twice as large), plus 3 % for the grading.
    assert!(
        e_g.abs() <= e_u.abs() + 0.03,
        "graded R error {e_g:.3} vs uniform {e_u:.3}"
    );
    assert!(e_g.abs() < 0.10, "graded R {r_g} vs Hertzian dipole {ref_g}");
}
