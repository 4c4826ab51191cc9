//! Phantom rasterisation onto the voxel grid.

use rftwin::coil::PhantomConfig;
use rftwin::grid::{Grid, Material, VoxelModel};

fn load(name: &str) -> PhantomConfig {
    PhantomConfig::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("phantoms")
            .join(name),
    )
    .unwrap()
}

fn model(half: [f64; 3], d: f64) -> VoxelModel {
    let n = [0, 1, 2].map(|a| (2.0 * half[a] / d).round() as usize);
    VoxelModel::new(
        Grid::uniform([-half[0], -half[1], -half[2]], [d; 3], n).unwrap(),
        Material::vacuum(),
    )
    .unwrap()
}

#[test]
fn cylinder_fills_its_volume() {
    let p = load("cylinder_r150.toml");
    let mut m = model([0.2, 0.2, 0.5], 0.01);
    let (mat, count) = p.rasterise(&mut m).unwrap();
    let expect = std::f64::consts::PI * 0.15f64.powi(2) * 0.9 / 1e-6;
    // staircase error of a 15-cell radius: within 2 %
    assert!(((count as f64) - expect).abs() / expect < 0.02, "{count} vs {expect}");
    let g = &m.materials()[mat as usize];
    assert_eq!((g.eps_r, g.sigma_s_per_m), (80.0, 0.47));
    // centre filled, a corner not
    let c = m.grid.dims().map(|n| n / 2);
    assert_eq!(m.cell_material(c[0], c[1], c[2]), mat);
    assert_eq!(m.cell_material(0, 0, c[2]), 0);
}

#[test]
fn astm_box_is_placed_by_its_landmark() {
    let mut p = load("astm_f2182.toml");
    assert_eq!(p.size_m, [0.42, 0.09, 0.65]);
    let mut m = model([0.3, 0.2, 0.4], 0.01);
    let (_, count) = p.rasterise(&mut m).unwrap();
    let expect = 0.42 * 0.09 * 0.65 / 1e-6;
    assert!(((count as f64) - expect).abs() / expect < 0.03, "{count} vs {expect}");
    // Landmark = the gel surface centre (y = +depth/2) placed 0.1 m below the isocentre:
    // the box then spans y in [-0.19, -0.10].
    p.landmark_in_phantom_m = [0.0, 0.045, 0.0];
    p.landmark_from_isocentre_m = [0.0, -0.10, 0.0];
    assert!((p.centre_m()[1] + 0.145).abs() < 1e-12);
    let mut m = model([0.3, 0.2, 0.4], 0.01);
    let (mat, _) = p.rasterise(&mut m).unwrap();
    let j = |y: f64| m.grid.axes[1].cell_of(y).unwrap();
    let (ic, kc) = (m.grid.dims()[0] / 2, m.grid.dims()[2] / 2);
    assert_eq!(m.cell_material(ic, j(-0.15), kc), mat);
    assert_eq!(m.cell_material(ic, j(0.0), kc), 0);
    assert_eq!(m.cell_material(ic, j(-0.195), kc), 0);
}

#[test]
fn a_phantom_outside_the_grid_is_an_error() {
    let mut p = load("cylinder_r150.toml");
    p.landmark_from_isocentre_m = [5.0, 0.0, 0.0];
    let mut m = model([0.2, 0.2, 0.5], 0.02);
    let e = p.rasterise(&mut m).unwrap_err().to_string();
    assert!(e.contains("covers no cell"), "{e}");
}

