//! Kernel netem through netlink: the `TCA_OPTIONS` of a netem qdisc for an
//! [`Impairment`], as `tc qdisc add ... netem` sends it (no `tc`
//! subprocess). Layouts from linux `include/uapi/linux/pkt_sched.h`:
//! `struct tc_netem_qopt` first, then `TCA_NETEM_*` attributes directly
//! after it, all inside one `TCA_OPTIONS` attribute that is not flagged
//! nested (netem's own "compat" layout, which its `parse_attr` expects).
//!
//! The encoding is checked byte for byte against the layout and against
//! what iproute2's `tc` sends (see the tests). A lab's netem link is a veth
//! pair with a root netem qdisc on each end, applying what that end sends
//! (`Lab::build` in lab.rs picks the engine); this module also changes a
//! running qdisc ([`change_msg`]) and reads its counters ([`stats`]).
//!
//! What netem counts, and so what its [`DirStats`] hold: the frames it
//! passed on (`delivered`, duplicates included) and the frames it dropped
//! (`dropped_loss`: its loss model and its queue limit together, netem does
//! not tell them apart). `sent` is what entered the qdisc (delivered +
//! dropped + still held), which counts netem's duplicates too, as they
//! re-enter it. Duplicated, reordered, corrupted and delayed frames are not
//! counted by netem: those counters stay 0 on a netem link.

use crate::impair::DirStats;
use crate::netlink::{Netlink, NetlinkError};
use netrig_spec::{Distribution, Impairment, Loss};

pub const RTM_NEWQDISC: u16 = 36;
pub const RTM_DELQDISC: u16 = 37;
pub const RTM_GETQDISC: u16 = 38;
pub const TCA_KIND: u16 = 1;
pub const TCA_OPTIONS: u16 = 2;
pub const TCA_STATS2: u16 = 7;
/// Inside TCA_STATS2: `struct gnet_stats_basic` { u64 bytes; u32 packets }.
pub const TCA_STATS_BASIC: u16 = 1;
/// Inside TCA_STATS2: `struct gnet_stats_queue` { qlen, backlog, drops,
/// requeues, overlimits }.
pub const TCA_STATS_QUEUE: u16 = 3;
/// The handle of the root netem qdisc netrig adds (`1:`).
pub const HANDLE: u32 = 0x1_0000;
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;

// enum { TCA_NETEM_UNSPEC, ... } of pkt_sched.h, in order.
pub const TCA_NETEM_CORR: u16 = 1;
pub const TCA_NETEM_DELAY_DIST: u16 = 2;
pub const TCA_NETEM_REORDER: u16 = 3;
pub const TCA_NETEM_CORRUPT: u16 = 4;
pub const TCA_NETEM_LOSS: u16 = 5;
pub const TCA_NETEM_RATE: u16 = 6;
pub const TCA_NETEM_ECN: u16 = 7;
pub const TCA_NETEM_RATE64: u16 = 8;
pub const TCA_NETEM_PAD: u16 = 9;
pub const TCA_NETEM_LATENCY64: u16 = 10;
pub const TCA_NETEM_JITTER64: u16 = 11;
pub const TCA_NETEM_SLOT: u16 = 12;
pub const TCA_NETEM_SLOT_DIST: u16 = 13;
pub const TCA_NETEM_PRNG_SEED: u16 = 14;
/// Inside TCA_NETEM_LOSS: `struct tc_netem_gemodel`.
pub const NETEM_LOSS_GE: u16 = 2;
/// Entries of a delay distribution table are scaled by this.
pub const NETEM_DIST_SCALE: f64 = 8192.0;
/// Entries in the normal table netrig sends (iproute2's normal.dist has as
/// many).
pub const DIST_TABLE: usize = 4096;
/// Nanoseconds per psched tick (`/proc/net/psched`: 64 ns since Linux 2.6.32).
const NS_PER_TICK: u64 = 64;

/// A probability as netem takes it: 0 none, `u32::MAX` always (tc rounds
/// the same way).
pub fn prob(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * u32::MAX as f64).round() as u32
}

fn ticks(ns: u64) -> u32 {
    (ns / NS_PER_TICK).min(u32::MAX as u64) as u32
}

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// `struct tc_netem_qopt { latency, limit, loss, gap, duplicate, jitter }`,
/// latency and jitter in psched ticks.
pub fn qopt(
    latency_ns: u64,
    limit: u32,
    loss: u32,
    gap: u32,
    duplicate: u32,
    jitter_ns: u64,
) -> Vec<u8> {
    u32s(&[
        ticks(latency_ns),
        limit,
        loss,
        gap,
        duplicate,
        ticks(jitter_ns),
    ])
}

