//! Section "Implant <n>: <name>": placement, the local FDTD run, SAR with and without the implant,
//! the temperature probes and the figures.

use std::path::PathBuf;

use crate::report::keys::{Implant as Key, Probe as ProbeKey};
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
    /// Where the peak point SAR is (coil frame, m).
    pub sar_point_peak_position_m: [f64; 3],
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

/// The figures of one implant (PNG files written by the pipeline).
#[derive(Clone, Debug)]
pub struct ImplantFigures {
    pub placement: PathBuf,
    pub sar: PathBuf,
    pub probes: PathBuf,
    pub temperature: PathBuf,
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

/// Adds implant `f.n`'s quantities to `r` and returns its section.
pub fn section(r: &mut Report, f: &ImplantFacts, fig: &ImplantFigures) -> Section {
    let mut k = add_run_quantities(r, f);
    let sar_rows = add_dose_quantities(r, f, &mut k);
    let probe_rows = probe_rows(r, f);
    let id = format!("implant{}", f.n);
    let (pos, pk) = (f.position_m, f.sar_point_peak_position_m);
    Section::new(&format!("Implant {}: {}", f.n, f.label))
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
        .figure(
            &fig.placement,
            &format!("{id}_placement.png"),
            "Implant geometry and placement: the phantom (gel) in the plane of the implant, the implant and its tip.",
        )
        .table(Table {
            caption: "SAR with the implant and with it removed".into(),
            header: vec!["Quantity".into(), "With implant".into(), "Implant removed".into()],
            rows: sar_rows,
        })
        .paragraph(format!(
            "Peak point SAR at ({:.1}, {:.1}, {:.1}) mm (coil frame). Temperature rise due to the implant: {{{}}}.",
            pk[0] * 1e3,
            pk[1] * 1e3,
            pk[2] * 1e3,
            k.excess
        ))
        .figure(&fig.sar, &format!("{id}_sar.png"), "Point, 1 g and 10 g SAR in the plane through the implant; the peak is marked.")
        .table(Table {
            caption: "Temperature probes (1 mm fibre-optic probe volumes) touching the conductor ends".into(),
            header: vec!["Probe".into(), "ΔT at the end".into(), "ΔT, implant removed".into(), "CEM43".into()],
            rows: probe_rows,
        })
        .figure(&fig.probes, &format!("{id}_probes.png"), "Temperature rise at the probes during the exposure, with and without the implant.")
        .figure(&fig.temperature, &format!("{id}_temperature.png"), "Temperature rise at the end of the exposure in the plane through the implant.")
}
