//! Basis runs of the ideal-drive coil for the twin, their on-disk cache, and sub-cell phantom
//! rasterisation.
//!
//! Two FDTD runs are made: the forward (B1+ rotating) quadrature pattern `I_j = e^{-i phi_j}` and the
//! backward pattern `I_j = e^{+i phi_j}` of the rung currents. Both drive every rung and every ring
//! segment, so the lumped sources of the two runs are the same elements in the same order. The two
//! linear homogeneous modes that the fit uses, `cos(phi_j) = (fwd + bwd)/2` and
//! `sin(phi_j) = i (fwd - bwd)/2`, are then formed by exact superposition of the fields (E, H, B1+) and
//! of the sources' voltage and current phasors, which gives the input power of any combination of the
//! two modes, `P(w) = sum_e 0.5 Re(V_e(w) I_e(w)*)` with `V_e(w) = sum_k w_k V_e^k` (likewise I).
//!
//! The phantom is rasterised with volume-fraction material averaging: a cell that the phantom fills
//! by a fraction `f` gets `eps_r = 1 + f (eps_gel - 1)`, `sigma = f sigma_gel`, `rho = f rho_gel`
//! (fraction from 6 x 6 x 6 sub-samples per cell, rounded to 1/200), so a sub-cell shift of the phantom
//! changes the fields smoothly instead of in whole-cell jumps; the E edges along its outline mix gel
//! and background by the outline's orientation (in parallel along it, in series across it:
//! [`PhantomConfig::rasterise_subcell`]).
//!
//! Cache: the basis is stored in an HDF5 file named by a 64-bit FNV-1a hash of everything that
//! determines it (the parsed coil and phantom definitions, phantom offset, cell size and mesh options,
//! frequency, steady-state options, crate version, this module's format version, and the model stamp:
//! a hash of the source of every module the basis runs depend on, made by the build script, so a
//! changed coil model or FDTD engine never gets an old basis, committed or not). The file holds
//! the full key text (compared on load, so a hash collision cannot return a wrong basis) and a
//! checksum of every stored number; a file that cannot be read, has another key, or fails the checksum
//! is recomputed and replaced, never trusted.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3};
use num_complex::{Complex32, Complex64};

use crate::coil::fdtd_model::{self, BirdcageMesh, ModelKind};
use crate::coil::cosim::superpose;
use crate::coil::run::{run_mesh, DriveModel, SimulateOptions};
use crate::coil::{b1_plus, CoilConfig, PhantomConfig};
use crate::error::{Error, Result};
use crate::fdtd::{FieldKind, ProgressFn, YeeVector};
use crate::grid::{GridPlacement, RegularField};

/// Per-cell materials of the coarse FDTD grid (cell centres), over the field box.
#[derive(Clone, Debug)]
pub struct CellMaterials {
    /// Cell centres: element `[i, j, k]` at `origin_m + (i, j, k) cell`.
    pub grid: GridPlacement,
    pub sigma_s_per_m: Array3<f32>,
    pub eps_r: Array3<f32>,
    pub density_kg_per_m3: Array3<f32>,
    /// Conductivity of each E edge (S/m), element for element with the E components of the basis
    /// (PEC edges 0): what the FDTD model dissipates in, edge by edge (the phantom's outline edges
    /// carry their orientation-mixed values, unlike any cell; see [`edge_power_density`]).
    pub edge_sigma_s_per_m: [Array3<f32>; 3],
}

/// The power density (W/m^3) at the cell centres `cells` of the loss `0.5 sigma_e |E_e|^2` of every E
/// edge `e` (`e` and `edge_sigma` element for element), each edge's loss shared among the (up to 4)
/// cells around it in proportion to their density (their mass: a cell holding no phantom takes no
/// part of it). The total over the cells is the FDTD model's own dissipation in the phantom, and an
/// outline edge that crosses the gel surface (series-mixed, near-air conductivity, near-air field)
/// adds its small true loss, not the loss of the air-side field in the gel.
pub fn edge_power_density(
    e: &YeeVector,
    edge_sigma: &[Array3<f32>; 3],
    cells: &GridPlacement,
    density: &Array3<f32>,
) -> Array3<f32> {
    let n = cells.dims;
    let mut p = Array3::<f64>::zeros(n);
    let rho = |c: [i64; 3]| -> f64 {
        if (0..3).all(|a| c[a] >= 0 && (c[a] as usize) < n[a]) {
            density[[c[0] as usize, c[1] as usize, c[2] as usize]] as f64
        } else {
            0.0
        }
    };
    for a in 0..3 {
        let (b, c) = ((a + 1) % 3, (a + 2) % 3);
        let f = &e.comps[a];
        let sg = &edge_sigma[a];
        let dims = f.data.dim();
        let dims = [dims.0, dims.1, dims.2];
        // Each edge of component a at cell-centre coordinates: along a on the centres, along b
        // and c half a cell off them (the corners of the cells' faces).
        for i in 0..dims[0] {
            for j in 0..dims[1] {
                for k in 0..dims[2] {
                    let q = [i, j, k];
                    let s = sg[q] as f64;
                    if s == 0.0 {
                        continue;
                    }
                    let pos = [0, 1, 2].map(|x| f.origin_m[x] + q[x] as f64 * f.spacing_m[x]);
                    // Cell index of the centre along a; the lower of the two cells along b, c.
                    let u = [0, 1, 2].map(|x| (pos[x] - cells.origin_m[x]) / cells.spacing_m[x]);
                    let mut base = [0i64; 3];
                    base[a] = u[a].round() as i64;
                    base[b] = (u[b] - 0.5).round() as i64;
                    base[c] = (u[c] - 0.5).round() as i64;
                    let mut around = [[0i64; 3]; 4];
                    let mut w = [0.0f64; 4];
                    let mut total = 0.0;
                    for (m, (db, dc)) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
                        let mut cc = base;
                        cc[b] += db;
                        cc[c] += dc;
                        around[m] = cc;
                        w[m] = rho(cc);
                        total += w[m];
                    }
                    if total <= 0.0 {
                        continue;
                    }
                    let z = f.data[q];
                    let loss = 0.5 * s * (z.re as f64 * z.re as f64 + z.im as f64 * z.im as f64);
                    for m in 0..4 {
                        if w[m] > 0.0 {
                            let cc = around[m];
                            p[[cc[0] as usize, cc[1] as usize, cc[2] as usize]] += loss * w[m] / total;
                        }
                    }
                }
            }
        }
    }
    p.mapv(|v| v as f32)
}

