//! Rasterisation of a placed implant onto an FDTD grid — the single place where implant geometry
//! becomes grid data. Local runs and transfer-function runs use it alike.
//!
//! Model:
//! - wires and leads: the sub-cell thin-wire model of `fdtd::thinwire` (first-ring corrected
//!   lattice around the staircased wire edges with the conductor's radius — at most 0.45 cell,
//!   reported in [`ImplantRaster::wire_model_radius_m`]; the insulation as the effective
//!   permittivity of the radial edges, sealing the conductor's ends unless they are bare; bare ends
//!   and electrodes anywhere along the wire with their own radius, each exposing exactly its
//!   length). A coating thicker than the first ring of lattice edges (outer radius above 0.955
//!   cell) fills that ring and covers the edges beyond it in series with the gel
//!   (`fdtd::thinwire::CoatingRegion`), so one lead runs at 2, 1 and 0.5 mm cells;
//!   [`ImplantRaster::insulation_cells`] counts the cells whose centre lies in the coating;
//! - rods and plates: every cell whose centre lies inside the solid is PEC metal, plus a thin PEC
//!   centre line (rod) so a rod thinner than a cell still conducts.

use super::model::{norm, ImplantKind};
use super::placement::{LocalGridOptions, PlacedImplant};
use crate::coil::phantom::PhantomConfig;
use crate::error::{Error, Result};
use crate::fdtd::thinwire::{BareSpan, Insulation as ThinInsulation, ThinWire};
use crate::fdtd::SimulationSpec;
use crate::grid::{Grid, Material, VoxelModel};

/// One PEC edge of a rasterised wire.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WireEdge {
    /// Component (0 = x, 1 = y, 2 = z) and start node.
    pub comp: usize,
    pub node: [usize; 3],
    /// Arc length (m from the tip) of the edge centre, projected on the centre line.
    pub s_m: f64,
    /// +1 when the edge's positive direction points along the path (away from the tip), else -1.
    pub sign: f64,
}

/// What [`add_implant`] did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImplantRaster {
    /// Wire edges in path order (empty for solid kinds).
    pub edges: Vec<WireEdge>,
    /// Node nearest the tip.
    pub tip_node: [usize; 3],
    /// The edge continuing the wire one cell beyond the tip, into the medium (the tip gap of the
    /// reciprocity excitation): component, start node, and +1 when its positive direction points
    /// away from the wire.
    pub tip_gap: Option<(usize, [usize; 3], f64)>,
    pub metal_cells: usize,
    /// Cells whose centre lies in a wire's coating (0 when the coating lies inside the first ring
    /// of lattice edges around the wire, which carry it alone).
    pub insulation_cells: usize,
    /// Radius the thin-wire model uses (m): the conductor's, or 0.45 cell when the conductor is thicker
    /// than the model allows (None for solid implants).
    pub wire_model_radius_m: Option<f64>,
    /// Staircase minus polyline length of the wire (m).
    pub staircase_length_error_m: Option<f64>,
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Adds `implant` to `spec` (materials, PEC cells for solid kinds, the sub-cell thin wire for wires
/// and leads) and returns the wire edges. Every point of the implant must lie inside the grid.
pub fn add_implant(spec: &mut SimulationSpec, implant: &PlacedImplant) -> Result<ImplantRaster> {
    let grid = spec.model.grid.clone();
    check_inside(&grid, implant)?;
    let mut raster = ImplantRaster {
        edges: vec![],
        tip_node: [0; 3],
        tip_gap: None,
        metal_cells: 0,
        insulation_cells: 0,
        wire_model_radius_m: None,
        staircase_length_error_m: None,
    };
    raster.tip_node = nearest(&grid, implant.path_m[0]);
    let d = grid.uniform_spacing().unwrap_or([1e-3; 3]);
    if implant.implant.is_solid() {
        let name = &implant.implant.name;
        let metal = spec
            .model
            .add_material(Material::pec(&format!("{name}_{}", implant.implant.metal.name)))?;
        add_solid(&mut spec.model, &grid, implant, metal, d, &mut raster)?;
        return Ok(raster);
    }
    add_thin_wire(&mut spec.thin_wires, &grid, implant, d, &mut raster)?;
    raster.tip_gap = tip_gap(&raster, grid.dims());
    Ok(raster)
}

/// A fine local voxel model around a placed implant: air background, the phantom's gel (and so any
/// wall or air that falls in the box) and the implant rasterised by [`add_implant`]. The implant's tip
/// (the first point of its path) is a grid node. PEC outer boundaries (set the spec's boundaries
/// for a run).
pub fn local_model(
    placed: &PlacedImplant,
    phantom: &PhantomConfig,
    opt: &LocalGridOptions,
) -> Result<(SimulationSpec, ImplantRaster)> {
    if !(opt.cell_m > 0.0) || !(opt.pad_m >= 0.0) {
        return Err(Error::input(
            "local grid",
            "cell_m",
            format!("cell {} m / pad {} m", opt.cell_m, opt.pad_m),
            "give a cell size > 0 and a padding >= 0",
        ));
    }
    let ext = placed.implant.outer_radius_m() + 0.5 * placed.implant.width_m;
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in &placed.path_m {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a] - ext - opt.pad_m);
            hi[a] = hi[a].max(p[a] + ext + opt.pad_m);
        }
    }
    let d = opt.cell_m;
    // The lattice follows the implant: the tip (first point of the path) is a grid node, so a wire
    // along an axis lies on a node line and the box is built alike for every placement (mirror
    // images and sub-cell shifts give the same discrete model, issue 18 item 4).
    let tip = placed.path_m[0];
    let i0: [f64; 3] = std::array::from_fn(|a| ((lo[a] - tip[a]) / d).floor());
    let i1: [f64; 3] = std::array::from_fn(|a| ((hi[a] - tip[a]) / d).ceil());
    let key = "cell_m (--fine-cell-mm, --cell-mm of implant place)";
    let n = [0, 1, 2].map(|a| crate::resources::axis_cells((i1[a] - i0[a]).max(1.0)));
    let n = match n {
        [Some(a), Some(b), Some(c)] => [a, b, c],
        _ => {
            return Err(Error::input(
                "local grid",
                key,
                format!("a cell of {d} m makes the local grid too large to count"),
                "use larger cells (about 1 mm) or a smaller padding",
            ))
        }
    };
    let cells = crate::resources::cells(n);
    if cells.is_none_or(|c| c > 200_000_000) {
        return Err(Error::input(
            "local grid",
            key,
            format!(
                "the local grid would have {} x {} x {} cells (at most 200 million)",
                n[0], n[1], n[2]
            ),
            "use larger cells or a smaller padding",
        ));
    }
    crate::resources::check_bytes(
        "local grid",
        key,
        &format!(
            "the local grid of {} x {} x {} cells at {} mm",
            n[0],
            n[1],
            n[2],
            d * 1e3
        ),
        crate::resources::fdtd_bytes(n, 1),
        |r| crate::resources::coarser_cell_fix("--fine-cell-mm", d * 1e3, "", r),
    )?;
    let grid = Grid::uniform(std::array::from_fn(|a| tip[a] + i0[a] * d), [d; 3], n)?;
    let mut model = VoxelModel::new(grid, Material::vacuum())?;
    phantom.rasterise(&mut model)?;
    let mut spec = SimulationSpec::new(model);
    spec.cell_key = ("local grid".into(), key.into());
    let raster = add_implant(&mut spec, placed)?;
    Ok((spec, raster))
}

