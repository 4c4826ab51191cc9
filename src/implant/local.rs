//! Local fine-grid fields at a placed implant, driven by the coil's incident field.
//!
//! The coil twin is solved on a coarse grid (about 10 mm); an implant needs about 1 mm. A small FDTD
//! box around the implant (the implant's bounding box plus `pad_m`) is solved on its own fine grid.
//! The coil's field enters through a total-field/scattered-field surface (`fdtd::tfsf`) a few cells
//! inside the box, with CPML outside it, so the box holds
//!
//! ```text
//! | CPML | scattered field (gap) | total field: gel + implant + pad | gap | CPML |
//! ```
//!
//! Inside the surface the run holds the total field (incident + the implant's scattered field), and
//! only that part is returned: E at the cell centres, with the per-cell materials for SAR, the
//! thermal properties (the metal of the implant included) and the incident field at the same centres
//! (the background, implant removed, without a second FDTD run).
//!
//! The incident field is any [`IncidentField`]; [`TwinIncident`] interpolates the twin's coarse-grid
//! phasors (trilinear, each Yee component from its own lattice). Where the coarse field is not a
//! solution of the fine grid's equations (interpolation error, a staircased phantom surface of the
//! coarse model) the mismatch leaks out of the box as a small scattered field, absorbed by the CPML;
//! keep the box inside the gel (the placement check already keeps the implant `min_wall_distance_m`
//! from any wall).

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};

use super::placement::{LocalGridOptions, PlacedImplant};
use super::raster::{local_model, ImplantRaster};
use crate::coil::PhantomConfig;
use crate::dosimetry::sar::{mass_averaged_sar_in_cut_box, point_sar, AveragedSar, SarInput};
use crate::dosimetry::thermal::{Boundaries, Boundary, Probe as ThermalProbe, ThermalMaterial, ThermalModel};
use crate::dosimetry::thermal::{ThermalResult, ThermalSettings};
use crate::dosimetry::VoxelGrid;
use crate::error::{Error, Result};
use crate::fdtd::{Boundary as FdtdBoundary, FieldKind, IncidentField, Probe, RunStats, Simulation};
use crate::fdtd::{CourantReference, SimulationSpec, SteadyState, TfsfSpec, YeeVector};
use crate::grid::{GridPlacement, Material, VoxelModel};
use crate::twin::TwinFields;

/// The coil twin's fields as the incident field of a local run (coil frame, complex peak phasors).
/// Points outside the twin's field box give zero (the local box must lie inside it; the caller checks
/// with [`TwinIncident::covers`]).
pub struct TwinIncident {
    pub fields: TwinFields,
}

fn finite_or_zero(v: [Complex64; 3]) -> [Complex64; 3] {
    v.map(|z| {
        if z.re.is_finite() && z.im.is_finite() {
            z
        } else {
            Complex64::default()
        }
    })
}

impl TwinIncident {
    pub fn new(fields: TwinFields) -> Self {
        Self { fields }
    }
    /// True when every corner of the box `lo..hi` (m) lies where the twin's E and H can be interpolated.
    pub fn covers(&self, lo: [f64; 3], hi: [f64; 3]) -> bool {
        (0..8).all(|c| {
            let p = [0, 1, 2].map(|a| if c >> a & 1 == 1 { hi[a] } else { lo[a] });
            self.fields
                .e_at(p)
                .iter()
                .chain(self.fields.h_at(p).iter())
                .all(|z| z.re.is_finite())
        })
    }
}

/// The twin's E as the incident field of a transfer-function estimate (NaN outside the field box, so
/// a path leaving it has no estimate).
impl super::tf::IncidentE for TwinIncident {
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        self.fields.e_at(p_m)
    }
}

impl IncidentField for TwinIncident {
    fn freq_hz(&self) -> f64 {
        self.fields.freq_hz
    }
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        finite_or_zero(self.fields.e_at(p_m))
    }
    fn h(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        finite_or_zero(self.fields.h_at(p_m))
    }
}

