//! `check`, `up`, `down`, `ls`, `exec`, `shell`.

use crate::{CliError, CliResult};
use miette::miette;
use netrig_lab::persist::{self, error_chain, PersistError};
use netrig_lab::{ns, BuildOptions, Mode};
use netrig_spec::{NodeKind, Topology};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn load(file: &Path) -> Result<Topology, CliError> {
    netrig_spec::load_topology(file).map_err(|e| match e {
        netrig_spec::LoadError::Invalid(mut errs) if errs.errors.len() == 1 => {
            CliError::usage(errs.errors.remove(0))
        }
        other => CliError::usage(other),
    })
}

pub fn summary(topo: &Topology) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let routers = topo
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Router)
        .count();
    let multipath = topo.routes.iter().filter(|r| r.is_multipath()).count();
    let _ = writeln!(
        s,
        "topology `{}`: {} nodes ({} routers), {} links, {} lans, {} routes ({} multipath), {} neighbours",
        topo.name,
        topo.nodes.len(),
        routers,
        topo.links.len(),
        topo.lans.len(),
        topo.routes.len(),
        multipath,
        topo.neighbors.len()
    );
    for node in &topo.nodes {
        let kind = match node.kind {
            NodeKind::Router => "router",
            NodeKind::Host => "host",
        };
        let _ = writeln!(s, "  {} ({kind})", node.name);
        if !node.loopback.is_empty() {
            let a: Vec<String> = node.loopback.iter().map(|a| a.to_string()).collect();
            let _ = writeln!(s, "    lo     {}", a.join(" "));
        }
        for m in &node.mounts {
            let _ = match &m.source {
                Some(src) => writeln!(
                    s,
                    "    sees   {} <- copy of {}",
                    m.target.display(),
                    src.display()
                ),
                None => writeln!(s, "    sees   {} <- empty tmpfs", m.target.display()),
            };
        }
        for link in &topo.links {
            for (me, peer) in [
                (&link.ends[0], &link.ends[1]),
                (&link.ends[1], &link.ends[0]),
            ] {
                if me.node == node.name {
                    let a: Vec<String> = me.addrs.iter().map(|a| a.to_string()).collect();
                    let _ = writeln!(
                        s,
                        "    {:<6} {:<40} -> {}:{}",
                        me.name,
                        a.join(" "),
                        peer.node,
                        peer.name
                    );
                    if let Some(imp) = &link.impair {
                        let d = usize::from(link.ends[1].node == node.name);
                        let _ = writeln!(s, "           sends: {}", imp.dirs[d]);
                    }
                }
            }
        }
        for lan in &topo.lans {
            for m in lan.members.iter().filter(|m| m.node == node.name) {
                let a: Vec<String> = m.addrs.iter().map(|a| a.to_string()).collect();
                let _ = writeln!(
                    s,
                    "    {:<6} {:<40} -> lan {}",
                    m.name,
                    a.join(" "),
                    lan.name
                );
            }
        }
        for r in topo.routes.iter().filter(|r| r.node == node.name) {
            let hops: Vec<String> = r
                .nexthops
                .iter()
                .map(|h| {
                    let mut t = String::new();
                    if let Some(g) = h.gateway {
                        t.push_str(&format!("via {g}"));
                    }
                    if let Some(d) = &h.dev {
                        t.push_str(&format!("{}dev {d}", if t.is_empty() { "" } else { " " }));
                    }
                    if r.is_multipath() {
                        t.push_str(&format!(" weight {}", h.weight));
                    }
                    t
                })
                .collect();
            let _ = writeln!(s, "    route  {} {}", r.dst, hops.join(", "));
        }
        for (k, v) in &node.sysctls {
            let _ = writeln!(s, "    sysctl {k}={v}");
        }
    }
    s
}

/// Text from a file or a state file, as printed: control characters escaped.
fn out(text: &str) {
    print!("{}", netrig_spec::names::printable(text));
}

