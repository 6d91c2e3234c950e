//! `run`, `list`, `report merge`, and the hidden `__case` entry point.

use crate::{CliError, CliResult, EXIT_USAGE};
use clap::{Args, Subcommand, ValueEnum};
use miette::miette;
use netrig_run::discover::{show_timeout, NO_TIMEOUT};
use netrig_run::results::claim_run_dir;
use netrig_run::{report, runner, CaseDef, DiscoverError, Event, Format, RunOptions, RunReport};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// KTAP version 1, as kselftest and KUnit print it.
    Ktap,
    /// TAP version 13 (readable by `prove`).
    Tap,
    /// JUnit XML for CI systems.
    Junit,
    /// The full report (what `netrig report merge` reads).
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Ktap => Format::Ktap,
            FormatArg::Tap => Format::Tap,
            FormatArg::Junit => Format::Junit,
            FormatArg::Json => Format::Json,
        }
    }
}

fn parse_partition(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("write K/N, e.g. 1/3")?;
    let k: usize = k.parse().map_err(|_| format!("`{k}` is not a number"))?;
    let n: usize = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("K must be in 1..=N (got {k}/{n})"));
    }
    Ok((k, n))
}

#[derive(Args)]
pub struct Select {
    /// Suite folders, scenario files or executables to run; any other word
    /// keeps only the cases whose name contains it.
    #[arg(value_name = "PATH|FILTER")]
    pub targets: Vec<String>,
    /// Run only shard K of N (cases sorted by name, dealt round-robin): every
    /// case lands in exactly one shard. Combine shards with `netrig report merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<(usize, usize)>,
}

/// `--timeout DURATION`: a scenario's notation (`90s`, `500ms`, `10m`) or
/// plain seconds as kselftest's `--override-timeout` takes them; 0 for none.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(0) => Ok(NO_TIMEOUT),
            Ok(n) if n < 1_000_000_000 => Ok(Duration::from_secs(n)),
            _ => Err(format!("`{s}` seconds is too long")),
        };
    }
    netrig_spec::scenario::parse_duration(s)
        .map(|d| if d.is_zero() { NO_TIMEOUT } else { d })
        .ok_or_else(|| {
            format!(
                "`{s}` is not a duration: write e.g. 90s, 10m, 500ms or 600 (seconds); 0 for none"
            )
        })
}

/// `--timeout-multiplier F`: a positive factor.
fn parse_multiplier(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "`{s}` is not a factor in (0, 1000]: write e.g. 2 or 1.5"
        )),
    }
}

/// How long each case may run, from the command line. Without either
/// option a case gets, first that applies: its file's own `timeout` (a
/// scenario's `timeout = "30s"`, an executable's `# netrig: timeout=30s`
/// header), the kselftest `settings` file of its directory (`timeout=N`
/// seconds, 0 for none, as the kernel's kselftest runner reads it), 60 s.
#[derive(Args, Clone, Copy)]
pub struct TimeoutArgs {
    /// Give every case this timeout instead of its own (its file's, its
    /// directory's kselftest `settings`, the 60 s default), as kselftest's
    /// --override-timeout does: 90s, 10m, 500ms, or plain seconds; 0 for none.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Multiply every case's own timeout by F, e.g. 3 on a slow or busy
    /// machine, keeping the ratios between cases (no timeout stays none).
    #[arg(long, value_name = "F", value_parser = parse_multiplier, conflicts_with = "timeout")]
    pub timeout_multiplier: Option<f64>,
}

impl TimeoutArgs {
    fn apply(&self, cases: &mut [CaseDef]) {
        use netrig_run::discover::{override_timeouts, TimeoutOverride};
        if let Some(d) = self.timeout {
            override_timeouts(cases, TimeoutOverride::Set(d));
        } else if let Some(f) = self.timeout_multiplier {
            override_timeouts(cases, TimeoutOverride::Scale(f));
        }
    }
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: Select,
    #[command(flatten)]
    pub timeouts: TimeoutArgs,
    /// Cases run at once (default: number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Run every case N times and list flaky ones (passed and failed).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// Retry a failing case up to N times; a later pass is marked flaky.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub retries: u32,
    /// Start no new case after the first one that does not pass.
    #[arg(long)]
    pub fail_fast: bool,
    /// Keep a failed case's lab up and print the `netrig exec` lines to enter
    /// it; Enter tears it down. Implies -j 1 unless -j is given.
    #[arg(long)]
    pub pause_on_fail: bool,
    /// Machine-readable report on stdout (console lines then go to stderr).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write the --format report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE", requires = "format")]
    pub output: Option<PathBuf>,
    /// Root of the results folders: each run writes RESULTS/TAG/CASE/.
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub results: PathBuf,
    /// Name of this run's results folder (default: UTC date-time, with -2,
    /// -3... if taken): A-Z, a-z, 0-9, `-`, `_`, `.`, at most 100, not
    /// starting with `.` or `-`. A tag whose folder exists is refused.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only failures and the summary on the console.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: Select,
    #[command(flatten)]
    pub timeouts: TimeoutArgs,
}

