//! The fitted twin's fields, as later stages (implant, report) load them.
//!
//! `TwinFields` holds the complex peak phasors (`e^{+iωt}`) of E (V/m) and H (A/m) of the fitted drive
//! on the coarse FDTD grid, each Yee component on its own staggered lattice. With grid node `(0,0,0)`
//! of the field box at `n0` and cell size `d`, component `Ex[i, j, k]` sits at
//! `n0 + ((i + ½) d, j d, k d)`, `Ey` at `n0 + (i d, (j + ½) d, k d)`, `Ez` at `n0 + (i d, j d, (k + ½) d)`
//! (the cell-edge midpoints), and `Hx` at `n0 + (i d, (j + ½) d, (k + ½) d)`, `Hy` at
//! `n0 + ((i + ½) d, j d, (k + ½) d)`, `Hz` at `n0 + ((i + ½) d, (j + ½) d, k d)` (the face centres);
//! every component's `origin_m` says where its element `[0,0,0]` is. The point queries interpolate
//! each component trilinearly from its own lattice (NaN outside the box), so the components of
//! `e_at(p)` all refer to the same point `p`.
//!
//! Also kept: the per-cell conductivity, permittivity and density of the coarse grid (cell centres),
//! the frequency and the input power of the fitted drive (so `scaled(1/sqrt(P))` gives the fields per
//! watt). Files: `DIR/twin_fields.h5` (datasets `e/x`, `e/y`, `e/z`, `h/x`, `h/y`, `h/z` complex with
//! `origin_m`/`spacing_m`; `materials/sigma_s_per_m`, `materials/eps_r`, `materials/density_kg_per_m3`
//! real with `origin_m`/`spacing_m` of the cell centres; `materials/edge_sigma_x|y|z`, the conductivity
//! of each E edge, element for element with `e/x|y|z`, which the SAR uses) and the `[fields]` table of `DIR/twin.toml`
//! (`file`, `freq_hz`, `input_power_w`, `cell_m`).

use std::path::Path;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};

use super::basis::{Basis, CellMaterials};
use super::file::TwinFile;
use crate::error::{Error, Result};
use crate::fdtd::{FieldKind, YeeVector};
use crate::grid::{GridPlacement, RegularField, MU0};

/// The fitted twin's fields and materials (see the module documentation).
#[derive(Clone, Debug)]
pub struct TwinFields {
    /// E (V/m), complex peak phasor, Yee components.
    pub e: YeeVector,
    /// H (A/m), complex peak phasor, Yee components.
    pub h: YeeVector,
    /// Cell-centre grid of the material arrays.
    pub cells: GridPlacement,
    pub sigma_s_per_m: Array3<f32>,
    pub eps_r: Array3<f32>,
    pub density_kg_per_m3: Array3<f32>,
    /// Conductivity of each E edge (S/m), element for element with `e` (None in a twin written
    /// before it was kept: the SAR then falls back to the cell materials).
    pub edge_sigma_s_per_m: Option<[Array3<f32>; 3]>,
    pub freq_hz: f64,
    /// Input power of this drive (W).
    pub input_power_w: f64,
    /// Cell size of the coarse grid (m).
    pub cell_m: f64,
}

fn c64(z: Complex32) -> Complex64 {
    Complex64::new(z.re as f64, z.im as f64)
}

fn superpose(vs: &[&YeeVector], w: &[Complex64]) -> YeeVector {
    let comps = [0, 1, 2].map(|c| {
        let mut data = Array3::<Complex32>::zeros(vs[0].comps[c].data.dim());
        for (v, wk) in vs.iter().zip(w) {
            let wk = Complex32::new(wk.re as f32, wk.im as f32);
            ndarray::Zip::from(&mut data)
                .and(&v.comps[c].data)
                .for_each(|a, &b| *a += wk * b);
        }
        RegularField {
            data,
            origin_m: vs[0].comps[c].origin_m,
            spacing_m: vs[0].comps[c].spacing_m,
        }
    });
    YeeVector {
        kind: vs[0].kind,
        comps,
    }
}

const FILE: &str = "twin_fields.h5";

/// A material array with its origin and spacing, as read.
type MaterialArray = (Array3<f32>, [f64; 3], [f64; 3]);

