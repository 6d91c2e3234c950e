//! Finding cases: scenario files (expanded into their variant and matrix
//! cases) and executables under suite folders.

use netrig_spec::scenario::{self, Requires};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a case comes from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CaseSource {
    /// One case of a scenario file, found again by name in the child.
    Scenario { file: PathBuf, case: String },
    /// A Rust test function of the binary that runs the suite (see
    /// `harness`), with its topology as TOML text.
    Rust {
        test: String,
        topology: Option<String>,
    },
    /// An executable, run in a lab built from `topology` (or in an empty
    /// namespace), in `node` (default: the first node).
    Exec {
        path: PathBuf,
        topology: Option<PathBuf>,
        node: Option<String>,
    },
}

/// A case as the runner schedules it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CaseDef {
    pub name: String,
    pub source: CaseSource,
    pub timeout: Duration,
    pub requires: Requires,
    pub xfail: Option<String>,
    /// Whether the case builds a lab. A case without one gets a network
    /// namespace of its own instead, so that it never touches the host's.
    #[serde(default)]
    pub has_lab: bool,
}

impl CaseDef {
    pub fn source_path(&self) -> &Path {
        match &self.source {
            CaseSource::Scenario { file, .. } => file,
            CaseSource::Exec { path, .. } => path,
            CaseSource::Rust { .. } => Path::new("(rust)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Spec(#[from] netrig_spec::LoadError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Header {
        path: String,
        line: usize,
        message: String,
    },
    /// A kselftest `settings` file that says something we cannot honour.
    #[error("{path}:{line}:{col}: {message}")]
    Settings {
        path: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("two cases are named `{name}`: in {first} and {second} (give one a different `name`)")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
}

/// Directories a suite walk never enters: build output, our own results.
const SKIP_DIRS: &[&str] = &["target", "results", "node_modules"];

/// Find every case under `paths` (files or folders), in a stable order.
/// All problems are collected so that a user fixes them in one pass.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<CaseDef>, Vec<DiscoverError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        walk(p, true, &mut Seen::new(), &mut files, &mut errors);
    }
    files.sort();
    files.dedup();
    // Each directory's kselftest `settings`, read once (an error in it is
    // reported once, not once per executable).
    let mut settings: std::collections::BTreeMap<PathBuf, Option<Duration>> = Default::default();
    for f in files.iter().filter(|f| !is_toml(f)) {
        let dir = f.parent().unwrap_or(Path::new(".")).to_path_buf();
        if settings.contains_key(&dir) {
            continue;
        }
        match read_settings(&dir) {
            Ok(t) => {
                settings.insert(dir, t);
            }
            Err(e) => {
                settings.insert(dir, None);
                errors.push(e);
            }
        }
    }
    let mut cases: Vec<CaseDef> = Vec::new();
    for f in &files {
        let dir_timeout = f.parent().and_then(|d| settings.get(d).copied().flatten());
        match case_of_file(f, dir_timeout) {
            Ok(cs) => cases.extend(cs),
            Err(e) => errors.push(e),
        }
    }
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    for c in &cases {
        let src = c.source_path().display().to_string();
        if let Some(first) = seen.insert(c.name.clone(), src.clone()) {
            if first != src
                || !errors
                    .iter()
                    .any(|e| matches!(e, DiscoverError::Duplicate { name, .. } if name == &c.name))
            {
                errors.push(DiscoverError::Duplicate {
                    name: c.name.clone(),
                    first,
                    second: src,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

/// Directories already walked, by (device, inode): a symlink loop
/// (`loop -> .`) is walked once, not forever.
type Seen = std::collections::HashSet<(u64, u64)>;

fn walk(
    p: &Path,
    top: bool,
    seen: &mut Seen,
    files: &mut Vec<PathBuf>,
    errors: &mut Vec<DiscoverError>,
) {
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(source) => {
            errors.push(DiscoverError::Io {
                path: p.display().to_string(),
                source,
            });
            return;
        }
    };
    if meta.is_dir() {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !top && (name.starts_with('.') || SKIP_DIRS.contains(&name.as_str())) {
            return;
        }
        use std::os::unix::fs::MetadataExt;
        if !seen.insert((meta.dev(), meta.ino())) {
            return;
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(source) => {
                errors.push(DiscoverError::Io {
                    path: p.display().to_string(),
                    source,
                });
                return;
            }
        };
        entries.sort();
        for e in entries {
            walk(&e, false, seen, files, errors);
        }
        return;
    }
    let fname = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !top && fname.starts_with('.') {
        return;
    }
    if fname.ends_with(".toml") {
        // A bare topology is not a case (it is what scenarios and executables use);
        // named explicitly, though, it must be a scenario.
        match netrig_spec::files::read_spec_file(p) {
            Ok(text) if top || scenario::is_scenario_text(&text) => files.push(p.to_path_buf()),
            Ok(_) => {}
            Err(source) => errors.push(DiscoverError::Io {
                path: p.display().to_string(),
                source,
            }),
        }
    } else if is_executable(&meta) {
        files.push(p.to_path_buf());
    }
}

fn is_toml(f: &Path) -> bool {
    f.extension().is_some_and(|e| e == "toml")
}

/// A case timeout that never fires (kselftest's `timeout=0`, `--timeout 0`).
pub const NO_TIMEOUT: Duration = Duration::MAX;

/// A timeout as people read it: `90s`, or `none` for [`NO_TIMEOUT`].
pub fn show_timeout(t: Duration) -> String {
    if t == NO_TIMEOUT {
        "none".into()
    } else if t.subsec_millis() == 0 {
        format!("{}s", t.as_secs())
    } else {
        format!("{:.3}s", t.as_secs_f64())
    }
}

/// kselftest's per-directory `settings` file, read as the kernel's
/// kselftest runner (tools/testing/selftests/kselftest/runner.sh) reads it:
/// `field=value` lines, `#` comments; `timeout=N` is the seconds each test
/// of the directory may run, as coreutils `timeout` takes them (`120`,
/// `2.5`, `90s`, `15m`, `1h`, `1d`), `0` for none. Unknown fields are
/// refused: the runner would ignore a misspelt `timout=` and the test get
/// the default without a word.
pub fn read_settings(dir: &Path) -> Result<Option<Duration>, DiscoverError> {
    let path = dir.join("settings");
    let text = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {
            netrig_spec::files::read_spec_file(&path).map_err(|source| DiscoverError::Io {
                path: path.display().to_string(),
                source,
            })?
        }
        _ => return Ok(None),
    };
    let mut timeout = None;
    for (i, raw) in text.lines().enumerate() {
        let bad = |col: usize, message: String| DiscoverError::Settings {
            path: path.display().to_string(),
            line: i + 1,
            col,
            message,
        };
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((field, value)) = line.split_once('=') else {
            return Err(bad(
                indent + 1,
                format!("`{line}` is not field=value (kselftest settings hold e.g. timeout=120)"),
            ));
        };
        let col = indent + field.len() + 2;
        match field.trim() {
            "timeout" => {
                timeout = Some(parse_kselftest_timeout(value.trim()).ok_or_else(|| {
                    bad(
                        col,
                        format!(
                            "malformed timeout `{value}`: write seconds as kselftest does \
                             (timeout=120), or 90s, 15m, 1h; 0 for none"
                        ),
                    )
                })?)
            }
            other => {
                return Err(bad(
                    indent + 1,
                    format!("unknown setting `{other}` (kselftest's runner reads only timeout)"),
                ))
            }
        }
    }
    Ok(timeout)
}

/// A coreutils `timeout` DURATION: a non-negative decimal number with an
/// optional unit s, m, h or d (seconds without one); 0 is [`NO_TIMEOUT`].
pub fn parse_kselftest_timeout(v: &str) -> Option<Duration> {
    let (num, unit) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1.0),
        (i, 'm') => (&v[..i], 60.0),
        (i, 'h') => (&v[..i], 3600.0),
        (i, 'd') => (&v[..i], 86400.0),
        _ => (v, 1.0),
    };
    // Digits and at most one dot: no signs, exponents, `inf` or `nan`.
    if num.is_empty()
        || !num.chars().all(|c| c.is_ascii_digit() || c == '.')
        || num.matches('.').count() > 1
        || num == "."
    {
        return None;
    }
    let secs: f64 = num.parse().ok()?;
    if secs == 0.0 {
        return Some(NO_TIMEOUT);
    }
    // Past 31 years: no test means it; refuse rather than overflow.
    Duration::try_from_secs_f64(secs * unit)
        .ok()
        .filter(|d| d.as_secs() < 1_000_000_000)
}

fn case_of_file(f: &Path, dir_timeout: Option<Duration>) -> Result<Vec<CaseDef>, DiscoverError> {
    if is_toml(f) {
        let s = scenario::load_scenario(f)?;
        return Ok(s
            .cases
            .iter()
            .map(|c| CaseDef {
                name: c.name.clone(),
                source: CaseSource::Scenario {
                    file: f.to_path_buf(),
                    case: c.name.clone(),
                },
                timeout: s.timeout,
                requires: s.requires.clone(),
                xfail: s.xfail.clone(),
                has_lab: s.topology.as_ref().is_some_and(|t| !t.nodes.is_empty()),
            })
            .collect());
    }
    exec_case(f, dir_timeout).map(|c| vec![c])
}

/// An executable's settings: a sibling `<stem>.toml` topology, overridden by a
/// `# netrig: key=value ...` comment in its first lines (topology=PATH,
/// node=NAME, timeout=30s, requires=root, requires=cmd:NAME,
/// requires=kconfig:CONFIG_X, requires=kernel:5.10, xfail=REASON). The
/// timeout is the header's, else the directory's kselftest `settings`
/// (`dir_timeout`), else the default: the file's own word is the most specific.
fn exec_case(f: &Path, dir_timeout: Option<Duration>) -> Result<CaseDef, DiscoverError> {
    let dir = f.parent().unwrap_or(Path::new("."));
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sibling = f.with_extension("toml");
    let mut topology = (sibling != f && sibling.is_file()).then_some(sibling);
    let mut node = None;
    let mut timeout = dir_timeout.unwrap_or(scenario::DEFAULT_TIMEOUT);
    let mut requires = Requires::default();
    let mut xfail = None;
    // Only text files have headers; a binary simply has none.
    let head = std::fs::read(f)
        .map(|b| String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned())
        .unwrap_or_default();
    for (i, line) in head.lines().take(20).enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("# netrig:") else {
            continue;
        };
        let bad = |message: String| DiscoverError::Header {
            path: f.display().to_string(),
            line: i + 1,
            message,
        };
        let rest = rest.trim();
        // xfail takes the rest of the line as its reason.
        if let Some(reason) = rest.strip_prefix("xfail=") {
            xfail = Some(reason.to_string());
            continue;
        }
        for item in rest.split_whitespace() {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("`{item}` is not key=value")))?;
            match k {
                "topology" => topology = Some(dir.join(v)),
                "node" => node = Some(v.to_string()),
                "timeout" => {
                    timeout = scenario::parse_duration(v)
                        .ok_or_else(|| bad(format!("malformed timeout `{v}` (write e.g. 30s)")))?
                }
                "requires" => match v.split_once(':') {
                    None if v == "root" => requires.root = true,
                    Some(("cmd", c)) => requires.commands.push(c.to_string()),
                    Some(("kconfig", c)) => requires.kconfig.push(c.to_string()),
                    Some(("kernel", c)) => requires.kernel = Some(c.to_string()),
                    _ => {
                        return Err(bad(format!(
                        "unknown requirement `{v}` (root, cmd:NAME, kconfig:CONFIG_X, kernel:5.10)"
                    )))
                    }
                },
                other => {
                    return Err(bad(format!(
                        "unknown key `{other}` (topology, node, timeout, requires, xfail)"
                    )))
                }
            }
        }
    }
    if let Some(t) = &topology {
        // Fail now, with the file's own diagnostics, not in every case run.
        let topo = netrig_spec::load_topology(t)?;
        if let Some(n) = &node {
            if topo.node(n).is_none() {
                return Err(DiscoverError::Header {
                    path: f.display().to_string(),
                    line: 1,
                    message: format!("node `{n}` is not in {}", t.display()),
                });
            }
        }
    }
    let has_lab = topology.is_some();
    Ok(CaseDef {
        name,
        source: CaseSource::Exec {
            path: f.to_path_buf(),
            topology,
            node,
        },
        timeout,
        requires,
        xfail,
        has_lab,
    })
}

