//! Every malformed scenario under tests/scenario_corpus/ must produce exactly
//! the error lines in its `.err` file: message and location (file:line:col).
//! These are the fields that take a notation (destinations, flows, socket
//! addresses, durations): `netrig check` must reject what `netrig run` would.
//! Set NETRIG_BLESS=1 to write the `.err` files from the current output
//! (then read every one of them before committing).

use std::path::Path;

#[test]
fn malformed_notations_are_located_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenario_corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus shrank: {}", files.len());
    let bless = std::env::var_os("NETRIG_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(f).expect("corpus file");
        let got = match netrig_spec::scenario::parse_scenario(Path::new(&name), &text) {
            Ok(_) => "(accepted)\n".to_string(),
            Err(netrig_spec::LoadError::Invalid(errs)) => errs
                .errors
                .iter()
                .map(|e| {
                    let mut s = e.to_string();
                    if let Some(h) = &e.help {
                        s.push_str(&format!("\n  help: {h}"));
                    }
                    s + "\n"
                })
                .collect(),
            Err(other) => format!("{other}\n"),
        };
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
