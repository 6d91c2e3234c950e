//! The `netrig` command line.
//!
//! Everything that may create a user namespace runs before any thread exists
//! (the kernel refuses CLONE_NEWUSER to multithreaded processes), so this file
//! keeps to plain single-threaded code until a command needs more.

mod color;
mod graph;
mod htmlcmd;
mod labcmd;
mod runcmd;
mod wirecmd;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, as the runner contract fixes them.
pub use netrig_run::protocol::exit::{FAIL as EXIT_FAIL, USAGE as EXIT_USAGE};

#[derive(Parser)]
#[command(
    name = "netrig",
    version,
    about = "Isolated network labs from a topology file, in milliseconds, leaving nothing behind",
    long_about = "netrig builds network topologies out of Linux network namespaces, veth pairs and \
bridges, configured over netlink. Ephemeral labs use anonymous namespaces owned by their process, \
so they vanish when it exits however it exits; persistent labs (`netrig up`) live until \
`netrig down`. As root labs are built directly; otherwise (or with NETRIG_ROOTLESS=1) inside an \
unprivileged user namespace.\n\nA topology file (TOML) has [nodes.NAME] tables, [[links]] with two \
ends such as \"h1:eth0 192.0.2.2/24 2001:db8:1::2/64\", [[lans]] joining several ends on a bridge, \
[[routes]] (via, dev, or weighted nexthops) and [[neighbors]]. See examples/ for complete files.",
    after_help = "Examples:\n  netrig check examples/seed.toml\n  netrig up examples/seed.toml\n  netrig exec seed h1 -- ip route\n  netrig shell seed r1\n  netrig down seed"
)]
struct Cli {
    /// Colour on the console: auto (a terminal, unless NO_COLOR is set),
    /// always, never.
    #[arg(long, global = true, value_enum, default_value_t = color::ColorChoice::Auto, value_name = "WHEN")]
    color: color::ColorChoice,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate topology and scenario files, or suite folders as `netrig run`
    /// reads them, and print a summary of each (nothing is created).
    ///
    /// Problems are reported with file:line:col and a hint; the exit code is 2.
    /// Keys: name, description, dad (true: wait for real IPv6 DAD), [nodes.N] with
    /// kind ("host"|"router"), forwarding, sysctl = { "net.x.y" = v }, loopback = [addrs],
    /// files = { "/abs/path" = "source relative to the file" }, tmpfs = ["/abs/dir"];
    /// [[links]] ends = ["node:iface addr... mac=.. mtu=..", ...], mtu, impair = { delay, jitter,
    /// distribution ("uniform"|"normal"), loss, gilbert = { p, r, loss_good, loss_bad }, duplicate,
    /// reorder, corrupt, rate, limit, seed, engine ("auto"|"netem"|"userspace"), "node:iface" = {
    /// the same, for what that end sends } }; [[lans]] name, ends, mtu;
    /// [[routes]] node, to ("default", "default4", "default6" or a prefix), via, dev,
    /// nexthops = [{ via, dev, weight (1..=256) }], metric; [[neighbors]] node, dev, addr, mac.
    Check {
        /// Topology or scenario files (TOML), or suite folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Build a persistent lab and keep it until `netrig down`.
    Up {
        /// Topology file (TOML).
        file: PathBuf,
        /// Name of the lab (default: the topology's `name`).
        #[arg(long)]
        name: Option<String>,
        /// Keep the lab only while this command runs (until Ctrl-C); nothing is
        /// mounted and nothing outlives the process, however it ends.
        #[arg(long)]
        foreground: bool,
    },
    /// Tear down a lab: end every process in it, remove its namespaces. Idempotent.
    Down {
        /// Lab name.
        lab: String,
    },
    /// List persistent labs.
    Ls,
    /// Run a command inside a node of a running lab; its exit status is passed through.
    Exec {
        lab: String,
        node: String,
        /// The command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Open an interactive shell inside a node of a running lab.
    Shell { lab: String, node: String },
    /// What an impaired link of a running lab did: its engine, seed and, per
    /// direction, frames sent, delivered, lost, queue-dropped, duplicated,
    /// reordered, corrupted and delayed.
    Link {
        lab: String,
        /// One end of the link, `node:iface`.
        end: String,
        /// Change the link's impairment first: the keys of a link's `impair`
        /// table as `key=value`, comma-separated or repeated
        /// (`--set delay=50ms,loss=10%`); keys left out are unimpaired.
        #[arg(long, value_name = "KEY=VALUE,...")]
        set: Vec<String>,
        /// Make the link pass everything unchanged (with --from: only what
        /// the end sends).
        #[arg(long, conflicts_with = "set")]
        clear: bool,
        /// With --set or --clear: change only what `end` sends; the other
        /// direction stays as it is.
        #[arg(long)]
        from: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the topology as Graphviz DOT, or as SVG with --svg.
    Graph {
        file: PathBuf,
        /// Render SVG in-process instead of DOT.
        #[arg(long)]
        svg: bool,
    },
    /// Send packets from a node: flows with address and port ranges, rate, count, tags;
    /// frames built from layers; or the frames of a pcap/pcapng file (replay).
    Gen(wirecmd::GenArgs),
    /// Ping from a node (exit 0 if any reply, 1 if none, 2 on error).
    Ping(wirecmd::PingArgs),
    /// Capture on a node's interface into a pcapng file; prints ring drops.
    Capture(wirecmd::CaptureArgs),
    /// TCP/UDP probe server and client (which node answered each connection).
    Probe(wirecmd::ProbeArgs),
    /// Interface counters (snapshot, --diff, --watch) and tracepoint hit counts.
    Counters(wirecmd::CountersArgs),
    /// Run scenarios and executable tests, each in its own lab and process.
    ///
    /// PATHs are suite folders, scenario files or executables; other words
    /// filter case names. Scenario keys: topology = "file.toml" (or embedded
    /// nodes/links/routes), timeout = "30s", requires = { root, kconfig,
    /// commands, kernel }, variants = { family = ["ipv4","ipv6"] } (a case per
    /// combination, `{family}` substituted in steps), [matrix] clients/servers
    /// (every client against every server), xfail = "reason", and [[steps]]
    /// with one action each (the step kinds are listed below, with --help),
    /// plus optional name, node, timeout and expect. Executables pass with
    /// exit 0, skip with 4, and may use `netrig exec $NETRIG_LAB NODE -- cmd`.
    /// A case's timeout: --timeout or --timeout-multiplier, over the file's
    /// own `timeout`, over its directory's kselftest `settings` (timeout=N
    /// seconds, 0 for none), over 60 s.
    /// Exit codes: 0 all passed or skipped, 1 failures, 2 bad input, 3 broken
    /// or timed out.
    #[command(
        after_help = "Examples:\n  netrig run examples\n  netrig run examples ping -j 1\n  netrig run suite/ --format junit -o junit.xml\n  netrig run suite/ --partition 2/4 --format json -o shard2.json\n  netrig run suite/ --repeat 20 --fail-fast\n  netrig run selftests/net/forwarding --timeout 15m\n  netrig run suite/ --timeout-multiplier 3     # a slow or busy machine"
    )]
    Run(runcmd::RunArgs),
    /// List the cases `netrig run` would run with the same arguments.
    List(runcmd::ListArgs),
    /// Work with reports (merge partitions, render HTML).
    #[command(subcommand)]
    Report(runcmd::ReportCmd),
    /// Print a shell completion script, e.g.
    /// `netrig completions bash > /etc/bash_completion.d/netrig`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Internal: run one case (started by `netrig run`).
    #[command(name = "__case", hide = true)]
    Case { dir: PathBuf },
}

/// The command line, with `netrig run --help` listing the step kinds from
/// their definitions (netrig_spec::steps), so the help cannot go stale.
fn cli_command() -> clap::Command {
    Cli::command().mut_subcommand("run", |run| {
        let examples = run
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        run.after_long_help(format!(
            "Step kinds ([[steps]] tables, one action each; `expect` keys they check, besides \
             `fail`, which every kind takes):\n{}\n{examples}",
            netrig_spec::steps::reference_text()
        ))
    })
}

fn main() -> ExitCode {
    // Behave like a Unix filter: `netrig graph f | head` ends quietly.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match cli_command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    color::set(cli.color);
    // miette already follows NO_COLOR and the terminal (auto); an explicit
    // --color overrides it.
    if cli.color != color::ColorChoice::Auto {
        let on = cli.color == color::ColorChoice::Always;
        let _ = miette::set_hook(Box::new(move |_| {
            Box::new(miette::MietteHandlerOpts::new().color(on).build())
        }));
    }
    let result = match cli.cmd {
        Cmd::Check { paths } => labcmd::check(&paths),
        Cmd::Up {
            file,
            name,
            foreground,
        } => labcmd::up(&file, name, foreground),
        Cmd::Down { lab } => labcmd::down(&lab),
        Cmd::Ls => labcmd::ls(),
        Cmd::Exec { lab, node, cmd } => labcmd::exec(&lab, &node, &cmd),
        Cmd::Shell { lab, node } => labcmd::shell(&lab, &node),
        Cmd::Link {
            lab,
            end,
            set,
            clear,
            from,
            json,
        } => labcmd::link(&lab, &end, &set, clear, from, json),
        Cmd::Graph { file, svg } => graph::graph(&file, svg),
        Cmd::Gen(a) => wirecmd::gen(a),
        Cmd::Ping(a) => wirecmd::ping(a),
        Cmd::Capture(a) => wirecmd::capture(a),
        Cmd::Probe(a) => wirecmd::probe(a),
        Cmd::Counters(a) => wirecmd::counters(a),
        Cmd::Run(a) => runcmd::run(&a),
        Cmd::List(a) => runcmd::list(&a),
        Cmd::Report(c) => runcmd::report_cmd(&c),
        Cmd::Case { dir } => runcmd::case(&dir),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut cli_command(), "netrig", &mut std::io::stdout());
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            err.print();
            ExitCode::from(err.code)
        }
    }
}

/// An error on its way to the user, with the exit code it implies.
pub struct CliError {
    pub report: miette::Report,
    pub code: u8,
}

impl CliError {
    /// Write the report to stderr. Rendered whole, then written at once:
    /// stderr is unbuffered, and miette writes a report of many errors in
    /// tiny pieces.
    pub fn print(&self) {
        use std::io::Write;
        let text = format!("{:?}\n", self.report);
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    pub fn usage(report: impl Into<miette::Report>) -> Self {
        CliError {
            report: report.into(),
            code: EXIT_USAGE,
        }
    }
    pub fn fail(report: impl Into<miette::Report>) -> Self {
        CliError {
            report: report.into(),
            code: EXIT_FAIL,
        }
    }
}

pub type CliResult = Result<u8, CliError>;