/// `netrig check PATH...`: files as they are, folders as `netrig run`
/// reads them. Every path is checked and every problem reported before the
/// exit code (2 if any) is decided.
pub fn check(paths: &[PathBuf]) -> CliResult {
    if let [one] = paths {
        return if one.is_dir() {
            check_suite(one)
        } else {
            check_file(one)
        };
    }
    let mut bad = 0;
    for p in paths {
        let checked = if p.is_dir() {
            check_suite(p)
        } else {
            check_file(p)
        };
        if let Err(e) = checked {
            e.print();
            bad += 1;
        }
    }
    if bad > 0 {
        return Err(CliError::usage(miette!(
            "{bad} of {} path(s) have problems",
            paths.len()
        )));
    }
    Ok(0)
}

/// A suite folder: what `netrig run` would find there, or why it would refuse.
fn check_suite(dir: &Path) -> CliResult {
    use std::fmt::Write;
    let cases = crate::runcmd::discover(&[dir.to_path_buf()])?;
    let mut files: Vec<&Path> = cases.iter().map(|c| c.source_path()).collect();
    files.dedup();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: valid suite: {} case(s) from {} file(s)",
        dir.display(),
        cases.len(),
        files.len()
    );
    for c in &cases {
        let _ = writeln!(s, "  {}  ({})", c.name, c.source_path().display());
    }
    out(&s);
    Ok(0)
}

fn check_file(file: &Path) -> CliResult {
    let text = netrig_spec::files::read_spec_file(file)
        .map_err(|e| CliError::usage(miette!("cannot read {}: {e}", file.display())))?;
    if netrig_spec::scenario::is_scenario_text(&text) {
        return check_scenario(file, &text);
    }
    let topo = load(file)?;
    out(&format!("{}: valid\n{}", file.display(), summary(&topo)));
    Ok(0)
}

/// A scenario file: its cases (variants and matrix expanded), steps and lab.
fn check_scenario(file: &Path, text: &str) -> CliResult {
    use std::fmt::Write;
    let sc = netrig_spec::scenario::parse_scenario(file, text).map_err(|e| match e {
        netrig_spec::LoadError::Invalid(mut errs) if errs.errors.len() == 1 => {
            CliError::usage(errs.errors.remove(0))
        }
        other => CliError::usage(other),
    })?;
    let mut s = String::new();
    let _ = writeln!(s, "{}: valid scenario", file.display());
    let _ = writeln!(
        s,
        "scenario `{}`: {} case(s), timeout {:?}{}",
        sc.name,
        sc.cases.len(),
        sc.timeout,
        sc.xfail
            .as_ref()
            .map(|x| format!(", xfail: {x}"))
            .unwrap_or_default()
    );
    let r = &sc.requires;
    let mut needs = Vec::new();
    if r.root {
        needs.push("root".to_string());
    }
    needs.extend(r.kconfig.iter().cloned());
    needs.extend(r.commands.iter().map(|c| format!("command {c}")));
    if let Some(k) = &r.kernel {
        needs.push(format!("kernel >= {k}"));
    }
    if !needs.is_empty() {
        let _ = writeln!(s, "  requires {}", needs.join(", "));
    }
    for case in &sc.cases {
        let steps: Vec<&str> = case.steps.iter().map(|s| s.kind.keyword()).collect();
        let _ = writeln!(
            s,
            "  case {}: {} step(s): {}",
            case.name,
            steps.len(),
            steps.join(", ")
        );
    }
    match &sc.topology {
        Some(t) => s.push_str(&summary(t)),
        None => s.push_str("  no lab: steps run in an empty network namespace\n"),
    }
    out(&s);
    Ok(0)
}

fn persist_err(e: PersistError) -> CliError {
    match e {
        PersistError::AlreadyUp(_)
        | PersistError::Busy(_)
        | PersistError::NoSuchLab(_)
        | PersistError::NoSuchNode { .. }
        | PersistError::NotImpaired { .. }
        | PersistError::BadName { .. } => CliError::usage(miette!("{e}")),
        other => CliError::fail(miette!("{}", error_chain(&other))),
    }
}

