//! Every malformed topology under tests/corpus/ must produce exactly the error
//! lines in its `.err` file: message and location (file:line:col).
//! Set NETRIG_BLESS=1 to write the `.err` files from the current output
//! (then read every one of them before committing).

use std::path::Path;

#[test]
fn malformed_topologies_report_what_and_where() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "corpus shrank: {}", files.len());
    let bless = std::env::var_os("NETRIG_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let got = match netrig_spec::parse_topology(&name, &text) {
            Ok(_) => "(accepted)\n".to_string(),
            Err(errs) => errs
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
        };
        let expected_path = f.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
