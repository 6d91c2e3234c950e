//! `netrig check` catches what `netrig run` and `netrig up` would reject:
//! every malformed file of the spec corpora is refused by both, with exit 2
//! and the same located message, and nothing is built.

mod run_common;
use run_common::*;
use std::path::{Path, PathBuf};

/// The malformed files of a corpus with the first message of their `.err`
/// (`file:line:col: message`).
fn malformed(dir: &str) -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../netrig-spec/tests")
        .join(dir);
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| {
            let err = std::fs::read_to_string(p.with_extension("err")).ok()?;
            // `(accepted)` marks a valid file of the corpus.
            let first = err.lines().next().filter(|l| l.contains(".toml:"))?;
            Some((p, first.to_string()))
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 20,
        "corpus {} shrank: {}",
        dir.display(),
        out.len()
    );
    out
}

/// The message part of `file:line:col: message`, and `file:line:col`.
fn split(first: &str) -> (String, String) {
    let mut parts = first.splitn(4, ':');
    let (f, l, c) = (parts.next(), parts.next(), parts.next());
    let msg = parts.next().unwrap_or("").trim().to_string();
    (
        format!(
            "{}:{}:{}",
            f.unwrap_or(""),
            l.unwrap_or(""),
            c.unwrap_or("")
        ),
        msg,
    )
}

/// Both exit 2, point at the `.err`'s line and column, and say the same
/// thing (the whole rendered report, paths and all).
fn refused_alike(
    what: &str,
    check: &std::process::Output,
    other: &std::process::Output,
    file: &Path,
    first: &str,
) {
    let (at, _) = split(first);
    let line_col = at.split_once(':').map(|(_, rest)| rest).unwrap_or("");
    for (name, o) in [("check", check), (what, other)] {
        assert_eq!(
            o.status.code(),
            Some(2),
            "{name} {}: {}",
            file.display(),
            text(o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(":{line_col}]")),
            "{name} {} does not point at {line_col}:\n{err}",
            file.display()
        );
    }
    let report = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (c, r) = (report(check), report(other));
    assert!(
        !c.is_empty() && r.windows(c.len()).any(|w| w == c.as_slice()),
        "{what} says something else than check for {}:\n--- check\n{}\n--- {what}\n{}",
        file.display(),
        c.join("\n"),
        r.join("\n")
    );
}

#[test]
fn check_and_run_refuse_every_malformed_scenario_alike() {
    let s = Scratch::new("agree-run");
    for (file, first) in malformed("scenario_corpus") {
        let f = file.to_str().expect("utf-8 path");
        let check = netrig(&["check", f], &s.0);
        assert_eq!(check.status.code(), Some(2), "check {f}: {}", text(&check));
        let run = netrig(&["run", f, "--results", "res"], &s.0);
        refused_alike("run", &check, &run, &file, &first);
    }
    assert!(!s.path("res").exists(), "a refused run wrote results");
}

#[test]
fn check_and_up_refuse_every_malformed_topology_alike() {
    let s = Scratch::new("agree-up");
    for (file, first) in malformed("corpus") {
        let f = file.to_str().expect("utf-8 path");
        let check = netrig(&["check", f], &s.0);
        // Only what check refuses may be tried with `up` (which would build).
        assert_eq!(check.status.code(), Some(2), "check {f}: {}", text(&check));
        let name = format!("agree{}", std::process::id());
        let up = netrig(&["up", f, "--name", &name], &s.0);
        refused_alike("up", &check, &up, &file, &first);
        let ls = netrig(&["ls"], &s.0);
        assert!(
            !String::from_utf8_lossy(&ls.stdout).contains(&name),
            "{}",
            text(&ls)
        );
    }
}