impl TwinFields {
    /// The fields of the drive `sum_k w_k pattern_k` of a basis (exact superposition).
    pub fn from_basis(basis: &Basis, w: &[Complex64]) -> Result<TwinFields> {
        if w.len() != basis.e.len() {
            return Err(Error::Other(format!(
                "twin fields: {} weights for {} basis patterns",
                w.len(),
                basis.e.len()
            )));
        }
        let CellMaterials {
            grid,
            sigma_s_per_m,
            eps_r,
            density_kg_per_m3,
            edge_sigma_s_per_m,
        } = basis.materials.clone();
        Ok(TwinFields {
            e: superpose(&basis.e.iter().collect::<Vec<_>>(), w),
            h: superpose(&basis.h.iter().collect::<Vec<_>>(), w),
            cells: grid,
            sigma_s_per_m,
            eps_r,
            density_kg_per_m3,
            edge_sigma_s_per_m: Some(edge_sigma_s_per_m),
            freq_hz: basis.freq_hz,
            input_power_w: basis.input_power(w),
            cell_m: basis.cell_m,
        })
    }

    /// E (V/m) at `p_m` (simulation frame), each component trilinear from its own Yee lattice.
    pub fn e_at(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        [0, 1, 2].map(|c| c64(self.e.comps[c].sample(p_m)))
    }
    /// H (A/m) at `p_m`, each component trilinear from its own Yee lattice.
    pub fn h_at(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        [0, 1, 2].map(|c| c64(self.h.comps[c].sample(p_m)))
    }
    /// B1+ = µ0 (Hx + i Hy) / 2 (T) at `p_m`.
    pub fn b1_plus_at(&self, p_m: [f64; 3]) -> Complex64 {
        let h = self.h_at(p_m);
        (h[0] + Complex64::i() * h[1]) * (0.5 * MU0)
    }
    /// Material of the cell whose centre is nearest to `p_m`: `(sigma_s_per_m, eps_r, density)`, or
    /// `None` outside the material box.
    pub fn material_at(&self, p_m: [f64; 3]) -> Option<(f64, f64, f64)> {
        let g = &self.cells;
        let mut idx = [0usize; 3];
        for a in 0..3 {
            let u = ((p_m[a] - g.origin_m[a]) / g.spacing_m[a]).round();
            if !(u >= 0.0 && u < g.dims[a] as f64) {
                return None;
            }
            idx[a] = u as usize;
        }
        Some((
            self.sigma_s_per_m[idx] as f64,
            self.eps_r[idx] as f64,
            self.density_kg_per_m3[idx] as f64,
        ))
    }
    /// The power density (W/m^3) at the cell centres `cells` (the grid of `density`): from the edges'
    /// own losses when the edge conductivities are kept ([`super::basis::edge_power_density`]), else
    /// `0.5 sigma |E|^2` with E interpolated to the centres and the cell conductivity.
    pub fn power_density(&self, cells: &GridPlacement, density: &Array3<f32>) -> Result<Array3<f32>> {
        if let Some(es) = &self.edge_sigma_s_per_m {
            return Ok(super::basis::edge_power_density(&self.e, es, cells, density));
        }
        let mut p = Array3::<f32>::zeros(cells.dims);
        for ((i, j, k), v) in p.indexed_iter_mut() {
            let x = cells.position(i, j, k);
            if let Some((sg, _, _)) = self.material_at(x) {
                let e = self.e_at(x);
                let e2: f64 = e.iter().map(|z| z.norm_sqr()).filter(|v| v.is_finite()).sum();
                *v = (0.5 * sg * e2) as f32;
            }
        }
        Ok(p)
    }

    /// Factor that scales these fields to 1 W of input power (as `CoilFields::per_watt`).
    pub fn per_watt(&self) -> f64 {
        1.0 / self.input_power_w.sqrt()
    }
    /// Factor that scales these fields to |B1+| = 1 µT at the isocentre (as
    /// `CoilFields::per_microtesla`).
    pub fn per_microtesla(&self) -> f64 {
        1e-6 / self.b1_plus_at([0.0; 3]).norm()
    }
    /// The fields multiplied by `factor` (input power by `factor²`), e.g. `1/sqrt(P)` for 1 W.
    pub fn scaled(&self, factor: f64) -> TwinFields {
        let f = factor as f32;
        let sc = |v: &YeeVector| YeeVector {
            kind: v.kind,
            comps: [0, 1, 2].map(|c| RegularField {
                data: v.comps[c].data.mapv(|z| z * f),
                origin_m: v.comps[c].origin_m,
                spacing_m: v.comps[c].spacing_m,
            }),
        };
        TwinFields {
            e: sc(&self.e),
            h: sc(&self.h),
            input_power_w: self.input_power_w * factor * factor,
            ..self.clone()
        }
    }

