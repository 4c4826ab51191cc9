//! The implant commands `rftwin implant place | tf`, from their command-line options to the work in
//! [`super::run`] (each writes its outputs atomically into one directory and returns the summary JSON
//! that the command prints). `implant search` gives a verdict on the criteria of `assess`, so its
//! command is `crate::assess::search` (after `report` in the module order); its sweep and
//! confirmation runs are [`super::search`].

use std::path::PathBuf;

use super::run::{place_command, tf_command, PlacementInput};
use super::tf::TfOptions;
use crate::coil::phantom::PhantomConfig;
use crate::error::{Error, Result};
use crate::spec::three_numbers;

fn cli_err(key: &str, what: String, fix: &str) -> Error {
    Error::input("command line", key, what, fix)
}

/// What `implant place` is asked to do (see `rftwin implant place --help`).
#[derive(Clone, Debug)]
pub struct PlaceCommand {
    pub implant: PathBuf,
    pub phantom: PathBuf,
    /// A placement file, or `position` ("X,Y,Z", m) with `direction` ("DX,DY,DZ") and `roll_deg`.
    pub placement: Option<PathBuf>,
    pub position: Option<String>,
    pub direction: Option<String>,
    pub roll_deg: f64,
    pub min_wall_m: Option<f64>,
    pub cell_mm: f64,
    pub pad_mm: f64,
    pub out: PathBuf,
    pub force: bool,
}

/// `rftwin implant place` (see [`super::run::place_command`]).
pub fn place(cmd: &PlaceCommand) -> Result<serde_json::Value> {
    let input = match (&cmd.placement, &cmd.position) {
        (Some(p), None) => {
            if cmd.direction.is_some() {
                return Err(cli_err(
                    "--direction",
                    "given with --placement".into(),
                    "put the direction in the placement file",
                ));
            }
            PlacementInput::File(p)
        }
        (None, Some(pos)) => PlacementInput::Values {
            position_m: three_numbers("--position", pos, "0.1,0,0")?,
            direction: match &cmd.direction {
                Some(d) => three_numbers("--direction", d, "0,0,1")?,
                None => [0.0, 0.0, 1.0],
            },
            roll_deg: cmd.roll_deg,
        },
        _ => {
            return Err(cli_err(
                "--placement / --position",
                "give exactly one of them".into(),
                "e.g. --position 0.1,0,0 --direction 0,0,1",
            ))
        }
    };
    let (cell_mm, pad_mm) = (cmd.cell_mm, cmd.pad_mm);
    if !(cell_mm > 0.0) || !(pad_mm >= 0.0) {
        return Err(cli_err(
            "--cell-mm / --pad-mm",
            format!("{cell_mm} / {pad_mm}"),
            "give a cell > 0 and a pad >= 0",
        ));
    }
    let grid = super::placement::LocalGridOptions {
        cell_m: cell_mm * 1e-3,
        pad_m: pad_mm * 1e-3,
    };
    place_command(&cmd.implant, &cmd.phantom, input, cmd.min_wall_m, &grid, &cmd.out, cmd.force)
}

/// What `implant tf` is asked to do (see `rftwin implant tf --help`).
#[derive(Clone, Debug)]
pub struct TfCommand {
    pub implant: PathBuf,
    /// The medium from this phantom, else `eps_r` and `sigma_s_per_m`.
    pub phantom: Option<PathBuf>,
    pub freq_hz: f64,
    pub cell_mm: f64,
    pub eps_r: f64,
    pub sigma_s_per_m: f64,
    pub out: PathBuf,
    pub force: bool,
}

/// `rftwin implant tf` (see [`super::run::tf_command`]).
pub fn tf(cmd: &TfCommand) -> Result<serde_json::Value> {
    let (eps_r, sigma_s_per_m) = match &cmd.phantom {
        Some(p) => {
            let ph = PhantomConfig::load(p)?;
            (ph.material.eps_r, ph.material.sigma_s_per_m)
        }
        None => (cmd.eps_r, cmd.sigma_s_per_m),
    };
    let opt = TfOptions {
        freq_hz: cmd.freq_hz,
        cell_m: cmd.cell_mm * 1e-3,
        eps_r,
        sigma_s_per_m,
        ..Default::default()
    };
    tf_command(&cmd.implant, cmd.phantom.as_deref(), &opt, &cmd.out, cmd.force)
}
