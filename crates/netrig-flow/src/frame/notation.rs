//! The frame notation: `eth(dst=02:00:00:00:00:02) / dot1q(vid=10) /
//! ipv4(dst=203.0.113.1, ttl=5) / udp(sport=1000-1099) / raw(text='hi')`.
//!
//! Layers are separated by `/`; each is a keyword with optional
//! `(field=value, ...)`. Integer fields take ranges (`1000-1099`) and
//! address fields take ranges or prefixes as flows do: the frames then
//! iterate every combination, the last field varying fastest. Values may be
//! quoted with `'` or `"` (needed for text with `,` or `)`).

use std::ops::Range;

use super::{Frame, Kind, Layer, Value};
use crate::flow::{IpRange, MacAddr, TcpFlags};

/// A malformed frame notation, with the byte span of the faulty part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {}", span.start + 1)]
pub struct FrameParseError {
    pub span: Range<usize>,
    pub message: String,
}

/// A field's value or values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSpec {
    One(Value),
    /// An inclusive integer range.
    Range(u64, u64),
    Ips(IpRange),
    /// `*`: any value (patterns only; see [`super::FramePattern`]).
    Any,
    /// `+N` or `-N`: the sent frame's value plus N (transform patterns only).
    Delta(i64),
}

impl FieldSpec {
    fn len(&self) -> u128 {
        match self {
            FieldSpec::One(_) | FieldSpec::Any | FieldSpec::Delta(_) => 1,
            FieldSpec::Range(a, b) => u128::from(b - a) + 1,
            FieldSpec::Ips(r) => r.len(),
        }
    }

    /// The `i`-th value; `None` for what only patterns hold.
    fn nth(&self, i: u128) -> Option<Value> {
        match self {
            FieldSpec::One(v) => Some(v.clone()),
            FieldSpec::Range(a, _) => Some(Value::U(a + i as u64)),
            FieldSpec::Ips(r) => Some(Value::Ip(r.nth(i))),
            FieldSpec::Any | FieldSpec::Delta(_) => None,
        }
    }

    /// Whether `v` is one of this field's values (`Any`: every value;
    /// `Delta` is resolved against a sent frame before matching).
    pub fn contains(&self, v: &Value) -> bool {
        match (self, v) {
            (FieldSpec::Any, _) => true,
            (FieldSpec::One(a), b) => a == b,
            (FieldSpec::Range(a, b), Value::U(n)) => (a..=b).contains(&n),
            (FieldSpec::Ips(r), Value::Ip(ip)) => r.contains(*ip),
            _ => false,
        }
    }

    /// As the notation writes it, for a field of `kind`.
    pub fn show(&self, kind: Kind) -> String {
        match self {
            FieldSpec::One(v) => kind.show(v),
            FieldSpec::Range(a, b) => {
                format!("{}-{}", kind.show(&Value::U(*a)), kind.show(&Value::U(*b)))
            }
            FieldSpec::Ips(r) => r.to_string(),
            FieldSpec::Any => "*".to_string(),
            FieldSpec::Delta(d) => format!("{d:+}"),
        }
    }
}

/// What a notation may hold beyond literal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Frames to send: values, ranges, prefixes.
    Send,
    /// A pattern: also `*` (any value).
    Match,
    /// A transform pattern: also `+N`/`-N` (relative to the sent frame).
    Each,
}

/// One layer as written: its defaults and the fields given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    pub base: Layer,
    pub fields: Vec<(&'static str, FieldSpec)>,
}

/// A parsed frame notation: one or many frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    pub layers: Vec<LayerSpec>,
}

impl FrameSpec {
    /// Parse the notation; errors carry the byte span within `s`.
    pub fn parse(s: &str) -> Result<FrameSpec, FrameParseError> {
        Self::parse_mode(s, Mode::Send)
    }

    pub(crate) fn parse_mode(s: &str, mode: Mode) -> Result<FrameSpec, FrameParseError> {
        let mut p = Parser { s, at: 0, mode };
        let mut layers = Vec::new();
        loop {
            layers.push(p.layer()?);
            p.ws();
            if p.at == s.len() {
                break;
            }
            p.expect(b'/', "expected `/` between layers")?;
        }
        if !matches!(layers[0].base, Layer::Eth(_)) {
            return Err(FrameParseError {
                span: 0..s.find(['(', '/']).unwrap_or(s.len()),
                message: "a frame starts with eth(...)".into(),
            });
        }
        Ok(FrameSpec { layers })
    }

    /// The frames as an interface with MAC `mac` sends them: the outermost
    /// Ethernet source is `mac` unless the notation gives one.
    pub fn with_source_mac(&self, mac: crate::flow::MacAddr) -> FrameSpec {
        let mut spec = self.clone();
        if let Some(eth) = spec.layers.first_mut() {
            if !eth.fields.iter().any(|(n, _)| *n == "src") {
                if let Layer::Eth(e) = &mut eth.base {
                    e.src = mac;
                }
            }
        }
        spec
    }