pub fn up(file: &Path, name: Option<String>, foreground: bool) -> CliResult {
    // Before reading anything: a bad --name is the first thing to say.
    if let Some(n) = &name {
        check_lab_name(n)?;
    }
    let topo = load(file)?;
    let name = name.unwrap_or_else(|| topo.name.clone());
    check_lab_name(&name)?;
    let mode = ns::wanted_mode();
    let opts = BuildOptions::default();
    let start = Instant::now();
    if foreground {
        if mode == Mode::Rootless {
            ns::enter_rootless().map_err(|e| CliError::fail(miette!("{e}")))?;
        }
        let pid = std::process::id();
        persist::hold_foreground(&topo, &opts, |lab| {
            println!(
                "lab `{name}` is up ({mode} mode, {} nodes, built in {:.1} ms); pid {pid}; Ctrl-C ends it",
                lab.topo.nodes.len(),
                start.elapsed().as_secs_f64() * 1e3
            );
            for l in lab.impaired_links() {
                println!("{}", impaired_line(&l.ends, &l.info));
            }
            if std::env::var_os("NETRIG_VERBOSE").is_some() {
                for (phase, d) in &lab.timings {
                    eprintln!("  {phase}: {:.2} ms", d.as_secs_f64() * 1e3);
                }
            }
        })
        .map_err(|e| CliError::fail(miette!("{}", error_chain(&e))))?;
        return Ok(0);
    }
    let state =
        persist::up(&topo, &name, &file.display().to_string(), mode, &opts).map_err(persist_err)?;
    let first = topo
        .nodes
        .first()
        .map(|n| n.name.as_str())
        .unwrap_or("NODE");
    println!(
        "lab `{name}` is up ({mode} mode, {} nodes, built in {:.1} ms, holder pid {})",
        state.nodes.len(),
        start.elapsed().as_secs_f64() * 1e3,
        state.holder_pid
    );
    for l in state.impair.iter().flat_map(|i| &i.links) {
        println!("{}", impaired_line(&l.ends, &l.info));
    }
    println!("  enter a node:    netrig shell {name} {first}");
    println!("  run a command:   netrig exec {name} {first} -- ip -br addr");
    if mode == Mode::Root {
        println!("  with iproute2:   ip netns exec {name}-{first} ip -br addr");
    }
    println!("  tear it down:    netrig down {name}");
    Ok(0)
}

/// A lab name given on the command line: a name, never a path (exit 2).
pub fn check_lab_name(name: &str) -> Result<(), CliError> {
    netrig_spec::names::check_lab_name(name).map_err(|why| {
        CliError::usage(miette!(
            help = netrig_spec::names::LAB_NAME_RULE,
            "invalid lab name `{}`: {why}",
            name.escape_debug()
        ))
    })
}

/// The description of an impaired link: its engine, why, and its seed.
fn impaired_line(ends: &[(String, String); 2], info: &netrig_lab::ImpairInfo) -> String {
    format!(
        "  impaired link {}:{} <-> {}:{}: engine {} ({}), seed {}",
        ends[0].0, ends[0].1, ends[1].0, ends[1].1, info.engine, info.why, info.seed
    )
}

/// `--set` arguments as the TOML document `impair = { ... }` that the
/// `impair` table's own checks read: each `key=value` item (items split at
/// commas outside braces) becomes `key = value`, the value kept as TOML where
/// it is a number or an inline table (`limit=50`, `gilbert={p="1%",r="25%"}`)
/// and quoted as a string otherwise (`delay=50ms`).
fn set_document(items: &[String]) -> Result<String, CliError> {
    let mut pairs = Vec::new();
    for arg in items {
        let mut depth = 0i32;
        let mut start = 0;
        let mut parts = Vec::new();
        for (i, c) in arg.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&arg[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&arg[start..]);
        for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(CliError::usage(miette!(
                    help = "e.g. --set delay=50ms,loss=10%",
                    "`{part}` is not key=value"
                )));
            };
            let (k, v) = (k.trim(), v.trim());
            let as_toml = toml::from_str::<toml::Table>(&format!("x = {v}"))
                .ok()
                .and_then(|t| t.get("x").cloned())
                .filter(|x| {
                    matches!(
                        x,
                        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Table(_)
                    )
                });
            let v = match as_toml {
                Some(_) => v.to_string(),
                None => toml::Value::String(v.to_string()).to_string(),
            };
            let bare = !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let k = if bare {
                k.to_string()
            } else {
                toml::Value::String(k.to_string()).to_string()
            };
            pairs.push(format!("{k} = {v}"));
        }
    }
    Ok(format!("impair = {{ {} }}\n", pairs.join(", ")))
}