/// Settings of a local run.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Fine cell size (m).
    pub cell_m: f64,
    /// Gel margin around the implant inside the total-field box (m).
    pub pad_m: f64,
    /// Cells of scattered-field region between the TF/SF surface and the CPML.
    pub gap_cells: usize,
    pub cpml_layers: usize,
    pub courant: f64,
    /// The wave speed the Courant number refers to: by default the fastest on the local grid, so a
    /// box of gel steps ~9x longer than one with air in it (thin wires' insulation lowers the gain).
    pub courant_reference: CourantReference,
    pub steady: SteadyState,
    /// Ramp of the incident field (periods).
    pub ramp_periods: f64,
    /// Include the implant (false: the same box with the gel only, to check that the incident field
    /// is reproduced).
    pub with_implant: bool,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            cell_m: 1e-3,
            pad_m: 0.015,
            gap_cells: 3,
            // 5 layers (was 8): examples/local_boundary_study.rs, 100 V/m plane wave in ASTM gel,
            // tip 1 g SAR / tip rise against 8 layers: insulated 200 mm wire at 2 mm -0.02 % / -0.02 %
            // (4 layers +0.18 %, 4 with a 2-cell gap +0.23 %), bare 200 mm wire at 2 mm < 0.01 % with
            // 6 layers (4 layers, 2-cell gap: -0.11 %), insulated 100 mm wire at 1 mm -0.04 % /
            // -0.02 %; the box has ~30-45 % fewer cells.
            cpml_layers: 5,
            courant: 0.98,
            courant_reference: CourantReference::FastestMedium,
            steady: SteadyState {
                tol: 2e-3,
                min_periods: 3,
                max_periods: 80,
            },
            ramp_periods: 1.0,
            with_implant: true,
        }
    }
}

/// One material of the local model, with what dosimetry needs.
#[derive(Clone, Debug)]
pub struct LocalMaterial {
    pub name: String,
    pub sigma_s_per_m: f64,
    pub eps_r: f64,
    /// Density used for SAR (0 for air and metal: SAR is asked in the gel only).
    pub sar_density_kg_per_m3: f64,
    /// Thermal properties (`None`: outside the thermal domain, e.g. air).
    pub thermal: Option<ThermalMaterial>,
}

/// Fields and materials of the total-field region of a local run, at the fine cell centres.
pub struct LocalFields {
    pub cells: GridPlacement,
    /// Total E (V/m, complex peak phasors) at the cell centres.
    pub e: [Array3<Complex32>; 3],
    /// Incident E at the same centres (the field with the implant removed).
    pub e_incident: [Array3<Complex32>; 3],
    /// Material label per cell (index into `materials`) for SAR.
    pub labels: Array3<u8>,
    /// Label per cell for the thermal model (the cells around a sub-cell wire hold its metal as a
    /// mixed material, see `mark_wire_cells`).
    pub thermal_labels: Array3<u8>,
    pub materials: Vec<LocalMaterial>,
    pub raster: ImplantRaster,
    pub stats: RunStats,
    pub dt_s: f64,
    /// Cells of the whole FDTD box (CPML included).
    pub fdtd_cells: usize,
    pub setup_s: f64,
}

fn gel_thermal(phantom: &PhantomConfig) -> ThermalMaterial {
    ThermalMaterial {
        name: phantom.material.name.clone(),
        density_kg_per_m3: phantom.material.density_kg_per_m3,
        heat_capacity_j_per_kg_k: phantom.material.c_j_per_kg_k,
        conductivity_w_per_m_k: phantom.material.k_w_per_m_k,
        perfusion_per_s: 0.0,
        metabolic_heat_w_per_m3: 0.0,
    }
}

/// Polymer insulation (thermal): a generic medical-grade polymer (silicone/polyurethane class), density
/// 1150 kg/m³, 1500 J/(kg K), 0.25 W/(m K).
fn insulation_thermal() -> ThermalMaterial {
    ThermalMaterial {
        name: "insulation".into(),
        density_kg_per_m3: 1150.0,
        heat_capacity_j_per_kg_k: 1500.0,
        conductivity_w_per_m_k: 0.25,
        perfusion_per_s: 0.0,
        metabolic_heat_w_per_m3: 0.0,
    }
}

