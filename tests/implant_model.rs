//! Implant files and placement: the shipped implants load; bad input names the file, key and fix;
//! placement geometry and the wall-distance check; rasterisation of wires and solids.

use rftwin::coil::phantom::PhantomConfig;
use rftwin::error::Error;
use rftwin::implant::model::{path_length, Implant, ImplantKind};
use rftwin::implant::placement::{self, place, LocalGridOptions, Placement};
use rftwin::implant::raster::local_model;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn astm() -> PhantomConfig {
    PhantomConfig::load(&root().join("phantoms/astm_f2182.toml")).unwrap()
}

fn input_err(text: &str) -> (String, String, String) {
    match Implant::from_toml_str(text, "bad.toml") {
        Err(Error::Input {
            source_name, key, what, ..
        }) => (source_name, key, what),
        Err(e) => panic!("not an input error: {e}"),
        Ok(_) => panic!("accepted bad input:\n{text}"),
    }
}

#[test]
fn shipped_implants_load_with_their_lengths() {
    let dir = root().join("phantoms/implants");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let imp = Implant::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(imp.length_m() > 0.05 && imp.length_m() < 0.55, "{}", p.display());
            n += 1;
        }
    }
    assert!(n >= 8, "expected at least 8 shipped implants, found {n}");
    // Multi-electrode leads: a DBS-like lead (4 rings, sealed tip) and a bipolar pacing-like lead.
    let dbs = Implant::load(&dir.join("lead_dbs_4ring.toml")).unwrap();
    assert_eq!(dbs.electrodes.len(), 4);
    assert!(!dbs.is_bare(0.0) && dbs.is_bare(0.002) && !dbs.is_bare(0.0032) && !dbs.is_bare(0.3));
    let pacing = Implant::load(&dir.join("lead_bipolar_pacing.toml")).unwrap();
    assert_eq!(pacing.bare_m, vec![[0.0, 0.002], [0.012, 0.022]]);
    let w = Implant::load(&dir.join("insulated_wire_200mm.toml")).unwrap();
    assert_eq!(w.kind, ImplantKind::InsulatedWire);
    assert!((w.length_m() - 0.2).abs() < 1e-12);
    assert_eq!(w.bare_m, vec![[0.0, 0.01], [0.19, 0.2]]);
    assert!(w.is_bare(0.005) && !w.is_bare(0.1) && w.is_bare(0.195));
    // Ti-6Al-4V: 178 µΩ cm -> 5.62e5 S/m.
    assert!((w.metal.sigma_s_per_m - 5.618e5).abs() < 1e3);
    let lead = Implant::load(&dir.join("lead_bare_tip.toml")).unwrap();
    assert!((lead.length_m() - 0.3).abs() < 1e-4, "{}", lead.length_m());
    assert_eq!(lead.bare_m, vec![[0.0, 0.003]]);
}

