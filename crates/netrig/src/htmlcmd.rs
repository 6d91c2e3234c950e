//! `netrig report html`: a run's page from JSON reports, or the history of
//! a results folder.

use crate::runcmd::read_report;
use crate::{CliError, CliResult};
use clap::Args;
use miette::miette;
use netrig_run::html;
use netrig_run::report;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct HtmlArgs {
    /// JSON reports or run folders (merged when several), or one results
    /// folder (the runs in it, side by side).
    #[arg(required = true, value_name = "REPORT|RUN_DIR|RESULTS_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Where to write the page (default: report.html in the run folder,
    /// history.html in the results folder, else ./report.html).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// How many of the latest runs the history shows.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub last: usize,
}

/// A results folder: a folder without report.json whose subfolders have one.
fn is_results_dir(p: &Path) -> bool {
    p.is_dir()
        && !p.join("report.json").exists()
        && std::fs::read_dir(p)
            .is_ok_and(|rd| rd.flatten().any(|e| e.path().join("report.json").is_file()))
}

fn write(out: &Path, text: &str) -> Result<(), CliError> {
    let _ = std::fs::create_dir_all(parent_of(out));
    std::fs::write(out, text)
        .map_err(|e| CliError::usage(miette!("writing {}: {e}", out.display())))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn parent_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub fn html(a: &HtmlArgs) -> CliResult {
    if let [dir] = a.inputs.as_slice() {
        if is_results_dir(dir) {
            let out = a.output.clone().unwrap_or_else(|| dir.join("history.html"));
            let (runs, warnings) = html::history::load_runs(dir, a.last, &parent_of(&out))
                .map_err(|e| CliError::usage(miette!("{e}")))?;
            for w in warnings {
                eprintln!("warning: skipped {w}");
            }
            write(&out, &html::history::page(&runs))?;
            return Ok(0);
        }
    }
    let reports = a
        .inputs
        .iter()
        .map(|p| read_report(p))
        .collect::<Result<Vec<_>, _>>()?;
    let one = reports.len() == 1;
    let mut r = if one {
        reports.into_iter().next().unwrap_or_default()
    } else {
        // Merging forgets -j and the version when the parts disagree.
        let jobs: Vec<usize> = reports.iter().map(|r| r.jobs).collect();
        let version = reports
            .first()
            .map(|r| r.version.clone())
            .unwrap_or_default();
        let same_version = reports.iter().all(|r| r.version == version);
        let mut m = report::merge(reports);
        if jobs.windows(2).all(|w| w[0] == w[1]) {
            m.jobs = jobs.first().copied().unwrap_or(0);
        }
        if same_version {
            m.version = version;
        }
        m
    };
    if r.tag.is_empty() {
        r.tag = "report".into();
    }
    let out = match &a.output {
        Some(o) => o.clone(),
        None if one && a.inputs[0].is_dir() => a.inputs[0].join("report.html"),
        None => PathBuf::from("report.html"),
    };
    let extras = html::gather(&r, &parent_of(&out));
    write(&out, &html::page(&r, &extras))?;
    Ok(0)
}