/// The conductivity of each E edge of `mesh` at the elements of `e`'s components (PEC: 0).
fn edge_sigma(mesh: &BirdcageMesh, e: &YeeVector) -> [Array3<f32>; 3] {
    let g = &mesh.model.grid;
    let n = g.dims();
    let o = g.node_pos(0, 0, 0);
    let d = g.uniform_spacing().unwrap_or([1.0; 3]);
    [0, 1, 2].map(|a| {
        let f = &e.comps[a];
        let mut out = Array3::<f32>::zeros(f.data.dim());
        for ((i, j, k), v) in out.indexed_iter_mut() {
            let q = [i, j, k];
            let node = [0, 1, 2].map(|x| {
                let pos = f.origin_m[x] + q[x] as f64 * f.spacing_m[x];
                let u = (pos - o[x]) / d[x] - if x == a { 0.5 } else { 0.0 };
                u.round() as i64
            });
            let mut lim = [n[0] + 1, n[1] + 1, n[2] + 1];
            lim[a] -= 1;
            if (0..3).any(|x| node[x] < 0 || node[x] as usize >= lim[x]) {
                continue;
            }
            let comp = crate::grid::Comp::from_index(a);
            if let Some((_, s)) = mesh.model.edge_material(comp, node[0] as usize, node[1] as usize, node[2] as usize) {
                *v = s as f32;
            }
        }
        out
    })
}

/// Fields of each basis drive pattern, for unit weight (1 A peak rung current amplitude).
#[derive(Clone, Debug)]
pub struct Basis {
    pub names: Vec<String>,
    /// B1+ (T) at the cell centres of each pattern.
    pub fields: Vec<RegularField<Complex32>>,
    pub freq_hz: f64,
    /// Input power of each basis pattern alone (W).
    pub input_power_w: Vec<f64>,
    /// E (V/m) and H (A/m) Yee components of each pattern over the coil interior.
    pub e: Vec<YeeVector>,
    pub h: Vec<YeeVector>,
    /// Voltage and current phasors of every ideal-drive source element, per pattern (same elements).
    pub lumped_vi: Vec<Vec<(Complex64, Complex64)>>,
    pub materials: CellMaterials,
    pub cell_m: f64,
    /// The co-simulation model's circuit (tuning, feeds, port runs) as JSON, when the basis was
    /// made with `DriveModel::Cosim`.
    pub circuit: Option<serde_json::Value>,
}

impl Basis {
    /// Input power (W) of the drive `sum_k w_k pattern_k`: `sum_e 0.5 Re(V_e I_e*)`.
    pub fn input_power(&self, w: &[Complex64]) -> f64 {
        let n = self.lumped_vi.first().map_or(0, |l| l.len());
        (0..n)
            .map(|e| {
                let mut v = Complex64::default();
                let mut i = Complex64::default();
                for (k, wk) in w.iter().enumerate() {
                    v += wk * self.lumped_vi[k][e].0;
                    i += wk * self.lumped_vi[k][e].1;
                }
                0.5 * (v * i.conj()).re
            })
            .sum()
    }
}

/// How the phantom is placed for a basis computation.
#[derive(Clone, Debug)]
pub struct BasisRequest<'a> {
    pub coil: &'a CoilConfig,
    pub phantom: Option<&'a PhantomConfig>,
    pub opt: &'a SimulateOptions,
    /// Translation of the phantom from its file position (m), in the coil frame.
    pub offset_m: [f64; 3],
}

/// What happened with the cache.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheOutcome {
    /// Loaded from this file.
    Hit(PathBuf),
    /// Computed and stored to this file.
    Stored(PathBuf),
    /// A file existed but was unusable (reason); recomputed and replaced.
    Replaced(PathBuf, String),
    /// Computed; no cache used (or storing failed: reason).
    NotCached(Option<String>),
}

const FORMAT: &str = "rftwin-twin-basis-v2";
const PORT_FORMAT: &str = "rftwin-port-basis-v1";

/// Hash of the source of the modules that compute a basis (`grid`, `fdtd`, `coil`, `b1`, `twin`,
/// `error`) and of `Cargo.lock`, from the build script: part of every cache key.
pub const MODEL_STAMP: &str = env!("RFTWIN_MODEL_STAMP");

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl BasisRequest<'_> {
    /// The full text of everything that determines the basis.
    pub fn key(&self) -> String {
        let dev = if self.opt.capacitor_deviation.iter().any(|d| *d != 0.0) {
            format!("; capacitor_deviation {:?}", self.opt.capacitor_deviation)
        } else {
            String::new()
        };
        format!("{}{dev}", self.port_key())
    }

    /// The key without the capacitor deviations: what the co-simulation's port runs depend on.
    pub fn port_key(&self) -> String {
        let mut coil = self.coil.clone();
        coil.source_name.clear();
        let phantom = self.phantom.map(|p| {
            let mut p = p.clone();
            p.source_name.clear();
            p
        });
        format!(
            "{FORMAT}; rftwin {}; model {}; coil {}; phantom {}; offset_m {:?}; mesh {:?}; freq_hz {:?}; steady {:?}; drive {}; port_runs {}",
            env!("CARGO_PKG_VERSION"),
            MODEL_STAMP,
            serde_json::to_string(&coil).unwrap_or_default(),
            serde_json::to_string(&phantom).unwrap_or_default(),
            self.offset_m,
            self.opt.mesh,
            self.opt.freq_hz,
            self.opt.steady,
            self.opt.model.as_str(),
            serde_json::to_string(&self.opt.port_runs).unwrap_or_default(),
        )
    }
    /// The cache file name for this request.
    pub fn cache_file(&self) -> String {
        format!("basis-{:016x}.h5", fnv1a64(self.key().as_bytes()))
    }

    /// The key of the co-simulation's port basis (Z(f) and the fields per port): the port key under
    /// its own format name.
    pub fn port_cache_key(&self) -> String {
        format!("{PORT_FORMAT}; {}", self.port_key())
    }

    /// The cache file name of the co-simulation's port basis for this request.
    pub fn port_cache_file(&self) -> String {
        format!("ports-{:016x}.h5", fnv1a64(self.port_cache_key().as_bytes()))
    }
}

/// The default cache directory: `$RFTWIN_CACHE`, else `$HOME/.cache/rftwin`, else `.rftwin-cache`
/// next to `out`.
pub fn default_cache_dir(out: &Path) -> PathBuf {
    if let Some(d) = std::env::var_os("RFTWIN_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".cache").join("rftwin");
    }
    out.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".rftwin-cache")
}

/// The phantom moved by `offset_m`.
pub fn shifted_phantom(p: &PhantomConfig, offset_m: [f64; 3]) -> PhantomConfig {
    let mut q = p.clone();
    for a in 0..3 {
        q.landmark_from_isocentre_m[a] += offset_m[a];
    }
    q
}