#[test]
fn bad_implant_files_name_the_key() {
    let base = "kind = \"bare_wire\"\nmaterial = \"ti6al4v\"\nlength_m = 0.1\nradius_m = 0.0005\n";
    // Unknown key.
    let (f, k, _) = input_err(&format!("{base}colour = \"red\"\n"));
    assert_eq!(f, "bad.toml");
    assert_eq!(k, "colour");
    // Unknown material.
    let (_, k, w) = input_err(&base.replace("ti6al4v", "unobtainium"));
    assert_eq!(k, "material");
    assert!(w.contains("unobtainium"));
    // Radius <= 0.
    let (_, k, _) = input_err(&base.replace("radius_m = 0.0005", "radius_m = 0.0"));
    assert_eq!(k, "radius_m");
    let (_, k, _) = input_err(&base.replace("radius_m = 0.0005", "radius_m = -1e-3"));
    assert_eq!(k, "radius_m");
    // Zero length.
    let (_, k, _) = input_err(&base.replace("length_m = 0.1", "length_m = 0.0"));
    assert_eq!(k, "length_m");
    // Zero-length path segment (repeated point).
    let lead = "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0002\ntip_electrode_length_m = 0.003\n[insulation]\nthickness_m = 0.0003\neps_r = 3.0\n[path]\n";
    let (_, k, _) = input_err(&format!("{lead}points_m = [[0,0,0],[0,0,0.1],[0,0,0.1],[0,0,0.2]]\n"));
    assert_eq!(k, "path.points_m[2]");
    // Self-intersecting path: crosses itself.
    let (_, k, w) = input_err(&format!(
        "{lead}points_m = [[0,0,0],[0,0,0.1],[0.05,0,0.05],[-0.05,0,0.05]]\n"
    ));
    assert!(k.starts_with("path.points_m"), "{k}");
    assert!(w.contains("self-intersecting"), "{w}");
    // Helix with turns touching: pitch below the outer diameter (1 mm).
    let helix = lead.replace(
        "[path]\n",
        "[helix]\nradius_m = 0.001\npitch_m = 0.0008\nlength_m = 0.05\n",
    );
    let (_, k, _) = input_err(&helix);
    assert_eq!(k, "helix.pitch_m");
    let ok = lead.replace(
        "[path]\n",
        "[helix]\nradius_m = 0.001\npitch_m = 0.002\nlength_m = 0.05\n",
    );
    let h = Implant::from_toml_str(&ok, "ok.toml").unwrap();
    // Helix arc length: turns * sqrt((2 pi r)^2 + p^2), chords of 24 per turn (error < 0.3 %).
    let exact = 25.0 * ((2.0 * std::f64::consts::PI * 0.001f64).powi(2) + 0.002f64.powi(2)).sqrt();
    assert!((path_length(&h.path_m) / exact - 1.0).abs() < 3e-3);
    // Insulated wire whose bare ends cover everything.
    let ins = "kind = \"insulated_wire\"\nmaterial = \"ss316l\"\nlength_m = 0.02\nradius_m = 0.0005\n[insulation]\nthickness_m = 0.0002\neps_r = 2.0\nbare_ends_m = [0.01, 0.01]\n";
    let (_, k, _) = input_err(ins);
    assert_eq!(k, "insulation.bare_ends_m");
    // Explicit material values are accepted.
    let explicit = "kind = \"rod\"\nmaterial = \"my_alloy\"\nlength_m = 0.05\nradius_m = 0.001\n[material_values]\nname = \"x\"\nsigma_s_per_m = 1e6\nk_w_per_m_k = 10.0\ndensity_kg_per_m3 = 5000.0\nc_j_per_kg_k = 400.0\n";
    let r = Implant::from_toml_str(explicit, "ok.toml").unwrap();
    assert_eq!(r.metal.name, "my_alloy");
}

