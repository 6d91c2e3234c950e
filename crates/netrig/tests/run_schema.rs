//! The JSON netrig writes for results (each case's result.json, the run's
//! report.json and `--format json`) validates against the JSON Schemas in
//! docs/schema, checked by python's jsonschema (the reference validator);
//! and the check is strict enough to refuse a document with a required
//! field missing, an unknown field or another version.

mod run_common;
use run_common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// python3 with jsonschema >= 4.18 (and its `referencing`): NETRIG_PYTHON,
/// else python3 on PATH. .ci/run installs one and sets NETRIG_REQUIRE_TOOLS.
fn python() -> Option<String> {
    let py = std::env::var("NETRIG_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import jsonschema, referencing"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "{py} with jsonschema >= 4.18 is needed (pip install jsonschema); .ci/run installs it"
        );
        eprintln!("SKIP: {py} has no jsonschema (pip install jsonschema), or set NETRIG_PYTHON");
        return None;
    }
    Some(py)
}

/// Checks the schemas themselves, then each `kind=FILE` (kind: result or
/// report) against its schema; prints one line per error, exits 1 on any.
const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
schemas = {}
for path in sys.argv[1:3]:
    with open(path) as f:
        s = json.load(f)
    Draft202012Validator.check_schema(s)
    schemas[s["$id"]] = s
registry = Registry().with_resources(
    (i, Resource.from_contents(s, default_specification=DRAFT202012)) for i, s in schemas.items()
)
bad = 0
for arg in sys.argv[3:]:
    kind, path = arg.split("=", 1)
    with open(path) as f:
        doc = json.load(f)
    v = Draft202012Validator(schemas["urn:netrig:" + kind + ":1"], registry=registry)
    for e in v.iter_errors(doc):
        bad += 1
        where = "/".join(map(str, e.absolute_path)) or "(top)"
        print(f"{path}: {where}: {e.message}")
print(f"{len(sys.argv) - 3} documents, {bad} errors")
sys.exit(1 if bad else 0)
"#;

fn validate(py: &str, docs: &[(&str, &Path)]) -> (bool, String) {
    let schema = workspace().join("docs/schema");
    let o = Command::new(py)
        .args(["-c", VALIDATE])
        .arg(schema.join("netrig.result-1.schema.json"))
        .arg(schema.join("netrig.report-1.schema.json"))
        .args(docs.iter().map(|(k, p)| format!("{k}={}", p.display())))
        .output()
        .expect("running python3");
    (o.status.success(), text(&o))
}

