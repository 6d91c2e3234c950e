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
    let mut cases: Vec<CaseDef> = Vec::new();
    for f in &files {
        match case_of_file(f) {
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

fn case_of_file(f: &Path) -> Result<Vec<CaseDef>, DiscoverError> {
    if f.extension().is_some_and(|e| e == "toml") {
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
    exec_case(f).map(|c| vec![c])
}

/// An executable's settings: a sibling `<stem>.toml` topology, overridden by a
/// `# netrig: key=value ...` comment in its first lines (topology=PATH,
/// node=NAME, timeout=30s, requires=root, requires=cmd:NAME,
/// requires=kconfig:CONFIG_X, requires=kernel:5.10, xfail=REASON).
fn exec_case(f: &Path) -> Result<CaseDef, DiscoverError> {
    let dir = f.parent().unwrap_or(Path::new("."));
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sibling = f.with_extension("toml");
    let mut topology = (sibling != f && sibling.is_file()).then_some(sibling);
    let mut node = None;
    let mut timeout = scenario::DEFAULT_TIMEOUT;
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