/// Error unless every point of the implant's path lies inside the grid.
fn check_inside(grid: &Grid, implant: &PlacedImplant) -> Result<()> {
    let name = &implant.implant.name;
    for p in &implant.path_m {
        for a in 0..3 {
            let ax = &grid.axes[a];
            if p[a] < ax.start() || p[a] > ax.end() {
                return Err(Error::input(
                    &implant.implant.source_name,
                    "path",
                    format!("point {p:?} of implant {name} lies outside the grid"),
                    "enlarge the local grid (pad_m)",
                ));
            }
        }
    }
    Ok(())
}

/// The grid node nearest `p`.
fn nearest(grid: &Grid, p: [f64; 3]) -> [usize; 3] {
    [0, 1, 2].map(|a| grid.axes[a].nearest_node(p[a]))
}

/// Error when a wire implant put no edge on the grid.
fn check_not_empty(implant: &PlacedImplant, raster: &ImplantRaster) -> Result<()> {
    if raster.edges.is_empty() {
        return Err(Error::input(
            &implant.implant.source_name,
            "length_m",
            format!("implant {} is shorter than one grid cell", implant.implant.name),
            "use a finer grid or a longer implant",
        ));
    }
    Ok(())
}

/// Rods and plates: the cells whose centre lies inside the solid (rod: within the radius of the
/// centre line; plate: inside the rotated box, at least one cell thick) become `metal`; a rod also
/// gets a thin PEC centre line.
fn add_solid(
    model: &mut VoxelModel,
    grid: &Grid,
    implant: &PlacedImplant,
    metal: u8,
    d: [f64; 3],
    raster: &mut ImplantRaster,
) -> Result<()> {
    let dims = grid.dims();
    let r = implant.implant.radius_m;
    let hw = 0.5 * implant.implant.width_m;
    let ext = r + hw + d.iter().cloned().fold(0.0, f64::max);
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for p in &implant.path_m {
        for a in 0..3 {
            let l = grid.axes[a].cell_of(p[a] - ext).unwrap_or(0);
            let h = grid.axes[a].cell_of(p[a] + ext).unwrap_or(dims[a] - 1);
            lo[a] = lo[a].min(l);
            hi[a] = hi[a].max(h);
        }
    }
    let a0 = implant.path_m[0];
    let a1 = *implant.path_m.last().unwrap();
    let len = norm(sub(a1, a0));
    let t = [0, 1, 2].map(|a| (a1[a] - a0[a]) / len);
    let wa = implant.width_axis;
    let na = [
        t[1] * wa[2] - t[2] * wa[1],
        t[2] * wa[0] - t[0] * wa[2],
        t[0] * wa[1] - t[1] * wa[0],
    ];
    let half_t = r.max(0.5 * d[0].min(d[1]).min(d[2]));
    for i in lo[0]..=hi[0] {
        for j in lo[1]..=hi[1] {
            for k in lo[2]..=hi[2] {
                let c = grid.cell_centre(i, j, k);
                let q = sub(c, a0);
                let along = q[0] * t[0] + q[1] * t[1] + q[2] * t[2];
                if !(-1e-12..=len + 1e-12).contains(&along) {
                    continue;
                }
                let inside = match implant.implant.kind {
                    ImplantKind::Plate => {
                        let x = q[0] * wa[0] + q[1] * wa[1] + q[2] * wa[2];
                        let y = q[0] * na[0] + q[1] * na[1] + q[2] * na[2];
                        x.abs() <= hw && y.abs() <= half_t
                    }
                    _ => {
                        let perp = [0, 1, 2].map(|a| q[a] - along * t[a]);
                        norm(perp) <= r
                    }
                };
                if inside {
                    model.set_cell(i, j, k, metal);
                    raster.metal_cells += 1;
                }
            }
        }
    }
    if implant.implant.kind == ImplantKind::Rod {
        model.pec_wire(a0, a1)?;
    }
    Ok(())
}