/// Cases of every state and shape: steps, processes (one with a core), KTAP
/// at three levels, a bail-out, lib.sh TEST: lines, a retried case, a timeout, a skip.
fn suite(s: &Scratch) {
    let marker = s.path("seen");
    s.write("all/pass.toml", &format!("name = \"pass\"\n{PAIR}\n[[steps]]\nnode = \"b\"\ndaemon = \"exec sleep 30\"\n[[steps]]\nping = {{ from = \"a\", to = \"192.0.2.2\" }}\n"));
    s.write(
        "all/fail.toml",
        "name = \"fail\"\n[[steps]]\nrun = \"echo 'bad thing' >&2; exit 3\"\n",
    );
    // A daemon that dumps core: `processes[].core`.
    s.write(
        "all/crash.toml",
        "name = \"crash\"\n[[steps]]\ndaemon = \"sleep 0.1; kill -SEGV $$\"\n[[steps]]\nsleep = \"1s\"\n",
    );
    s.write("all/skip.toml", "name = \"skip\"\nrequires = { commands = [\"netrig-missing-tool\"] }\n[[steps]]\nrun = \"true\"\n");
    s.write(
        "all/xfail.toml",
        "name = \"xfail\"\nxfail = \"known bug\"\n[[steps]]\nrun = \"false\"\n",
    );
    s.write(
        "all/timeout.toml",
        "name = \"timeout\"\ntimeout = \"500ms\"\n[[steps]]\nrun = \"echo waiting; sleep 30\"\n",
    );
    s.write(
        "all/broken.toml",
        "name = \"broken\"\n[[steps]]\nsysctl = { key = \"net.netrig.missing\" }\n",
    );
    s.write(
        "all/flaky.toml",
        &format!("name = \"flaky\"\n[[steps]]\nrun = \"if [ -e {m} ]; then exit 0; else touch {m}; exit 1; fi\"\n", m = marker.display()),
    );
    s.exec("all/deep.sh", "#!/bin/sh\nprintf 'KTAP version 1\\n1..2\\n  KTAP version 1\\n  # Subtest: outer\\n  1..1\\n    KTAP version 1\\n    # Subtest: inner\\n    1..1\\n    ok 1 deep # SKIP not here\\n  ok 1 inner\\nok 1 outer\\nBail out! no device\\n'\n");
    s.exec("all/libsh.sh", "#!/bin/sh\necho 'TEST: ping works                  [ OK ]'\necho 'TEST: smcrouted not installed     [SKIP]'\n");
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn result_and_report_json_validate_against_the_documented_schemas() {
    let Some(py) = python() else { return };
    if !have_root() {
        return;
    }
    let s = Scratch::new("schema");
    suite(&s);
    // A real traffic case too: statistical verdicts with their numbers.
    let multipath = workspace().join("examples/basic/multipath.toml");
    let multipath = multipath.to_str().expect("utf-8 path");
    let (code, rep, out) = run_json(
        &[
            "all",
            multipath,
            "--retries",
            "1",
            "--results",
            "res",
            "--tag",
            "t",
        ],
        &s.0,
    );
    assert_eq!(code, 3, "timeout and broken exit 3\n{out}");
    // Every state is there, and the shapes the schema describes.
    let states: std::collections::BTreeSet<&str> = rep["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["state"].as_str())
        .collect();
    assert_eq!(
        states.into_iter().collect::<Vec<_>>(),
        ["broken", "fail", "pass", "skip", "timeout", "xfail"],
        "{out}"
    );
    assert!(case(&rep, "flaky")["flaky"] == true, "{out}");
    assert!(
        case(&rep, "crash")["processes"][0]["core"].is_object(),
        "{out}"
    );
    assert!(case(&rep, "fail")["retried"].is_array(), "{out}");
    assert!(
        case(&rep, "deep.sh")["tap"]["tests"][0]["subtests"]["tests"][0]["subtests"].is_object(),
        "{out}"
    );
    let mp = case(&rep, "multipath-split");
    assert!(
        mp["subtests"]
            .as_array()
            .expect("steps")
            .iter()
            .any(|st| st["verdicts"].is_array()),
        "{mp:#}"
    );

    let stdout_report = s.path("stdout-report.json");
    std::fs::write(
        &stdout_report,
        serde_json::to_vec_pretty(&rep).expect("json"),
    )
    .expect("write");
    let mut docs: Vec<(&str, PathBuf)> = vec![
        ("report", s.path("res/t/report.json")),
        ("report", stdout_report.clone()),
    ];
    // Every case folder's result.json: those the cases wrote and the one
    // the runner wrote for the case it killed.
    let mut results: Vec<PathBuf> = std::fs::read_dir(s.path("res/t"))
        .expect("run folder")
        .flatten()
        .map(|e| e.path().join("result.json"))
        .filter(|p| p.is_file())
        .collect();
    results.sort();
    assert!(results.len() >= 9, "{results:?}");
    assert!(
        results.iter().any(|p| p.ends_with("timeout/result.json")),
        "{results:?}"
    );
    docs.extend(results.iter().map(|p| ("result", p.clone())));
    let args: Vec<(&str, &Path)> = docs.iter().map(|(k, p)| (*k, p.as_path())).collect();
    let (ok, said) = validate(&py, &args);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("{} documents, 0 errors", docs.len())),
        "{said}"
    );
    assert_eq!(json(&results[0])["schema"], "netrig.result/1");
    assert_eq!(rep["schema"], "netrig.report/1");

    // Broken copies must fail, each for its own reason.
    let one = json(&s.path("res/t/timeout/result.json"));
    let report = json(&s.path("res/t/report.json"));
    let mutants: Vec<(&str, &str, serde_json::Value, &str)> = vec![
        (
            "result",
            "no-state",
            without(&one, &["state"]),
            "'state' is a required property",
        ),
        (
            "result",
            "no-schema",
            without(&one, &["schema"]),
            "'schema' is a required property",
        ),
        (
            "result",
            "newer",
            with(&one, "schema", "netrig.result/2".into()),
            "'netrig.result/1' was expected",
        ),
        (
            "result",
            "bad-state",
            with(&one, "state", "passed".into()),
            "is not one of",
        ),
        (
            "result",
            "unknown-field",
            with(&one, "verdict", "pass".into()),
            "Additional properties are not allowed",
        ),
        (
            "report",
            "no-cases",
            without(&report, &["cases"]),
            "'cases' is a required property",
        ),
        (
            "report",
            "case-without-name",
            {
                let mut r = report.clone();
                r["cases"][0].as_object_mut().expect("case").remove("name");
                r
            },
            "cases/0: 'name' is a required property",
        ),
    ];
    for (kind, name, doc, says) in mutants {
        let p = s.path(&format!("{name}.json"));
        std::fs::write(&p, serde_json::to_vec(&doc).expect("json")).expect("write");
        let (ok, said) = validate(&py, &[(kind, &p)]);
        assert!(!ok, "{name} passed validation:\n{said}");
        assert!(said.contains(says), "{name}: expected `{says}`:\n{said}");
    }

    // netrig itself refuses a report of another version instead of misreading it.
    let newer = s.path("newer-report.json");
    std::fs::write(
        &newer,
        serde_json::to_vec(&with(&report, "schema", "netrig.report/2".into())).expect("json"),
    )
    .expect("write");
    let o = netrig(&["report", "merge", "newer-report.json"], &s.0);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`netrig.report/2`") && text(&o).contains("`netrig.report/1`"),
        "{}",
        text(&o)
    );
}

fn without(v: &serde_json::Value, keys: &[&str]) -> serde_json::Value {
    let mut v = v.clone();
    for k in keys {
        v.as_object_mut().expect("object").remove(*k);
    }
    v
}

fn with(v: &serde_json::Value, key: &str, val: serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    v[key] = val;
    v
}
