//! The assessment commands: `rftwin assess` (a recipe), `rftwin demo` (the built-in recipe on
//! embedded inputs) and `rftwin regress` (a golden result re-run and compared).

use std::path::{Path, PathBuf};

use super::{AssessOptions, Outcome};
use crate::error::{Error, Result};
use crate::report::recipe::Recipe;
use crate::twin::command::{cache_choice, positive_mm};

/// What `assess` is asked to do (see `rftwin assess --help`).
#[derive(Clone, Debug)]
pub struct AssessCommand {
    pub recipe: PathBuf,
    pub out: PathBuf,
    pub force: bool,
    pub fine_cell_mm: f64,
    pub fit_offset: bool,
    pub no_cache: bool,
    pub cache_dir: Option<PathBuf>,
}

/// An assessment and the title of its recipe.
pub struct AssessRun {
    pub title: String,
    pub outcome: Outcome,
}

/// `rftwin assess`.
pub fn assess(cmd: &AssessCommand, log: &mut dyn FnMut(&str)) -> Result<AssessRun> {
    let recipe = Recipe::load(&cmd.recipe)?;
    let mut o = AssessOptions::new(&cmd.out);
    o.overwrite = cmd.force;
    o.command = "assess".into();
    o.fine_cell_m = positive_mm("--fine-cell-mm", cmd.fine_cell_mm)?;
    o.fit_offset = cmd.fit_offset;
    o.cache_dir = cache_choice(cmd.no_cache, cmd.cache_dir.clone(), &cmd.out);
    let outcome = super::assess(&recipe, &o, log)?;
    Ok(AssessRun {
        title: recipe.title,
        outcome,
    })
}

/// The built-in demo inputs, embedded so that `rftwin demo` runs from anywhere.
const DEMO_FILES: &[(&str, &[u8])] = &[
    (
        "coils/body_1p5t_hp16.toml",
        include_bytes!("../../coils/body_1p5t_hp16.toml"),
    ),
    (
        "phantoms/astm_f2182.toml",
        include_bytes!("../../phantoms/astm_f2182.toml"),
    ),
    (
        "phantoms/implants/insulated_wire_200mm.toml",
        include_bytes!("../../phantoms/implants/insulated_wire_200mm.toml"),
    ),
    (
        "phantoms/measured/astm_1p5t_b1plus_cosim.nii.gz",
        include_bytes!("../../phantoms/measured/astm_1p5t_b1plus_cosim.nii.gz"),
    ),
    (
        "phantoms/measured/astm_1p5t_b1plus_cosim.json",
        include_bytes!("../../phantoms/measured/astm_1p5t_b1plus_cosim.json"),
    ),
    ("reports/demo.toml", include_bytes!("../../reports/demo.toml")),
];

/// `rftwin demo`: the embedded inputs, materialised under the cache (content-addressed by the crate
/// version, so that the report's input paths and SHA-256 sums refer to real files), assessed into
/// `out` (replaced if it exists and rftwin wrote it).
pub fn demo(out: &Path, fine_cell_mm: f64, no_cache: bool, log: &mut dyn FnMut(&str)) -> Result<AssessRun> {
    let base = crate::twin::default_cache_dir(out).join(format!("demo-inputs-{}", env!("CARGO_PKG_VERSION")));
    for (name, bytes) in DEMO_FILES {
        let p = base.join(name);
        if std::fs::read(&p).ok().as_deref() != Some(*bytes) {
            let parent = p.parent().expect("parent");
            let io = |path: &Path| {
                let path = path.display().to_string();
                move |err| Error::Io { path, err }
            };
            std::fs::create_dir_all(parent).map_err(io(parent))?;
            let tmp = p.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
            std::fs::rename(&tmp, &p).map_err(io(&p))?;
        }
    }
    let mut recipe = Recipe::load(&base.join("reports/demo.toml"))?;
    recipe.builtin_base = Some(base.clone());
    let mut o = AssessOptions::new(out);
    // "Replaced if it exists": only a directory rftwin wrote (the output policy's --force).
    o.overwrite = true;
    o.command = "demo".into();
    o.extra_inputs.push(("demo inputs".into(), base.clone()));
    o.fine_cell_m = positive_mm("--fine-cell-mm", fine_cell_mm)?;
    o.cache_dir = cache_choice(no_cache, None, out);
    let outcome = super::assess(&recipe, &o, log)?;
    Ok(AssessRun {
        title: recipe.title,
        outcome,
    })
}

/// `rftwin regress`: re-runs `golden/recipe.toml` (into `out`, or a scratch directory removed
/// afterwards) and compares the result with the golden one (tolerances: `golden/tolerances.toml`).
pub fn regress(
    golden: &Path,
    out: Option<&Path>,
    force: bool,
    no_cache: bool,
    log: &mut dyn FnMut(&str),
) -> Result<crate::report::regress::Comparison> {
    let recipe_path = golden.join("recipe.toml");
    let recipe = Recipe::load(&recipe_path)?;
    let tol = crate::report::regress::Tolerances::for_golden_dir(golden)?;
    // Without --out: a new scratch directory of this run, removed when the comparison is done (or
    // fails); it is removed only if it carries rftwin's marker.
    let scratch;
    let new_dir = match out {
        Some(p) => p.to_path_buf(),
        None => {
            scratch = crate::io::output::ScratchDir::new("rftwin-regress");
            scratch.0.clone()
        }
    };
    let mut o = AssessOptions::new(&new_dir);
    o.overwrite = force;
    o.command = "regress".into();
    // The golden directory is an input as a whole: --out may not be it, lie inside it or contain it.
    o.extra_inputs.push(("golden directory".into(), golden.to_path_buf()));
    o.cache_dir = cache_choice(no_cache, None, &new_dir);
    if let Some(f) = golden_fine_cell(golden)? {
        o.fine_cell_m = f;
    }
    let outcome = super::assess(&recipe, &o, log)?;
    crate::report::regress::compare_dirs(golden, &outcome.out, &tol)
}

/// The fine cell the golden result was made with (its summary's `implant1.fine_cell`, mm).
fn golden_fine_cell(golden: &Path) -> Result<Option<f64>> {
    let s = crate::report::summary::Summary::load(&golden.join(crate::report::SUMMARY_NAME))?;
    let key = crate::report::keys::Implant::FineCell.key(1);
    Ok(s.get(&key).map(|q| q.value * 1e-3))
}