/// A command-line change to every case's timeout (`netrig run --timeout`,
/// `--timeout-multiplier`), applied after the file's and directory's own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeoutOverride {
    /// Replace every case's timeout ([`NO_TIMEOUT`] for none).
    Set(Duration),
    /// Scale every case's own timeout (a slow or busy machine).
    Scale(f64),
}

/// Apply `o` to every case.
pub fn override_timeouts(cases: &mut [CaseDef], o: TimeoutOverride) {
    for c in cases {
        c.timeout = match o {
            TimeoutOverride::Set(d) => d,
            TimeoutOverride::Scale(_) if c.timeout == NO_TIMEOUT => NO_TIMEOUT,
            TimeoutOverride::Scale(f) => Duration::try_from_secs_f64(c.timeout.as_secs_f64() * f)
                .ok()
                .filter(|d| d.as_secs() < 1_000_000_000)
                .unwrap_or(NO_TIMEOUT),
        };
    }
}

/// Keep the cases whose name contains any of `filters` (all when empty).
pub fn filter(cases: Vec<CaseDef>, filters: &[String]) -> Vec<CaseDef> {
    if filters.is_empty() {
        return cases;
    }
    cases
        .into_iter()
        .filter(|c| filters.iter().any(|f| c.name.contains(f.as_str())))
        .collect()
}