/// Runs the fine-grid FDTD box around `placed` in `phantom`, driven by `incident` through a TF/SF
/// surface, to steady state at the incident field's frequency.
pub fn run_local(
    placed: &PlacedImplant,
    phantom: &PhantomConfig,
    incident: Arc<dyn IncidentField>,
    opt: &LocalOptions,
) -> Result<LocalFields> {
    let t0 = Instant::now();
    let d = opt.cell_m;
    let outer = (opt.gap_cells + opt.cpml_layers) as f64 * d;
    let (mut spec, raster) = local_model(
        placed,
        phantom,
        &LocalGridOptions {
            cell_m: d,
            pad_m: opt.pad_m + outer,
        },
    )?;
    let n = spec.model.grid.dims();
    let m = opt.gap_cells + opt.cpml_layers;
    if n.iter().any(|&k| k <= 2 * m + 2) {
        return Err(Error::input(
            "local grid",
            "pad_m",
            format!("local grid {n:?} cells is too small for {m} CPML + gap cells per side"),
            "increase pad_m or use smaller cells",
        ));
    }
    if !opt.with_implant {
        let mut model = VoxelModel::new(spec.model.grid.clone(), Material::vacuum())?;
        phantom.rasterise(&mut model)?;
        let cell_key = spec.cell_key.clone();
        spec = SimulationSpec::new(model);
        spec.cell_key = cell_key;
    }
    let lo = [m; 3];
    let hi = [n[0] - m, n[1] - m, n[2] - m];
    spec = spec.all_boundaries(FdtdBoundary::cpml(opt.cpml_layers));
    spec.courant = opt.courant;
    spec.courant_reference = opt.courant_reference;
    spec.cw_freq_hz = Some(incident.freq_hz());
    let mut t = TfsfSpec::new(lo, hi, incident.clone());
    t.ramp_periods = opt.ramp_periods;
    spec.tfsf = Some(t);
    let node0 = spec.model.grid.node_pos(0, 0, 0);
    let materials_em: Vec<crate::grid::Material> = spec.model.materials().to_vec();
    // Labels of the total-field cells (lo..hi per axis).
    let tf_cells = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    let mut labels = Array3::<u8>::zeros(tf_cells);
    for ((i, j, k), l) in labels.indexed_iter_mut() {
        *l = spec.model.cell_material(i + lo[0], j + lo[1], k + lo[2]);
    }
    let mut sim = Simulation::new(spec)?;
    let freq = incident.freq_hz();
    let steps = sim.steps_per_period().unwrap_or(1);
    let every = [16, 8, 4, 2, 1]
        .into_iter()
        .find(|e| steps % e == 0 && steps / e >= 8)
        .unwrap_or(1);
    let region = [lo[0]..hi[0] + 1, lo[1]..hi[1] + 1, lo[2]..hi[2] + 1];
    let mut probe = sim.dft_probe("local_e", FieldKind::E, &[0, 1, 2], region, &[freq], steps / every)?;
    let setup_s = t0.elapsed().as_secs_f64();
    let stats = sim.run_cw(&opt.steady, &mut [&mut probe as &mut dyn Probe])?;
    if !stats.converged {
        return Err(Error::Other(format!(
            "local implant run did not reach steady state in {} periods (last change {:.2e}, tolerance {:.1e}); \
             raise steady.max_periods or check the incident field",
            stats.periods, stats.final_change, opt.steady.tol
        )));
    }
    let mut yee = YeeVector::from_probe(&probe, 0, node0, [d; 3])?;
    medium_field(&mut yee, &sim, lo);
    let (g, e) = yee.at_centres()?;
    // The centres the Yee vector gives are those of the total-field cells.
    if g.dims != tf_cells {
        return Err(Error::Other(format!(
            "local run: centre grid {:?} differs from the total-field cells {:?}",
            g.dims, tf_cells
        )));
    }
    let mut e_incident = [0, 1, 2].map(|_| Array3::<Complex32>::zeros(tf_cells));
    for i in 0..tf_cells[0] {
        for j in 0..tf_cells[1] {
            for k in 0..tf_cells[2] {
                let v = incident.e(g.position(i, j, k));
                for c in 0..3 {
                    e_incident[c][[i, j, k]] = Complex32::new(v[c].re as f32, v[c].im as f32);
                }
            }
        }
    }
    // Materials: the local model's table plus a thermal metal label for the wire's cells.
    let gel = gel_thermal(phantom);
    let mut materials: Vec<LocalMaterial> = materials_em
        .iter()
        .map(|m| {
            let is_gel = m.name == phantom.em_material().name;
            let thermal = if m.pec {
                Some(metal_thermal(placed))
            } else if is_gel || m.density_kg_per_m3 > 0.0 {
                // The gel, and (a simplification) any other dense medium in the box, e.g. a phantom wall.
                Some(gel.clone())
            } else if m.eps_r > 1.0 + 1e-9 {
                Some(insulation_thermal())
            } else {
                None
            };
            LocalMaterial {
                name: m.name.clone(),
                sigma_s_per_m: if m.pec { 0.0 } else { m.sigma_s_per_m },
                eps_r: m.eps_r,
                sar_density_kg_per_m3: if m.pec { 0.0 } else { m.density_kg_per_m3 },
                thermal,
            }
        })
        .collect();
    let mut thermal_labels = labels.clone();
    if opt.with_implant && !placed.implant.is_solid() {
        mark_wire_cells(&mut thermal_labels, &mut materials, &g, placed)?;
    }
    Ok(LocalFields {
        cells: g,
        e,
        e_incident,
        labels,
        thermal_labels,
        materials,
        raster,
        stats,
        dt_s: sim.dt(),
        fdtd_cells: n.iter().product(),
        setup_s,
    })
}