/// The normal distribution as netem's delay table: entry `i` is the
/// standard normal quantile at `(i + 0.5) / DIST_TABLE`, times
/// [`NETEM_DIST_SCALE`] (netem picks an entry at random and scales it by
/// the jitter).
pub fn normal_table() -> Vec<i16> {
    (0..DIST_TABLE)
        .map(|i| {
            let q = inverse_normal((i as f64 + 0.5) / DIST_TABLE as f64) * NETEM_DIST_SCALE;
            q.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
        })
        .collect()
}

/// Uniform on [-1, 1] as netem's delay table (what netem does without a
/// table, which a change cannot remove once sent).
pub fn uniform_table() -> Vec<i16> {
    (0..DIST_TABLE)
        .map(|i| {
            let q = (2.0 * (i as f64 + 0.5) / DIST_TABLE as f64 - 1.0) * NETEM_DIST_SCALE;
            q.round() as i16
        })
        .collect()
}

/// The standard normal quantile (Acklam's rational approximation, relative
/// error below 1.2e-9: far below a table entry's 1/8192).
fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The payload of `TCA_OPTIONS` for a netem qdisc applying `imp`, with the
/// kernel's generator seeded by `seed` (`None`: the kernel picks). In tc's
/// order: the qopt, then reorder, loss model, corruption, rate, delays that
/// ticks cannot hold exactly, the delay table, the seed.
pub fn options(imp: &Impairment, seed: Option<u64>) -> Vec<u8> {
    encode(imp, seed, false)
}

/// The options for changing a running netem qdisc to `imp`. netem keeps
/// the reorder, corruption, rate and delay table it had when a change
/// leaves their attribute out, so a change sends each of them, zero when
/// unused, and the uniform distribution as a table when there is jitter.
pub fn change_options(imp: &Impairment) -> Vec<u8> {
    encode(imp, None, true)
}

fn encode(imp: &Impairment, seed: Option<u64>, change: bool) -> Vec<u8> {
    use crate::netlink::{put_attr, NLA_F_NESTED};
    let delay = imp.delay.as_nanos().min(u64::MAX as u128) as u64;
    let jitter = imp.jitter.as_nanos().min(u64::MAX as u128) as u64;
    let loss = match imp.loss {
        Loss::Random(p) => prob(p),
        _ => 0,
    };
    // A reordered frame goes at once (gap 1: any frame may be picked), as
    // netrig's engine does; tc sets the same gap for `reorder P`.
    let gap = u32::from(imp.reorder > 0.0);
    let mut b = qopt(delay, imp.limit, loss, gap, prob(imp.duplicate), jitter);
    if imp.reorder > 0.0 || change {
        put_attr(&mut b, TCA_NETEM_REORDER, &u32s(&[prob(imp.reorder), 0]));
    }
    if let Loss::Gilbert {
        p,
        r,
        loss_good,
        loss_bad,
    } = imp.loss
    {
        // struct tc_netem_gemodel { p, r, h, k1 }: netem loses a frame in
        // the bad state when a draw exceeds h, in the good one when it is
        // below k1.
        let mut ge = Vec::new();
        put_attr(
            &mut ge,
            NETEM_LOSS_GE,
            &u32s(&[prob(p), prob(r), prob(1.0 - loss_bad), prob(loss_good)]),
        );
        put_attr(&mut b, TCA_NETEM_LOSS | NLA_F_NESTED, &ge);
    }
    if imp.corrupt > 0.0 || change {
        put_attr(&mut b, TCA_NETEM_CORRUPT, &u32s(&[prob(imp.corrupt), 0]));
    }
    if let Some(bits) = imp.rate {
        // struct tc_netem_rate { rate (bytes/s), packet_overhead, cell_size,
        // cell_overhead }; above u32 bytes/s the rate goes in RATE64.
        let bytes = bits / 8;
        let small = u32::try_from(bytes).unwrap_or(u32::MAX);
        put_attr(&mut b, TCA_NETEM_RATE, &u32s(&[small, 0, 0, 0]));
        if bytes >= u32::MAX as u64 {
            put_attr(&mut b, TCA_NETEM_RATE64, &bytes.to_ne_bytes());
        }
    } else if change {
        put_attr(&mut b, TCA_NETEM_RATE, &u32s(&[0, 0, 0, 0]));
    }
    // Ticks hold 64 ns steps; a delay between them goes in nanoseconds too
    // (the kernel then uses the 64-bit value).
    if delay % NS_PER_TICK != 0 {
        put_attr(&mut b, TCA_NETEM_LATENCY64, &(delay as i64).to_ne_bytes());
    }
    if jitter % NS_PER_TICK != 0 {
        put_attr(&mut b, TCA_NETEM_JITTER64, &(jitter as i64).to_ne_bytes());
    }
    if imp.distribution == Distribution::Uniform && jitter > 0 && change {
        let t: Vec<u8> = uniform_table()
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        put_attr(&mut b, TCA_NETEM_DELAY_DIST, &t);
    }
    if imp.distribution == Distribution::Normal && jitter > 0 {
        let t: Vec<u8> = normal_table()
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        put_attr(&mut b, TCA_NETEM_DELAY_DIST, &t);
    }
    if let Some(s) = seed {
        put_attr(&mut b, TCA_NETEM_PRNG_SEED, &s.to_ne_bytes());
    }
    b
}

