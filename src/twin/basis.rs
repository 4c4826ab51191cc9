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
fn cell_materials(mesh: &BirdcageMesh) -> CellMaterials {
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
    }
}

/// Runs the two basis patterns (no cache): of the ideal drive, or of the co-simulated coil's two
/// feeds (see [`compute_cosim_basis`]).
pub fn compute_basis_request(req: &BasisRequest, progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
    match req.opt.model {
        DriveModel::Ideal => compute_ideal_basis(req, progress),
        DriveModel::Cosim => compute_cosim_basis(req, progress),
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

pub fn compute_cosim_basis(req: &BasisRequest, mut progress: Option<&mut dyn FnMut(usize)>) -> Result<Basis> {
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
    let port_key = req.port_key();
    let kept = kept_port_basis(&port_key);
    let pb = match kept {
        Some(pb) => pb,
        None => {
            let pb = std::sync::Arc::new(cosim::compute_port_basis(
                &mesh,
                &ports,
                freq,
                &req.opt.port_runs,
                Some(&mut report),
            )?);
            if req.opt.keep_port_basis {
                keep_port_basis(&port_key, pb.clone());
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
        "band_hz": [pb.band_hz[0], pb.band_hz[pb.band_hz.len() - 1]],
        "pattern_emf": "pattern 1: feed 1 EMF 1 V at its phase; pattern 2: feed 2 EMF 1 V at its phase + 90 deg (nominal drive = weights (1, -i))",
    });
    Ok(Basis {
        names: vec!["feed1".into(), "feed2".into()],
        fields,
        freq_hz: freq,
        input_power_w: power,
        e,
        h,
        lumped_vi: lumped,
        materials: cell_materials(&mesh),
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
    Ok(Basis {
        names: vec!["cos".into(), "sin".into()],
        fields,
        freq_hz: freq,
        input_power_w: power,
        e,
        h,
        lumped_vi: lumped,
        materials: cell_materials(&mesh),
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
    let basis = compute_basis_request(req, progress)?;
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
    for a in [&m.sigma_s_per_m, &m.eps_r, &m.density_kg_per_m3] {
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