/// Shard `k` (1-based) of `n`: cases sorted by name, dealt round-robin. Every
/// case lands in exactly one shard, and shards differ in size by at most one.
pub fn partition(mut cases: Vec<CaseDef>, k: usize, n: usize) -> Vec<CaseDef> {
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kselftest_timeouts_read_as_coreutils_timeout_reads_them() {
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(parse_kselftest_timeout("120"), s(120));
        assert_eq!(parse_kselftest_timeout("90s"), s(90));
        assert_eq!(parse_kselftest_timeout("15m"), s(900));
        assert_eq!(parse_kselftest_timeout("1h"), s(3600));
        assert_eq!(parse_kselftest_timeout("1d"), s(86400));
        assert_eq!(
            parse_kselftest_timeout("2.5"),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_kselftest_timeout("0"), Some(NO_TIMEOUT));
        for bad in [
            "",
            "s",
            "-1",
            "+1",
            "1e3",
            "inf",
            "nan",
            "1.2.3",
            ".",
            "10ms",
            "1 0",
            "99999999999",
        ] {
            assert_eq!(parse_kselftest_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn overrides_set_or_scale_and_keep_none() {
        let mut cases = vec![
            CaseDef {
                name: "a".into(),
                source: CaseSource::Rust {
                    test: "a".into(),
                    topology: None,
                },
                timeout: Duration::from_secs(2),
                requires: Requires::default(),
                xfail: None,
                has_lab: false,
            };
            2
        ];
        cases[1].timeout = NO_TIMEOUT;
        override_timeouts(&mut cases, TimeoutOverride::Scale(1.5));
        assert_eq!(cases[0].timeout, Duration::from_secs(3));
        assert_eq!(cases[1].timeout, NO_TIMEOUT);
        override_timeouts(&mut cases, TimeoutOverride::Set(Duration::from_secs(9)));
        assert!(cases.iter().all(|c| c.timeout == Duration::from_secs(9)));
        assert_eq!(show_timeout(NO_TIMEOUT), "none");
        assert_eq!(show_timeout(Duration::from_millis(1500)), "1.500s");
    }
}