/// A request adding (or with `replace`, changing) the root netem qdisc of
/// interface `ifindex`.
pub fn qdisc_msg(
    ifindex: i32,
    imp: &Impairment,
    seed: Option<u64>,
    replace: bool,
) -> crate::netlink::Msg {
    use crate::netlink::*;
    let flags = if replace {
        NLM_F_CREATE | NLM_F_REPLACE
    } else {
        NLM_F_CREATE | NLM_F_EXCL
    };
    let tcmsg = TcMsg {
        ifindex,
        handle: 0x1_0000,
        parent: TC_H_ROOT,
        ..TcMsg::default()
    }
    .encode();
    let mut m = Msg::new(RTM_NEWQDISC, flags).header(&tcmsg);
    m.attr_str(TCA_KIND, "netem");
    m.attr(TCA_OPTIONS, &options(imp, seed));
    m
}

/// A request changing the root netem qdisc of interface `ifindex` to `imp`.
pub fn change_msg(ifindex: i32, imp: &Impairment) -> crate::netlink::Msg {
    use crate::netlink::*;
    let tcmsg = TcMsg {
        ifindex,
        handle: HANDLE,
        parent: TC_H_ROOT,
        ..TcMsg::default()
    }
    .encode();
    let mut m = Msg::new(RTM_NEWQDISC, NLM_F_REPLACE).header(&tcmsg);
    m.attr_str(TCA_KIND, "netem");
    m.attr(TCA_OPTIONS, &change_options(imp));
    m
}

/// What the root netem qdisc of interface `ifindex` of `nl`'s namespace
/// counted (see the module docs for which counters netem has).
pub fn stats(nl: &mut Netlink, ifindex: i32) -> Result<DirStats, NetlinkError> {
    use crate::netlink::*;
    let req = Msg::new(RTM_GETQDISC, 0).header(&TcMsg::default().encode());
    for p in nl.dump(req)? {
        if let Some(s) = parse_stats(&p, ifindex) {
            return Ok(s);
        }
    }
    Err(NetlinkError::Io(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("no netem qdisc on interface {ifindex}"),
    )))
}