/// How the phantom a twin's fields were computed with differs from its phantom file: the fitted
/// offset (added to the landmark), rotation (degrees, added to the file's) and gel properties. The
/// one place that builds that effective phantom, for a fresh calibration
/// ([`super::FullCalibration::phantom_adjustment`]) and for a twin directory read back
/// ([`super::load_twin_dir`]); `None` leaves the file's value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhantomAdjustment {
    pub offset_m: Option<[f64; 3]>,
    pub rotation_deg: Option<[f64; 3]>,
    pub sigma_s_per_m: Option<f64>,
    pub eps_r: Option<f64>,
}

impl PhantomAdjustment {
    /// The effective phantom: `p` shifted, turned and with the gel properties set.
    pub fn apply(&self, p: &PhantomConfig) -> PhantomConfig {
        let mut q = match self.offset_m {
            Some(off) => shifted_phantom(p, off),
            None => p.clone(),
        };
        if let Some(rot) = self.rotation_deg {
            for a in 0..3 {
                q.rotation_deg[a] += rot[a];
            }
        }
        if let Some(s) = self.sigma_s_per_m {
            q.material.sigma_s_per_m = s;
        }
        if let Some(e) = self.eps_r {
            q.material.eps_r = e;
        }
        q
    }
}

/// Replaces the phantom's whole-cell rasterisation by volume-fraction averaging
/// ([`PhantomConfig::rasterise_subcell`]; see the module documentation), the outline's E edges
/// mixed for `freq_hz` by their orientation.
pub fn subcell_phantom(mesh: &mut BirdcageMesh, phantom: &PhantomConfig, freq_hz: f64) -> Result<()> {
    match mesh.phantom_material {
        Some(pm) => phantom.rasterise_subcell(&mut mesh.model, pm, freq_hz),
        None => Ok(()),
    }
}

/// The mesh of a basis request (phantom shifted and sub-cell averaged).
pub fn basis_mesh(req: &BasisRequest) -> Result<BirdcageMesh> {
    let ph = req.phantom.map(|p| shifted_phantom(p, req.offset_m));
    // Grid and field box sized around the phantom file's position, not the moved phantom's: the
    // bases of an offset fit must share one grid.
    let mut mopt = req.opt.mesh.clone();
    mopt.cover_m = req.phantom.map(|p| fdtd_model::cover_around(p, mopt.cell_m));
    let mut mesh = fdtd_model::mesh(req.coil, ph.as_ref(), ModelKind::Ideal, &mopt)?;
    if let Some(p) = &ph {
        subcell_phantom(&mut mesh, p, req.coil.freq_hz)?;
    }
    Ok(mesh)
}

/// Per-cell materials of the cells of `mesh` whose centres lie inside the box of `e` (the E field box).
fn cell_materials(mesh: &BirdcageMesh, e: &YeeVector) -> CellMaterials {
    let g = &mesh.model.grid;
    let d = g.uniform_spacing().unwrap_or([0.0; 3]);
    let r = &mesh.interior;
    let lo = [r[0].start, r[1].start, r[2].start];
    let dims = [0, 1, 2].map(|a| r[a].end.saturating_sub(r[a].start + 1).max(1));
    let n = g.dims();
    let mats = mesh.model.materials();
    let mut sigma = Array3::<f32>::zeros(dims);
    let mut eps = Array3::<f32>::from_elem(dims, 1.0);
    let mut rho = Array3::<f32>::zeros(dims);
    for ((i, j, k), s) in sigma.indexed_iter_mut() {
        let c = [lo[0] + i, lo[1] + j, lo[2] + k];
        if c[0] >= n[0] || c[1] >= n[1] || c[2] >= n[2] {
            continue;
        }
        let m = &mats[mesh.model.cell_material(c[0], c[1], c[2]) as usize];
        if !m.pec {
            *s = m.sigma_s_per_m as f32;
            eps[[i, j, k]] = m.eps_r as f32;
            rho[[i, j, k]] = m.density_kg_per_m3 as f32;
        }
    }
    CellMaterials {
        grid: GridPlacement::cell_centres(g.node_pos(lo[0], lo[1], lo[2]), d, dims),
        sigma_s_per_m: sigma,
        eps_r: eps,
        density_kg_per_m3: rho,
        edge_sigma_s_per_m: edge_sigma(mesh, e),
    }
}

/// Runs the two basis patterns (no cache): of the ideal drive, or of the co-simulated coil's two
/// feeds (see [`compute_cosim_basis`]).
pub fn compute_basis_request(req: &BasisRequest, progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
    compute_basis_in(req, None, progress)
}

/// [`compute_basis_request`] with the cache directory `cache` for the co-simulation's port basis
/// (read from it when there, stored in it when computed).
fn compute_basis_in(req: &BasisRequest, cache: Option<&Path>, progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
    match req.opt.model {
        DriveModel::Ideal => compute_ideal_basis(req, progress),
        DriveModel::Cosim => cosim_basis(req, cache, progress),
    }
}

/// The co-simulation basis: the resonant coil with the (shifted, sub-cell) phantom, one port run per
/// capacitor and feed, the auto capacitors tuned to Larmor by circuit algebra, and two patterns:
/// feed 1 with EMF `e^{i phi_1}` (1 V) and feed 2 with EMF `i e^{i phi_2}`, the coil file's phases,
/// so that the nominal drive is the weight pair (1, -i) as for the ideal model's cos/sin patterns
/// and the fit's port-2 amplitude and phase error mean the feed EMF's. The accepted power of any
/// combination follows from the feeds' voltages and currents (`lumped_vi`, one entry per feed).
type KeptPorts = std::sync::Mutex<Vec<(String, std::sync::Arc<crate::coil::cosim::PortBasis>)>>;

fn kept() -> &'static KeptPorts {
    static KEPT: std::sync::OnceLock<KeptPorts> = std::sync::OnceLock::new();
    KEPT.get_or_init(Default::default)
}

/// A co-simulation port basis this process kept (requests with `keep_port_basis`), by
/// [`BasisRequest::port_key`].
pub fn kept_port_basis(port_key: &str) -> Option<std::sync::Arc<crate::coil::cosim::PortBasis>> {
    kept().lock().ok()?.iter().find(|(k, _)| k == port_key).map(|(_, p)| p.clone())
}

fn keep_port_basis(port_key: &str, pb: std::sync::Arc<crate::coil::cosim::PortBasis>) {
    if let Ok(mut v) = kept().lock() {
        v.retain(|(k, _)| k != port_key);
        v.push((port_key.to_string(), pb));
    }
}

/// Drops every kept port basis (their memory).
pub fn forget_port_bases() {
    if let Ok(mut v) = kept().lock() {
        v.clear();
    }
}

pub fn compute_cosim_basis(req: &BasisRequest, progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
    cosim_basis(req, None, progress)
}

