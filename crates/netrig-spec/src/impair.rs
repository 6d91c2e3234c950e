//! The `impair` table of a `[[links]]` entry: what it may say, and its
//! checks. Keys at the top of the table apply to both directions; a sub-table
//! named after one end (`"r1:eth1"`, or just `"r1"`) applies to what that end
//! sends, over the keys of both directions:
//!
//! ```toml
//! [[links]]
//! ends = ["r1:eth1 198.51.100.1/24", "h2:eth0 198.51.100.2/24"]
//! impair = { delay = "20ms", jitter = "5ms", distribution = "normal", seed = 42 }
//! [links.impair."h2:eth0"]      # only what h2:eth0 sends (towards r1)
//! loss = "1%"
//! ```

use crate::error::Checker;
use crate::model::{Distribution, EngineChoice, Iface, Impairment, LinkImpair, Loss};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Keys a direction takes.
pub(crate) const DIRECTION_KEYS: &[&str] = &[
    "delay",
    "jitter",
    "distribution",
    "loss",
    "gilbert",
    "duplicate",
    "reorder",
    "corrupt",
    "rate",
    "limit",
];
/// Keys only the top of the table takes: they belong to the link.
const LINK_KEYS: &[&str] = &["seed", "engine"];

/// The longest delay accepted: longer ones are typos, and would hold a
/// queue's worth of frames for that long.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// The largest queue limit accepted, in frames.
const MAX_LIMIT: i64 = 1_000_000;

/// One value as written, spans kept.
pub(crate) enum RawVal {
    Plain(Spanned<toml::Value>),
    Gilbert(Spanned<RawGilbert>),
    End(Spanned<RawImpair>),
}

/// An `impair` table as written: its keys in file order.
#[derive(Default)]
pub(crate) struct RawImpair {
    keys: Vec<(Spanned<String>, RawVal)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGilbert {
    p: Spanned<String>,
    r: Spanned<String>,
    loss_good: Option<Spanned<String>>,
    loss_bad: Option<Spanned<String>>,
}

// By hand rather than derived: the table mixes fixed keys with keys named
// after the link's ends, and each value must keep its span.
impl<'de> Deserialize<'de> for RawImpair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawImpair;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of impairments, e.g. { delay = \"20ms\", loss = \"1%\" }")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawImpair, A::Error> {
                read_table(map)
            }
        }
        d.deserialize_map(V)
    }
}

fn read_table<'de, A: MapAccess<'de>>(mut map: A) -> Result<RawImpair, A::Error> {
    let mut out = RawImpair::default();
    while let Some(k) = map.next_key::<Spanned<String>>()? {
        let key = k.get_ref().as_str();
        let v = if key == "gilbert" {
            RawVal::Gilbert(map.next_value()?)
        } else if DIRECTION_KEYS.contains(&key) || LINK_KEYS.contains(&key) {
            RawVal::Plain(map.next_value()?)
        } else {
            // An end's table, or an unknown key: the checker tells which.
            match map.next_value::<Spanned<EndVal>>()? {
                s if matches!(s.get_ref(), EndVal::Table(_)) => {
                    let span = s.span();
                    let EndVal::Table(t) = s.into_inner() else {
                        unreachable!()
                    };
                    RawVal::End(Spanned::new(span, t))
                }
                s => RawVal::Plain(Spanned::new(s.span(), toml::Value::Boolean(false))),
            }
        };
        out.keys.push((k, v));
    }
    // File order, so errors come out in the order a reader meets them.
    out.keys.sort_by_key(|(k, _)| k.span().start);
    Ok(out)
}

/// The value of a key that is no impairment: a table (an end's) or anything else.
enum EndVal {
    Table(RawImpair),
    Other,
}

