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

/// A suite folder: `check` reads it as `run` does. A good folder is valid
/// with every case `list` finds; a bad one is refused by both with the same
/// located errors, one per problem (a scenario whose topology cannot be
/// read says only that, not once per node its steps name).
#[test]
fn check_and_run_read_suite_folders_alike() {
    let s = Scratch::new("agree-suite");
    let examples = workspace().join("examples");
    let ex = examples.to_str().expect("utf-8 path");
    let check = netrig(&["check", ex], &s.0);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let list = netrig(&["list", ex], &s.0);
    let listed = String::from_utf8_lossy(&list.stdout);
    let checked = String::from_utf8_lossy(&check.stdout);
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 20, "{listed}");
    for n in &names {
        assert!(
            checked.contains(&format!("  {n}  (")),
            "check does not list {n}:\n{checked}"
        );
    }

    s.write(
        "suite/good.toml",
        "name = \"good\"\n[nodes.h1]\n[[steps]]\nrun = \"true\"\n",
    );
    s.write(
        "suite/bad.toml",
        "name = \"bad\"\n[nodes.h1]\n[[steps]]\nrun = \"true\"\nbogus = 1\n",
    );
    s.write(
        "suite/lost.toml",
        "name = \"lost\"\ntopology = \"nowhere.toml\"\n\
         [[steps]]\nnode = \"h1\"\nrun = \"true\"\n\
         [[steps]]\ntraffic = { from = \"h1\", to = \"192.0.2.1\", udp = \"sp=1\" }\n",
    );
    let suite = s.path("suite");
    let suite = suite.to_str().expect("utf-8 path");
    let check = netrig(&["check", suite], &s.0);
    let run = netrig(&["run", suite, "--results", "res"], &s.0);
    for (what, o) in [("check", &check), ("run", &run)] {
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text(o));
        let err = String::from_utf8_lossy(&o.stderr);
        // Where each report points (miette wraps its titles, not these).
        let at: Vec<&str> = err
            .lines()
            .filter_map(|l| l.split_once("╭─[").map(|(_, p)| p))
            .collect();
        assert!(
            at.iter().any(|p| p.ends_with("bad.toml:5:1]")),
            "{what}: {err}"
        );
        assert!(
            at.iter().any(|p| p.ends_with("lost.toml:2:12]")),
            "{what}: {err}"
        );
        assert_eq!(at.len(), 2, "{what}: {err}");
        assert!(err.contains("unknown field `bogus`"), "{what}: {err}");
        assert!(err.contains("cannot read topology"), "{what}: {err}");
        assert!(err.contains("2 problem(s)"), "{what}: {err}");
    }
    assert!(!s.path("res").exists(), "a refused run wrote results");
}
