//! The sections of an assessment report, one file per section. Each turns typed results (the recipe,
//! or what a stage of [`crate::assess`] computed) into the report's quantities (keys from
//! [`super::keys`]) and a [`super::Section`] of paragraphs, tables and figures that refer to them.
//! The pipeline computes; these files hold the prose.

pub mod implant;
pub mod methods;
pub mod normalisation;
pub mod placement;
pub mod results;
pub mod search;
pub mod setup;
pub mod twin;
