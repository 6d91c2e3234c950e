//! The README's step table is the one generated from the step definitions
//! (netrig_spec::steps::KINDS): a new or changed kind that is not documented
//! fails here. NETRIG_BLESS=1 rewrites the table in place.

use std::path::Path;

const BEGIN: &str = "<!-- step-kinds:";
const END: &str = "<!-- end step-kinds -->";

#[test]
fn readme_step_table_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README lacks the step-kinds marker");
    let body = start + readme[start..].find('\n').expect("marker line") + 1;
    let end = body
        + readme[body..]
            .find(END)
            .expect("README lacks the end marker");
    let want = netrig_spec::steps::reference_markdown();
    if std::env::var_os("NETRIG_BLESS").is_some() {
        let new = format!("{}{want}{}", &readme[..body], &readme[end..]);
        std::fs::write(&path, new).expect("writing README.md");
        return;
    }
    assert_eq!(
        &readme[body..end],
        want,
        "README's step table differs from the step definitions; \
         NETRIG_BLESS=1 cargo test -p netrig-spec --test reference rewrites it"
    );
}

/// Every kind documents its value and says what it does.
#[test]
fn every_kind_is_documented() {
    for k in netrig_spec::steps::KINDS {
        assert!(
            !k.value.is_empty() && !k.summary.is_empty(),
            "{}",
            k.keyword
        );
    }
}
