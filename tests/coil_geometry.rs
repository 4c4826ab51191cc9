//! The birdcage on the FDTD grid (issue 16 item 4): parts placed mirror-symmetrically about the
//! coil centre, snaps measured and reported, and the whole phantom inside the grid and the field
//! output.

use std::collections::BTreeSet;

use rftwin::coil::fdtd_model::{self, BirdcageMesh, Edge, Gaps, MeshOptions, ModelKind};
use rftwin::coil::{CoilConfig, PhantomConfig};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn coil(name: &str) -> CoilConfig {
    CoilConfig::load(&root().join("coils").join(name)).unwrap()
}

fn phantom(name: &str) -> PhantomConfig {
    PhantomConfig::load(&root().join("phantoms").join(name)).unwrap()
}

fn opt(cell_m: f64) -> MeshOptions {
    MeshOptions {
        cell_m,
        ..Default::default()
    }
}

fn resonant(c: &CoilConfig) -> ModelKind {
    ModelKind::Resonant(Gaps::for_type(c.coil_type))
}

/// Half-cell coordinates of a node (exact integers: node at `h * d / 2` from the centre).
fn half(m: &BirdcageMesh, a: usize, i: usize) -> i64 {
    2 * i as i64 - m.model.grid.axes[a].cells() as i64
}

/// The mirror image of node index `i` on axis `a`.
fn mirror_node(m: &BirdcageMesh, a: usize, i: usize) -> usize {
    m.model.grid.axes[a].cells() - i
}

/// The image of an E edge under the mirror of axis `a` (an edge along `a` starts one node lower).
fn mirror_edge(m: &BirdcageMesh, (c, n): Edge, a: usize) -> Edge {
    let mut out = n;
    out[a] = mirror_node(m, a, n[a]);
    if c == a {
        out[a] -= 1;
    }
    (c, out)
}

/// The image of an edge under the swap x <-> y.
fn swap_edge((c, n): Edge) -> Edge {
    let c2 = match c {
        0 => 1,
        1 => 0,
        o => o,
    };
    (c2, [n[1], n[0], n[2]])
}

fn gap_set(m: &BirdcageMesh) -> BTreeSet<Edge> {
    m.ring_gaps
        .iter()
        .flatten()
        .copied()
        .chain(m.rung_gaps.iter().copied())
        .collect()
}

/// The grid is mirror-symmetric about the coil centre along x and y (the origin is the middle).
fn assert_centred(m: &BirdcageMesh) {
    for a in 0..3 {
        let ax = &m.model.grid.axes[a];
        let (lo, hi) = (ax.node(0), ax.node(ax.cells()));
        assert!((lo + hi).abs() < 1e-9, "axis {a}: {lo} .. {hi}");
    }
}

fn assert_mirror_symmetric(name: &str, m: &BirdcageMesh) {
    assert_centred(m);
    let gaps = gap_set(m);
    assert!(!gaps.is_empty(), "{name}: no gaps");
    for a in 0..2 {
        for &e in &gaps {
            let im = mirror_edge(m, e, a);
            assert!(
                gaps.contains(&im),
                "{name}: gap {e:?} mirrored along axis {a} is {im:?}, not a gap"
            );
        }
        let nodes: BTreeSet<[usize; 2]> = m.rung_nodes.iter().copied().collect();
        for n in &nodes {
            let mut im = *n;
            im[a] = mirror_node(m, a, n[a]);
            assert!(
                nodes.contains(&im),
                "{name}: rung node {n:?} mirrored along axis {a} is no rung node"
            );
        }
    }
    // The rings are mirror images under z -> -z.
    assert_eq!(
        half(m, 2, m.ring_k[0]),
        -half(m, 2, m.ring_k[1]),
        "{name}: rings at {:?}",
        m.ring_k
    );
}

#[test]
fn gap_edges_of_the_birdcages_map_onto_themselves_under_the_xy_mirrors() {
    for (file, cells) in [
        ("body_1p5t_hp16.toml", [0.010, 0.020, 0.0075]),
        ("body_3t_hp16.toml", [0.010, 0.015, 0.0075]),
        ("head_3t_lp8.toml", [0.005, 0.010, 0.004]),
        ("head_3t_bp12.toml", [0.005, 0.004, 0.0035]),
    ] {
        let c = coil(file);
        for d in cells {
            let m = fdtd_model::mesh(&c, None, resonant(&c), &opt(d)).unwrap();
            let name = format!("{file} at {} mm", d * 1e3);
            assert_mirror_symmetric(&name, &m);
            // One ring gap per segment and ring; one rung gap per rung.
            match c.coil_type {
                rftwin::coil::CoilType::HighPass => assert_eq!(gap_set(&m).len(), 2 * c.rungs, "{name}"),
                rftwin::coil::CoilType::LowPass => assert_eq!(gap_set(&m).len(), c.rungs, "{name}"),
                rftwin::coil::CoilType::BandPass => assert_eq!(gap_set(&m).len(), 3 * c.rungs, "{name}"),
            }
        }
    }
}