#[derive(Subcommand)]
pub enum ReportCmd {
    /// Combine JSON reports (files, or run folders holding report.json), e.g.
    /// of --partition shards, into one report in any format.
    Merge {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Render an HTML page: of one run (a JSON report, a run folder, or
    /// several of either merged, e.g. partitions), or the history of the
    /// runs kept in a results folder (per case its states over the runs).
    #[command(
        after_help = "Examples:\n  netrig report html results/latest\n  netrig report html shard1.json shard2.json -o merged.html\n  netrig report html results -o history.html"
    )]
    Html(crate::htmlcmd::HtmlArgs),
}

/// Every case under `paths`, or every problem found on the way printed (one
/// located report each) and a usage error: what `run`, `list` and `check`
/// of a folder all read.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<CaseDef>, CliError> {
    netrig_run::discover(paths).map_err(|errs| {
        let n = errs.len();
        for e in errs {
            match e {
                // One report per located error (a SpecErrors wrapper would
                // print each twice: as its summary and as a related error).
                DiscoverError::Spec(netrig_spec::LoadError::Invalid(errs)) => {
                    for one in errs.errors {
                        eprintln!("{:?}", miette::Report::new(one));
                    }
                }
                DiscoverError::Spec(le) => eprintln!("{:?}", miette::Report::new(le)),
                other => eprintln!("{:?}", miette!("{other}")),
            }
        }
        CliError::usage(miette!("{n} problem(s) in the suite; nothing was run"))
    })
}

fn select(sel: &Select) -> Result<Vec<CaseDef>, CliError> {
    let (paths, filters): (Vec<&String>, Vec<&String>) =
        sel.targets.iter().partition(|t| Path::new(t).exists());
    if paths.is_empty() {
        return Err(CliError::usage(miette!(
            help = "e.g. `netrig run examples`, `netrig run suite/ ping`, `netrig list examples`",
            "no suite folder, scenario file or executable named{}",
            if filters.is_empty() {
                String::new()
            } else {
                format!(
                    " (no such path: {})",
                    filters
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )));
    }
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let cases = discover(&paths)?;
    let filters: Vec<String> = filters.into_iter().cloned().collect();
    let mut cases = netrig_run::discover::filter(cases, &filters);
    if let Some((k, n)) = sel.partition {
        cases = netrig_run::discover::partition(cases, k, n);
    }
    Ok(cases)
}

pub fn list(args: &ListArgs) -> CliResult {
    let mut cases = select(&args.select)?;
    args.timeouts.apply(&mut cases);
    for c in &cases {
        let req = &c.requires;
        let mut notes = Vec::new();
        if req.root {
            notes.push("root".to_string());
        }
        notes.extend(req.commands.iter().map(|c| format!("cmd:{c}")));
        notes.extend(req.kconfig.iter().cloned());
        if let Some(k) = &req.kernel {
            notes.push(format!("kernel>={k}"));
        }
        if c.xfail.is_some() {
            notes.push("xfail".into());
        }
        println!(
            "{:<56} {:>6}  {}{}",
            netrig_spec::names::printable(&c.name),
            show_timeout(c.timeout),
            netrig_spec::names::printable(&c.source_path().display().to_string()),
            if notes.is_empty() {
                String::new()
            } else {
                format!("  [{}]", notes.join(" "))
            }
        );
    }
    Ok(0)
}

fn emit(text: &str, output: Option<&Path>) -> Result<(), CliError> {
    match output {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| CliError::usage(miette!("writing {}: {e}", p.display()))),
        None => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            Ok(())
        }
    }
}

