//! `summary.json`: every number of a report with its unit and formatted text, the verdicts, the
//! criteria, the inputs with their SHA-256 and the software version. Schema:
//! `reports/summary.schema.json` (identifier [`SCHEMA_ID`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{format_number, CriterionResult, InputFile, Invocation, Report, SoftwareVersion, UnconfirmedValue, Verdict};
use crate::error::{Error, Result};

/// Value of the `schema` key; bump the number on incompatible changes.
pub const SCHEMA_ID: &str = "rftwin.report.summary/1";

/// One quantity as stored in the summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuantity {
    pub key: String,
    pub value: f64,
    pub unit: String,
    pub description: String,
    /// Exactly the text the PDF shows for this quantity.
    pub text: String,
}

/// One criterion with its numbers resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryCriterion {
    pub id: String,
    pub label: String,
    /// Key of the computed value in `quantities`.
    pub quantity: String,
    pub value: f64,
    pub uncertainty_factor: f64,
    /// value × uncertainty factor, compared with the limit.
    pub assessed: f64,
    pub limit: f64,
    pub unit: String,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryFigure {
    pub file: String,
    pub caption: String,
}

/// The whole `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub schema: String,
    pub title: String,
    pub subtitle: String,
    pub date_utc: String,
    pub software: SoftwareVersion,
    pub verdict: Verdict,
    pub criteria: Vec<SummaryCriterion>,
    pub inputs: Vec<InputFile>,
    pub quantities: Vec<SummaryQuantity>,
    pub figures: Vec<SummaryFigure>,
    pub sections: Vec<String>,
    /// The command line and the options in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<Invocation>,
    /// Input values marked "UNCONFIRMED" in their files.
    #[serde(default)]
    pub unconfirmed: Vec<UnconfirmedValue>,
}

impl Summary {
    /// The summary of a report (which must validate: every referenced quantity present).
    pub fn from_report(r: &Report) -> Self {
        let val = |k: &str| r.get(k).map(|q| q.value).unwrap_or(f64::NAN);
        let crit = |c: &CriterionResult| SummaryCriterion {
            id: c.id.clone(),
            label: c.label.clone(),
            quantity: c.value_key.clone(),
            value: val(&c.value_key),
            uncertainty_factor: val(&c.factor_key()),
            assessed: val(&c.assessed_key()),
            limit: val(&c.limit_key()),
            unit: r.get(&c.value_key).map(|q| q.unit.clone()).unwrap_or_default(),
            verdict: c.verdict,
        };
        Self {
            schema: SCHEMA_ID.into(),
            title: r.title.clone(),
            subtitle: r.subtitle.clone(),
            date_utc: r.date_utc.clone(),
            software: r.software.clone(),
            verdict: r.verdict(),
            criteria: r.criteria.iter().map(crit).collect(),
            inputs: r.inputs.clone(),
            quantities: r
                .quantities
                .iter()
                .map(|q| SummaryQuantity {
                    key: q.key.clone(),
                    value: q.value,
                    unit: q.unit.clone(),
                    description: q.description.clone(),
                    text: q.text(),
                })
                .collect(),
            figures: r
                .figures()
                .iter()
                .map(|f| SummaryFigure {
                    file: f.file_name.clone(),
                    caption: f.caption.clone(),
                })
                .collect(),
            sections: r.sections.iter().map(|s| s.title.clone()).collect(),
            invocation: r.invocation.clone(),
            unconfirmed: r.unconfirmed.clone(),
        }
    }

    /// Reads and checks a `summary.json` (schema id, unique keys, text consistent with value).
    pub fn load(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: name.clone(),
            err: e,
        })?;
        let s: Summary = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                &name,
                &format!("line {} column {}", e.line(), e.column()),
                e.to_string(),
                "give a summary.json written by rftwin (schema reports/summary.schema.json)",
            )
        })?;
        if s.schema != SCHEMA_ID {
            return Err(Error::input(
                &name,
                "schema",
                format!("'{}' is not '{SCHEMA_ID}'", s.schema),
                "regenerate the summary with this version of rftwin",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for q in &s.quantities {
            if !seen.insert(q.key.as_str()) {
                return Err(Error::input(
                    &name,
                    &q.key,
                    "quantity key appears twice",
                    "keep keys unique",
                ));
            }
        }
        Ok(s)
    }

    /// The quantity with this key.
    pub fn get(&self, key: &str) -> Option<&SummaryQuantity> {
        self.quantities.iter().find(|q| q.key == key)
    }
}

/// The formatted number of a summary quantity (without the unit), as the PDF shows it.
pub fn number_text(q: &SummaryQuantity) -> String {
    format_number(q.value)
}