#[test]
fn body_coil_gaps_on_the_axes_sit_on_the_axes() {
    // The 16-rung body coil (rungs at 11.25 + 22.5 j deg) has ring-segment middles at 22.5 (j + 1)
    // deg, on the axes for segments 3, 7, 11 and 15: each of those gaps must be an edge whose
    // midpoint lies on the axis.
    let c = coil("body_1p5t_hp16.toml");
    let m = fdtd_model::mesh(&c, None, resonant(&c), &opt(0.010)).unwrap();
    for seg in [3usize, 7, 11, 15] {
        let (comp, n) = m.ring_gaps[1][seg];
        let mid = [0, 1].map(|a| half(&m, a, n[a]) + if comp == a { 1 } else { 0 });
        assert!(
            mid[0] == 0 || mid[1] == 0,
            "segment {seg}: gap midpoint at {mid:?} half cells"
        );
        let s = m
            .snaps
            .snaps
            .iter()
            .find(|s| s.part == "ring_gap" && s.index == c.rungs + seg)
            .unwrap();
        assert!(s.moved_m < 1e-9, "segment {seg} moved {}", s.moved_m);
    }
}

#[test]
fn swap_symmetry_holds_where_no_segment_middle_is_on_a_diagonal() {
    // The 8-rung low-pass coil (rungs at 0, 45, .. deg) has no ring gaps; its rung nodes map onto
    // rung nodes under x <-> y. The body coil's segment middles at 45 deg cannot (no edge midpoint
    // lies on a diagonal), but its rungs (11.25 + 22.5 j: symmetric under the swap) do.
    for file in ["head_3t_lp8.toml", "body_1p5t_hp16.toml"] {
        let c = coil(file);
        let m = fdtd_model::mesh(&c, None, resonant(&c), &opt(0.010)).unwrap();
        let nodes: BTreeSet<[usize; 2]> = m.rung_nodes.iter().copied().collect();
        if m.model.grid.axes[0].cells() == m.model.grid.axes[1].cells() {
            for n in &nodes {
                assert!(
                    nodes.contains(&[n[1], n[0]]),
                    "{file}: rung node {n:?} swapped is no rung node"
                );
            }
        }
        if file.starts_with("head") {
            let gaps = gap_set(&m);
            for &e in &gaps {
                assert!(gaps.contains(&swap_edge(e)), "{file}: gap {e:?} swapped is no gap");
            }
        }
    }
}

#[test]
fn head_coil_at_5mm_is_centred_and_its_rung_capacitor_spans_the_centre() {
    // Issue 16: at 5 mm the rings snapped to -130/+125 mm and the capacitor edge spanned 0..d.
    let c = coil("head_3t_lp8.toml");
    let d = 0.005;
    let m = fdtd_model::mesh(&c, None, resonant(&c), &opt(d)).unwrap();
    let z = |k: usize| m.model.grid.axes[2].node(k);
    assert!(
        (z(m.ring_k[0]) + z(m.ring_k[1])).abs() < 1e-9,
        "rings at {} / {}",
        z(m.ring_k[0]),
        z(m.ring_k[1])
    );
    for &(comp, n) in &m.rung_gaps {
        assert_eq!(comp, 2);
        let (a, b) = (z(n[2]), z(n[2] + 1));
        assert!(
            (a + d / 2.0).abs() < 1e-9 && (b - d / 2.0).abs() < 1e-9,
            "gap edge spans {a} .. {b}"
        );
    }
    // L / d = 50 is even: rings at +-127.5 mm (the longer of the two symmetric choices), a half-cell
    // snap, reported.
    assert!((z(m.ring_k[1]) - 0.1275).abs() < 1e-9, "{}", z(m.ring_k[1]));
    let ring = m.snaps.max_moved_m("ring");
    assert!((ring - 0.0025).abs() < 1e-9, "{ring}");
    let w = m.snaps.warnings();
    assert!(
        w.iter().any(|w| w.contains("end-ring planes") && w.contains("2.50 mm")),
        "{w:?}"
    );
    // At 10 mm (L / d = 25, odd) the rings fall exactly on +-125 mm and the gap on -5..+5 mm.
    let m = fdtd_model::mesh(&c, None, resonant(&c), &opt(0.010)).unwrap();
    assert!(m.snaps.max_moved_m("ring") < 1e-9);
    assert!(m.snaps.max_moved_m("rung_gap") < 1e-9);
    assert!(
        !m.snaps.warnings().iter().any(|w| w.contains("end-ring")),
        "{:?}",
        m.snaps.warnings()
    );
}