pub fn link(
    lab: &str,
    end: &str,
    set: &[String],
    clear: bool,
    from: bool,
    json: bool,
) -> CliResult {
    check_lab_name(lab)?;
    let Some((node, iface)) = end.split_once(':') else {
        return Err(CliError::usage(miette!(
            help = "name one end of an impaired link, e.g. netrig link seed r1:eth1",
            "`{end}` is not node:iface"
        )));
    };
    if from && set.is_empty() && !clear {
        return Err(CliError::usage(miette!(
            help = "e.g. netrig link seed r1:eth1 --from --set loss=10%",
            "--from says which direction --set or --clear changes; give one of them"
        )));
    }
    let state = persist::load(lab).map_err(persist_err)?;
    if !set.is_empty() || clear {
        let link_ends = state
            .impair
            .iter()
            .flat_map(|i| &i.links)
            .map(|l| &l.ends)
            .find(|e| e.iter().any(|(n, i)| n == node && i == iface));
        let Some(ends) = link_ends else {
            // The same error as reading the link's counters gives.
            persist::impairment_stats(&state, node, iface).map_err(persist_err)?;
            return Err(CliError::usage(miette!(
                "{end} is not an end of an impaired link"
            )));
        };
        let doc = set_document(set)?;
        let which = ends
            .iter()
            .position(|(n, i)| n == node && i == iface)
            .filter(|_| from);
        let change =
            netrig_spec::parse_impair_change("--set", &doc, ends, which).map_err(|mut errs| {
                if errs.errors.len() == 1 {
                    CliError::usage(errs.errors.remove(0))
                } else {
                    CliError::usage(errs)
                }
            })?;
        // In `end`'s terms: what it sends, what it receives.
        let d = ends
            .iter()
            .position(|(n, i)| n == node && i == iface)
            .unwrap_or(0);
        let [sends, receives] = if d == 0 {
            [&change[0], &change[1]]
        } else {
            [&change[1], &change[0]]
        };
        persist::set_impairment(&state, node, iface, sends.as_ref(), receives.as_ref())
            .map_err(persist_err)?;
    }
    let (info, [out, back]) =
        persist::impairment_stats(&state, node, iface).map_err(persist_err)?;
    // Labs brought up before models were published have none to show.
    let model = persist::impairment_model(&state, node, iface).ok();
    let peer = state
        .impair
        .iter()
        .flat_map(|i| &i.links)
        .find_map(|l| {
            let p = l.ends.iter().position(|(n, i)| n == node && i == iface)?;
            let (n, i) = &l.ends[1 - p];
            Some(format!("{n}:{i}"))
        })
        .unwrap_or_default();
    if json {
        let v = serde_json::json!({
            "lab": lab,
            "end": end,
            "peer": peer,
            "engine": info.engine,
            "why": info.why,
            "seed": info.seed,
            "realtime": info.realtime,
            "sent": out,
            "received": back,
            "sends_model": model.as_ref().map(|m| m[0].to_string()),
            "receives_model": model.as_ref().map(|m| m[1].to_string()),
        });
        println!("{v:#}");
        return Ok(0);
    }
    println!(
        "link {end} <-> {peer}: engine {} ({}), seed {}{}",
        info.engine,
        info.why,
        info.seed,
        if info.engine == "netem" {
            // The kernel's timers: no thread to schedule, but fewer counters.
            "; netem counts only sent, delivered and lost (its loss and queue drops together)"
        } else if info.realtime {
            ""
        } else {
            ", not real-time scheduled (delays stretch on a busy machine)"
        }
    );
    let now = |i: usize| {
        model
            .as_ref()
            .map(|m| format!(" (now: {})", m[i]))
            .unwrap_or_default()
    };
    println!("  {end} -> {peer}{}: {out}", now(0));
    println!("  {peer} -> {end}{}: {back}", now(1));
    Ok(0)
}