    /// Writes `dir/twin_fields.h5` (temporary file, then rename) and the `[fields]` table of
    /// `dir/twin.toml` (appended when the file exists without one, created otherwise; see
    /// [`super::file`]).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!(".{FILE}.tmp-{}", std::process::id()));
        let herr = |e: hdf5::Error| crate::error::write_error(&path, e);
        let res = (|| -> hdf5::Result<()> {
            let f = hdf5::File::create(&tmp)?;
            for (gname, v) in [("e", &self.e), ("h", &self.h)] {
                let g = f.create_group(gname)?;
                for (c, n) in ["x", "y", "z"].iter().enumerate() {
                    let ds = g.new_dataset_builder().with_data(&v.comps[c].data).create(*n)?;
                    ds.new_attr::<f64>()
                        .shape([3])
                        .create("origin_m")?
                        .write(&v.comps[c].origin_m)?;
                    ds.new_attr::<f64>()
                        .shape([3])
                        .create("spacing_m")?
                        .write(&v.comps[c].spacing_m)?;
                    ds.new_attr::<f64>().create("freq_hz")?.write_scalar(&self.freq_hz)?;
                    crate::io::write_str_attr(&ds, "unit", if gname == "e" { "V/m" } else { "A/m" })?;
                }
            }
            let g = f.create_group("materials")?;
            for (n, a) in [
                ("sigma_s_per_m", &self.sigma_s_per_m),
                ("eps_r", &self.eps_r),
                ("density_kg_per_m3", &self.density_kg_per_m3),
            ] {
                let ds = g.new_dataset_builder().with_data(a).create(n)?;
                ds.new_attr::<f64>()
                    .shape([3])
                    .create("origin_m")?
                    .write(&self.cells.origin_m)?;
                ds.new_attr::<f64>()
                    .shape([3])
                    .create("spacing_m")?
                    .write(&self.cells.spacing_m)?;
            }
            if let Some(es) = &self.edge_sigma_s_per_m {
                for (c, n) in ["edge_sigma_x", "edge_sigma_y", "edge_sigma_z"].iter().enumerate() {
                    let ds = g.new_dataset_builder().with_data(&es[c]).create(*n)?;
                    ds.new_attr::<f64>().shape([3]).create("origin_m")?.write(&self.e.comps[c].origin_m)?;
                    ds.new_attr::<f64>().shape([3]).create("spacing_m")?.write(&self.e.comps[c].spacing_m)?;
                    crate::io::write_str_attr(&ds, "unit", "S/m")?;
                }
            }
            f.new_attr::<f64>().create("freq_hz")?.write_scalar(&self.freq_hz)?;
            f.new_attr::<f64>()
                .create("input_power_w")?
                .write_scalar(&self.input_power_w)?;
            f.new_attr::<f64>().create("cell_m")?.write_scalar(&self.cell_m)?;
            f.flush()?;
            Ok(())
        })();
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(herr(e));
        }
        std::fs::rename(&tmp, &path).map_err(|err| Error::Io {
            path: path.display().to_string(),
            err,
        })?;
        super::file::append_fields(
            dir,
            &super::file::FieldsTable {
                file: Some(FILE.to_string()),
                freq_hz: Some(self.freq_hz),
                input_power_w: Some(self.input_power_w),
                cell_m: Some(self.cell_m),
            },
        )
    }

    /// Reads `dir/twin.toml` (`[fields]` table) and the fields file it names.
    pub fn load(dir: &Path) -> Result<TwinFields> {
        Self::load_described(dir, &TwinFile::load(dir)?)
    }

    /// Reads the fields file that `file` (the directory's `twin.toml`) names.
    fn load_described(dir: &Path, file: &TwinFile) -> Result<TwinFields> {
        let tname = dir.join(super::file::NAME).display().to_string();
        let fields = file.fields.as_ref().ok_or_else(|| {
            Error::input(
                &tname,
                "fields",
                "missing [fields] table",
                "re-run `rftwin twin fit` (it writes the twin's fields)",
            )
        })?;
        let num = |k: &str, v: Option<f64>| -> Result<f64> {
            v.filter(|v| v.is_finite()).ok_or_else(|| {
                Error::input(
                    &tname,
                    &format!("fields.{k}"),
                    "missing or not a finite number",
                    "re-run `rftwin twin fit`",
                )
            })
        };
        let freq_hz = num("freq_hz", fields.freq_hz)?;
        let input_power_w = num("input_power_w", fields.input_power_w)?;
        let cell_m = num("cell_m", fields.cell_m)?;
        let file = fields.file.as_deref().unwrap_or(FILE);

        let path = dir.join(file);
        let pname = path.display().to_string();
        #[allow(clippy::type_complexity)]
        let r = (|| -> hdf5::Result<(Vec<RegularField<Complex32>>, Vec<MaterialArray>, Option<[Array3<f32>; 3]>)> {
            let f = hdf5::File::open(&path)?;
            let mut comps = Vec::new();
            for g in ["e", "h"] {
                for n in ["x", "y", "z"] {
                    let ds = f.dataset(&format!("{g}/{n}"))?;
                    let data = ds.read::<Complex32, ndarray::Ix3>()?;
                    let o = ds.attr("origin_m")?.read_raw::<f64>()?;
                    let s = ds.attr("spacing_m")?.read_raw::<f64>()?;
                    if o.len() != 3 || s.len() != 3 {
                        return Err("origin_m/spacing_m need 3 values".into());
                    }
                    comps.push(
                        RegularField::new(data, [o[0], o[1], o[2]], [s[0], s[1], s[2]])
                            .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?,
                    );
                }
            }
            let mut mats = Vec::new();
            for n in ["sigma_s_per_m", "eps_r", "density_kg_per_m3"] {
                let ds = f.dataset(&format!("materials/{n}"))?;
                let data = ds.read::<f32, ndarray::Ix3>()?;
                let o = ds.attr("origin_m")?.read_raw::<f64>()?;
                let s = ds.attr("spacing_m")?.read_raw::<f64>()?;
                if o.len() != 3 || s.len() != 3 {
                    return Err("origin_m/spacing_m need 3 values".into());
                }
                mats.push((data, [o[0], o[1], o[2]], [s[0], s[1], s[2]]));
            }
            let edge = if f.link_exists("materials/edge_sigma_x") {
                let mut v = Vec::new();
                for (c, n) in ["edge_sigma_x", "edge_sigma_y", "edge_sigma_z"].iter().enumerate() {
                    let a = f.dataset(&format!("materials/{n}"))?.read::<f32, ndarray::Ix3>()?;
                    if a.dim() != comps[c].data.dim() {
                        return Err("materials/edge_sigma_* do not match e/x, e/y, e/z".into());
                    }
                    v.push(a);
                }
                let [x, y, z]: [Array3<f32>; 3] = v.try_into().map_err(|_| "edge_sigma")?;
                Some([x, y, z])
            } else {
                None
            };
            Ok((comps, mats, edge))
        })();
        let (comps, mut mats, edge_sigma_s_per_m) = r.map_err(|e| {
            Error::input(
                &pname,
                "e/x ... materials/eps_r",
                format!("cannot read the twin's fields: {e}"),
                "re-run `rftwin twin fit`",
            )
        })?;
        let mut it = comps.into_iter();
        let mut three = || -> [RegularField<Complex32>; 3] { std::array::from_fn(|_| it.next().expect("6 comps")) };
        let e = YeeVector::new(FieldKind::E, three())?;
        let h = YeeVector::new(FieldKind::H, three())?;
        let (rho, o, s) = mats.pop().expect("3");
        let (eps, _, _) = mats.pop().expect("3");
        let (sigma, _, _) = mats.pop().expect("3");
        if eps.dim() != sigma.dim() || rho.dim() != sigma.dim() {
            return Err(Error::input(
                &pname,
                "materials",
                "material arrays differ in shape",
                "re-run `rftwin twin fit`",
            ));
        }
        let (a, b, c) = sigma.dim();
        Ok(TwinFields {
            e,
            h,
            cells: GridPlacement {
                origin_m: o,
                spacing_m: s,
                dims: [a, b, c],
            },
            sigma_s_per_m: sigma,
            eps_r: eps,
            density_kg_per_m3: rho,
            edge_sigma_s_per_m,
            freq_hz,
            input_power_w,
            cell_m,
        })
    }

    /// Writes an XDMF sidecar `dir/twin_fields.xmf` for ParaView (adds real helper datasets).
    pub fn write_xdmf(&self, dir: &Path) -> Result<()> {
        let names = ["e/x", "e/y", "e/z", "h/x", "h/y", "h/z"];
        let sets: Vec<crate::io::FieldDataset> = names
            .iter()
            .enumerate()
            .map(|(q, n)| {
                let v = if q < 3 { &self.e } else { &self.h };
                crate::io::FieldDataset {
                    name: n.to_string(),
                    data: &v.comps[q % 3].data,
                    origin_m: v.comps[q % 3].origin_m,
                    spacing_m: v.comps[q % 3].spacing_m,
                    unit: if q < 3 { "V/m" } else { "A/m" },
                    freq_hz: self.freq_hz,
                    quantity: if q < 3 { "E" } else { "H" },
                }
            })
            .collect();
        crate::io::write_xdmf(&dir.join("twin_fields.xmf"), FILE, &sets)
    }
}

