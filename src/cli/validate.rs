//! `rftwin validate`: the physics validation suite, as a table or one JSON document.

use crate::validate;

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Print one JSON document ({"cases": [...]}) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run only the case with this name (or every case whose name contains it).
    #[arg(long)]
    pub only: Option<String>,
}

pub fn run(a: ValidateArgs) -> anyhow::Result<i32> {
    let ValidateArgs { json, only } = a;
    let all = validate::all_cases();
    // --only: the exact case if one has that name, else every case containing the text.
    let exact = only.as_deref().is_some_and(|o| all.iter().any(|c| c.name == o));
    let cases: Vec<_> = all
        .into_iter()
        .filter(|c| match only.as_deref() {
            None => true,
            Some(o) if exact => c.name == o,
            Some(o) => c.name.contains(o),
        })
        .collect();
    if cases.is_empty() {
        return Err(crate::error::Error::input(
            "validate",
            "--only",
            "no case matches",
            "run `rftwin validate` without --only to see the case names",
        )
        .into());
    }
    let mut results = Vec::new();
    if !json {
        println!(
            "{:<30} {:>14} {:>14} {:>10} {:>10} {:>6} {:>7}  unit",
            "case", "reference", "measured", "error", "tolerance", "pass", "time_s"
        );
    }
    for c in &cases {
        let r = validate::run_case(c);
        if !json {
            println!(
                "{:<30} {:>14.6e} {:>14.6e} {:>10.3e} {:>10.3e} {:>6} {:>7.2}  {}",
                r.case,
                r.reference,
                r.measured,
                r.error,
                r.tolerance,
                if r.pass { "PASS" } else { "FAIL" },
                r.seconds,
                r.unit
            );
            println!(
                "    {} [{}; error: {}]",
                r.description, r.reference_source, r.error_kind
            );
        }
        results.push(r);
    }
    let failed = results.iter().filter(|r| !r.pass).count();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "cases": results }))?
        );
    } else {
        println!("{} passed, {} failed", results.len() - failed, failed);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