pub fn run(args: &RunArgs) -> CliResult {
    let mut cases = select(&args.select)?;
    args.timeouts.apply(&mut cases);
    let exe = std::env::current_exe()
        .map_err(|e| CliError::fail(miette!("cannot find the netrig binary: {e}")))?;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let jobs = args
        .jobs
        .unwrap_or(if args.pause_on_fail { 1 } else { cpus })
        .max(1);
    if args.repeat == 0 {
        return Err(CliError::usage(miette!("--repeat must be at least 1")));
    }
    netrig_run::observe::verdict_ring().map_err(|e| CliError::usage(miette!("{e}")))?;
    // This run's own folder, claimed before anything runs: a bad tag, one in
    // use, or a results folder others could tamper with is bad input.
    let tag = match &args.tag {
        Some(t) => claim_run_dir(&args.results, t, false),
        None => claim_run_dir(&args.results, &runner::default_tag(), true),
    }
    .map_err(|e| CliError::usage(miette!("{e}")))?;
    let opts = RunOptions {
        exe,
        jobs,
        repeat: args.repeat,
        retries: args.retries,
        fail_fast: args.fail_fast,
        pause_on_fail: args.pause_on_fail,
        results: args.results.clone(),
        tag,
        mode: netrig_lab::ns::wanted_mode(),
    };
    // Console lines go to stdout unless a report takes it.
    let to_stderr = args.format.is_some() && args.output.is_none();
    let progress = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let total = cases.len() * args.repeat as usize;
    let mut done = 0usize;
    let mut running: Vec<String> = Vec::new();
    let quiet = args.quiet;
    let colored = crate::color::enabled(if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    });
    let print = |s: &str| {
        if to_stderr {
            eprint!("{s}");
        } else {
            print!("{s}");
            let _ = std::io::stdout().flush();
        }
    };
    let report = netrig_run::run(cases, &opts, &mut |ev| {
        if progress {
            eprint!("\r\x1b[K");
        }
        match ev {
            Event::Started { name } => running.push(name.to_string()),
            Event::Finished(r) => {
                done += 1;
                if let Some(i) = running.iter().position(|n| n == &r.name) {
                    running.remove(i);
                }
                if !quiet || !r.state.ok() {
                    print(&crate::color::console_line(r, colored));
                }
            }
        }
        if progress && done < total {
            let line = format!("[{done}/{total}] running: {}", running.join(", "));
            // 120 characters, not bytes: a name may hold any character.
            let line: String = netrig_spec::names::printable(&line)
                .chars()
                .take(120)
                .collect();
            eprint!("{line}");
            let _ = std::io::stderr().flush();
        }
    });
    if progress {
        eprint!("\r\x1b[K");
    }
    let mut tail = report::summary(&report, jobs);
    let run_dir = opts.results.join(&opts.tag);
    tail.push_str(&format!("results  {}\n", run_dir.display()));
    let page = run_dir.join("report.html");
    if page.is_file() {
        tail.push_str(&format!("page     {}\n", page.display()));
    }
    print(&tail);
    if let Some(f) = args.format {
        emit(&report::render(&report, f.into()), args.output.as_deref())?;
    }
    Ok(report.exit_code())
}

pub(crate) fn read_report(p: &Path) -> Result<RunReport, CliError> {
    let file = if p.is_dir() {
        p.join("report.json")
    } else {
        p.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| CliError::usage(miette!("reading {}: {e}", file.display())))?;
    let report: RunReport = serde_json::from_str(&text).map_err(|e| {
        CliError::usage(miette!(
            help = "netrig writes report.json into each run folder, and `--format json` prints one",
            "{} is not a netrig JSON report: {e}",
            file.display()
        ))
    })?;
    report.check_schema().map_err(|e| {
        CliError::usage(miette!(
            help = "read it with the netrig that wrote it (docs/json-report.md lists the formats)",
            "{}: {e}",
            file.display()
        ))
    })?;
    Ok(report)
}

pub fn report_cmd(cmd: &ReportCmd) -> CliResult {
    match cmd {
        ReportCmd::Merge {
            inputs,
            format,
            output,
        } => {
            let reports = inputs
                .iter()
                .map(|p| read_report(p))
                .collect::<Result<Vec<_>, _>>()?;
            let merged = report::merge(reports);
            match format {
                Some(f) => emit(&report::render(&merged, (*f).into()), output.as_deref())?,
                None => {
                    let mut s = String::new();
                    for c in &merged.cases {
                        s.push_str(&report::console_line(c));
                    }
                    s.push_str(&report::summary(&merged, 0));
                    emit(&s, output.as_deref())?;
                }
            }
            Ok(merged.exit_code())
        }
        ReportCmd::Html(a) => crate::htmlcmd::html(a),
    }
}

/// `netrig __case DIR`: the case process (see netrig_run::case).
pub fn case(dir: &Path) -> CliResult {
    let code = netrig_run::case::case_main(dir);
    Ok(u8::try_from(code).unwrap_or(EXIT_USAGE))
}
