//! Section "Implant <n>: <name>": placement, the local FDTD run, SAR with and without the implant,
//! the temperature probes and the figures.

use std::path::PathBuf;

use crate::report::keys::{self, HotSpot as HotSpotKey, Implant as Key, Probe as ProbeKey};
use crate::report::{Cell, Report, Section, Table};

/// A temperature probe's results.
#[derive(Clone, Debug)]
pub struct ProbeFacts {
    pub name: String,
    /// Temperature rise at the end of the exposure (K), with the implant and with it removed.
    pub final_rise_k: f64,
    pub final_rise_background_k: f64,
    pub cem43_min: f64,
}

/// What the local stages computed for one implant (`n` 1-based).
#[derive(Clone, Debug)]
pub struct ImplantFacts {
    pub n: usize,
    /// The recipe's label.
    pub label: String,
    /// The implant file's name and description.
    pub implant_name: String,
    pub implant_description: String,
    /// Position in the phantom frame as the recipe gives it (m).
    pub position_m: [f64; 3],
    pub length_m: f64,
    pub wall_distance_m: f64,
    pub fine_cell_m: f64,
    pub fdtd_cells: usize,
    pub fdtd_periods: usize,
    /// Wall time of the local FDTD run (s).
    pub fdtd_s: f64,
    /// Peak point SAR (W/kg) with the implant, and with it removed.
    pub sar_point_peak: f64,
    pub sar_point_peak_background: f64,
    /// Where the largest temperature rise and the peak point, 1 g and 10 g SAR are.
    pub hot_spots: Vec<HotSpotFacts>,
    /// The implant's parameters (the parameter table).
    pub parameters: ImplantParameters,
    /// Peak 1 g and 10 g SAR (W/kg), with the implant and with it removed.
    pub sar_1g_peak: f64,
    pub sar_10g_peak: f64,
    pub sar_1g_peak_background: f64,
    pub sar_10g_peak_background: f64,
    /// Largest temperature rise in the local region (K), with the implant and with it removed.
    pub max_rise_k: f64,
    pub max_rise_background_k: f64,
    pub probes: Vec<ProbeFacts>,
}

/// Where one hot spot lies: `what` is one of [`HotSpotKey::WHATS`], in the order of that list.
#[derive(Clone, Debug)]
pub struct HotSpotFacts {
    pub what: &'static str,
    /// Coil frame (m; origin at the isocentre).
    pub coil_m: [f64; 3],
    /// Phantom frame (m; origin at the phantom's centre, its own axes).
    pub phantom_m: [f64; 3],
}

/// An electrode of the implant (arc lengths from the tip, m).
#[derive(Clone, Debug)]
pub struct ElectrodeFacts {
    pub start_m: f64,
    pub length_m: f64,
    pub radius_m: f64,
}

/// The implant file's parameters, as the parameter table shows them.
#[derive(Clone, Debug)]
pub struct ImplantParameters {
    /// Kind (wire, plate, …) and conductor material.
    pub kind: String,
    pub metal: String,
    pub metal_sigma_s_per_m: f64,
    pub radius_m: f64,
    /// Insulation thickness (m) and relative permittivity; None for a bare conductor.
    pub insulation: Option<(f64, f64)>,
    /// Bare arc-length intervals from the tip (m).
    pub bare_m: Vec<[f64; 2]>,
    pub electrodes: Vec<ElectrodeFacts>,
}

/// The figures of one implant (PNG files written by the pipeline).
#[derive(Clone, Debug)]
pub struct ImplantFigures {
    pub placement: PathBuf,
    pub sar: PathBuf,
    pub probes: PathBuf,
    pub temperature: PathBuf,
    /// The incident field's tangential component along the conductor.
    pub e_tan: Option<PathBuf>,
}

/// The keys of the section's quantities, as the section refers to them.
struct Keys {
    len: String,
    wall: String,
    cell: String,
    cells: String,
    periods: String,
    fdtd_s: String,
    excess: String,
}

fn add_run_quantities(r: &mut Report, f: &ImplantFacts) -> Keys {
    let n = f.n;
    Keys {
        len: r.quantity(&Key::Length.key(n), f.length_m * 1e3, "mm", "conductor length"),
        wall: r.quantity(
            &Key::WallDistance.key(n),
            f.wall_distance_m * 1e3,
            "mm",
            "smallest distance to the phantom surface",
        ),
        cell: r.quantity(&Key::FineCell.key(n), f.fine_cell_m * 1e3, "mm", "fine FDTD cell"),
        cells: r.quantity(
            &Key::FdtdCells.key(n),
            f.fdtd_cells as f64,
            "",
            "cells of the local FDTD box (CPML included)",
        ),
        periods: r.quantity(
            &Key::FdtdPeriods.key(n),
            f.fdtd_periods as f64,
            "",
            "RF periods to steady state",
        ),
        fdtd_s: r.quantity(&Key::FdtdTime.key(n), f.fdtd_s, "s", "wall time of the local FDTD run"),
        excess: String::new(),
    }
}