/// The co-simulation basis, its port basis kept in memory, read from `cache` or computed (and then
/// stored in `cache`).
fn cosim_basis(req: &BasisRequest, cache: Option<&Path>, mut progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
    use crate::coil::cosim;
    let coil = req.coil;
    if coil.ports.len() != 2 {
        return Err(Error::input(
            &coil.source_name,
            "ports",
            format!("the co-simulation twin fits two feeds; the coil has {}", coil.ports.len()),
            "give two [[ports]] (quadrature drive), or use --model ideal",
        ));
    }
    let ph = req.phantom.map(|p| shifted_phantom(p, req.offset_m));
    let kind = ModelKind::Resonant(fdtd_model::Gaps::for_type(coil.coil_type));
    let mut mesh = fdtd_model::mesh(coil, ph.as_ref(), kind, &req.opt.mesh)?;
    if let Some(p) = &ph {
        subcell_phantom(&mut mesh, p, req.coil.freq_hz)?;
    }
    let ports = cosim::cosim_ports(coil, &mut mesh)?;
    let freq = req.opt.freq_hz.unwrap_or(coil.freq_hz);
    let mut report = |k: usize, _n: usize| {
        if let Some(p) = progress.as_mut() {
            p(k);
        }
    };
    // FDTD runs this call makes (none when the port basis was kept or cached).
    let mut runs_made = 0usize;
    let pb = match stored_port_basis(req, cache) {
        Some(pb) if pb.ports.len() == ports.len() && pb.ports.iter().zip(&ports).all(|(a, b)| a.edge == b.edge) => pb,
        _ => {
            let pb = std::sync::Arc::new(cosim::compute_port_basis(
                &mesh,
                &ports,
                freq,
                &req.opt.port_runs,
                Some(&mut report),
            )?);
            runs_made = pb.fdtd_runs;
            if req.opt.keep_port_basis {
                keep_port_basis(&req.port_key(), pb.clone());
            }
            if let Some(dir) = cache {
                // The circuit fit (`--fit-caps`) reads it back; a failed store only costs a rerun.
                let path = dir.join(req.port_cache_file());
                if let Err(e) = std::fs::create_dir_all(dir)
                    .map_err(|err| Error::io(dir, err))
                    .and_then(|_| write_port_basis(&path, &req.port_cache_key(), &pb))
                {
                    crate::resources::warn(format!("the port basis was not cached: {e}"));
                }
            }
            pb
        }
    };
    if let Some(k) = pb.runs_converged.iter().position(|c| !c) {
        return Err(Error::NotConverged {
            what: format!(
                "co-simulation port run {} ({}) did not decay by {} dB within {} periods",
                k, pb.ports[k].name, req.opt.port_runs.decay_db, req.opt.port_runs.max_periods
            ),
        });
    }
    let (mut circ, tuning) = cosim::tune(coil, &pb, 1e-5)?;
    let dev = &req.opt.capacitor_deviation;
    if !dev.is_empty() {
        if dev.len() != pb.n() {
            return Err(Error::Other(format!(
                "co-simulation: {} capacitor deviations for {} ports",
                dev.len(),
                pb.n()
            )));
        }
        for (c, d) in circ.capacitance_f.iter_mut().zip(dev) {
            *c = c.map(|v| v * (1.0 + d));
        }
    }
    let feeds = cosim::feed_reports(coil, &pb, &circ)?;
    let phase = |p: usize| Complex64::from_polar(1.0, coil.ports[p].phase_deg.to_radians());
    let patterns = [
        vec![phase(0), Complex64::default()],
        vec![Complex64::default(), Complex64::i() * phase(1)],
    ];
    let mut fields = Vec::new();
    let mut e = Vec::new();
    let mut h = Vec::new();
    let mut lumped = Vec::new();
    let mut power = Vec::new();
    for emf in &patterns {
        let s = pb.solve(&circ, emf)?;
        let (ev, hv) = pb.fields(&s.i);
        fields.push(b1_plus(&hv)?);
        e.push(ev);
        h.push(hv);
        power.push(s.accepted_power_w);
        lumped.push(s.feed_vi);
    }
    let circuit = serde_json::json!({
        "model": "cosim",
        "ports": pb.ports.iter().map(|p| &p.name).collect::<Vec<_>>(),
        "tuning": tuning,
        "capacitor_deviation": dev,
        "capacitance_f": &circ.capacitance_f,
        "feeds": feeds,
        "port_run_steps": pb.run_steps,
        "port_fdtd_runs": pb.fdtd_runs,
        "port_mirror_axes": pb.mirror_axes,
        "port_runs_s": pb.seconds,
        "fdtd_runs_made": runs_made,
        "band_hz": [pb.band_hz[0], pb.band_hz[pb.band_hz.len() - 1]],
        "pattern_emf": "pattern 1: feed 1 EMF 1 V at its phase; pattern 2: feed 2 EMF 1 V at its phase + 90 deg (nominal drive = weights (1, -i))",
    });
    let materials = cell_materials(&mesh, &e[0]);
    Ok(Basis {
        names: vec!["feed1".into(), "feed2".into()],
        fields,
        freq_hz: freq,
        input_power_w: power,
        e,
        h,
        lumped_vi: lumped,
        materials,
        cell_m: req.opt.mesh.cell_m,
        circuit: Some(circuit),
    })
}

fn compute_ideal_basis(req: &BasisRequest, mut progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
    let mesh = basis_mesh(req)?;
    let freq = req.opt.freq_hz.unwrap_or(req.coil.freq_hz);
    let mut runs = Vec::new();
    for (b, sign) in [-1.0f64, 1.0].into_iter().enumerate() {
        if let Some(p) = progress.as_mut() {
            p(b);
        }
        let w: Vec<Complex64> = mesh
            .rung_angles_rad
            .iter()
            .map(|&phi| Complex64::from_polar(1.0, sign * phi))
            .collect();
        let no_progress: Option<ProgressFn> = None;
        let name = if b == 0 { "forward" } else { "backward" };
        let f = run_mesh(&mesh, freq, &w, &req.opt.steady, no_progress, std::time::Instant::now())
            .map_err(|e| Error::Other(format!("basis run '{name}': {e}")))?;
        runs.push(f);
    }
    if runs[0].lumped_vi.len() != runs[1].lumped_vi.len() {
        return Err(Error::Other(
            "basis runs: the forward and backward patterns drive different source elements".into(),
        ));
    }
    // cos = (fwd + bwd)/2, sin = i (fwd - bwd)/2.
    let half = Complex32::new(0.5, 0.0);
    let ih = Complex32::new(0.0, 0.5);
    let coefs = [(half, half), (ih, -ih)];
    let mut e = Vec::new();
    let mut h = Vec::new();
    let mut fields = Vec::new();
    let mut lumped = Vec::new();
    let mut power = Vec::new();
    for &(ca, cb) in &coefs {
        let hv = superpose(&[runs[0].h_yee.clone(), runs[1].h_yee.clone()], &[ca, cb]);
        let ev = superpose(&[runs[0].e_yee.clone(), runs[1].e_yee.clone()], &[ca, cb]);
        fields.push(b1_plus(&hv)?);
        let (a64, b64) = (
            Complex64::new(ca.re as f64, ca.im as f64),
            Complex64::new(cb.re as f64, cb.im as f64),
        );
        let l: Vec<(Complex64, Complex64)> = runs[0]
            .lumped_vi
            .iter()
            .zip(&runs[1].lumped_vi)
            .map(|(x, y)| (a64 * x.0 + b64 * y.0, a64 * x.1 + b64 * y.1))
            .collect();
        power.push(l.iter().map(|(v, i)| 0.5 * (v * i.conj()).re).sum());
        lumped.push(l);
        e.push(ev);
        h.push(hv);
    }
    let materials = cell_materials(&mesh, &e[0]);
    Ok(Basis {
        names: vec!["cos".into(), "sin".into()],
        fields,
        freq_hz: freq,
        input_power_w: power,
        e,
        h,
        lumped_vi: lumped,
        materials,
        cell_m: req.opt.mesh.cell_m,
        circuit: None,
    })
}