#[test]
fn ideal_model_rings_snap_by_at_most_a_quarter_cell() {
    // Without rung gaps the grid puts a node or a cell centre at z = 0, whichever brings the rings
    // nearer +-L/2: never more than a quarter cell off, always symmetric.
    let c = coil("head_3t_lp8.toml");
    for d in [0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.010, 0.012] {
        let m = fdtd_model::mesh(&c, None, ModelKind::Ideal, &opt(d)).unwrap();
        let z = |k: usize| m.model.grid.axes[2].node(k);
        assert!((z(m.ring_k[0]) + z(m.ring_k[1])).abs() < 1e-9, "{d}");
        let moved = (z(m.ring_k[1]) - c.rung_length_m / 2.0).abs();
        assert!(moved <= 0.25 * d + 1e-9, "{d}: rings {moved} m off");
        assert!((m.snaps.max_moved_m("ring") - moved).abs() < 1e-12);
    }
}

#[test]
fn snaps_are_measured_from_the_ideal_positions() {
    let c = coil("body_1p5t_hp16.toml");
    let m = fdtd_model::mesh(&c, None, resonant(&c), &opt(0.010)).unwrap();
    let g = &m.model.grid;
    let rungs: Vec<_> = m.snaps.snaps.iter().filter(|s| s.part == "rung").collect();
    assert_eq!(rungs.len(), c.rungs);
    for (j, s) in rungs.iter().enumerate() {
        let p = c.rung_point(j, 0.0);
        let n = m.rung_nodes[j];
        let q = [g.axes[0].node(n[0]), g.axes[1].node(n[1])];
        let moved = (q[0] - p[0]).hypot(q[1] - p[1]);
        // Along the ring: the distance from the ideal point's radius line.
        let r = p[0].hypot(p[1]);
        let along = (p[0] * q[1] - p[1] * q[0]).abs() / r;
        assert!((s.moved_m - along).abs() < 1e-12 && along <= moved + 1e-12, "rung {j}");
        assert!(
            (q[0].hypot(q[1]) - c.rung_radius_m - s.radial_m).abs() < 1e-12,
            "rung {j}"
        );
        // A rung lands on the loop node nearest its ideal point: within a cell.
        assert!(moved < 0.010, "rung {j} moved {moved}");
    }
    let gaps: Vec<_> = m.snaps.snaps.iter().filter(|s| s.part == "ring_gap").collect();
    assert_eq!(gaps.len(), 2 * c.rungs);
    // The JSON entry carries the largest snaps and as many warnings as parts with large ones.
    let j = m.snaps.to_json();
    assert_eq!(j["cell_m"], 0.010);
    assert!(j["max_moved_mm"]["rung"].as_f64().unwrap() > 0.0);
    let big = m.snaps.large().count();
    assert_eq!(j["larger_than_quarter_cell"].as_u64().unwrap() as usize, big);
    let kinds: BTreeSet<&str> = m.snaps.large().map(|s| s.part).collect();
    assert_eq!(j["warnings"].as_array().unwrap().len(), kinds.len());
}

/// Mass (kg) of the phantom cells of a mesh.
fn phantom_mass_kg(m: &BirdcageMesh) -> f64 {
    let g = &m.model.grid;
    let mats = m.model.materials();
    let [nx, ny, nz] = g.dims();
    let mut mass = 0.0;
    for i in 0..nx {
        for j in 0..ny {
            for k in 0..nz {
                let mat = &mats[m.model.cell_material(i, j, k) as usize];
                if !mat.pec {
                    mass += mat.density_kg_per_m3
                        * g.axes[0].cell_size(i)
                        * g.axes[1].cell_size(j)
                        * g.axes[2].cell_size(k);
                }
            }
        }
    }
    mass
}