/// The SAR and heating quantities: the rows of the table "with / without the implant".
fn add_dose_quantities(r: &mut Report, f: &ImplantFacts, k: &mut Keys) -> Vec<Vec<Cell>> {
    let n = f.n;
    let mut q = |key: Key, v: f64, unit: &str, what: &str| Cell::q(&r.quantity(&key.key(n), v, unit, what));
    let pk = q(Key::SarPointPeak, f.sar_point_peak, "W/kg", "peak point SAR with the implant");
    let pk_bg = q(
        Key::SarPointPeakBackground,
        f.sar_point_peak_background,
        "W/kg",
        "peak point SAR, implant removed",
    );
    let s1 = q(Key::Sar1gPeak, f.sar_1g_peak, "W/kg", "peak 1 g SAR with the implant");
    let s10 = q(Key::Sar10gPeak, f.sar_10g_peak, "W/kg", "peak 10 g SAR with the implant");
    let s1_bg = q(
        Key::Sar1gPeakBackground,
        f.sar_1g_peak_background,
        "W/kg",
        "peak 1 g SAR, implant removed",
    );
    let s10_bg = q(
        Key::Sar10gPeakBackground,
        f.sar_10g_peak_background,
        "W/kg",
        "peak 10 g SAR, implant removed",
    );
    let rise = q(
        Key::MaxTemperatureRise,
        f.max_rise_k,
        "K",
        "largest temperature rise in the local region with the implant",
    );
    let rise_bg = q(
        Key::MaxTemperatureRiseBackground,
        f.max_rise_background_k,
        "K",
        "largest temperature rise, implant removed",
    );
    k.excess = r.quantity(
        &Key::ImplantExcessRise.key(n),
        f.max_rise_k - f.max_rise_background_k,
        "K",
        "rise due to the implant (with minus without)",
    );
    vec![
        vec![Cell::text("Peak point SAR"), pk, pk_bg],
        vec![Cell::text("Peak 1 g SAR"), s1, s1_bg],
        vec![Cell::text("Peak 10 g SAR"), s10, s10_bg],
        vec![Cell::text("Largest temperature rise"), rise, rise_bg],
    ]
}

fn probe_rows(r: &mut Report, f: &ImplantFacts) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for p in &f.probes {
        let kp = r.quantity(
            &ProbeKey::FinalRise.key(f.n, &p.name),
            p.final_rise_k,
            "K",
            &format!("temperature rise at the {} at the end", p.name),
        );
        let kb = r.quantity(
            &ProbeKey::FinalRiseBackground.key(f.n, &p.name),
            p.final_rise_background_k,
            "K",
            &format!("rise at the {} position, implant removed", p.name),
        );
        let kc = r.quantity(
            &ProbeKey::Cem43.key(f.n, &p.name),
            p.cem43_min,
            "min",
            &format!("CEM43 at the {}", p.name),
        );
        rows.push(vec![
            Cell::text(p.name.clone()),
            Cell::q(&kp),
            Cell::q(&kb),
            Cell::q(&kc),
        ]);
    }
    rows
}

const AXES: [&str; 3] = ["x", "y", "z"];

/// The hot-spot table: what, its value, where in the phantom frame and in the coil frame (mm).
fn hot_spot_table(r: &mut Report, f: &ImplantFacts) -> Table {
    let n = f.n;
    let mut rows = Vec::new();
    for h in &f.hot_spots {
        let (label, value_key) = match h.what {
            "max_temperature_rise" => ("Max. ΔT", Key::MaxTemperatureRise.key(n)),
            "sar_point_peak" => ("Point SAR", Key::SarPointPeak.key(n)),
            "sar_1g_peak" => ("1 g SAR", Key::Sar1gPeak.key(n)),
            _ => ("10 g SAR", Key::Sar10gPeak.key(n)),
        };
        let mut row = vec![Cell::text(label), Cell::q(&value_key)];
        for (frame, pos, name) in [
            (HotSpotKey::Phantom, h.phantom_m, "phantom frame"),
            (HotSpotKey::Coil, h.coil_m, "coil frame"),
        ] {
            for (a, ax) in AXES.iter().enumerate() {
                let k = r.quantity(
                    &frame.key(n, h.what, ax),
                    pos[a] * 1e3,
                    "mm",
                    &format!("{ax} of the hot spot {} ({name})", h.what.replace('_', " ")),
                );
                row.push(Cell::num(&k));
            }
        }
        rows.push(row);
    }
    let mut header = vec!["Hot spot".to_string(), "Value".into()];
    for fr in ["ph", "coil"] {
        for ax in AXES {
            header.push(format!("{ax}_{fr} (mm)"));
        }
    }
    Table {
        caption: "Hot spots (with the implant): _ph in the phantom frame (origin at the phantom's centre, its axes), \
                  _coil in the coil frame (origin at the isocentre)"
            .into(),
        header,
        rows,
    }
}

