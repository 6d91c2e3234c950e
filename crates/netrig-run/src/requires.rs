//! Requirements that turn into skips with the reason (LTP's TCONF).

use netrig_lab::Mode;
use netrig_spec::scenario::{parse_version, Requires};
use std::io::Read;

/// Facts about this machine, read once per run.
#[derive(Debug, Default)]
pub struct Host {
    pub mode: Option<Mode>,
    pub kernel: String,
    /// `CONFIG_X=y|m` lines of /proc/config.gz, if readable.
    pub kconfig: Option<Vec<String>>,
}

impl Host {
    pub fn probe(mode: Mode) -> Host {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Host {
            mode: Some(mode),
            kernel,
            kconfig: None,
        }
    }

    fn kconfig(&mut self) -> Option<&Vec<String>> {
        if self.kconfig.is_none() {
            let mut text = String::new();
            let ok = std::fs::File::open("/proc/config.gz")
                .ok()
                .map(|f| {
                    flate2::read::GzDecoder::new(f)
                        .read_to_string(&mut text)
                        .is_ok()
                })
                .unwrap_or(false)
                || std::fs::read_to_string(format!("/boot/config-{}", self.kernel))
                    .map(|t| text = t)
                    .is_ok();
            if ok {
                self.kconfig = Some(
                    text.lines()
                        .filter(|l| l.ends_with("=y") || l.ends_with("=m"))
                        .map(|l| l.split('=').next().unwrap_or("").to_string())
                        .collect(),
                );
            }
        }
        self.kconfig.as_ref()
    }

    /// `None` when every requirement holds, else why not.
    pub fn unmet(&mut self, r: &Requires) -> Option<String> {
        if r.root && self.mode == Some(Mode::Rootless) {
            return Some("requires root; running rootless".into());
        }
        if let Some(min) = &r.kernel {
            if let (Some(want), Some(have)) = (parse_version(min), parse_version(&self.kernel)) {
                if have < want {
                    return Some(format!("requires kernel >= {min}; running {}", self.kernel));
                }
            }
        }
        for tp in &r.tracepoints {
            // The runner itself may be root while its cases are rootless:
            // judge by the mode the cases run in, then try for real.
            if self.mode == Some(Mode::Rootless) {
                return Some(format!(
                    "requires tracepoint {tp}: counting tracepoints (perf_event_open) needs root \
                     in the initial user namespace; running rootless"
                ));
            }
            if let Err(e) = netrig_wire::perf::TracepointCounter::open(tp) {
                return Some(format!("requires tracepoint {tp}: {e}"));
            }
        }
        for c in &r.commands {
            if !on_path(c) {
                return Some(format!("requires command `{c}`, not found on PATH"));
            }
        }
        if !r.kconfig.is_empty() {
            let Some(have) = self.kconfig() else {
                return Some(
                    "requires kernel config options, but /proc/config.gz is not readable".into(),
                );
            };
            for k in &r.kconfig {
                let k = if k.starts_with("CONFIG_") {
                    k.clone()
                } else {
                    format!("CONFIG_{k}")
                };
                if !have.contains(&k) {
                    return Some(format!("requires {k}, not set in this kernel's config"));
                }
            }
        }
        None
    }
}

pub fn on_path(cmd: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if cmd.contains('/') {
        return std::fs::metadata(cmd).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    }
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p).any(|d| {
                std::fs::metadata(d.join(cmd))
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
        })
        .unwrap_or(false)
}
