//! Replaying ready-made frames (a capture file's) out of an interface: the
//! one send loop behind the `replay` step and `netrig gen ... replay FILE`.
//!
//! Frames leave at their recorded times (scaled by a speed) or back to back,
//! bounded by a count and a duration, with their MACs optionally rewritten.
//! Reading the file is not done here (the spec crate does it, so `netrig
//! check` refuses what a run would).

use crate::error::Result;
use crate::flow::MacAddr;
use crate::sender::{Progress, SendStats, Sender};
use std::time::{Duration, Instant};

/// When each frame leaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// The gaps between the recorded times, divided by `speed` (> 0).
    Recorded { speed: f64 },
    /// Back to back, in batches.
    Fast,
}

/// How to replay: pace, bounds and MAC rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    pub pace: Pace,
    /// Send at most this many frames (default: all).
    pub count: Option<u64>,
    /// Stop once this long has passed (recorded pace: skip frames due later).
    pub duration: Option<Duration>,
    /// New Ethernet source (`None`: as recorded).
    pub src_mac: Option<MacAddr>,
    /// New Ethernet destination (`None`: as recorded).
    pub dst_mac: Option<MacAddr>,
}

/// Frames per system call at the fast pace: long enough to amortise the
/// call, short enough that a duration bound stops close to it.
const FAST_BATCH: usize = 64;

/// Longest sleep between progress checks, so Ctrl-C ends a long recorded gap.
const NAP: Duration = Duration::from_millis(100);

/// `frame` with its MACs set as `opts` asks. Frames shorter than an
/// Ethernet header are left as they are.
pub fn rewrite_macs(frame: &[u8], opts: &ReplayOptions) -> Vec<u8> {
    let mut d = frame.to_vec();
    if d.len() >= 14 {
        if let Some(m) = opts.dst_mac {
            d[0..6].copy_from_slice(&m.0);
        }
        if let Some(m) = opts.src_mac {
            d[6..12].copy_from_slice(&m.0);
        }
    }
    d
}

impl Sender {
    /// Send `frames` (recorded time in ns after the first frame, bytes) as
    /// `opts` says. `progress` is told after each send and may stop the run
    /// (the stats then say `cancelled`). Frames are sent in order; the first
    /// `sent` of them (rewritten by [`rewrite_macs`]) are what left.
    pub fn replay<'a>(
        &mut self,
        frames: impl IntoIterator<Item = (i128, &'a [u8])>,
        opts: &ReplayOptions,
        progress: &mut dyn Progress,
    ) -> Result<SendStats> {
        let limit = opts.count.unwrap_or(u64::MAX);
        let mut frames = frames
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX));
        let start = Instant::now();
        let mut st = SendStats::default();
        let add = |st: &mut SendStats, s: SendStats| {
            st.sent += s.sent;
            st.bytes += s.bytes;
            st.retries += s.retries;
            st.elapsed = start.elapsed();
        };
        match opts.pace {
            Pace::Fast => loop {
                if opts.duration.is_some_and(|d| start.elapsed() >= d) {
                    break;
                }
                let batch: Vec<Vec<u8>> = frames
                    .by_ref()
                    .take(FAST_BATCH)
                    .map(|(_, f)| rewrite_macs(f, opts))
                    .collect();
                if batch.is_empty() {
                    break;
                }
                let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                let s = self.send_frames(&refs)?;
                add(&mut st, s);
                if progress.update(&st).is_break() {
                    st.cancelled = true;
                    break;
                }
            },
            Pace::Recorded { speed } => {
                'frames: for (t_ns, f) in frames {
                    let due = Duration::from_nanos(
                        (t_ns.max(0) as f64 / speed).min(u64::MAX as f64) as u64,
                    );
                    if opts.duration.is_some_and(|d| due >= d) {
                        break;
                    }
                    // Late frames (a busy host) leave at once: the gaps
                    // after them keep the file's schedule.
                    while let Some(wait) = due.checked_sub(start.elapsed()) {
                        if wait.is_zero() {
                            break;
                        }
                        std::thread::sleep(wait.min(NAP));
                        if wait > NAP && progress.update(&st).is_break() {
                            st.cancelled = true;
                            break 'frames;
                        }
                    }
                    let s = self.send_frames(&[rewrite_macs(f, opts).as_slice()])?;
                    add(&mut st, s);
                    if progress.update(&st).is_break() {
                        st.cancelled = true;
                        break;
                    }
                }
            }
        }
        st.elapsed = start.elapsed();
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_sets_only_the_macs_asked_for() {
        let frame: Vec<u8> = (0u8..20).collect();
        let mut opts = ReplayOptions {
            pace: Pace::Fast,
            count: None,
            duration: None,
            src_mac: None,
            dst_mac: None,
        };
        assert_eq!(rewrite_macs(&frame, &opts), frame);
        opts.src_mac = Some(MacAddr([0xa; 6]));
        let out = rewrite_macs(&frame, &opts);
        assert_eq!(&out[..6], &frame[..6]);
        assert_eq!(&out[6..12], &[0xa; 6]);
        assert_eq!(&out[12..], &frame[12..]);
        opts.dst_mac = Some(MacAddr([0xb; 6]));
        let out = rewrite_macs(&frame, &opts);
        assert_eq!(&out[..6], &[0xb; 6]);
        assert_eq!(&out[6..12], &[0xa; 6]);
        // Too short for an Ethernet header: untouched.
        assert_eq!(rewrite_macs(&frame[..10], &opts), &frame[..10]);
    }
}