pub fn down(lab: &str) -> CliResult {
    check_lab_name(lab)?;
    let r = persist::down(lab).map_err(persist_err)?;
    if !r.existed {
        println!("lab `{lab}` is not up; nothing to do");
    } else if r.holder_was_alive {
        println!("lab `{lab}` is down");
    } else {
        println!(
            "lab `{lab}` had lost its holder; removed its state and {} namespace mount(s)",
            r.mounts_removed
        );
    }
    Ok(0)
}

pub fn ls() -> CliResult {
    let labs = persist::list().map_err(persist_err)?;
    if labs.is_empty() {
        println!("no labs are up");
        return Ok(0);
    }
    println!(
        "{:<20} {:<9} {:<8} {:>7}  {:<30} FILE",
        "LAB", "MODE", "STATE", "HOLDER", "NODES"
    );
    for s in labs {
        let nodes: Vec<&str> = s.nodes.iter().map(|(n, _)| n.as_str()).collect();
        let state = if s.holder_alive() { "up" } else { "dead" };
        // The file is any path `up` was given; names are checked names.
        out(&format!(
            "{:<20} {:<9} {:<8} {:>7}  {:<30} {}\n",
            s.name,
            s.mode.to_string(),
            state,
            s.holder_pid,
            nodes.join(","),
            s.file
        ));
    }
    Ok(0)
}

fn enter(lab: &str, node: &str) -> Result<(), CliError> {
    check_lab_name(lab)?;
    let state = persist::load(lab).map_err(persist_err)?;
    persist::enter(&state, node).map_err(persist_err)
}

/// Run `cmd` as a child (so that it lands in the lab's PID namespace) and pass
/// its exit status through, 128+N for a signal as shells report it.
fn run_child(cmd: &mut std::process::Command, shown: &str) -> CliResult {
    use std::os::unix::process::ExitStatusExt;
    // Let the child take Ctrl-C; we only wait for it.
    // SAFETY: changing our own signal dispositions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("netrig: {shown}: command not found");
            return Ok(127);
        }
        Err(e) => return Err(CliError::fail(miette!("running {shown}: {e}"))),
    };
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        _ => 1,
    })
}

pub fn exec(lab: &str, node: &str, cmd: &[String]) -> CliResult {
    let (prog, args) = cmd.split_first().ok_or_else(|| {
        CliError::usage(miette!(
            "no command given; write netrig exec LAB NODE -- CMD..."
        ))
    })?;
    enter(lab, node)?;
    let mut c = std::process::Command::new(prog);
    c.args(args).env("NETRIG_LAB", lab).env("NETRIG_NODE", node);
    run_child(&mut c, prog)
}

pub fn shell(lab: &str, node: &str) -> CliResult {
    enter(lab, node)?;
    let sh = std::env::var("SHELL").unwrap_or_else(|_| "/bin/bash".into());
    let mut c = std::process::Command::new(&sh);
    c.env("NETRIG_LAB", lab)
        .env("NETRIG_NODE", node)
        .env("PS1", format!("[{lab}:{node}] \\w\\$ "));
    if sh.ends_with("bash") {
        // Keep our prompt: do not let ~/.bashrc replace PS1.
        c.arg("--norc");
    }
    eprintln!("entering node `{node}` of lab `{lab}`; exit to leave");
    run_child(&mut c, &sh)
}