/// The basis of `req`, from the cache directory `cache` when a valid file is there; otherwise computed
/// (and stored when `cache` is given).
pub fn cached_basis(
    req: &BasisRequest,
    cache: Option<&Path>,
    progress: Option<&mut dyn FnMut(usize)>,
) -> Result<(Basis, CacheOutcome)> {
    let Some(dir) = cache else {
        return Ok((compute_basis_request(req, progress)?, CacheOutcome::NotCached(None)));
    };
    let key = req.key();
    let path = dir.join(req.cache_file());
    let mut replaced = None;
    if path.exists() {
        match read_basis(&path, &key) {
            Ok(b) => return Ok((b, CacheOutcome::Hit(path))),
            Err(e) => replaced = Some(e.to_string()),
        }
    }
    let basis = compute_basis_in(req, Some(dir), progress)?;
    let stored = std::fs::create_dir_all(dir)
        .map_err(|err| Error::Io {
            path: dir.display().to_string(),
            err,
        })
        .and_then(|_| write_basis(&path, &key, &basis));
    let outcome = match (stored, replaced) {
        (Err(e), _) => CacheOutcome::NotCached(Some(e.to_string())),
        (Ok(()), Some(r)) => CacheOutcome::Replaced(path, r),
        (Ok(()), None) => CacheOutcome::Stored(path),
    };
    Ok((basis, outcome))
}

fn h5e(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("basis cache {}: {e}", path.display()))
}

/// Checksum over every stored number, in a fixed order.
fn checksum(b: &Basis) -> u64 {
    let mut bytes: Vec<u8> = Vec::new();
    let mut put = |x: f64| bytes.extend_from_slice(&x.to_le_bytes());
    put(b.freq_hz);
    put(b.cell_m);
    for k in 0..b.fields.len() {
        for f in std::iter::once(&b.fields[k])
            .chain(b.e[k].comps.iter())
            .chain(b.h[k].comps.iter())
        {
            f.origin_m.iter().chain(&f.spacing_m).for_each(|v| put(*v));
            f.data.iter().for_each(|z| {
                put(z.re as f64);
                put(z.im as f64)
            });
        }
        for (v, i) in &b.lumped_vi[k] {
            [v.re, v.im, i.re, i.im].iter().for_each(|x| put(*x));
        }
    }
    let m = &b.materials;
    m.grid.origin_m.iter().chain(&m.grid.spacing_m).for_each(|v| put(*v));
    for a in [&m.sigma_s_per_m, &m.eps_r, &m.density_kg_per_m3].into_iter().chain(m.edge_sigma_s_per_m.iter()) {
        a.iter().for_each(|x| put(*x as f64));
    }
    bytes.extend_from_slice(b.names.join("\n").as_bytes());
    if let Some(c) = &b.circuit {
        bytes.extend_from_slice(c.to_string().as_bytes());
    }
    fnv1a64(&bytes)
}

fn write_field(g: &hdf5::Group, name: &str, f: &RegularField<Complex32>) -> hdf5::Result<()> {
    let ds = g.new_dataset_builder().with_data(&f.data).create(name)?;
    ds.new_attr::<f64>().shape([3]).create("origin_m")?.write(&f.origin_m)?;
    ds.new_attr::<f64>()
        .shape([3])
        .create("spacing_m")?
        .write(&f.spacing_m)?;
    Ok(())
}

fn read_field(g: &hdf5::Group, name: &str) -> hdf5::Result<RegularField<Complex32>> {
    let ds = g.dataset(name)?;
    let data = ds.read::<Complex32, ndarray::Ix3>()?;
    let o = ds.attr("origin_m")?.read_raw::<f64>()?;
    let s = ds.attr("spacing_m")?.read_raw::<f64>()?;
    if o.len() != 3 || s.len() != 3 {
        return Err("origin/spacing must have 3 values".into());
    }
    RegularField::new(data, [o[0], o[1], o[2]], [s[0], s[1], s[2]]).map_err(|e| e.to_string().as_str().into())
}