/// The implant parameter table.
fn parameter_table(r: &mut Report, f: &ImplantFacts) -> Table {
    let n = f.n;
    let p = &f.parameters;
    let mut q = |what: &str, v: f64, unit: &str, d: &str| Cell::q(&r.quantity(&keys::implant_parameter(n, what), v, unit, d));
    let mut rows = vec![
        vec![Cell::text("Implant"), Cell::text(format!("{} ({})", f.implant_name, p.kind))],
        vec![Cell::text("Conductor length"), Cell::q(&Key::Length.key(n))],
        vec![Cell::text("Conductor radius"), q("conductor_radius", p.radius_m * 1e3, "mm", "conductor radius")],
        vec![
            Cell::text(format!("Conductor: {}", p.metal)),
            q("conductor_sigma", p.metal_sigma_s_per_m, "S/m", "electrical conductivity of the conductor"),
        ],
    ];
    match p.insulation {
        Some((t, eps)) => {
            rows.push(vec![
                Cell::text("Insulation thickness"),
                q("insulation_thickness", t * 1e3, "mm", "insulation thickness"),
            ]);
            rows.push(vec![
                Cell::text("Insulation permittivity"),
                q("insulation_eps_r", eps, "", "relative permittivity of the insulation"),
            ]);
        }
        None => rows.push(vec![Cell::text("Insulation"), Cell::text("none (bare conductor)")]),
    }
    let bare: Vec<String> = p
        .bare_m
        .iter()
        .map(|b| format!("{:.1}–{:.1}", b[0] * 1e3, b[1] * 1e3))
        .collect();
    rows.push(vec![
        Cell::text("Bare parts (mm from the tip)"),
        Cell::text(if bare.is_empty() { "none".into() } else { bare.join(", ") }),
    ]);
    for (i, e) in p.electrodes.iter().enumerate() {
        rows.push(vec![
            Cell::text(format!("Electrode E{}", i + 1)),
            Cell::text(format!(
                "{:.1}–{:.1} mm from the tip, radius {:.2} mm",
                e.start_m * 1e3,
                (e.start_m + e.length_m) * 1e3,
                e.radius_m * 1e3
            )),
        ]);
    }
    Table {
        caption: "Implant parameters (from the implant file)".into(),
        header: vec!["Parameter".into(), "Value".into()],
        rows,
    }
}

/// Adds implant `f.n`'s quantities to `r` and returns its section.
pub fn section(r: &mut Report, f: &ImplantFacts, fig: &ImplantFigures) -> Section {
    let mut k = add_run_quantities(r, f);
    let sar_rows = add_dose_quantities(r, f, &mut k);
    let probe_rows = probe_rows(r, f);
    let id = format!("implant{}", f.n);
    let pos = f.position_m;
    let hot = hot_spot_table(r, f);
    let params = parameter_table(r, f);
    let mut sec = Section::new(&format!("Implant {}: {}", f.n, f.label))
        .paragraph(format!(
            "{} ({}), conductor length {{{}}}, placed at ({:.1}, {:.1}, {:.1}) mm in the phantom frame; smallest \
             distance to the phantom surface {{{}}}. Local fields: FDTD box of {{{}}} cells of {{{}}} \
             driven by the normalised twin field through a total-field/scattered-field surface, steady after \
             {{{}}} periods ({{{}}}).",
            f.implant_name,
            f.implant_description,
            k.len,
            pos[0] * 1e3,
            pos[1] * 1e3,
            pos[2] * 1e3,
            k.wall,
            k.cells,
            k.cell,
            k.periods,
            k.fdtd_s,
        ))
        .table(params)
        .figure(
            &fig.placement,
            &format!("{id}_placement.png"),
            "Implant geometry and placement: the phantom (gel) in the plane of the implant, the implant and its tip.",
        );
    if let Some(e) = &fig.e_tan {
        sec = sec.figure(
            e,
            &format!("{id}_etan.png"),
            "Tangential component of the normalised incident (twin) field along the conductor, from the tip; \
             bare parts marked. The lead's transfer function is not computed by assess (rftwin implant tf).",
        );
    }
    sec.table(Table {
            caption: "SAR with the implant and with it removed".into(),
            header: vec!["Quantity".into(), "With implant".into(), "Implant removed".into()],
            rows: sar_rows,
        })
        .paragraph(format!("Temperature rise due to the implant: {{{}}}.", k.excess))
        .table(hot)
        .figure(
            &fig.sar,
            &format!("{id}_sar.png"),
            "Point, 1 g and 10 g SAR in the named plane through the implant (phantom frame); the peak, the conductor's \
             ends and electrodes are marked. Grey: mass-averaged SAR not evaluated because the averaging cube would \
             cross the local box's faces, which cut through the gel (IEC/IEEE 62704-1 cubes need the gel beyond).",
        )
        .table(Table {
            caption: "Temperature probes (1 mm fibre-optic probe volumes) touching the conductor ends".into(),
            header: vec!["Probe".into(), "ΔT at the end".into(), "ΔT, implant removed".into(), "CEM43".into()],
            rows: probe_rows,
        })
        .figure(&fig.probes, &format!("{id}_probes.png"), "Temperature rise at the probes during the exposure: solid with the implant, dashed with it removed; one colour and marker per probe.")
        .figure(&fig.temperature, &format!("{id}_temperature.png"), "Temperature rise at the end of the exposure in the named plane through the implant; the conductor's ends and electrodes are marked.")
}