#[test]
fn the_astm_phantom_is_whole_in_the_body_coil_grid_and_field_box() {
    // 420 x 90 x 650 mm of gel at 1000 kg/m^3: 24.57 kg. The body coil's rings are 600 mm apart;
    // the field output used to stop at them (22.68 kg).
    let c = coil("body_1p5t_hp16.toml");
    let p = phantom("astm_f2182.toml");
    let truth = 0.42 * 0.09 * 0.65 * 1000.0;
    for kind in [ModelKind::Ideal, resonant(&c)] {
        let mut m = fdtd_model::mesh(&c, Some(&p), kind, &opt(0.010)).unwrap();
        // Whole cells: faces through rows of cell centres count as outside (x: 410 of 420 mm,
        // z: 640 of 650 mm at 10 mm here), within 5 %.
        let whole = phantom_mass_kg(&m);
        assert!((whole / truth - 1.0).abs() < 0.05, "{kind:?}: {whole} kg vs {truth}");
        // The field box holds every phantom cell.
        let pm = m.phantom_material.unwrap();
        let [nx, ny, nz] = m.model.grid.dims();
        for i in 0..nx {
            for j in 0..ny {
                for k in 0..nz {
                    if m.model.cell_material(i, j, k) == pm {
                        let inside = [i, j, k]
                            .iter()
                            .enumerate()
                            .all(|(a, &c)| m.interior[a].start <= c && c + 1 < m.interior[a].end);
                        assert!(
                            inside,
                            "phantom cell {:?} outside the field box {:?}",
                            [i, j, k],
                            m.interior
                        );
                    }
                }
            }
        }
        // With the twin's sub-cell volume fractions (what the SAR normalisation uses), the mass in
        // the field box is the phantom's to 2 %.
        rftwin::twin::basis::subcell_phantom(&mut m, &p, c.freq_hz).unwrap();
        let boxed = phantom_mass_in_box_kg(&m);
        assert!(
            (boxed / truth - 1.0).abs() < 0.02,
            "{kind:?}: {boxed} kg in the field box vs {truth}"
        );
        assert!(
            (phantom_mass_kg(&m) - boxed).abs() < 1e-9 * truth,
            "{kind:?}: phantom outside the field box"
        );
    }
}

/// Mass (kg) of the cells inside the field box of a mesh.
fn phantom_mass_in_box_kg(m: &BirdcageMesh) -> f64 {
    let g = &m.model.grid;
    let mats = m.model.materials();
    let r = &m.interior;
    let mut mass = 0.0;
    for i in r[0].start..r[0].end - 1 {
        for j in r[1].start..r[1].end - 1 {
            for k in r[2].start..r[2].end - 1 {
                let mat = &mats[m.model.cell_material(i, j, k) as usize];
                if !mat.pec {
                    mass += mat.density_kg_per_m3
                        * g.axes[0].cell_size(i)
                        * g.axes[1].cell_size(j)
                        * g.axes[2].cell_size(k);
                }
            }
        }
    }
    mass
}

#[test]
fn a_long_phantom_grows_the_grid_instead_of_being_clipped() {
    // A phantom longer than the coil's shield: the grid holds it whole, with the margin before the
    // absorbing layers.
    let c = coil("body_1p5t_hp16.toml");
    let text = std::fs::read_to_string(root().join("phantoms/astm_f2182.toml")).unwrap();
    let p = PhantomConfig::from_toml_str(&text.replace("length_m = 0.650", "length_m = 1.600"), "long").unwrap();
    let o = opt(0.010);
    let m = fdtd_model::mesh(&c, Some(&p), ModelKind::Ideal, &o).unwrap();
    let ax = &m.model.grid.axes[2];
    let inner = ax.node(ax.cells()) - o.cpml_layers as f64 * o.cell_m;
    assert!(inner >= 0.8 + o.margin_m - 1e-9, "{inner}");
    let mass = phantom_mass_kg(&m);
    let truth = 0.42 * 0.09 * 1.6 * 1000.0;
    assert!((mass / truth - 1.0).abs() < 0.03, "{mass} vs {truth}");
}

#[test]
#[ignore]
fn print_snaps() {
    for file in [
        "body_1p5t_hp16.toml",
        "body_3t_hp16.toml",
        "head_3t_lp8.toml",
        "head_3t_bp12.toml",
    ] {
        let c = coil(file);
        for d in [0.005, 0.010] {
            for kind in [ModelKind::Ideal, resonant(&c)] {
                let s = fdtd_model::geometry_snaps(&c, None, kind, &opt(d)).unwrap();
                println!("{file} {d} {kind:?}: {}", s.to_json());
            }
        }
    }
}

