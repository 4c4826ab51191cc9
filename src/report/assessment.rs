//! Pieces of an assessment report that depend only on the recipe: the report started from a recipe
//! (title, inputs with SHA-256, the set-up as quantities and a table) and the method notes. The
//! pipeline adds its result quantities, sections and figures, then calls [`finish`]. The prose of
//! each section is in [`super::sections`].

use super::criteria::{self, Criterion};
use super::recipe::Recipe;
use super::sections;
use super::{Report, Section, Verdict};
use crate::error::Result;

/// A report started from a recipe: title and description, every input file hashed, the set-up
/// (normalisation, exposure, implant placements, criteria limits) as quantities, and a first section
/// "Assessment set-up" that shows them.
pub fn start(recipe: &Recipe) -> Result<Report> {
    let mut r = Report::new(&recipe.title);
    r.subtitle = recipe.description.clone();
    r.inputs = recipe.hash_inputs()?;
    r.unconfirmed = recipe.unconfirmed_values();
    let setup = sections::setup::section(&mut r, recipe);
    r.sections.push(setup);
    Ok(r)
}

/// Method notes and the standards followed, as a section (no numbers).
pub fn methods_section() -> Section {
    sections::methods::section()
}

/// Evaluates the criteria on the report's quantities and returns the overall verdict.
pub fn finish(report: &mut Report, criteria: &[Criterion]) -> Result<Verdict> {
    criteria::evaluate(report, criteria)
}