/// The counters of one RTM_NEWQDISC message, if it is netrig's root netem
/// qdisc of `ifindex`.
fn parse_stats(p: &[u8], ifindex: i32) -> Option<DirStats> {
    use crate::netlink::attrs;
    let word = |at: usize| {
        p.get(at..at + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or_default()))
    };
    // struct tcmsg: family, pads, ifindex, handle, parent, info.
    if word(4)? as i32 != ifindex || word(8)? != HANDLE || word(12)? != TC_H_ROOT {
        return None;
    }
    let body = p.get(crate::netlink::TcMsg::SIZE..)?;
    if !attrs(body).any(|(t, v)| t == TCA_KIND && v.starts_with(b"netem")) {
        return None;
    }
    let (_, st) = attrs(body).find(|(t, _)| *t == TCA_STATS2)?;
    let mut s = DirStats::default();
    let (mut drops, mut qlen) = (0u64, 0u64);
    for (t, v) in attrs(st) {
        let u = |at: usize| {
            v.get(at..at + 4)
                .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or_default()))
        };
        match t {
            TCA_STATS_BASIC => s.delivered = u64::from(u(8)?),
            TCA_STATS_QUEUE => {
                qlen = u64::from(u(0)?);
                drops = u64::from(u(8)?);
            }
            _ => {}
        }
    }
    s.dropped_loss = drops;
    s.sent = s.delivered + drops + qlen;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn imp(f: impl FnOnce(&mut Impairment)) -> Impairment {
        let mut i = Impairment::default();
        f(&mut i);
        i
    }

    /// Bytes of `tc qdisc add dev X root netem ARGS` (iproute2 6.x, strace
    /// -x of its sendmsg, the TCA_OPTIONS payload), as `\xNN` text.
    fn tc_bytes(s: &str) -> Vec<u8> {
        s.split("\\x")
            .filter(|h| !h.is_empty())
            .map(|h| u8::from_str_radix(h, 16).expect("hex"))
            .collect()
    }

    #[test]
    fn qopt_is_six_u32_in_uapi_order() {
        // latency 20 ms = 312,500 ticks of 64 ns, limit 1000, the rest 0.
        let mut want = Vec::new();
        for v in [312_500u32, 1000, 0, 0, 0, 0] {
            want.extend_from_slice(&v.to_ne_bytes());
        }
        let got = options(&imp(|i| i.delay = Duration::from_millis(20)), None);
        assert_eq!(got, want);
        // What tc sends for `netem delay 20ms`.
        assert_eq!(
            got,
            tc_bytes("\\xb4\\xc4\\x04\\x00\\xe8\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00")
        );
    }

    #[test]
    fn every_key_matches_what_tc_sends() {
        // tc qdisc add dev t0 root netem delay 20ms 5ms loss 1% duplicate 2%
        //   reorder 5% corrupt 0.1% rate 10mbit limit 50
        let i = imp(|i| {
            i.delay = Duration::from_millis(20);
            i.jitter = Duration::from_millis(5);
            i.loss = Loss::Random(0.01);
            i.duplicate = 0.02;
            i.reorder = 0.05;
            i.corrupt = 0.001;
            i.rate = Some(10_000_000);
            i.limit = 50;
        });
        let tc = tc_bytes("\\xb4\\xc4\\x04\\x00\\x32\\x00\\x00\\x00\\x29\\x5c\\x8f\\x02\\x01\\x00\\x00\\x00\\x52\\xb8\\x1e\\x05\\x2d\\x31\\x01\\x00\\x0c\\x00\\x03\\x00\\xcd\\xcc\\xcc\\x0c\\x00\\x00\\x00\\x00\\x0c\\x00\\x04\\x00\\x37\\x89\\x41\\x00\\x00\\x00\\x00\\x00\\x14\\x00\\x06\\x00\\xd0\\x12\\x13\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00");
        assert_eq!(options(&i, None), tc);
        // The same, from the layout: qopt, then REORDER {p, corr},
        // CORRUPT {p, corr}, RATE {bytes/s, 0, 0, 0}, each behind a
        // 4-byte nlattr header.
        let mut want = u32s(&[312_500, 50, prob(0.01), 1, prob(0.02), 78_125]);
        want.extend(u32s(&[12 | (3 << 16), prob(0.05), 0]));
        want.extend(u32s(&[12 | (4 << 16), prob(0.001), 0]));
        want.extend(u32s(&[20 | (6 << 16), 1_250_000, 0, 0, 0]));
        assert_eq!(options(&i, None), want);
    }

    #[test]
    fn gilbert_elliott_is_a_nested_ge_model() {
        // tc qdisc add dev t0 root netem delay 10ms loss gemodel 1% 25% 100% 0%
        let i = imp(|i| {
            i.delay = Duration::from_millis(10);
            i.loss = Loss::Gilbert {
                p: 0.01,
                r: 0.25,
                loss_good: 0.0,
                loss_bad: 1.0,
            };
        });
        let tc = tc_bytes("\\x5a\\x62\\x02\\x00\\xe8\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x18\\x00\\x05\\x80\\x14\\x00\\x02\\x00\\x29\\x5c\\x8f\\x02\\x00\\x00\\x00\\x40\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00");
        assert_eq!(options(&i, None), tc);
        // A bad state that loses half, a good one that loses 1%: h is the
        // bad state's chance to keep a frame, k1 the good state's to lose.
        let j = imp(|i| {
            i.loss = Loss::Gilbert {
                p: 0.01,
                r: 0.25,
                loss_good: 0.01,
                loss_bad: 0.5,
            }
        });
        let o = options(&j, None);
        assert_eq!(
            o[24..],
            u32s(&[
                24 | ((5 | 0x8000) << 16),
                20 | (2 << 16),
                prob(0.01),
                prob(0.25),
                prob(0.5),
                prob(0.01)
            ])[..]
        );
    }

    #[test]
    fn seed_rate64_ns_delays_and_the_normal_table_from_the_layout() {
        let i = imp(|i| {
            i.delay = Duration::from_nanos(20_000_001);
            i.jitter = Duration::from_millis(5);
            i.distribution = Distribution::Normal;
            i.rate = Some(100_000_000_000);
        });
        let o = options(&i, Some(42));
        let mut want = u32s(&[312_500, 1000, 0, 0, 0, 78_125]);
        // RATE saturated, then RATE64 with the bytes per second.
        want.extend(u32s(&[20 | (6 << 16), u32::MAX, 0, 0, 0]));
        want.extend(u32s(&[12 | (8 << 16)]));
        want.extend(12_500_000_000u64.to_ne_bytes());
        // 20 ms + 1 ns does not fit in ticks: LATENCY64 in ns; the jitter does.
        want.extend(u32s(&[12 | (10 << 16)]));
        want.extend(20_000_001i64.to_ne_bytes());
        let table: Vec<u8> = normal_table()
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        want.extend(u32s(&[(4 + table.len() as u32) | (2 << 16)]));
        want.extend(&table);
        want.extend(u32s(&[12 | (14 << 16)]));
        want.extend(42u64.to_ne_bytes());
        assert_eq!(o, want);
        // The table is the normal's quantiles: symmetric, median 0, and a
        // quarter of it below -0.674 (the lower quartile) x 8192.
        let t = normal_table();
        assert_eq!(t.len(), DIST_TABLE);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(t[0], -t[DIST_TABLE - 1]);
        assert_eq!(
            t[DIST_TABLE / 4 - 1],
            (inverse_normal(1023.5 / 4096.0) * 8192.0).round() as i16
        );
        assert!((t[DIST_TABLE / 4] as f64 / 8192.0 + 0.6745).abs() < 0.001);
    }

    #[test]
    fn a_change_resets_what_netem_would_keep() {
        // A change to "nothing" still sends REORDER, CORRUPT and RATE, all
        // zero: netem keeps the old ones when they are left out.
        let o = change_options(&Impairment::default());
        let mut want = u32s(&[0, 1000, 0, 0, 0, 0]);
        want.extend(u32s(&[12 | (3 << 16), 0, 0]));
        want.extend(u32s(&[12 | (4 << 16), 0, 0]));
        want.extend(u32s(&[20 | (6 << 16), 0, 0, 0, 0]));
        assert_eq!(o, want);
        // Uniform jitter goes as a table (a table once sent cannot be
        // removed): quantiles of U(-1, 1) times 8192.
        let o = change_options(&imp(|i| {
            i.delay = Duration::from_millis(20);
            i.jitter = Duration::from_millis(5);
        }));
        let t = uniform_table();
        assert_eq!(t.len(), DIST_TABLE);
        assert_eq!((t[0], t[DIST_TABLE - 1]), (-8190, 8190));
        let table: Vec<u8> = t.iter().flat_map(|x| x.to_ne_bytes()).collect();
        assert!(o.ends_with(&table));
        // A first add sends neither (what tc sends, tested above).
        assert_eq!(options(&Impairment::default(), None).len(), 24);
    }

    #[test]
    fn stats_come_from_the_root_netem_qdisc_of_the_interface() {
        use crate::netlink::{put_attr, TcMsg};
        let msg = |ifindex: i32, handle: u32, kind: &str| {
            let mut p = TcMsg {
                ifindex,
                handle,
                parent: TC_H_ROOT,
                ..TcMsg::default()
            }
            .encode();
            put_attr(&mut p, TCA_KIND, format!("{kind}\0").as_bytes());
            let mut st = Vec::new();
            let mut basic = 123_456u64.to_ne_bytes().to_vec();
            basic.extend(900u32.to_ne_bytes());
            put_attr(&mut st, TCA_STATS_BASIC, &basic);
            // qlen 3, backlog, drops 97, requeues, overlimits.
            put_attr(&mut st, TCA_STATS_QUEUE, &u32s(&[3, 4500, 97, 0, 0]));
            put_attr(&mut p, TCA_STATS2 | crate::netlink::NLA_F_NESTED, &st);
            p
        };
        let s = parse_stats(&msg(7, HANDLE, "netem"), 7).expect("netem of 7");
        assert_eq!(
            (s.sent, s.delivered, s.dropped_loss, s.held()),
            (1000, 900, 97, 3)
        );
        assert_eq!(s.duplicated + s.reordered + s.corrupted + s.delayed, 0);
        assert!(parse_stats(&msg(8, HANDLE, "netem"), 7).is_none());
        assert!(parse_stats(&msg(7, HANDLE, "tbf"), 7).is_none());
        assert!(parse_stats(&msg(7, 0x2_0000, "netem"), 7).is_none());
    }
}