/// Wires: the sub-cell thin-wire model of `fdtd::thinwire` (corrected H around the staircased wire
/// edges, insulation as an effective permittivity of the radial edges, bare ends). The model needs
/// radius < half a cell (and the jacket inside the cell): thicker wires are modelled with the largest
/// radius the model allows, which `ImplantRaster::wire_model_radius_m` reports.
fn add_thin_wire(
    thin_wires: &mut Vec<ThinWire>,
    grid: &Grid,
    implant: &PlacedImplant,
    d: [f64; 3],
    raster: &mut ImplantRaster,
) -> Result<()> {
    let name = &implant.implant.name;
    let dmin = d.iter().cloned().fold(f64::INFINITY, f64::min);
    let r_true = implant.implant.radius_m;
    let r_model = r_true.min(0.45 * dmin);
    let insulation = match &implant.implant.insulation {
        None => None,
        Some(ins) => {
            // A conductor thicker than the model allows is modelled with the largest radius it
            // allows; its coating then keeps the ratio of its radii, i.e. its capacitance per
            // length `2 pi eps_i / ln(b/a)`, which sets the insulated line's wavenumber and
            // impedance (the gel's share beyond b changes by ln(b/b_model) / |eps_gel|, ~1 %).
            let b = (r_true + ins.thickness_m) * r_model / r_true;
            Some(ThinInsulation {
                outer_radius_m: b.max(1.05 * r_model),
                eps_r: ins.eps_r,
            })
        }
    };
    // Bare parts (ends, tip and ring electrodes) with their radius, capped like the conductor's.
    let bare = if implant.implant.insulation.is_some() {
        (0..implant.implant.bare_m.len())
            .map(|i| {
                let b = implant.implant.bare_m[i];
                BareSpan {
                    from_m: b[0],
                    to_m: b[1],
                    radius_m: implant.implant.bare_radius_m(i).min(0.45 * dmin),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let tw = ThinWire {
        nodes_m: implant.path_m.clone(),
        radius_m: r_model,
        insulation,
        bare,
    };
    let st = tw.staircase(grid, &format!("implant {name}"))?;
    raster.insulation_cells = tw.coating_cells(grid, &format!("implant {name}"))?;
    for e in &st.edges {
        raster.edges.push(WireEdge {
            comp: e.comp,
            node: e.node,
            s_m: e.arc_m,
            sign: e.dir as f64,
        });
    }
    raster.wire_model_radius_m = Some(r_model);
    raster.staircase_length_error_m = Some(st.length_error_m());
    if let Some(first) = st.edges.first() {
        let mut t = first.node;
        if first.dir < 0 {
            t[first.comp] += 1;
        }
        raster.tip_node = t;
    }
    thin_wires.push(tw);
    check_not_empty(implant, raster)
}

/// Tip gap: the edge from the tip node one step outward along the first wire edge's axis.
fn tip_gap(raster: &ImplantRaster, dims: [usize; 3]) -> Option<(usize, [usize; 3], f64)> {
    let first = &raster.edges[0];
    let a = first.comp;
    let tip = raster.tip_node;
    let outward = -first.sign;
    if outward > 0.0 {
        (tip[a] < dims[a]).then_some((a, tip, 1.0))
    } else {
        (tip[a] > 0).then(|| {
            let mut s = tip;
            s[a] -= 1;
            (a, s, -1.0)
        })
    }
}
