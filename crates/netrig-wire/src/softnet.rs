//! The host's per-CPU receive backlog, from `/proc/net/softnet_stat`.
//!
//! Packets handed between namespaces over veth wait in the receiving CPU's
//! backlog until a softirq (or, on a busy machine, `ksoftirqd`) processes
//! them. Two columns matter to a harness that judges loss: `dropped`, packets
//! the *host* threw away because a backlog was full (never the system under
//! test's doing), and the current backlog length (kernel 5.10 and later),
//! which says whether packets are still waiting to be processed. The file is
//! host-wide: it counts every namespace, which makes it a conservative witness.

use std::io;

/// One CPU's line of `/proc/net/softnet_stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftnetCpu {
    pub processed: u64,
    /// Packets dropped because this CPU's backlog was full.
    pub dropped: u64,
    /// Times the softirq ran out of budget with work left.
    pub time_squeeze: u64,
    /// Packets waiting in this CPU's backlog now (`None` before kernel 5.10).
    pub backlog: Option<u64>,
}

/// A snapshot of every CPU's line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Softnet {
    pub cpus: Vec<SoftnetCpu>,
}

impl Softnet {
    /// Read `/proc/net/softnet_stat` (the host's, whatever the namespace).
    pub fn read() -> io::Result<Softnet> {
        std::fs::read_to_string("/proc/net/softnet_stat").map(|t| Softnet::parse(&t))
    }

    /// Parse the file's text: hexadecimal columns, one line per online CPU.
    /// Column 12 is the backlog length only where column 13 (the CPU index)
    /// exists too; older kernels end at column 11 (`flow_limit_count`).
    pub fn parse(text: &str) -> Softnet {
        let cpus = text
            .lines()
            .filter_map(|line| {
                let cols: Vec<u64> = line
                    .split_whitespace()
                    .map(|c| u64::from_str_radix(c, 16))
                    .collect::<Result<_, _>>()
                    .ok()?;
                Some(SoftnetCpu {
                    processed: *cols.first()?,
                    dropped: *cols.get(1)?,
                    time_squeeze: cols.get(2).copied().unwrap_or(0),
                    backlog: if cols.len() >= 13 {
                        cols.get(11).copied()
                    } else {
                        None
                    },
                })
            })
            .collect();
        Softnet { cpus }
    }

    /// Backlog drops summed over CPUs.
    pub fn dropped(&self) -> u64 {
        self.cpus.iter().map(|c| c.dropped).sum()
    }

    /// Packets waiting in any CPU's backlog, when the kernel says.
    pub fn backlog(&self) -> Option<u64> {
        self.cpus.iter().map(|c| c.backlog).sum()
    }

    /// Packets the host received (any namespace, any interface) since `before`.
    pub fn processed_since(&self, before: &Softnet) -> u64 {
        self.cpus
            .iter()
            .zip(&before.cpus)
            .map(|(now, then)| now.processed.saturating_sub(then.processed))
            .sum()
    }

    /// Drops since `before`. CPUs that went offline in between are skipped;
    /// a counter that went backwards (CPU hot-plug) counts as zero.
    pub fn dropped_since(&self, before: &Softnet) -> u64 {
        self.cpus
            .iter()
            .zip(&before.cpus)
            .map(|(now, then)| now.dropped.saturating_sub(then.dropped))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two CPUs of a 6.x kernel (15 columns) and one of a 4.19 kernel (11).
    const NEW: &str = "\
00000012 00000003 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000007 00000000 00000000 00000007
00000528 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000
";
    const OLD: &str = "0000a000 00000010 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";

    #[test]
    fn parses_drops_and_backlog_of_a_recent_kernel() {
        let s = Softnet::parse(NEW);
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.cpus[0].processed, 0x12);
        assert_eq!(s.dropped(), 3);
        assert_eq!(s.backlog(), Some(7));
    }

    #[test]
    fn an_old_kernel_has_no_backlog_column() {
        let s = Softnet::parse(OLD);
        assert_eq!(s.dropped(), 16);
        assert_eq!(s.backlog(), None);
    }

    #[test]
    fn drops_since_a_snapshot_ignore_counters_that_went_back() {
        let before = Softnet::parse(NEW);
        let mut after = before.clone();
        after.cpus[0].dropped += 5;
        after.cpus[1].dropped = 0;
        assert_eq!(after.dropped_since(&before), 5);
    }

    #[test]
    fn the_live_file_parses() {
        // Every Linux kernel netrig runs on has the file, one line per CPU.
        let s = Softnet::read().expect("/proc/net/softnet_stat");
        assert!(!s.cpus.is_empty());
    }
}