impl<'de> Deserialize<'de> for EndVal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EndVal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EndVal, A::Error> {
                read_table(map).map(EndVal::Table)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<EndVal, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(EndVal::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<EndVal, E> {
                Ok(EndVal::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<EndVal, E> {
                Ok(EndVal::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<EndVal, E> {
                Ok(EndVal::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<EndVal, E> {
                Ok(EndVal::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<EndVal, E> {
                Ok(EndVal::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl RawImpair {
    /// From a table that lost its spans (a step's value, which scenario
    /// parsing holds as a `toml::Value`): each key and its value are placed
    /// at `at(key)`, where the key is written.
    pub(crate) fn from_table(
        t: &toml::Table,
        at: &dyn Fn(&str) -> Range<usize>,
    ) -> Result<RawImpair, (Range<usize>, String)> {
        let mut out = RawImpair::default();
        for (k, v) in t {
            let span = at(k);
            let key = Spanned::new(span.clone(), k.clone());
            let val = match (k.as_str(), v) {
                ("gilbert", toml::Value::Table(g)) => {
                    let field = |f: &str| match g.get(f) {
                        None => Ok(None),
                        Some(toml::Value::String(s)) => Ok(Some(Spanned::new(at(f), s.clone()))),
                        Some(_) => Err((at(f), format!("`gilbert.{f}` takes a percentage string"))),
                    };
                    if let Some(u) = g
                        .keys()
                        .find(|f| !["p", "r", "loss_good", "loss_bad"].contains(&f.as_str()))
                    {
                        return Err((
                            at(u),
                            format!("unknown field `{u}` of gilbert, expected one of `p`, `r`, `loss_good`, `loss_bad`"),
                        ));
                    }
                    let need = |f: &str| {
                        field(f)?.ok_or_else(|| (span.clone(), format!("gilbert needs `{f}`")))
                    };
                    RawVal::Gilbert(Spanned::new(
                        span.clone(),
                        RawGilbert {
                            p: need("p")?,
                            r: need("r")?,
                            loss_good: field("loss_good")?,
                            loss_bad: field("loss_bad")?,
                        },
                    ))
                }
                ("gilbert", _) => {
                    return Err((
                        span,
                        "`gilbert` takes a table, e.g. { p = \"1%\", r = \"25%\" }".into(),
                    ))
                }
                (key, v) if DIRECTION_KEYS.contains(&key) || LINK_KEYS.contains(&key) => {
                    RawVal::Plain(Spanned::new(span.clone(), v.clone()))
                }
                (_, toml::Value::Table(sub)) => {
                    RawVal::End(Spanned::new(span.clone(), RawImpair::from_table(sub, at)?))
                }
                // The checker says the key is unknown.
                _ => RawVal::Plain(Spanned::new(span.clone(), toml::Value::Boolean(false))),
            };
            out.keys.push((key, val));
        }
        out.keys.sort_by_key(|(k, _)| k.span().start);
        Ok(out)
    }
}

/// A change of a running link's impairment, written as a link's `impair`
/// table (the `impair` step, `netrig link --set`): both directions as that
/// table gives them (keys left out: unimpaired), or with `from` only the
/// direction its end sends, the other left as it is.
pub type ImpairChange = [Option<Impairment>; 2];

/// Parse `text`, a TOML document `impair = { ... }` (what `netrig link
/// --set` makes of its arguments), as a change of the link with `ends`
/// (node, iface); `from`: only the direction that end sends.
pub fn parse_impair_change(
    name: &str,
    text: &str,
    ends: &[(String, String); 2],
    from: Option<usize>,
) -> Result<ImpairChange, crate::SpecErrors> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        impair: Spanned<RawImpair>,
    }
    let src = crate::Source::new(name, text);
    let doc: Doc = toml::from_str(text).map_err(|e| crate::SpecErrors {
        errors: vec![crate::parse::toml_error(&src, text, &e)],
    })?;
    let mut c = Checker::new(src);
    let ends = ends.clone().map(|(node, name)| Iface {
        node,
        name,
        addrs: Vec::new(),
        mac: None,
        mtu: None,
    });
    match c.check_impair_change(&doc.impair, &ends, from) {
        Some(change) if c.errors.is_empty() => Ok(change),
        _ => Err(crate::SpecErrors { errors: c.errors }),
    }
}

impl Checker {
    /// Check a change of a running link's impairment (see [`ImpairChange`]).
    pub(crate) fn check_impair_change(
        &mut self,
        raw: &Spanned<RawImpair>,
        ends: &[Iface; 2],
        from: Option<usize>,
    ) -> Option<ImpairChange> {
        let before = self.errors.len();
        for (k, v) in &raw.get_ref().keys {
            let key = k.get_ref().as_str();
            if LINK_KEYS.contains(&key) {
                self.err_help(
                    span_of(k),
                    format!("`{key}` cannot change while the link runs"),
                    "a running link keeps the engine and seed it was built with; only the impairments change",
                );
            } else if let (Some(i), RawVal::End(_)) = (from, v) {
                self.err_help(
                    span_of(k),
                    format!(
                        "with `from`, the keys are the direction {}:{} sends",
                        ends[i].node, ends[i].name
                    ),
                    "write the impairments at the top, or use `link` to give both directions",
                );
            }
        }
        if self.errors.len() > before {
            return None;
        }
        let imp = self.check_impair(raw, ends)?;
        let [a, b] = imp.dirs;
        Some(match from {
            None => [Some(a), Some(b)],
            Some(0) => [Some(a), None],
            Some(_) => [None, Some(b)],
        })
    }
}

fn span_of<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Checker {
    /// Check a link's `impair` table against its resolved ends.
    pub(crate) fn check_impair(
        &mut self,
        raw: &Spanned<RawImpair>,
        ends: &[Iface; 2],
    ) -> Option<LinkImpair> {
        let before = self.errors.len();
        let mut common = Impairment::default();
        let mut seen_common = Seen::default();
        let mut seed = None;
        let mut engine = EngineChoice::Auto;
        let mut per_end: [Option<&Spanned<RawImpair>>; 2] = [None, None];
        for (k, v) in &raw.get_ref().keys {
            let key = k.get_ref().as_str();
            match (key, v) {
                ("seed", RawVal::Plain(val)) => match val.get_ref() {
                    toml::Value::Integer(i) if *i >= 0 => seed = Some(*i as u64),
                    _ => self.err_help(
                        span_of(val),
                        "`seed` takes a non-negative integer",
                        "e.g. seed = 42; the same seed and the same frames give the same decisions",
                    ),
                },
                ("engine", RawVal::Plain(val)) => match val.get_ref().as_str() {
                    Some("auto") => engine = EngineChoice::Auto,
                    Some("netem") => engine = EngineChoice::Netem,
                    Some("userspace") => engine = EngineChoice::Userspace,
                    _ => self.err_help(
                        span_of(val),
                        format!("unknown engine {}", val.get_ref()),
                        "engine is \"auto\" (the best engine here: netrig's user-space one until netrig drives kernel netem), \"netem\" or \"userspace\"",
                    ),
                },
                (_, RawVal::Plain(_)) if !DIRECTION_KEYS.contains(&key) => self.err_help(
                    span_of(k),
                    format!("unknown impairment `{key}`"),
                    format!(
                        "an impairment is one of {}, `seed` or `engine`; a sub-table named after an end (`{}:{}`) impairs what that end sends",
                        DIRECTION_KEYS.join(", "),
                        ends[0].node,
                        ends[0].name
                    ),
                ),
                (_, RawVal::End(t)) => {
                    let which = ends.iter().position(|e| {
                        key == e.node || key == format!("{}:{}", e.node, e.name)
                    });
                    match which {
                        Some(i) if per_end[i].is_some() => self.err(
                            span_of(k),
                            format!("direction from `{}:{}` is given twice", ends[i].node, ends[i].name),
                        ),
                        Some(i) => per_end[i] = Some(t),
                        None if key.contains(':') => self.err_help(
                            span_of(k),
                            format!("`{key}` is not an end of this link"),
                            format!(
                                "a direction is named after the end that sends it: `{}:{}` or `{}:{}`",
                                ends[0].node, ends[0].name, ends[1].node, ends[1].name
                            ),
                        ),
                        None => self.err_help(
                            span_of(k),
                            format!("unknown impairment `{key}`"),
                            format!(
                                "an impairment is one of {}, `seed` or `engine`; a sub-table named after an end (`{}:{}`) impairs what that end sends",
                                DIRECTION_KEYS.join(", "),
                                ends[0].node,
                                ends[0].name
                            ),
                        ),
                    }
                }
                _ => self.direction_key(k, v, &mut common, &mut seen_common, 0),
            }
        }
        let mut dirs = [common.clone(), common.clone()];
        let mut seen = [seen_common.clone(), seen_common.clone()];
        for (i, t) in per_end.iter().enumerate() {
            let Some(t) = t else { continue };
            for (k, v) in &t.get_ref().keys {
                match (k.get_ref().as_str(), v) {
                    ("seed" | "engine", _) => self.err_help(
                        span_of(k),
                        format!("`{}` belongs to the whole link", k.get_ref()),
                        "put it at the top of the link's `impair` table",
                    ),
                    (key, _) if !DIRECTION_KEYS.contains(&key) => self.err_help(
                        span_of(k),
                        format!("unknown impairment `{key}`"),
                        format!("a direction takes {}", DIRECTION_KEYS.join(", ")),
                    ),
                    _ => self.direction_key(k, v, &mut dirs[i], &mut seen[i], i as u8 + 1),
                }
            }
        }
        for i in 0..2 {
            self.check_direction(&dirs[i], &seen[i]);
        }
        // A problem of the keys both directions share shows once.
        let mut shown = std::collections::HashSet::new();
        let mut i = before;
        while i < self.errors.len() {
            let e = &self.errors[i];
            if shown.insert((e.line, e.col, e.message.clone())) {
                i += 1;
            } else {
                self.errors.remove(i);
            }
        }
        (self.errors.len() == before).then_some(LinkImpair { engine, seed, dirs })
    }

    /// One key of a direction, into `imp`; `seen` keeps where each was written.
    fn direction_key(
        &mut self,
        k: &Spanned<String>,
        v: &RawVal,
        imp: &mut Impairment,
        seen: &mut Seen,
        table: u8,
    ) {
        let key = k.get_ref().as_str();
        let val = match v {
            RawVal::Gilbert(g) => {
                let g_ref = g.get_ref();
                let p = self.percent(&g_ref.p, "gilbert.p");
                let r = self.percent(&g_ref.r, "gilbert.r");
                let good = g_ref
                    .loss_good
                    .as_ref()
                    .map_or(Some(0.0), |s| self.percent(s, "gilbert.loss_good"));
                let bad = g_ref
                    .loss_bad
                    .as_ref()
                    .map_or(Some(1.0), |s| self.percent(s, "gilbert.loss_bad"));
                if let (Some(p), Some(r), Some(loss_good), Some(loss_bad)) = (p, r, good, bad) {
                    if r == 0.0 {
                        self.err_help(
                            span_of(&g_ref.r),
                            "with r = 0% a burst never ends",
                            "r is the probability of leaving the bad state at each frame",
                        );
                    }
                    imp.loss = Loss::Gilbert {
                        p,
                        r,
                        loss_good,
                        loss_bad,
                    };
                    seen.set_loss("gilbert", span_of(k), table);
                }
                return;
            }
            RawVal::Plain(v) => v,
            // Sorted out by the caller.
            RawVal::End(_) => return,
        };
        let span = span_of(val);
        match key {
            "delay" | "jitter" => {
                let Some(d) = self.duration(val, key) else {
                    return;
                };
                if d > MAX_DELAY {
                    self.err_help(
                        span,
                        format!("{key} {d:?} is above the limit of {MAX_DELAY:?}"),
                        "a link's delay is at most a minute",
                    );
                    return;
                }
                if key == "delay" {
                    imp.delay = d;
                } else {
                    imp.jitter = d;
                    seen.jitter = Some(span);
                }
            }
            "distribution" => match val.get_ref().as_str() {
                Some("uniform") => {
                    imp.distribution = Distribution::Uniform;
                    seen.distribution = Some(span);
                }
                Some("normal") => {
                    imp.distribution = Distribution::Normal;
                    seen.distribution = Some(span);
                }
                _ => self.err_help(
                    span,
                    format!("unknown distribution {}", val.get_ref()),
                    "distribution is \"uniform\" (delay ± jitter) or \"normal\" (jitter is the standard deviation)",
                ),
            },
            "loss" => {
                if let Some(p) = self.percent_val(val, key) {
                    imp.loss = Loss::Random(p);
                    seen.set_loss("loss", span, table);
                }
            }
            "duplicate" => {
                if let Some(p) = self.percent_val(val, key) {
                    imp.duplicate = p;
                }
            }
            "reorder" => {
                if let Some(p) = self.percent_val(val, key) {
                    imp.reorder = p;
                    seen.reorder = Some(span);
                }
            }
            "corrupt" => {
                if let Some(p) = self.percent_val(val, key) {
                    imp.corrupt = p;
                }
            }
            "rate" => match val.get_ref().as_str().map(netrig_flow::parse_rate) {
                Some(Ok(r)) => imp.rate = Some(r),
                Some(Err(e)) => self.err_help(
                    span,
                    format!("rate: {e}"),
                    "rates are in bits per second: bit, kbit, mbit, gbit (tc's bps means bytes)",
                ),
                None => self.err_help(
                    span,
                    "`rate` takes a string",
                    "e.g. rate = \"10mbit\"",
                ),
            },
            "limit" => match val.get_ref() {
                toml::Value::Integer(i) if (1..=MAX_LIMIT).contains(i) => imp.limit = *i as u32,
                _ => self.err_help(
                    span,
                    format!("`limit` takes a number of frames in 1..={MAX_LIMIT}"),
                    "the most frames a direction holds (queued for the rate or delayed); netem's default is 1000",
                ),
            },
            // The caller reports other keys.
            _ => {}
        }
    }

    /// Combinations that only make sense together.
    fn check_direction(&mut self, imp: &Impairment, seen: &Seen) {
        if let (Some(j), true) = (&seen.jitter, imp.delay.is_zero() && !imp.jitter.is_zero()) {
            self.err_help(
                j.clone(),
                "jitter without a delay",
                "jitter spreads a delay: add e.g. delay = \"20ms\"",
            );
        }
        if let (Some(d), true) = (&seen.distribution, imp.jitter.is_zero()) {
            self.err_help(
                d.clone(),
                "a distribution without jitter",
                "the distribution shapes the jitter: add e.g. jitter = \"5ms\"",
            );
        }
        if let (Some(r), true) = (&seen.reorder, imp.delay.is_zero() && imp.reorder > 0.0) {
            self.err_help(
                r.clone(),
                "reorder without a delay",
                "a reordered frame skips the delay the others wait: add e.g. delay = \"10ms\"",
            );
        }
        if let Some(clash) = &seen.loss_clash {
            self.err_help(
                clash.clone(),
                "`loss` and `gilbert` both given",
                "use `loss` for independent losses or `gilbert` for bursts, not both",
            );
        }
    }

    fn duration(&mut self, val: &Spanned<toml::Value>, key: &str) -> Option<Duration> {
        match val.get_ref().as_str().map(netrig_flow::parse_duration) {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                self.err_help(
                    span_of(val),
                    format!("{key}: {e}"),
                    "e.g. \"20ms\" or \"1.5s\"",
                );
                None
            }
            None => {
                self.err_help(
                    span_of(val),
                    format!("`{key}` takes a duration string"),
                    format!("e.g. {key} = \"20ms\""),
                );
                None
            }
        }
    }

    fn percent_val(&mut self, val: &Spanned<toml::Value>, key: &str) -> Option<f64> {
        match val.get_ref().as_str() {
            Some(s) => self.percent_at(s, span_of(val), key),
            None => {
                self.err_help(
                    span_of(val),
                    format!("`{key}` takes a percentage string"),
                    format!("e.g. {key} = \"1%\""),
                );
                None
            }
        }
    }

    fn percent(&mut self, s: &Spanned<String>, key: &str) -> Option<f64> {
        self.percent_at(s.get_ref(), span_of(s), key)
    }

    fn percent_at(&mut self, s: &str, span: Range<usize>, key: &str) -> Option<f64> {
        match netrig_flow::parse_percent(s) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err_help(
                    span,
                    format!("{key}: {e}"),
                    "a percentage in 0%..=100%, e.g. \"0.5%\"",
                );
                None
            }
        }
    }
}

/// Where the keys that constrain each other were written.
#[derive(Default, Clone)]
struct Seen {
    jitter: Option<Range<usize>>,
    distribution: Option<Range<usize>>,
    reorder: Option<Range<usize>>,
    /// Which loss model was set last, in which table (0: both directions,
    /// 1 and 2: one end's): a direction's table may replace the model of
    /// both, but one table may not give two.
    loss_model: Option<(&'static str, u8)>,
    /// Where `loss` and `gilbert` met in one table.
    loss_clash: Option<Range<usize>>,
}

impl Seen {
    fn set_loss(&mut self, model: &'static str, span: Range<usize>, table: u8) {
        if matches!(self.loss_model, Some((m, t)) if t == table && m != model) {
            self.loss_clash = Some(span);
        }
        self.loss_model = Some((model, table));
    }
}

#[cfg(test)]
mod tests {
    use crate::model::*;
    use std::time::Duration;

    fn link(impair: &str) -> Link {
        let text = format!(
            "[nodes.r1]\n[nodes.h2]\n[[links]]\nends = [\"r1:eth1 198.51.100.1/24\", \"h2 198.51.100.2/24\"]\n{impair}\n"
        );
        match crate::parse_topology("t.toml", &text) {
            Ok(t) => t.links[0].clone(),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn both_directions_then_one_end_over_them() {
        let l = link(
            "[links.impair]\ndelay = \"20ms\"\nloss = \"1%\"\nseed = 42\n[links.impair.\"h2:eth0\"]\nloss = \"50%\"\njitter = \"5ms\"\n[links.impair.r1]\ngilbert = { p = \"1%\", r = \"25%\" }",
        );
        let imp = l.impair.expect("impaired");
        assert_eq!(imp.seed, Some(42));
        assert_eq!(imp.engine, EngineChoice::Auto);
        let [from_r1, from_h2] = &imp.dirs;
        assert_eq!(from_r1.delay, Duration::from_millis(20));
        assert_eq!(
            from_r1.loss,
            Loss::Gilbert {
                p: 0.01,
                r: 0.25,
                loss_good: 0.0,
                loss_bad: 1.0
            }
        );
        assert_eq!(from_r1.jitter, Duration::ZERO);
        assert_eq!(from_h2.loss, Loss::Random(0.5));
        assert_eq!(from_h2.jitter, Duration::from_millis(5));
        assert_eq!(from_h2.delay, Duration::from_millis(20));
        assert_eq!(from_h2.limit, 1000);
    }

    #[test]
    fn every_key_inline() {
        let l = link(
            "impair = { delay = \"20ms\", jitter = \"5ms\", distribution = \"normal\", loss = \"1%\", duplicate = \"2%\", reorder = \"5%\", corrupt = \"0.1%\", rate = \"10mbit\", limit = 50, engine = \"userspace\" }",
        );
        let imp = l.impair.expect("impaired");
        assert_eq!(imp.engine, EngineChoice::Userspace);
        assert_eq!(imp.seed, None);
        assert_eq!(imp.dirs[0], imp.dirs[1]);
        let d = &imp.dirs[0];
        assert_eq!(d.distribution, Distribution::Normal);
        assert_eq!((d.duplicate, d.reorder, d.corrupt), (0.02, 0.05, 0.001));
        assert_eq!((d.rate, d.limit), (Some(10_000_000), 50));
        assert!(!d.is_noop());
        // An engine alone: a user-space link that passes everything.
        let plain = link("impair = { engine = \"userspace\" }")
            .impair
            .expect("impaired");
        assert!(plain.dirs.iter().all(Impairment::is_noop));
    }
}