/// A rotated phantom: the TOML key, the rotated solid (rasterised volume kept, corners moved as the
/// rotation says), wall distances in the phantom's own axes, and a too-large rotation refused.
#[test]
fn rotated_phantom() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml")).unwrap();
    let square = PhantomConfig::from_toml_str(&text, "astm.toml").unwrap();
    let turned_text = if text.contains("[position]") {
        text.replace("[position]", "[position]\nrotation_deg = [0.0, 10.0, 0.0]")
    } else {
        format!("{text}\n[position]\nrotation_deg = [0.0, 10.0, 0.0]\n")
    };
    let turned = PhantomConfig::from_toml_str(&turned_text, "astm.toml").unwrap();
    assert_eq!(turned.rotation_deg, [0.0, 10.0, 0.0]);
    let c = turned.centre_m();
    let h = turned.size_m.map(|s| 0.5 * s);
    // The +x, +z corner region of the square box: a point just inside it along the long axis,
    // turned by +10 degrees about y (x' = x cos + z sin, z' = -x sin + z cos).
    let q = [h[0] - 0.01, 0.0, h[2] - 0.01];
    let (s, co) = 10f64.to_radians().sin_cos();
    let p = [c[0] + q[0] * co + q[2] * s, c[1], c[2] - q[0] * s + q[2] * co];
    assert!(turned.shape().contains(p) && !square.shape().contains(p));
    let w = rftwin::implant::placement::wall_distance(&turned, p);
    assert!((w - 0.01).abs() < 1e-9, "wall distance {w}");
    // Same volume when rasterised (cell-centre staircase, 5 mm cells): within 2 %.
    let b = turned.bounding_half_m();
    assert!(b[0] > h[0] && b[2] > h[2] && (b[1] - h[1]).abs() < 1e-12);
    let mut m1 = model([0.45, 0.1, 0.45], 0.005);
    let mut m2 = model([0.45, 0.1, 0.45], 0.005);
    let (_, n1) = square.rasterise(&mut m1).unwrap();
    let (_, n2) = turned.rasterise(&mut m2).unwrap();
    assert!((n1 as f64 / n2 as f64 - 1.0).abs() < 0.02, "{n1} vs {n2} cells");
    let bad = PhantomConfig::from_toml_str(&turned_text.replace("10.0, 0.0]", "60.0, 0.0]"), "astm.toml").unwrap_err();
    let msg = bad.to_string();
    assert!(
        msg.contains("astm.toml") && msg.contains("position.rotation_deg"),
        "{msg}"
    );
}

/// The E edges on the phantom's outline mix gel and air by the outline's orientation: in parallel
/// (volume mean of the complex permittivity) along the surface, in series (mean of the inverse)
/// across it, each over the edge's own dual cell.
#[test]
fn outline_edges_mix_gel_by_orientation() {
    let text = r#"
name = "slab"
shape = "box"
width_m = 0.104
depth_m = 0.2
length_m = 0.2
[material]
name = "gel"
eps_r = 80.0
sigma_s_per_m = 0.47
density_kg_per_m3 = 1000.0
k_w_per_m_k = 0.6
c_j_per_kg_k = 4150.0
"#;
    let p = PhantomConfig::from_toml_str(text, "slab.toml").unwrap();
    let mut m = model([0.1, 0.1, 0.1], 0.01);
    let (pm, _) = p.rasterise(&mut m).unwrap();
    let f_hz = 64e6;
    p.rasterise_subcell(&mut m, pm, f_hz).unwrap();
    let w = 2.0 * std::f64::consts::PI * f_hz * rftwin::grid::EPS0;
    let gel = num_complex::Complex64::new(80.0, -0.47 / w);
    // The face x = +0.052 m; node 15 is x = 0.05 m. Six samples per cell edge: the dual cell of the
    // y edge at node 15 (x 0.045..0.055) holds 4 of 6 sample planes in the gel; the x edge from
    // node 15 to 16 (dual cell x 0.05..0.06) holds 1 of 6.
    use rftwin::grid::Comp;
    let (eps_par, sig_par) = m.edge_material(Comp::Y, 15, 10, 10).unwrap();
    let f = 4.0 / 6.0;
    let par = gel * f + (1.0 - f);
    assert!((eps_par - par.re).abs() < 1e-9 && (sig_par - (-par.im * w)).abs() < 1e-9, "{eps_par} {sig_par} vs {par}");
    let (eps_ser, sig_ser) = m.edge_material(Comp::X, 15, 10, 10).unwrap();
    let f = 1.0 / 6.0;
    let ser = 1.0 / (f / gel + (1.0 - f));
    assert!((eps_ser - ser.re).abs() < 1e-9 && (sig_ser - (-ser.im * w)).abs() < 1e-9, "{eps_ser} {sig_ser} vs {ser}");
    // The series mixture is close to air (a sliver of gel across the field hardly changes it); a
    // cell-wise mean would have given 1 + 0.2 * 79.
    assert!(eps_ser < 1.3, "{eps_ser}");
    // Inside and outside: untouched.
    assert_eq!(m.edge_material(Comp::X, 10, 10, 10).unwrap(), (80.0, 0.47));
    assert_eq!(m.edge_material(Comp::X, 18, 10, 10).unwrap(), (1.0, 0.0));
}
