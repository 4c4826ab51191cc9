//! The materials TOML of `rftwin sar` / `rftwin heat`: per-material conductivity, density and thermal properties, probes, exposure and boundaries.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Materials TOML.

/// The `--materials` TOML of `rftwin sar` and `rftwin heat` (every table optional):
///
/// ```toml
/// [materials.gel]                 # keyed by the FDTD material name
/// sigma_s_per_m = 0.47            # overrides the field file's value (S/m)
/// density_kg_per_m3 = 1000.0      # overrides the field file's value (kg/m^3)
/// [materials.gel.thermal]         # needed by `rftwin heat` for every material with density > 0
/// preset = "astm_gel"             # astm_gel | stainless_steel | titanium_alloy | muscle; keys below override
/// conductivity_w_per_m_k = 0.54
/// [materials.pec.thermal]         # a metal implant modelled as PEC in the FDTD run
/// preset = "stainless_steel"
///
/// [implant]                       # optional: also run with the implant replaced by another material
/// material = "pec"
/// replace_with = "gel"
///
/// [[probes]]                      # points (m), or spheres with radius_m
/// name = "tip"
/// position_m = [0.0, 0.0, 0.05]
/// radius_m = 0.001
///
/// [exposure]                      # defaults: 900 s, 5 s steps, 22 °C, no CEM43 map
/// duration_s = 900.0
///
/// [boundaries]                    # default insulating; kind = insulating | fixed_temperature | convective
/// all = { kind = "insulating" }
/// faces = [...]                   # optional six entries: -x, +x, -y, +y, -z, +z
/// background = { kind = "convective", h_w_per_m2_k = 10.0, ambient_c = 22.0 }
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialsFile {
    #[serde(default)]
    pub materials: BTreeMap<String, MaterialEntry>,
    #[serde(default)]
    pub probes: Vec<ProbeEntry>,
    pub exposure: Option<ExposureEntry>,
    pub boundaries: Option<BoundariesEntry>,
    pub implant: Option<ImplantEntry>,
    /// File name (set by [`MaterialsFile::load`]).
    #[serde(skip)]
    pub source: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialEntry {
    pub sigma_s_per_m: Option<f64>,
    pub density_kg_per_m3: Option<f64>,
    pub thermal: Option<ThermalEntry>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThermalEntry {
    pub preset: Option<String>,
    pub density_kg_per_m3: Option<f64>,
    pub heat_capacity_j_per_kg_k: Option<f64>,
    pub conductivity_w_per_m_k: Option<f64>,
    pub perfusion_per_s: Option<f64>,
    pub metabolic_heat_w_per_m3: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeEntry {
    pub name: String,
    pub position_m: [f64; 3],
    pub radius_m: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureEntry {
    pub duration_s: Option<f64>,
    pub dt_s: Option<f64>,
    pub initial_temperature_c: Option<f64>,
    pub cem43_map: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundariesEntry {
    pub all: Option<BoundaryEntry>,
    pub faces: Option<[BoundaryEntry; 6]>,
    pub background: Option<BoundaryEntry>,
}

/// One boundary as written: `{ kind = "insulating" }`, `{ kind = "fixed_temperature", temperature_c = T }`
/// or `{ kind = "convective", h_w_per_m2_k = H, ambient_c = T }`. Read flat so that a key the kind does
/// not use (`{ kind = "insulating", ambient_c = 22 }`) is refused instead of ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryEntry {
    pub kind: String,
    pub temperature_c: Option<f64>,
    pub h_w_per_m2_k: Option<f64>,
    pub ambient_c: Option<f64>,
}

impl BoundaryEntry {
    /// The boundary, with every problem of the entry added to `p` under `key`.
    pub(super) fn to_boundary(&self, key: &str, p: &mut crate::spec::Problems) -> Boundary {
        let given = [
            ("temperature_c", self.temperature_c),
            ("h_w_per_m2_k", self.h_w_per_m2_k),
            ("ambient_c", self.ambient_c),
        ];
        let (b, uses): (Boundary, &[&str]) = match self.kind.as_str() {
            "insulating" => (Boundary::Insulating, &[]),
            "fixed_temperature" => (
                Boundary::FixedTemperature {
                    temperature_c: self.temperature_c.unwrap_or(f64::NAN),
                },
                &["temperature_c"],
            ),
            "convective" => (
                Boundary::Convective {
                    h_w_per_m2_k: self.h_w_per_m2_k.unwrap_or(f64::NAN),
                    ambient_c: self.ambient_c.unwrap_or(f64::NAN),
                },
                &["h_w_per_m2_k", "ambient_c"],
            ),
            other => {
                p.add(
                    &format!("{key}.kind"),
                    format!("unknown boundary kind \"{other}\""),
                    "use \"insulating\", \"fixed_temperature\" (with temperature_c) or \"convective\" (with h_w_per_m2_k and ambient_c)",
                );
                return Boundary::Insulating;
            }
        };
        for (k, v) in given {
            match (v.is_some(), uses.contains(&k)) {
                (true, false) => p.add(
                    &format!("{key}.{k}"),
                    format!("a \"{}\" boundary has no {k}", self.kind),
                    format!("remove {k}, or change kind to the boundary that uses it"),
                ),
                (true, true) if v.is_some_and(|x| !x.is_finite()) => p.add(
                    &format!("{key}.{k}"),
                    format!("{k} = {} is not finite", v.unwrap_or(f64::NAN)),
                    format!("give {k} as a finite number (SI units: W/(m^2 K), degrees Celsius)"),
                ),
                (false, true) => p.add(
                    &format!("{key}.{k}"),
                    format!("a \"{}\" boundary needs {k}", self.kind),
                    format!("add {k} (SI units: W/(m^2 K), degrees Celsius)"),
                ),
                _ => {}
            }
        }
        b
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImplantEntry {
    pub material: String,
    pub replace_with: String,
}

impl MaterialsFile {
    pub fn load(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let text = crate::spec::read_text(path)?;
        let mut m: MaterialsFile = crate::spec::parse(
            &text,
            &name,
            "[materials.NAME] (sigma_s_per_m, density_kg_per_m3, [thermal]: preset, density_kg_per_m3, heat_capacity_j_per_kg_k, conductivity_w_per_m_k, perfusion_per_s, metabolic_heat_w_per_m3), [implant] (material, replace_with), [[probes]] (name, position_m, radius_m), [exposure] (duration_s, dt_s, initial_temperature_c, cem43_map), [boundaries] (all, faces, background)",
        )?;
        m.source = name;
        m.validate()?;
        Ok(m)
    }

    /// Range checks of every number of the file, all problems reported at once against this file (the
    /// field or SAR file is not to blame for a value written here).
    pub fn validate(&self) -> Result<()> {
        let mut p = crate::spec::Problems::new(&self.source);
        let nonneg = |p: &mut crate::spec::Problems, key: String, v: Option<f64>, strict: bool, unit: &str| {
            if let Some(x) = v {
                let ok = x.is_finite() && if strict { x > 0.0 } else { x >= 0.0 };
                if !ok {
                    p.add(
                        &key,
                        format!(
                            "{x} {unit} is not a {} finite number",
                            if strict { "positive" } else { "non-negative" }
                        ),
                        format!("give a value {} 0 in {unit}", if strict { ">" } else { ">=" }),
                    );
                }
            }
        };
        for (n, e) in &self.materials {
            nonneg(
                &mut p,
                format!("materials.{n}.sigma_s_per_m"),
                e.sigma_s_per_m,
                false,
                "S/m",
            );
            nonneg(
                &mut p,
                format!("materials.{n}.density_kg_per_m3"),
                e.density_kg_per_m3,
                false,
                "kg/m^3",
            );
            if let Some(t) = &e.thermal {
                let k = |x: &str| format!("materials.{n}.thermal.{x}");
                nonneg(&mut p, k("density_kg_per_m3"), t.density_kg_per_m3, true, "kg/m^3");
                nonneg(
                    &mut p,
                    k("heat_capacity_j_per_kg_k"),
                    t.heat_capacity_j_per_kg_k,
                    true,
                    "J/(kg K)",
                );
                nonneg(
                    &mut p,
                    k("conductivity_w_per_m_k"),
                    t.conductivity_w_per_m_k,
                    true,
                    "W/(m K)",
                );
                nonneg(&mut p, k("perfusion_per_s"), t.perfusion_per_s, false, "1/s");
                if let Some(q) = t.metabolic_heat_w_per_m3.filter(|q| !q.is_finite()) {
                    p.add(
                        &k("metabolic_heat_w_per_m3"),
                        format!("{q} W/m^3 is not finite"),
                        "give a finite metabolic heat in W/m^3 (0 for a gel)",
                    );
                }
            }
        }
        for (i, pr) in self.probes.iter().enumerate() {
            if pr.position_m.iter().any(|x| !x.is_finite()) {
                p.add(
                    &format!("probes[{i}].position_m"),
                    format!("probe '{}' position {:?} is not finite", pr.name, pr.position_m),
                    "give three finite coordinates in metres",
                );
            }
            nonneg(&mut p, format!("probes[{i}].radius_m"), pr.radius_m, true, "m");
        }
        if let Some(b) = &self.boundaries {
            // A missing value (NaN placeholder) is reported once, by `to_boundary`.
            let temp_ok = |t: f64| t.is_nan() || (t.is_finite() && t > -273.15);
            let mut bc = |key: String, b: &Option<BoundaryEntry>| match b.as_ref().map(|e| e.to_boundary(&key, &mut p))
            {
                Some(Boundary::FixedTemperature { temperature_c }) if !temp_ok(temperature_c) => p.add(
                    &format!("{key}.temperature_c"),
                    format!("{temperature_c} °C is not a finite temperature above absolute zero"),
                    "give the held temperature in degrees Celsius, e.g. 22",
                ),
                Some(Boundary::Convective {
                    h_w_per_m2_k,
                    ambient_c,
                }) => {
                    if !(h_w_per_m2_k.is_nan() || (h_w_per_m2_k.is_finite() && h_w_per_m2_k >= 0.0)) {
                        p.add(
                            &format!("{key}.h_w_per_m2_k"),
                            format!("{h_w_per_m2_k} W/(m^2 K) is negative or not finite"),
                            "give a heat transfer coefficient >= 0, e.g. 10 for still air",
                        );
                    }
                    if !temp_ok(ambient_c) {
                        p.add(
                            &format!("{key}.ambient_c"),
                            format!("{ambient_c} °C is not a finite temperature above absolute zero"),
                            "give the ambient temperature in degrees Celsius, e.g. 22",
                        );
                    }
                }
                _ => {}
            };
            bc("boundaries.all".into(), &b.all);
            bc("boundaries.background".into(), &b.background);
            if let Some(f) = &b.faces {
                for (i, face) in f.iter().enumerate() {
                    bc(format!("boundaries.faces[{i}]"), &Some(face.clone()));
                }
            }
        }
        p.finish()
    }

    pub(super) fn check_names(&self, table: &MaterialTable) -> Result<()> {
        for n in self.materials.keys() {
            if table.id(n).is_none() {
                return Err(Error::input(
                    &self.source,
                    &format!("materials.{n}"),
                    format!("no material '{n}' in the field file"),
                    format!("use one of: {}", table.name.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// `table` with this file's conductivity and density overrides.
    pub fn apply_electrical(&self, table: &MaterialTable) -> Result<MaterialTable> {
        self.check_names(table)?;
        let mut t = table.clone();
        for (n, e) in &self.materials {
            let id = t.id(n).expect("checked");
            if let Some(s) = e.sigma_s_per_m {
                t.sigma_s_per_m[id] = s;
            }
            if let Some(r) = e.density_kg_per_m3 {
                t.density_kg_per_m3[id] = r;
            }
        }
        Ok(t)
    }

    /// Thermal material per id of `table`: the TOML's entry, `None` for materials absent from the grid or
    /// without mass (air), and an error naming the material for one with mass but no thermal properties.
    pub fn thermal_table(
        &self,
        table: &MaterialTable,
        counts: &[usize],
        grid_source: &str,
    ) -> Result<Vec<Option<ThermalMaterial>>> {
        self.check_names(table)?;
        let src = if self.source.is_empty() {
            grid_source.to_string()
        } else {
            self.source.clone()
        };
        (0..table.len())
            .map(|id| {
                let n = &table.name[id];
                match self.materials.get(n).and_then(|e| e.thermal.as_ref()) {
                    Some(t) => t.build(n, table.density_kg_per_m3[id], &src).map(Some),
                    None if counts[id] > 0 && table.density_kg_per_m3[id] > 0.0 => Err(Error::input(
                        &src,
                        &format!("materials.{n}.thermal"),
                        format!(
                            "material '{n}' ({} voxels, density {} kg/m^3) has no thermal properties",
                            counts[id], table.density_kg_per_m3[id]
                        ),
                        format!(
                            "add [materials.{n}.thermal] with a preset (astm_gel, stainless_steel, titanium_alloy, muscle) or density_kg_per_m3, heat_capacity_j_per_kg_k and conductivity_w_per_m_k"
                        ),
                    )),
                    None => Ok(None),
                }
            })
            .collect()
    }

    /// Boundaries (default: insulating everywhere).
    pub fn boundaries(&self) -> Boundaries {
        let b = self.boundaries.clone().unwrap_or_default();
        // Checked by `validate` (run by `load`); problems here only mean a file built in code.
        let mut p = crate::spec::Problems::new(&self.source);
        let mut conv = |e: &BoundaryEntry| e.to_boundary("boundaries", &mut p);
        let all = b.all.as_ref().map_or(Boundary::Insulating, &mut conv);
        Boundaries {
            faces: b
                .faces
                .as_ref()
                .map_or([all; 6], |f| std::array::from_fn(|i| conv(&f[i]))),
            background: b.background.as_ref().map_or(all, &mut conv),
        }
    }

    /// The file's probes.
    pub fn probes(&self) -> Vec<Probe> {
        self.probes
            .iter()
            .map(|p| match p.radius_m {
                Some(r) => Probe::sphere(&p.name, p.position_m, r),
                None => Probe::point(&p.name, p.position_m),
            })
            .collect()
    }
}

impl ThermalEntry {
    pub(super) fn build(&self, name: &str, sar_density: f64, source: &str) -> Result<ThermalMaterial> {
        let base = match self.preset.as_deref() {
            None => None,
            Some("astm_gel") => Some(ThermalMaterial::astm_gel()),
            Some("stainless_steel") => Some(ThermalMaterial::stainless_steel()),
            Some("titanium_alloy") => Some(ThermalMaterial::titanium_alloy()),
            Some("muscle") => Some(ThermalMaterial::muscle()),
            Some(p) => {
                return Err(Error::input(
                    source,
                    &format!("materials.{name}.thermal.preset"),
                    format!("unknown preset '{p}'"),
                    "use astm_gel, stainless_steel, titanium_alloy or muscle",
                ))
            }
        };
        let need = |v: Option<f64>, b: Option<f64>, key: &str| -> Result<f64> {
            v.or(b).ok_or_else(|| {
                Error::input(
                    source,
                    &format!("materials.{name}.thermal.{key}"),
                    format!("missing thermal property {key} of material '{name}'"),
                    "give it, or a preset that supplies it",
                )
            })
        };
        let fallback_rho = if sar_density > 0.0 { Some(sar_density) } else { None };
        let m = ThermalMaterial {
            name: name.to_string(),
            density_kg_per_m3: need(
                self.density_kg_per_m3,
                base.as_ref().map(|b| b.density_kg_per_m3).or(fallback_rho),
                "density_kg_per_m3",
            )?,
            heat_capacity_j_per_kg_k: need(
                self.heat_capacity_j_per_kg_k,
                base.as_ref().map(|b| b.heat_capacity_j_per_kg_k),
                "heat_capacity_j_per_kg_k",
            )?,
            conductivity_w_per_m_k: need(
                self.conductivity_w_per_m_k,
                base.as_ref().map(|b| b.conductivity_w_per_m_k),
                "conductivity_w_per_m_k",
            )?,
            perfusion_per_s: self
                .perfusion_per_s
                .or(base.as_ref().map(|b| b.perfusion_per_s))
                .unwrap_or(0.0),
            metabolic_heat_w_per_m3: self
                .metabolic_heat_w_per_m3
                .or(base.as_ref().map(|b| b.metabolic_heat_w_per_m3))
                .unwrap_or(0.0),
        };
        Ok(m)
    }
}

/// Checks that every probe lies inside the grid box of `grid` with `dims` voxels. `source` names where
/// the probes came from.
pub fn check_probes_in_grid(probes: &[(Probe, String)], grid: &VoxelGrid, dims: [usize; 3]) -> Result<()> {
    let lo = grid.origin_m;
    let hi: [f64; 3] = std::array::from_fn(|a| lo[a] + dims[a] as f64 * grid.voxel_size_m[a]);
    for (p, source) in probes {
        let c = match &p.kind {
            crate::dosimetry::thermal::ProbeKind::Point { position_m } => *position_m,
            crate::dosimetry::thermal::ProbeKind::Sphere { centre_m, .. } => *centre_m,
        };
        if (0..3).any(|a| !(c[a] >= lo[a] && c[a] <= hi[a])) {
            return Err(Error::input(
                source,
                &format!("probes.{}", p.name),
                format!("position {c:?} m is outside the grid ({lo:?} to {hi:?} m)"),
                "place the probe inside the thermal grid (positions in metres)",
            ));
        }
    }
    Ok(())
}

/// Parses `NAME:X,Y,Z` or `NAME:X,Y,Z:R` (metres) from the command line.
pub fn parse_probe_arg(s: &str) -> Result<Probe> {
    let bad = |what: &str| {
        Error::input(
            "command line",
            &format!("--probe {s}"),
            what.to_string(),
            "write NAME:X,Y,Z or NAME:X,Y,Z:RADIUS in metres, e.g. tip:0,0,0.05:0.001",
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 || parts[0].is_empty() {
        return Err(bad("expected NAME:X,Y,Z[:RADIUS]"));
    }
    let p = crate::spec::parse_xyz(parts[1]).map_err(|e| match e {
        crate::spec::XyzError::NotANumber(_) => bad("position is not three numbers"),
        crate::spec::XyzError::NotThreeFinite => bad("position is not three finite numbers"),
    })?;
    match parts.get(2) {
        None => Ok(Probe::point(parts[0], p)),
        Some(r) => {
            let r: f64 = r.trim().parse().map_err(|_| bad("radius is not a number"))?;
            Ok(Probe::sphere(parts[0], p, r))
        }
    }
}