/// A twin directory written by `rftwin twin fit`, as later stages use it: the fields, the phantom the
/// fields were computed with (the file named in `twin.toml`, shifted by the fitted offset and with the
/// fitted gel properties) and the fit's NRMSE.
pub struct LoadedTwin {
    pub fields: TwinFields,
    pub phantom: crate::coil::PhantomConfig,
    pub nrmse: Option<f64>,
    /// How `phantom` differs from the phantom file (the fitted placement and gel of the fields).
    pub adjustment: super::basis::PhantomAdjustment,
}

/// Loads `dir` (see [`LoadedTwin`]).
pub fn load_twin_dir(dir: &Path) -> Result<LoadedTwin> {
    let file = TwinFile::load(dir)?;
    let fields = TwinFields::load_described(dir, &file)?;
    let name = dir.join(super::file::NAME).display().to_string();
    let ph = file.phantom.as_deref().ok_or_else(|| {
        Error::input(
            &name,
            "phantom",
            "missing",
            "give a twin directory written by `rftwin twin fit`",
        )
    })?;
    let adjustment = super::basis::PhantomAdjustment {
        offset_m: file.fields_phantom_offset_m,
        rotation_deg: file.fields_phantom_rotation_deg,
        sigma_s_per_m: file.fields_sigma_s_per_m,
        eps_r: file.fields_eps_r,
    };
    let phantom = adjustment.apply(&crate::coil::PhantomConfig::load(Path::new(ph))?);
    let nrmse = file.nrmse;
    Ok(LoadedTwin {
        fields,
        phantom,
        nrmse,
        adjustment,
    })
}

/// The coil's fields with its nominal drive from the basis runs, cached in `cache` when given: what
/// `assess` and `implant search` use when no calibration is asked for: the quadrature drive, weights
/// `[1, -i]` for both models (the ideal basis holds the two linear modes cos and sin, so `[1, 0]`
/// would be the linear cos mode alone; the co-simulation's patterns are feed 1 and feed 2 at +90°,
/// see `basis::compute_cosim_basis`).
pub fn ideal_drive_fields(
    coil: &crate::coil::CoilConfig,
    phantom: &crate::coil::PhantomConfig,
    opt: &crate::coil::run::SimulateOptions,
    cache: Option<&Path>,
) -> Result<TwinFields> {
    let req = super::basis::BasisRequest {
        coil,
        phantom: Some(phantom),
        opt,
        offset_m: [0.0; 3],
    };
    let (basis, _) = super::basis::cached_basis(&req, cache, None)?;
    TwinFields::from_basis(&basis, &[Complex64::new(1.0, 0.0), Complex64::new(0.0, -1.0)])
}