#[test]
fn the_rasterised_astm_phantom_is_mirror_symmetric() {
    // The lead's co-simulation relies on x -> -x and y -> -y mirror symmetry of coil and phantom.
    let c = coil("body_1p5t_hp16.toml");
    let p = phantom("astm_f2182.toml");
    for kind in [ModelKind::Ideal, resonant(&c)] {
        for d in [0.010, 0.005] {
            let m = fdtd_model::mesh(&c, Some(&p), kind, &opt(d)).unwrap();
            let pm = m.phantom_material.unwrap();
            let [nx, ny, nz] = m.model.grid.dims();
            let mut bad = 0;
            let mut count = [0usize; 3];
            for i in 0..nx {
                for j in 0..ny {
                    for k in 0..nz {
                        let a = m.model.cell_material(i, j, k) == pm;
                        if a {
                            count[0] += 1;
                        }
                        for (t, (ii, jj, kk)) in [(nx - 1 - i, j, k), (i, ny - 1 - j, k), (i, j, nz - 1 - k)]
                            .into_iter()
                            .enumerate()
                        {
                            if a != (m.model.cell_material(ii, jj, kk) == pm) {
                                bad += 1;
                                count[1] = t;
                            }
                        }
                    }
                }
            }
            assert_eq!(
                bad, 0,
                "{kind:?} at {d}: {bad} cells whose mirror image differs (axis {}), of {}",
                count[1], count[0]
            );
        }
    }
}

#[test]
#[ignore]
fn print_masses() {
    let c = coil("body_1p5t_hp16.toml");
    let p = phantom("astm_f2182.toml");
    for d in [0.005, 0.010, 0.020] {
        for kind in [ModelKind::Ideal, resonant(&c)] {
            let mut m = fdtd_model::mesh(&c, Some(&p), kind, &opt(d)).unwrap();
            let whole = phantom_mass_kg(&m);
            rftwin::twin::basis::subcell_phantom(&mut m, &p, c.freq_hz).unwrap();
            println!(
                "{d} {kind:?}: whole cells {whole:.3} kg, sub-cell in box {:.3} kg, dims {:?} box {:?}",
                phantom_mass_in_box_kg(&m),
                m.model.grid.dims(),
                m.interior
            );
        }
    }
}

#[test]
fn an_offset_gel_cylinder_at_5mm_builds_within_the_edge_material_table() {
    // Issue 16 item 7: `twin fit --fit-offset` of the 8-rung head coil with a gel cylinder at 5 mm
    // stopped with "more than 255 distinct edge materials": a curved phantom's sub-cell fractions
    // take every level, and an edge averages four cells.
    let c = coil("head_3t_lp8.toml");
    let text = std::fs::read_to_string(root().join("phantoms/cylinder_r150.toml")).unwrap();
    let p = PhantomConfig::from_toml_str(
        &text
            .replace("radius_m = 0.150", "radius_m = 0.080")
            .replace("length_m = 0.900", "length_m = 0.200"),
        "gel_cylinder_r80",
    )
    .unwrap();
    let mut so = rftwin::coil::run::SimulateOptions::default();
    so.mesh.cell_m = 0.005;
    let req = rftwin::twin::BasisRequest {
        coil: &c,
        phantom: Some(&p),
        opt: &so,
        offset_m: [0.0031, -0.0017, 0.0042],
    };
    let m = rftwin::twin::basis::basis_mesh(&req).unwrap();
    let w = fdtd_model::homogeneous_weights(&m, true, 0.0);
    let spec = m.ideal_drive(c.freq_hz, &w).unwrap();
    if let Err(e) = rftwin::fdtd::Simulation::new(spec) {
        panic!("{e}");
    }
}

#[test]
fn twin_bases_at_different_phantom_offsets_share_one_grid_and_field_box() {
    // An offset fit combines bases with the phantom moved; the field box now follows the phantom,
    // so it is sized around the phantom file's position (with slack) instead of the moved phantom.
    let c = coil("body_1p5t_hp16.toml");
    let p = phantom("astm_f2182.toml");
    for cell in [0.010, 0.020] {
        let mut so = rftwin::coil::run::SimulateOptions::default();
        so.mesh.cell_m = cell;
        let place = |offset_m: [f64; 3]| {
            let req = rftwin::twin::BasisRequest {
                coil: &c,
                phantom: Some(&p),
                opt: &so,
                offset_m,
            };
            let m = rftwin::twin::basis::basis_mesh(&req).unwrap();
            let g = &m.model.grid;
            let lo = g.node_pos(m.interior[0].start, m.interior[1].start, m.interior[2].start);
            let dims = m.interior.clone().map(|r| r.end - r.start);
            (g.dims(), lo, dims)
        };
        let base = place([0.0; 3]);
        for off in [
            [0.0, 0.0, 0.007],
            [0.004, -0.003, 0.002],
            [0.0, 0.0, -0.013],
            [0.011, 0.0, 0.0],
        ] {
            assert_eq!(place(off), base, "{cell} {off:?}");
        }
    }
}