/// Replaces E on the coated first-ring edges of the thin wires by the field in the gel next to the
/// coating (`fdtd::thinwire::medium_field_factor`): the lattice edge carries the coating's voltage
/// too, which is no field in the gel (without this a sealed insulated end reads as the hottest
/// point). `lo` is the probe region's first node.
fn medium_field(yee: &mut YeeVector, sim: &Simulation, lo: [usize; 3]) {
    for st in &sim.thin_wires().wires {
        for &(c, node, g) in &st.medium_field {
            let data = &mut yee.comps[c].data;
            let dim = data.dim();
            let dim = [dim.0, dim.1, dim.2];
            if (0..3).any(|a| node[a] < lo[a] || node[a] - lo[a] >= dim[a]) {
                continue;
            }
            let ix = [node[0] - lo[0], node[1] - lo[1], node[2] - lo[2]];
            data[ix] *= Complex32::new(g.re as f32, g.im as f32);
        }
    }
}

/// Sensing volume of a fibre-optic temperature probe (m across): ASTM F2182 measures the heating with
/// fibre-optic probes touching the implant's ends, whose sensing tips are about 1 mm across.
pub const PROBE_DIAMETER_M: f64 = 1e-3;

/// The temperature probes of a placed implant as ASTM F2182 places them: a sphere of
/// [`PROBE_DIAMETER_M`] touching each end of the conductor on its axis, outside the metal ("tip" at
/// the first point of the path, "far end" at the last). The probe reads the mean over the voxels
/// whose centres lie in it (on grids coarser than the probe: interpolated at its centre); the peak
/// voxel is reported beside it (the maximum temperature rise).
pub fn end_probes(placed: &PlacedImplant) -> Vec<ThermalProbe> {
    let p = &placed.path_m;
    let r = 0.5 * PROBE_DIAMETER_M;
    let touching = |end: [f64; 3], inner: [f64; 3]| {
        let d = [0, 1, 2].map(|a| end[a] - inner[a]);
        let l = super::model::norm(d);
        if l > 0.0 {
            [0, 1, 2].map(|a| end[a] + d[a] / l * r)
        } else {
            end
        }
    };
    let n = p.len();
    if n < 2 {
        return vec![ThermalProbe::sphere("tip", p[0], r)];
    }
    vec![
        ThermalProbe::sphere("tip", touching(p[0], p[1]), r),
        ThermalProbe::sphere("far end", touching(p[n - 1], p[n - 2]), r),
    ]
}

fn metal_thermal(placed: &PlacedImplant) -> ThermalMaterial {
    let m = &placed.implant.metal;
    ThermalMaterial {
        name: m.name.clone(),
        density_kg_per_m3: m.density_kg_per_m3,
        heat_capacity_j_per_kg_k: m.c_j_per_kg_k,
        conductivity_w_per_m_k: m.k_w_per_m_k,
        perfusion_per_s: 0.0,
        metabolic_heat_w_per_m3: 0.0,
    }
}