    /// How many different frames the ranges make.
    pub fn combinations(&self) -> u128 {
        self.layers
            .iter()
            .flat_map(|l| &l.fields)
            .map(|(_, f)| f.len())
            .fold(1u128, |a, n| a.saturating_mul(n))
    }

    /// The `i`-th combination (modulo [`FrameSpec::combinations`]), the last
    /// field varying fastest.
    pub fn frame(&self, i: u128) -> Frame {
        let mut i = i % self.combinations().max(1);
        let mut layers: Vec<Layer> = self.layers.iter().map(|l| l.base.clone()).collect();
        for (li, l) in self.layers.iter().enumerate().rev() {
            for (name, f) in l.fields.iter().rev() {
                let n = f.len();
                // Checked when parsed: the value fits the field (a frame
                // to send has no pattern-only values).
                if let Some(v) = f.nth(i % n) {
                    let _ = layers[li].set(name, v);
                }
                i /= n;
            }
        }
        Frame { layers }
    }
}

impl std::str::FromStr for FrameSpec {
    type Err = FrameParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FrameSpec::parse(s)
    }
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
    mode: Mode,
}

fn err<T>(span: Range<usize>, message: impl Into<String>) -> Result<T, FrameParseError> {
    Err(FrameParseError {
        span,
        message: message.into(),
    })
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self
            .s
            .as_bytes()
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), FrameParseError> {
        self.ws();
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            let end = (self.at + 1).min(self.s.len()).max(self.at);
            err(self.at..end, what)
        }
    }

    fn ident(&mut self) -> (Range<usize>, &str) {
        self.ws();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.at += 1;
        }
        (start..self.at, &self.s[start..self.at])
    }

    /// A value: quoted (`'..'`, `".."`, no escapes) or bare up to `,`/`)`.
    /// Returns its span, its text and whether it was quoted.
    fn value(&mut self) -> Result<(Range<usize>, String, bool), FrameParseError> {
        self.ws();
        let start = self.at;
        if let Some(q @ (b'\'' | b'"')) = self.peek() {
            let body = self.at + 1;
            match self.s[body..].find(q as char) {
                Some(n) => {
                    self.at = body + n + 1;
                    return Ok((start..self.at, self.s[body..body + n].to_string(), true));
                }
                None => return err(start..self.s.len(), "unterminated quote"),
            }
        }
        while self.peek().is_some_and(|b| b != b',' && b != b')') {
            self.at += 1;
        }
        let text = self.s[start..self.at].trim_end();
        Ok((start..start + text.len(), text.to_string(), false))
    }

    fn layer(&mut self) -> Result<LayerSpec, FrameParseError> {
        let (span, kw) = self.ident();
        if kw.is_empty() {
            let end = (span.start + 1).min(self.s.len());
            return err(span.start..end, "expected a layer name");
        }
        let Some(base) = Layer::new(kw) else {
            return err(
                span,
                format!(
                    "unknown layer `{kw}` (layers: {})",
                    Layer::KEYWORDS.join(", ")
                ),
            );
        };
        let mut l = LayerSpec {
            base,
            fields: Vec::new(),
        };
        self.ws();
        if self.peek() != Some(b'(') {
            return Ok(l);
        }
        self.at += 1;
        self.ws();
        if self.peek() == Some(b')') {
            self.at += 1;
            return Ok(l);
        }
        loop {
            self.ws();
            let save = self.at;
            let (nspan, name) = self.ident();
            let name = name.to_string();
            self.ws();
            let (field, vspan, text, quoted) = if self.peek() == Some(b'=') && !name.is_empty() {
                self.at += 1;
                let (vspan, text, quoted) = self.value()?;
                (name, vspan, text, quoted)
            } else if matches!(l.base, Layer::Raw(_)) {
                // raw('text'): a positional value is text.
                self.at = save;
                let (vspan, text, quoted) = self.value()?;
                ("text".to_string(), vspan, text, quoted)
            } else {
                let end = nspan.end.max(nspan.start + 1).min(self.s.len());
                return err(nspan.start..end, "expected field=value");
            };
            let fspan = nspan.start..vspan.end;
            let (name, spec) = field_spec(&l.base, &field, &text, quoted, self.mode)
                .or_else(|m| err(if m.1 { nspan.clone() } else { vspan.clone() }, m.0))?;
            if l.fields.iter().any(|(n, _)| *n == name) {
                return err(fspan, format!("field `{name}` given twice"));
            }
            l.fields.push((name, spec));
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b')') => {
                    self.at += 1;
                    return Ok(l);
                }
                _ => {
                    let end = (self.at + 1).min(self.s.len()).max(self.at);
                    return err(self.at..end, "expected `,` or `)`");
                }
            }
        }
    }
}

