//! Every malformed file under tests/corpus/ (topologies) and
//! tests/scenario_corpus/ (scenarios, the fields that take a notation among
//! them: `netrig check` must reject what `netrig run` would) must produce
//! exactly the error lines in its `.err` file: message and location
//! (file:line:col). Set NETRIG_BLESS=1 to write the `.err` files from the
//! current output (then read every one of them before committing).

use std::path::Path;

/// Compare each `*.toml` of `dir` against its `.err`, rendering what
/// `parse` says of its text.
/// `parse` gets the file's path and text (a scenario's `replay` files are
/// found beside it).
fn check_corpus(dir: &str, at_least: usize, parse: impl Fn(&Path, &str) -> String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= at_least, "corpus shrank: {}", files.len());
    let bless = std::env::var_os("NETRIG_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(f).expect("corpus file");
        // Messages name the file without the corpus folder, as on the
        // command line of someone working in it.
        let got = parse(f, &text).replace(&format!("{}/", dir.display()), "");
        let expected_path = f.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &got).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each error with its help, one per line group.
fn render(errs: &netrig_spec::SpecErrors) -> String {
    errs.errors
        .iter()
        .map(|e| {
            let mut s = e.to_string();
            if let Some(h) = &e.help {
                s.push_str(&format!("\n  help: {h}"));
            }
            s + "\n"
        })
        .collect()
}

#[test]
fn malformed_topologies_report_what_and_where() {
    check_corpus(
        "tests/corpus",
        15,
        |path, text| match netrig_spec::parse_topology(&path.display().to_string(), text) {
            Ok(_) => "(accepted)\n".to_string(),
            Err(errs) => render(&errs),
        },
    );
}

#[test]
fn malformed_scenario_notations_are_located_errors() {
    check_corpus("tests/scenario_corpus", 10, |path, text| {
        match netrig_spec::scenario::parse_scenario(path, text) {
            Ok(_) => "(accepted)\n".to_string(),
            Err(netrig_spec::LoadError::Invalid(errs)) => render(&errs),
            Err(other) => format!("{other}\n"),
        }
    });
}