/// The thermal path along a sub-cell wire: the wire's metal is spread over the cells around its
/// centre line by volume (each length `ds` of wire puts `pi a^2 ds` of metal on the eight cell
/// centres around it with trilinear weights), and a cell holding a metal fraction `f` gets a mixed
/// material: `rho c` and the conductivity weighted by volume, `f x metal + (1 - f) x the cell's own
/// material` (parallel conduction along the wire: the axial heat flow of the wire and the gel around
/// it is kept; the transverse one is overestimated inside the few cells around the wire). A wire
/// along a node line thus spreads over the four cells around it alike, whatever the placement
/// (issue 18 item 4); marking whole cells whose centre lay near the line depended on where the line
/// fell in the cell (all cells or none).
fn mark_wire_cells(
    labels: &mut Array3<u8>,
    materials: &mut Vec<LocalMaterial>,
    g: &GridPlacement,
    placed: &PlacedImplant,
) -> Result<()> {
    let d = g.spacing_m;
    let a = placed.implant.radius_m;
    let len = placed.length_m();
    let h = d[0].min(d[1]).min(d[2]) / 8.0;
    let n = ((len / h).ceil() as usize).max(1);
    let ds = len / n as f64;
    let vol = d[0] * d[1] * d[2];
    let mut frac: std::collections::BTreeMap<[usize; 3], f64> = std::collections::BTreeMap::new();
    for s in 0..=n {
        let w_end = if s == 0 || s == n { 0.5 } else { 1.0 };
        let (p, _) = super::model::point_at(&placed.path_m, len * s as f64 / n as f64);
        let u: [f64; 3] = std::array::from_fn(|x| (p[x] - g.origin_m[x]) / d[x]);
        let base: [f64; 3] = u.map(f64::floor);
        for c in 0..8usize {
            let mut w = w_end * std::f64::consts::PI * a * a * ds / vol;
            let mut q = [0i64; 3];
            for x in 0..3 {
                let off = ((c >> x) & 1) as f64;
                let t = u[x] - base[x];
                w *= if off == 1.0 { t } else { 1.0 - t };
                q[x] = base[x] as i64 + off as i64;
            }
            if w <= 0.0 || (0..3).any(|x| q[x] < 0 || q[x] >= g.dims[x] as i64) {
                continue;
            }
            *frac.entry(q.map(|v| v as usize)).or_insert(0.0) += w;
        }
    }
    let metal = metal_thermal(placed);
    // Fractions quantised to 1/256 so a straight wire needs a handful of mixed materials.
    let mut mixed: std::collections::BTreeMap<(u8, u32), u8> = std::collections::BTreeMap::new();
    for (q, f) in frac {
        let f = f.min(1.0);
        let qf = (f * 256.0).round() as u32;
        if qf == 0 {
            continue;
        }
        let base = labels[q];
        let Some(own) = materials[base as usize].thermal.clone() else {
            continue;
        };
        let label = match mixed.get(&(base, qf)) {
            Some(l) => *l,
            None => {
                if materials.len() >= u8::MAX as usize {
                    return Err(Error::Other(format!(
                        "local run: the wire {} needs more than {} thermal materials",
                        placed.implant.name,
                        u8::MAX
                    )));
                }
                let f = qf as f64 / 256.0;
                let rho = f * metal.density_kg_per_m3 + (1.0 - f) * own.density_kg_per_m3;
                let rc = f * metal.density_kg_per_m3 * metal.heat_capacity_j_per_kg_k
                    + (1.0 - f) * own.density_kg_per_m3 * own.heat_capacity_j_per_kg_k;
                let base_m = &materials[base as usize];
                let m = LocalMaterial {
                    name: format!("{} + {:.1} % {} (wire, thermal)", base_m.name, f * 100.0, metal.name),
                    sigma_s_per_m: base_m.sigma_s_per_m,
                    eps_r: base_m.eps_r,
                    sar_density_kg_per_m3: 0.0,
                    thermal: Some(ThermalMaterial {
                        name: format!("{} + {:.1} % {}", own.name, f * 100.0, metal.name),
                        density_kg_per_m3: rho,
                        heat_capacity_j_per_kg_k: rc / rho,
                        conductivity_w_per_m_k: f * metal.conductivity_w_per_m_k
                            + (1.0 - f) * own.conductivity_w_per_m_k,
                        perfusion_per_s: (1.0 - f) * own.perfusion_per_s,
                        metabolic_heat_w_per_m3: (1.0 - f) * own.metabolic_heat_w_per_m3,
                    }),
                };
                materials.push(m);
                let l = (materials.len() - 1) as u8;
                mixed.insert((base, qf), l);
                l
            }
        };
        labels[q] = label;
    }
    Ok(())
}