/// Parse `text` for field `name` of `layer`. Errors say whether they are
/// about the name (true) or the value (false).
fn field_spec(
    layer: &Layer,
    name: &str,
    text: &str,
    quoted: bool,
    mode: Mode,
) -> Result<(&'static str, FieldSpec), (String, bool)> {
    let bad = |m: String| Err((m, false));
    if matches!(layer, Layer::Raw(_)) && name == "text" {
        return Ok((
            "hex",
            FieldSpec::One(Value::Bytes(text.as_bytes().to_vec())),
        ));
    }
    let Some(&(fname, kind)) = layer.field_kinds().iter().find(|(n, _)| *n == name) else {
        let names: Vec<_> = layer.field_kinds().iter().map(|(n, _)| *n).collect();
        let extra = if matches!(layer, Layer::Raw(_)) {
            ", text"
        } else {
            ""
        };
        return Err((
            format!(
                "{} has no field `{name}` (fields: {}{extra})",
                layer.keyword(),
                names.join(", ")
            ),
            true,
        ));
    };
    if text.is_empty() && kind != Kind::Bytes {
        return bad(format!("`{name}` needs a value"));
    }
    let t = text.trim();
    if t == "*" && !quoted {
        return match mode {
            Mode::Send => bad(format!(
                "`{name}=*` (any value) is for expected packets, not frames to send"
            )),
            Mode::Match | Mode::Each => Ok((fname, FieldSpec::Any)),
        };
    }
    if let (Some(sign @ ('+' | '-')), false) = (t.chars().next(), quoted) {
        let why = match (mode, kind) {
            (Mode::Each, Kind::Uint { .. }) => match t[1..].trim().parse::<i64>() {
                Ok(n) => return Ok((fname, FieldSpec::Delta(if sign == '-' { -n } else { n }))),
                Err(_) => format!("`{name}`: invalid change `{t}` (e.g. {name}=-1)"),
            },
            (Mode::Each, _) => format!("`{name}`: only number fields take a change like `{sign}1`"),
            _ => format!(
                "`{name}={t}`: a change relative to the sent frame is only for `each` expectations"
            ),
        };
        return bad(why);
    }
    let spec = match kind {
        Kind::Uint { bits, .. } => {
            let max = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let num = |t: &str| -> Result<u64, String> {
                let t = t.trim();
                let v = match t {
                    "true" | "yes" if bits == 1 => Ok(1),
                    "false" | "no" if bits == 1 => Ok(0),
                    _ => match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                        Some(h) => u64::from_str_radix(h, 16),
                        None => t.parse::<u64>(),
                    }
                    .map_err(|_| format!("`{name}`: invalid number `{t}`")),
                }?;
                if v > max {
                    return Err(format!(
                        "`{name}`: {v} does not fit in {bits} bits (max {max})"
                    ));
                }
                Ok(v)
            };
            match text.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        num(a).map_err(|m| (m, false))?,
                        num(b).map_err(|m| (m, false))?,
                    );
                    if a > b {
                        return bad(format!("`{name}`: range start {a} is above its end {b}"));
                    }
                    FieldSpec::Range(a, b)
                }
                None => FieldSpec::One(Value::U(num(text).map_err(|m| (m, false))?)),
            }
        }
        Kind::Flags => {
            let t = text.trim();
            let v = if t.bytes().all(|b| b.is_ascii_digit()) || t.starts_with("0x") {
                let n = match t.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => t.parse(),
                };
                match n {
                    Ok(n) if n <= 255 => n,
                    _ => return bad(format!("`{name}`: invalid TCP flags `{t}`")),
                }
            } else {
                match t.parse::<TcpFlags>() {
                    Ok(f) => u64::from(f.0),
                    Err(e) => return bad(format!("`{name}`: {e}")),
                }
            };
            FieldSpec::One(Value::U(v))
        }
        Kind::Mac => match text.trim().parse::<MacAddr>() {
            Ok(m) => FieldSpec::One(Value::Mac(m)),
            Err(e) => return bad(format!("`{name}`: {e}")),
        },
        Kind::Ipv4 | Kind::Ipv6 => {
            let r: IpRange = match text.trim().parse() {
                Ok(r) => r,
                Err(e) => return bad(format!("`{name}`: {e}")),
            };
            if r.is_v6() != (kind == Kind::Ipv6) {
                let fam = if kind == Kind::Ipv6 { "IPv6" } else { "IPv4" };
                return bad(format!("`{name}` takes an {fam} address"));
            }
            if r.len() == 1 {
                FieldSpec::One(Value::Ip(r.first()))
            } else {
                FieldSpec::Ips(r)
            }
        }
        Kind::Bytes => {
            let _ = quoted;
            let h: String = text
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ':')
                .collect();
            let h = h.strip_prefix("0x").unwrap_or(&h);
            if h.len() % 2 != 0 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad(format!(
                    "`{name}`: invalid hex bytes `{text}` (e.g. 'dead beef'; raw(text='..') for text)"
                ));
            }
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0))
                .collect();
            FieldSpec::One(Value::Bytes(bytes))
        }
    };
    Ok((fname, spec))
}