#[test]
fn placement_rotates_and_checks_wall_distance() {
    let ph = astm();
    let wire = Implant::load(&root().join("phantoms/implants/insulated_wire_100mm.toml")).unwrap();
    // Along x through the centre, tip at -x... direction +x puts the tip (implant -z) at -x.
    let pl = Placement::new("cli", [0.05, 0.0, 0.0], [1.0, 0.0, 0.0], 0.0).unwrap();
    let placed = place(&wire, &ph, &pl).unwrap();
    let t = placed.path_m[0];
    let e = placed.path_m[1];
    assert!((t[0] - 0.0).abs() < 1e-12 && (e[0] - 0.1).abs() < 1e-12, "{t:?} {e:?}");
    // Nearest wall: the gel surface 45 mm above centre, minus the outer radius 0.75 mm.
    assert!(
        (placed.wall_distance_m - (0.045 - 0.00075)).abs() < 1e-9,
        "{}",
        placed.wall_distance_m
    );
    // Too close to the side wall (x half-width 0.21): centre at 0.15 puts the far end at 0.20.
    let pl = Placement::new("cli", [0.15, 0.0, 0.0], [1.0, 0.0, 0.0], 0.0).unwrap();
    match place(&wire, &ph, &pl) {
        Err(Error::Input {
            source_name, key, what, ..
        }) => {
            assert_eq!(source_name, "cli");
            assert_eq!(key, "position_m");
            assert!(what.contains("0.0092"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // Crossing the gel surface (pointing up out of a 9 cm gel).
    let pl = Placement::new("cli", [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], 0.0).unwrap();
    match place(&wire, &ph, &pl) {
        Err(Error::Input { what, .. }) => assert!(what.contains("outside the gel"), "{what}"),
        other => panic!("{other:?}"),
    }
    // Euler angles: beta = 90 deg about y takes z to x.
    let r = placement::rotation_from_euler_zyz(0.0, std::f64::consts::FRAC_PI_2, 0.0);
    let d = placement::rotate(&r, [0.0, 0.0, 1.0]);
    assert!((d[0] - 1.0).abs() < 1e-12 && d[2].abs() < 1e-12);
    // The placement TOML reader is strict.
    let bad = Placement::from_toml_str("position_m = [0,0,0]\ndirection = [0,0,0]\n", "p.toml").unwrap_err();
    assert!(bad.to_string().contains("direction"), "{bad}");
    let bad = Placement::from_toml_str("position = [0,0,0]\n", "p.toml").unwrap_err();
    assert!(bad.to_string().contains("position"), "{bad}");
}

#[test]
fn local_model_rasterises_wire_insulation_and_rod() {
    let ph = astm();
    let wire = Implant::load(&root().join("phantoms/implants/insulated_wire_100mm.toml")).unwrap();
    let pl = Placement::new("cli", [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], 0.0).unwrap();
    let placed = place(&wire, &ph, &pl).unwrap();
    let opt = LocalGridOptions {
        cell_m: 2e-3,
        pad_m: 0.01,
    };
    let (spec, r) = local_model(&placed, &ph, &opt).unwrap();
    // 100 mm along z at 2 mm: 50 PEC edges, arc lengths at the edge centres 1, 3, ... 99 mm.
    assert_eq!(r.edges.len(), 50);
    assert!(r.edges.iter().all(|e| e.comp == 2 && e.sign == 1.0));
    assert!((r.edges[0].s_m - 0.001).abs() < 1e-9 && (r.edges[49].s_m - 0.099).abs() < 1e-9);
    // The wire is one sub-cell thin wire with the conductor radius and the jacket over the middle
    // 80 mm (1 cm bare at each end).
    assert_eq!(spec.thin_wires.len(), 1);
    let tw = &spec.thin_wires[0];
    assert!((tw.radius_m - 0.0005).abs() < 1e-12, "{}", tw.radius_m);
    let ins = tw.insulation.as_ref().expect("insulated");
    assert!((ins.outer_radius_m - 0.00075).abs() < 1e-12 && (ins.eps_r - 2.1).abs() < 1e-12);
    assert_eq!(tw.bare.len(), 2);
    assert!(tw.bare[0].from_m.abs() < 1e-12 && (tw.bare[0].to_m - 0.01).abs() < 1e-12);
    assert!((tw.bare[1].from_m - 0.09).abs() < 1e-12 && (tw.bare[1].to_m - 0.1).abs() < 1e-12);
    assert!(tw.bare.iter().all(|b| (b.radius_m - 0.0005).abs() < 1e-12));
    assert_eq!(r.wire_model_radius_m, Some(0.0005));
    assert!(r.staircase_length_error_m.unwrap().abs() < 1e-9);
    // The tip gap continues the wire below the tip.
    let (c, n, s) = r.tip_gap.unwrap();
    assert_eq!((c, s), (2, -1.0));
    assert_eq!(n[2] + 1, r.tip_node[2]);
    // Rod: 2 mm diameter at 0.5 mm cells: cells whose centre is within 1 mm of the axis.
    let rod = Implant::load(&root().join("phantoms/implants/astm_ti_rod_2x100mm.toml")).unwrap();
    let placed = place(&rod, &ph, &pl).unwrap();
    let opt = LocalGridOptions {
        cell_m: 0.5e-3,
        pad_m: 0.002,
    };
    let (_, r) = local_model(&placed, &ph, &opt).unwrap();
    // Cross-section: 12 cell centres within 1 mm of a node-aligned axis at 0.5 mm pitch
    // (offsets +-0.25, +-0.75 in each axis: 4 + 8 = 12), 200 cells along.
    assert_eq!(r.metal_cells, 12 * 200);
}

#[test]
fn plate_rasterises_as_a_rotated_metal_box() {
    let ph = astm();
    let plate = Implant::from_toml_str(
        "kind = \"plate\"\nmaterial = \"ss316l\"\nlength_m = 0.02\nwidth_m = 0.01\nthickness_m = 0.002\nradius_m = 0.001\n",
        "plate.toml",
    )
    .unwrap();
    let opt = LocalGridOptions {
        cell_m: 1e-3,
        pad_m: 0.003,
    };
    // Flat in the xz plane: 10 (x) x 2 (y) x 20 (z) cell centres inside.
    let pl = Placement::new("cli", [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], 0.0).unwrap();
    let (_, r) = local_model(&place(&plate, &ph, &pl).unwrap(), &ph, &opt).unwrap();
    assert_eq!(r.metal_cells, 400);
    // Rolled by 90 degrees about its length: the width now runs along y, the thickness along x.
    let pl = Placement::new("cli", [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], 90.0).unwrap();
    let placed = place(&plate, &ph, &pl).unwrap();
    assert!((placed.width_axis[1] - 1.0).abs() < 1e-12);
    let (spec, r) = local_model(&placed, &ph, &opt).unwrap();
    assert_eq!(r.metal_cells, 400);
    // The metal is PEC and the box around it is gel.
    let m = spec.model.materials();
    assert!(m.iter().any(|x| x.pec && x.name.contains("ss316l")));
    assert!(m.iter().any(|x| x.name == "astm_gel"));
    // A plate's radius must be half its thickness.
    let bad = Implant::from_toml_str(
        "kind = \"plate\"\nmaterial = \"ss316l\"\nlength_m = 0.02\nwidth_m = 0.01\nthickness_m = 0.002\nradius_m = 0.003\n",
        "plate.toml",
    );
    assert!(bad.unwrap_err().to_string().contains("radius_m"));
}