/// Writes a basis to `path` (temporary file, then rename).
pub fn write_basis(path: &Path, key: &str, b: &Basis) -> Result<()> {
    let tmp = path.with_extension(format!("h5.tmp-{}", std::process::id()));
    let res = (|| -> hdf5::Result<()> {
        let f = hdf5::File::create(&tmp)?;
        f.new_dataset_builder()
            .with_data(&Array1::from(key.as_bytes().to_vec()))
            .create("key")?;
        f.new_dataset_builder()
            .with_data(&Array1::from(vec![b.freq_hz, b.cell_m]))
            .create("freq_hz_cell_m")?;
        f.new_dataset_builder()
            .with_data(&Array1::from(checksum(b).to_le_bytes().to_vec()))
            .create("checksum")?;
        f.new_dataset_builder()
            .with_data(&Array1::from(b.names.join("\n").into_bytes()))
            .create("names")?;
        if let Some(c) = &b.circuit {
            f.new_dataset_builder()
                .with_data(&Array1::from(c.to_string().into_bytes()))
                .create("circuit_json")?;
        }
        for k in 0..b.fields.len() {
            let g = f.create_group(&format!("basis{k}"))?;
            write_field(&g, "b1_plus", &b.fields[k])?;
            for c in 0..3 {
                write_field(&g, &format!("e{c}"), &b.e[k].comps[c])?;
                write_field(&g, &format!("h{c}"), &b.h[k].comps[c])?;
            }
            let l = &b.lumped_vi[k];
            let arr = Array2::from_shape_fn((l.len(), 4), |(e, q)| match q {
                0 => l[e].0.re,
                1 => l[e].0.im,
                2 => l[e].1.re,
                _ => l[e].1.im,
            });
            g.new_dataset_builder().with_data(&arr).create("lumped_vi")?;
        }
        let m = &b.materials;
        let g = f.create_group("materials")?;
        g.new_dataset_builder()
            .with_data(&m.sigma_s_per_m)
            .create("sigma_s_per_m")?;
        g.new_dataset_builder().with_data(&m.eps_r).create("eps_r")?;
        g.new_dataset_builder()
            .with_data(&m.density_kg_per_m3)
            .create("density_kg_per_m3")?;
        for (a, name) in ["edge_sigma_x", "edge_sigma_y", "edge_sigma_z"].iter().enumerate() {
            g.new_dataset_builder().with_data(&m.edge_sigma_s_per_m[a]).create(*name)?;
        }
        g.new_dataset_builder()
            .with_data(&Array1::from(
                m.grid
                    .origin_m
                    .iter()
                    .chain(&m.grid.spacing_m)
                    .cloned()
                    .collect::<Vec<_>>(),
            ))
            .create("origin_spacing_m")?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(h5e(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|err| Error::Io {
        path: path.display().to_string(),
        err,
    })
}

/// Reads a cached basis; an error if the file is unreadable, was made for another key, or its
/// checksum does not match its contents.
pub fn read_basis(path: &Path, key: &str) -> Result<Basis> {
    let r = (|| -> hdf5::Result<(Basis, Vec<u8>, Vec<u8>)> {
        let f = hdf5::File::open(path)?;
        let stored_key = f.dataset("key")?.read_raw::<u8>()?;
        let fc = f.dataset("freq_hz_cell_m")?.read_raw::<f64>()?;
        let sum = f.dataset("checksum")?.read_raw::<u8>()?;
        let names: Vec<String> = String::from_utf8_lossy(&f.dataset("names")?.read_raw::<u8>()?)
            .split('\n')
            .map(String::from)
            .collect();
        let circuit = match f.dataset("circuit_json") {
            Ok(d) => Some(
                serde_json::from_slice::<serde_json::Value>(&d.read_raw::<u8>()?)
                    .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?,
            ),
            Err(_) => None,
        };
        if names.len() != 2 {
            return Err("bad names".into());
        }
        if fc.len() != 2 {
            return Err("bad freq_hz_cell_m".into());
        }
        let mut fields = Vec::new();
        let mut e = Vec::new();
        let mut h = Vec::new();
        let mut lumped = Vec::new();
        let mut power = Vec::new();
        for k in 0..2 {
            let g = f.group(&format!("basis{k}"))?;
            fields.push(read_field(&g, "b1_plus")?);
            let ec = [read_field(&g, "e0")?, read_field(&g, "e1")?, read_field(&g, "e2")?];
            let hc = [read_field(&g, "h0")?, read_field(&g, "h1")?, read_field(&g, "h2")?];
            e.push(YeeVector::new(FieldKind::E, ec).map_err(|x| hdf5::Error::from(x.to_string().as_str()))?);
            h.push(YeeVector::new(FieldKind::H, hc).map_err(|x| hdf5::Error::from(x.to_string().as_str()))?);
            let arr = g.dataset("lumped_vi")?.read_2d::<f64>()?;
            if arr.ncols() != 4 {
                return Err("bad lumped_vi".into());
            }
            let l: Vec<(Complex64, Complex64)> = arr
                .rows()
                .into_iter()
                .map(|r| (Complex64::new(r[0], r[1]), Complex64::new(r[2], r[3])))
                .collect();
            power.push(l.iter().map(|(v, i)| 0.5 * (v * i.conj()).re).sum());
            lumped.push(l);
        }
        let g = f.group("materials")?;
        let sigma = g.dataset("sigma_s_per_m")?.read::<f32, ndarray::Ix3>()?;
        let eps = g.dataset("eps_r")?.read::<f32, ndarray::Ix3>()?;
        let rho = g.dataset("density_kg_per_m3")?.read::<f32, ndarray::Ix3>()?;
        let os = g.dataset("origin_spacing_m")?.read_raw::<f64>()?;
        if os.len() != 6 || eps.dim() != sigma.dim() || rho.dim() != sigma.dim() {
            return Err("bad materials".into());
        }
        let mut edge_sigma = Vec::new();
        for name in ["edge_sigma_x", "edge_sigma_y", "edge_sigma_z"] {
            edge_sigma.push(g.dataset(name)?.read::<f32, ndarray::Ix3>()?);
        }
        let [esx, esy, esz]: [Array3<f32>; 3] = edge_sigma.try_into().map_err(|_| "bad edge materials")?;
        if let Some(e0) = e.first() {
            if [&esx, &esy, &esz].iter().zip(&e0.comps).any(|(s, c)| s.dim() != c.data.dim()) {
                return Err("edge materials do not match the E components".into());
            }
        }
        let (a, b, c) = sigma.dim();
        let materials = CellMaterials {
            grid: GridPlacement {
                origin_m: [os[0], os[1], os[2]],
                spacing_m: [os[3], os[4], os[5]],
                dims: [a, b, c],
            },
            sigma_s_per_m: sigma,
            eps_r: eps,
            density_kg_per_m3: rho,
            edge_sigma_s_per_m: [esx, esy, esz],
        };
        Ok((
            Basis {
                names,
                fields,
                freq_hz: fc[0],
                input_power_w: power,
                e,
                h,
                lumped_vi: lumped,
                materials,
                cell_m: fc[1],
                circuit,
            },
            stored_key,
            sum,
        ))
    })();
    let (b, stored_key, sum) = r.map_err(|e| h5e(path, format!("unreadable ({e})")))?;
    if stored_key != key.as_bytes() {
        return Err(h5e(path, "made for other inputs (key differs)"));
    }
    if sum != checksum(&b).to_le_bytes() {
        return Err(h5e(path, "checksum mismatch (corrupted)"));
    }
    Ok(b)
}

// ---------------------------------------------------------------------------------------------
// The co-simulation's port basis on disk (`ports-<hash>.h5` beside the bases): the impedance
// matrix over the band, the isocentre H per port over the band and E, H per unit port current at
// Larmor, so that `twin fit --fit-caps` (circuit algebra on the ports) needs no FDTD run when the
// ports are cached. Same rules as the basis files: the full key text is stored and compared, a
// checksum covers every number, and a file that fails either is recomputed, never trusted.
// ---------------------------------------------------------------------------------------------

/// The port basis of `req`: the one this process kept in memory, else the cached file in `cache`
/// (kept in memory afterwards when `req.opt.keep_port_basis`); None when neither has it (a file
/// that cannot be used is reported on stderr and recomputed by the caller).
pub fn stored_port_basis(req: &BasisRequest, cache: Option<&Path>) -> Option<std::sync::Arc<crate::coil::cosim::PortBasis>> {
    let port_key = req.port_key();
    if let Some(pb) = kept_port_basis(&port_key) {
        return Some(pb);
    }
    let path = cache?.join(req.port_cache_file());
    if !path.exists() {
        return None;
    }
    match read_port_basis(&path, &req.port_cache_key()) {
        Ok(pb) => {
            let pb = std::sync::Arc::new(pb);
            if req.opt.keep_port_basis {
                keep_port_basis(&port_key, pb.clone());
            }
            Some(pb)
        }
        Err(e) => {
            crate::resources::warn(format!("{e}: the port runs are made again"));
            None
        }
    }
}

/// The port basis of `req` from memory or the cache (see [`stored_port_basis`]), else computed by
/// the port runs (and stored in `cache` when given); with the FDTD runs that made (0 when stored).
/// It stays in this process's memory until [`forget_port_bases`].
pub fn port_basis(req: &BasisRequest, cache: Option<&Path>) -> Result<(std::sync::Arc<crate::coil::cosim::PortBasis>, usize)> {
    let mut opt = req.opt.clone();
    opt.keep_port_basis = true;
    let req = BasisRequest { opt: &opt, ..req.clone() };
    if let Some(pb) = stored_port_basis(&req, cache) {
        return Ok((pb, 0));
    }
    cosim_basis(&req, cache, None)?;
    let pb = kept_port_basis(&req.port_key())
        .ok_or_else(|| Error::Other("co-simulation: the port basis was not kept".into()))?;
    let runs = pb.fdtd_runs;
    Ok((pb, runs))
}

/// FNV-1a over a stream of numbers (no copy of the data).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= *x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn f64(&mut self, x: f64) {
        self.bytes(&x.to_le_bytes());
    }
    fn c64(&mut self, z: Complex64) {
        self.f64(z.re);
        self.f64(z.im);
    }
    fn field(&mut self, f: &RegularField<Complex32>) {
        f.origin_m.iter().chain(&f.spacing_m).for_each(|v| self.f64(*v));
        for z in f.data.iter() {
            self.bytes(&z.re.to_le_bytes());
            self.bytes(&z.im.to_le_bytes());
        }
    }
}

/// The numbers that describe each port: edge (component, node), orientation, capacitor site
/// (kind -1 none, 0 rung, 1 ring; index; ring index) and feed (-1 none).
fn port_table(pb: &crate::coil::cosim::PortBasis) -> (Array2<u64>, Array1<f64>, Array2<i64>, Array1<i64>) {
    use crate::coil::cosim::CapSite;
    let n = pb.n();
    let edges = Array2::from_shape_fn((n, 4), |(k, q)| {
        let (c, node) = pb.ports[k].edge;
        (if q == 0 { c } else { node[q - 1] }) as u64
    });
    let orient = Array1::from_iter(pb.ports.iter().map(|p| p.orient));
    let caps = Array2::from_shape_fn((n, 3), |(k, q)| match (pb.ports[k].capacitor, q) {
        (None, 0) => -1,
        (None, _) => 0,
        (Some(CapSite::Rung(_)), 0) => 0,
        (Some(CapSite::Rung(j)), 1) => j as i64,
        (Some(CapSite::Rung(_)), _) => 0,
        (Some(CapSite::Ring(..)), 0) => 1,
        (Some(CapSite::Ring(_, j)), 1) => j as i64,
        (Some(CapSite::Ring(r, _)), _) => r as i64,
    });
    let feeds = Array1::from_iter(pb.ports.iter().map(|p| p.feed.map_or(-1, |f| f as i64)));
    (edges, orient, caps, feeds)
}

fn port_checksum(pb: &crate::coil::cosim::PortBasis) -> u64 {
    let mut h = Fnv::new();
    let (edges, orient, caps, feeds) = port_table(pb);
    edges.iter().for_each(|x| h.bytes(&x.to_le_bytes()));
    orient.iter().for_each(|x| h.f64(*x));
    caps.iter().chain(feeds.iter()).for_each(|x| h.bytes(&x.to_le_bytes()));
    for p in &pb.ports {
        h.bytes(p.name.as_bytes());
        h.bytes(b"\n");
    }
    h.f64(pb.freq_hz);
    h.bytes(&(pb.i0 as u64).to_le_bytes());
    h.bytes(&(pb.fdtd_runs as u64).to_le_bytes());
    h.f64(pb.seconds);
    pb.band_hz.iter().for_each(|x| h.f64(*x));
    pb.z.iter().flatten().for_each(|z| h.c64(*z));
    pb.h_iso.iter().flatten().flatten().for_each(|z| h.c64(*z));
    pb.run_steps.iter().for_each(|x| h.bytes(&(*x as u64).to_le_bytes()));
    pb.runs_converged.iter().for_each(|x| h.bytes(&[*x as u8]));
    pb.mirror_axes.iter().for_each(|x| h.bytes(&(*x as u64).to_le_bytes()));
    for f in pb.e.iter().chain(&pb.h) {
        f.comps.iter().for_each(|c| h.field(c));
    }
    h.0
}

/// Writes a port basis to `path` (temporary file, then rename).
pub fn write_port_basis(path: &Path, key: &str, pb: &crate::coil::cosim::PortBasis) -> Result<()> {
    let tmp = path.with_extension(format!("h5.tmp-{}", std::process::id()));
    let (n, nb) = (pb.n(), pb.band_hz.len());
    let res = (|| -> hdf5::Result<()> {
        let f = hdf5::File::create(&tmp)?;
        let bytes = |name: &str, b: &[u8]| f.new_dataset_builder().with_data(&Array1::from(b.to_vec())).create(name).map(|_| ());
        bytes("key", key.as_bytes())?;
        bytes("checksum", &port_checksum(pb).to_le_bytes())?;
        let names: Vec<&str> = pb.ports.iter().map(|p| p.name.as_str()).collect();
        bytes("names", names.join("\n").as_bytes())?;
        let (edges, orient, caps, feeds) = port_table(pb);
        f.new_dataset_builder().with_data(&edges).create("edges")?;
        f.new_dataset_builder().with_data(&orient).create("orient")?;
        f.new_dataset_builder().with_data(&caps).create("capacitors")?;
        f.new_dataset_builder().with_data(&feeds).create("feeds")?;
        let meta = Array1::from(vec![pb.freq_hz, pb.i0 as f64, pb.fdtd_runs as f64, pb.seconds]);
        f.new_dataset_builder().with_data(&meta).create("freq_hz_i0_runs_seconds")?;
        f.new_dataset_builder().with_data(&Array1::from(pb.band_hz.clone())).create("band_hz")?;
        let z = Array3::from_shape_fn((nb, n * n, 2), |(b, q, c)| if c == 0 { pb.z[b][q].re } else { pb.z[b][q].im });
        f.new_dataset_builder().with_data(&z).create("z_ohm")?;
        let hi = Array3::from_shape_fn((nb, n, 4), |(b, k, c)| {
            let v = pb.h_iso[b][k][c / 2];
            if c % 2 == 0 {
                v.re
            } else {
                v.im
            }
        });
        f.new_dataset_builder().with_data(&hi).create("h_iso")?;
        let steps = Array1::from_iter(pb.run_steps.iter().map(|x| *x as u64));
        f.new_dataset_builder().with_data(&steps).create("run_steps")?;
        let conv = Array1::from_iter(pb.runs_converged.iter().map(|x| *x as u8));
        f.new_dataset_builder().with_data(&conv).create("runs_converged")?;
        let mirrors = Array1::from_iter(pb.mirror_axes.iter().map(|x| *x as u64));
        f.new_dataset_builder().with_data(&mirrors).create("mirror_axes")?;
        for k in 0..n {
            let g = f.create_group(&format!("port{k}"))?;
            for c in 0..3 {
                write_field(&g, &format!("e{c}"), &pb.e[k].comps[c])?;
                write_field(&g, &format!("h{c}"), &pb.h[k].comps[c])?;
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(h5e(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|err| Error::io(path, err))
}

/// Reads a cached port basis; an error if the file is unreadable, was made for another key, or its
/// checksum does not match its contents.
pub fn read_port_basis(path: &Path, key: &str) -> Result<crate::coil::cosim::PortBasis> {
    use crate::coil::cosim::{CapSite, CosimPort, PortBasis};
    let bad = |what: &str| hdf5::Error::from(what);
    let r = (|| -> hdf5::Result<(PortBasis, Vec<u8>, Vec<u8>)> {
        let f = hdf5::File::open(path)?;
        let stored_key = f.dataset("key")?.read_raw::<u8>()?;
        if stored_key != key.as_bytes() {
            // Not worth reading the fields of a file made for other inputs.
            return Ok((empty_port_basis(), stored_key, Vec::new()));
        }
        let sum = f.dataset("checksum")?.read_raw::<u8>()?;
        let names: Vec<String> = String::from_utf8_lossy(&f.dataset("names")?.read_raw::<u8>()?)
            .split('\n')
            .map(String::from)
            .collect();
        let n = names.len();
        let edges = f.dataset("edges")?.read_2d::<u64>()?;
        let orient = f.dataset("orient")?.read_raw::<f64>()?;
        let caps = f.dataset("capacitors")?.read_2d::<i64>()?;
        let feeds = f.dataset("feeds")?.read_raw::<i64>()?;
        if edges.dim() != (n, 4) || orient.len() != n || caps.dim() != (n, 3) || feeds.len() != n {
            return Err(bad("bad port table"));
        }
        let ports: Vec<CosimPort> = (0..n)
            .map(|k| CosimPort {
                name: names[k].clone(),
                edge: (
                    edges[[k, 0]] as usize,
                    [edges[[k, 1]] as usize, edges[[k, 2]] as usize, edges[[k, 3]] as usize],
                ),
                orient: orient[k],
                capacitor: match caps[[k, 0]] {
                    0 => Some(CapSite::Rung(caps[[k, 1]] as usize)),
                    1 => Some(CapSite::Ring(caps[[k, 2]] as usize, caps[[k, 1]] as usize)),
                    _ => None,
                },
                feed: usize::try_from(feeds[k]).ok(),
            })
            .collect();
        let meta = f.dataset("freq_hz_i0_runs_seconds")?.read_raw::<f64>()?;
        let band_hz = f.dataset("band_hz")?.read_raw::<f64>()?;
        let nb = band_hz.len();
        let z = f.dataset("z_ohm")?.read::<f64, ndarray::Ix3>()?;
        let hi = f.dataset("h_iso")?.read::<f64, ndarray::Ix3>()?;
        if meta.len() != 4 || z.dim() != (nb, n * n, 2) || hi.dim() != (nb, n, 4) || meta[1] as usize >= nb {
            return Err(bad("bad band data"));
        }
        let zm = (0..nb)
            .map(|b| (0..n * n).map(|q| Complex64::new(z[[b, q, 0]], z[[b, q, 1]])).collect())
            .collect();
        let h_iso = (0..nb)
            .map(|b| {
                (0..n)
                    .map(|k| [0, 1].map(|c| Complex64::new(hi[[b, k, 2 * c]], hi[[b, k, 2 * c + 1]])))
                    .collect()
            })
            .collect();
        let run_steps = f.dataset("run_steps")?.read_raw::<u64>()?;
        let conv = f.dataset("runs_converged")?.read_raw::<u8>()?;
        let mirrors = f.dataset("mirror_axes")?.read_raw::<u64>()?;
        if run_steps.len() != n || conv.len() != n {
            return Err(bad("bad run data"));
        }
        let yee = |x: crate::error::Result<YeeVector>| x.map_err(|e| bad(&e.to_string()));
        let mut e = Vec::with_capacity(n);
        let mut h = Vec::with_capacity(n);
        for k in 0..n {
            let g = f.group(&format!("port{k}"))?;
            let ec = [read_field(&g, "e0")?, read_field(&g, "e1")?, read_field(&g, "e2")?];
            let hc = [read_field(&g, "h0")?, read_field(&g, "h1")?, read_field(&g, "h2")?];
            e.push(yee(YeeVector::new(FieldKind::E, ec))?);
            h.push(yee(YeeVector::new(FieldKind::H, hc))?);
        }
        let pb = PortBasis {
            ports,
            freq_hz: meta[0],
            band_hz,
            i0: meta[1] as usize,
            z: zm,
            h_iso,
            e,
            h,
            run_steps: run_steps.iter().map(|x| *x as usize).collect(),
            fdtd_runs: meta[2] as usize,
            mirror_axes: mirrors.iter().map(|x| *x as usize).collect(),
            runs_converged: conv.iter().map(|x| *x != 0).collect(),
            seconds: meta[3],
        };
        Ok((pb, stored_key, sum))
    })();
    let (pb, stored_key, sum) = r.map_err(|e| h5e(path, format!("unreadable ({e})")))?;
    if stored_key != key.as_bytes() {
        return Err(h5e(path, "made for other inputs (key differs)"));
    }
    if sum != port_checksum(&pb).to_le_bytes() {
        return Err(h5e(path, "checksum mismatch (corrupted)"));
    }
    Ok(pb)
}

fn empty_port_basis() -> crate::coil::cosim::PortBasis {
    crate::coil::cosim::PortBasis {
        ports: Vec::new(),
        freq_hz: 0.0,
        band_hz: Vec::new(),
        i0: 0,
        z: Vec::new(),
        h_iso: Vec::new(),
        e: Vec::new(),
        h: Vec::new(),
        run_steps: Vec::new(),
        fdtd_runs: 0,
        mirror_axes: Vec::new(),
        runs_converged: Vec::new(),
        seconds: 0.0,
    }
}