impl LocalFields {
    /// Voxel grid of the total-field cells (dosimetry convention: origin at the low corner).
    pub fn voxel_grid(&self) -> Result<VoxelGrid> {
        let h = self.cells.spacing_m;
        Ok(VoxelGrid::new(h)?.with_origin([0, 1, 2].map(|a| self.cells.origin_m[a] - 0.5 * h[a])))
    }

    /// SAR input of the total field (`with_implant`) or of the incident field (implant removed: the
    /// implant's cells are given the gel's properties).
    pub fn sar_input(&self, with_implant: bool) -> Result<SarInput> {
        let gel = self
            .materials
            .iter()
            .position(|m| m.sar_density_kg_per_m3 > 0.0 && m.sigma_s_per_m > 0.0)
            .unwrap_or(0);
        let pick = |l: u8| {
            let m = &self.materials[l as usize];
            if with_implant || m.sar_density_kg_per_m3 > 0.0 || m.thermal.is_none() {
                m
            } else {
                &self.materials[gel]
            }
        };
        let sigma = self.labels.mapv(|l| pick(l).sigma_s_per_m as f32);
        let rho = self.labels.mapv(|l| pick(l).sar_density_kg_per_m3 as f32);
        let e = if with_implant { &self.e } else { &self.e_incident };
        let name = if with_implant {
            "local fields (with implant)"
        } else {
            "local fields (implant removed)"
        };
        SarInput::from_phasors(name, [&e[0], &e[1], &e[2]], &sigma, rho, self.voxel_grid()?)
    }

    /// Thermal model of the total-field region: insulating faces (the surrounding gel heats alike, so
    /// little heat crosses them in 15 minutes); `with_implant = false` gives every implant cell the
    /// gel's properties.
    pub fn thermal_model(&self, with_implant: bool) -> Result<ThermalModel> {
        let gel = self
            .materials
            .iter()
            .find(|m| m.sar_density_kg_per_m3 > 0.0 && m.sigma_s_per_m > 0.0)
            .and_then(|m| m.thermal.clone());
        let table: Vec<Option<ThermalMaterial>> = self
            .materials
            .iter()
            .map(|m| {
                if with_implant || m.sar_density_kg_per_m3 > 0.0 || m.thermal.is_none() {
                    m.thermal.clone()
                } else {
                    gel.clone()
                }
            })
            .collect();
        ThermalModel::from_labels(
            "local implant model",
            &self.thermal_labels,
            &table,
            self.voxel_grid()?,
            Boundaries::uniform(Boundary::Insulating),
        )
    }

    /// The local dosimetry of a run, with the implant and with it removed (its cells given the
    /// gel's properties): SAR inputs, point SAR, 1 g and 10 g averages, and a Pennes exposure with
    /// `probes` (what `assess` and the search's confirmation runs report).
    pub fn dosimetry(&self, probes: &[ThermalProbe], settings: &ThermalSettings) -> Result<LocalDosimetry> {
        let with = self.sar_input(true)?;
        let without = self.sar_input(false)?;
        let point = [point_sar(&with), point_sar(&without)];
        // The box cuts through the gel: cubes it truncates are not evaluated (no frame along its edge).
        let avg = mass_averaged_sar_in_cut_box;
        let sar_1g = [avg(&with, 1e-3)?, avg(&without, 1e-3)?];
        let sar_10g = [avg(&with, 10e-3)?, avg(&without, 10e-3)?];
        let t0 = Instant::now();
        let thermal = [
            self.thermal_model(true)?
                .run(with.power_density_w_per_m3(), probes, settings)?,
            self.thermal_model(false)?
                .run(without.power_density_w_per_m3(), probes, settings)?,
        ];
        Ok(LocalDosimetry {
            sar: [with, without],
            point,
            sar_1g,
            sar_10g,
            thermal,
            thermal_seconds: t0.elapsed().as_secs_f64(),
        })
    }
}

/// [`LocalFields::dosimetry`]: each pair is `[with implant, implant removed]`.
pub struct LocalDosimetry {
    pub sar: [SarInput; 2],
    /// Point SAR (W/kg) per voxel.
    pub point: [Array3<f32>; 2],
    pub sar_1g: [AveragedSar; 2],
    pub sar_10g: [AveragedSar; 2],
    pub thermal: [ThermalResult; 2],
    /// Wall time of the two Pennes runs (s).
    pub thermal_seconds: f64,
}
