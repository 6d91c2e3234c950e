//! Patterns over frames, in the frame notation: what an expectation says a
//! captured frame looks like.
//!
//! `eth() / dot1q(vid=10) / ipv4(ttl=63, dst=198.51.100.0-198.51.100.9) / udp(dport=9)`
//! matches a frame whose first layers are, in this order, Ethernet, an
//! 802.1Q tag with VID 10, IPv4 with TTL 63 and a destination in the range,
//! and UDP to port 9. A field left out (or written `*`) is don't-care, ranges
//! and prefixes take any of their values, and layers after the last one
//! written are don't-care too.
//!
//! A transform pattern (`each`) describes the frame that comes out of the
//! system for each frame sent: fields left out keep the sent frame's value,
//! `ttl=-1` is the sent value minus one, `*` is any value. Its layers are
//! paired with the sent frame's by keyword from the innermost out (see
//! [`FramePattern::expected_for`]): a written layer the sent frame lacks was
//! added on the way (an outer tunnel header: only the fields written are
//! checked), a sent layer not written was removed (a popped VLAN tag), and
//! the frame must have exactly the layers written. Lengths, checksums and
//! next-protocol numbers are never carried over: they follow the rest.

use super::notation::Mode;
use super::{FieldSpec, Frame, FrameParseError, FrameSpec, Kind, Layer, LayerSpec, Value};

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePattern {
    pub layers: Vec<LayerSpec>,
    /// The frame must have exactly these layers (a resolved transform), not
    /// just begin with them.
    pub exact: bool,
}

/// One compared field of a frame against a pattern, for a side-by-side
/// report: `field` is `ipv4.ttl` (`eth[2].dst` for the second `eth`), or
/// `layer 3` when the layers themselves differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub field: String,
    pub expected: String,
    pub observed: String,
    pub ok: bool,
}

/// A transform that cannot be applied to a sent frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransformError(pub String);

impl FramePattern {
    /// A pattern: values, ranges, prefixes and `*`.
    pub fn parse(s: &str) -> Result<FramePattern, FrameParseError> {
        Ok(FramePattern {
            layers: FrameSpec::parse_mode(s, Mode::Match)?.layers,
            exact: false,
        })
    }

    /// A transform pattern: also `+N`/`-N` relative to the sent frame.
    pub fn parse_each(s: &str) -> Result<FramePattern, FrameParseError> {
        Ok(FramePattern {
            layers: FrameSpec::parse_mode(s, Mode::Each)?.layers,
            exact: true,
        })
    }

    /// The frames a transform pattern admits whatever was sent: changes
    /// (`-1`) become don't-care. What counts arrivals before pairing them.
    pub fn shape(&self) -> FramePattern {
        let mut p = self.clone();
        for l in &mut p.layers {
            for (_, f) in &mut l.fields {
                if matches!(f, FieldSpec::Delta(_)) {
                    *f = FieldSpec::Any;
                }
            }
        }
        p
    }

    /// Whether `f` satisfies every layer and field of the pattern.
    pub fn matches(&self, f: &Frame) -> bool {
        if f.layers.len() < self.layers.len() || (self.exact && f.layers.len() != self.layers.len())
        {
            return false;
        }
        self.layers.iter().zip(&f.layers).all(|(p, l)| {
            p.base.keyword() == l.keyword()
                && p.fields.iter().all(|(n, s)| {
                    matches!(s, FieldSpec::Any) || l.get(n).is_some_and(|v| s.contains(&v))
                })
        })
    }

    /// Every layer and field the pattern constrains, against `f`: what a
    /// side-by-side report shows. Don't-care fields are left out.
    pub fn rows(&self, f: &Frame) -> Vec<Row> {
        let names = layer_names(self.layers.iter().map(|l| l.base.keyword()));
        let mut rows = Vec::new();
        for (i, p) in self.layers.iter().enumerate() {
            let kw = p.base.keyword();
            match f.layers.get(i) {
                Some(l) if l.keyword() == kw => {
                    for (n, s) in &p.fields {
                        if matches!(s, FieldSpec::Any) {
                            continue;
                        }
                        let kind = p.base.field_kind(n).unwrap_or(Kind::Bytes);
                        let got = l.get(n);
                        rows.push(Row {
                            field: format!("{}.{n}", names[i]),
                            expected: shown(s.show(kind)),
                            observed: got
                                .as_ref()
                                .map_or("(none)".into(), |v| shown(kind.show(v))),
                            ok: got.is_some_and(|v| s.contains(&v)),
                        });
                    }
                }
                other => rows.push(Row {
                    field: format!("layer {}", i + 1),
                    expected: kw.to_string(),
                    observed: other.map_or("(none)".into(), |l| l.keyword().to_string()),
                    ok: false,
                }),
            }
        }
        if self.exact {
            for (i, l) in f.layers.iter().enumerate().skip(self.layers.len()) {
                rows.push(Row {
                    field: format!("layer {}", i + 1),
                    expected: "(none)".into(),
                    observed: l.keyword().to_string(),
                    ok: false,
                });
            }
        }
        rows
    }

    /// How many of [`FramePattern::rows`] differ: 0 when `f` matches.
    pub fn mismatches(&self, f: &Frame) -> usize {
        self.rows(f).iter().filter(|r| !r.ok).count()
    }

    /// The pattern the frame that `sent` causes must match: this transform
    /// pattern with the sent frame's values where it leaves fields out, and
    /// its changes applied. Layers are paired by keyword from the innermost
    /// out (the longest common sequence of keywords, innermost pairs first).
    pub fn expected_for(&self, sent: &Frame) -> Result<FramePattern, TransformError> {
        let pairs = pair_layers(&self.layers, &sent.layers);
        let names = layer_names(self.layers.iter().map(|l| l.base.keyword()));
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, p) in self.layers.iter().enumerate() {
            let mut l = LayerSpec {
                base: p.base.clone(),
                fields: Vec::new(),
            };
            let src = pairs[i].map(|k| &sent.layers[k]);
            for &(name, kind) in p.base.field_kinds() {
                let given = p.fields.iter().find(|(n, _)| *n == name).map(|(_, s)| s);
                let spec = match (given, src) {
                    (Some(FieldSpec::Any), _) => continue,
                    (Some(FieldSpec::Delta(d)), Some(s)) => {
                        let Some(Value::U(v)) = s.get(name) else {
                            return Err(TransformError(format!(
                                "`{}.{name}={d:+}`: the sent frame has no {name}",
                                names[i]
                            )));
                        };
                        let max = match kind {
                            Kind::Uint { bits, .. } if bits < 64 => (1u64 << bits) - 1,
                            _ => u64::MAX,
                        };
                        match v.checked_add_signed(*d).filter(|n| *n <= max) {
                            Some(n) => FieldSpec::One(Value::U(n)),
                            None => {
                                return Err(TransformError(format!(
                                    "`{}.{name}={d:+}`: the sent frame's {name} is {v}, so the result is out of range",
                                    names[i]
                                )))
                            }
                        }
                    }
                    (Some(FieldSpec::Delta(d)), None) => {
                        return Err(TransformError(format!(
                            "`{}.{name}={d:+}`: the sent frame has no {} layer to change (a layer it lacks is added on the way; write its values)",
                            names[i],
                            p.base.keyword()
                        )))
                    }
                    (Some(s), _) => s.clone(),
                    (None, Some(s)) if !derived(&p.base, name) => match s.get(name) {
                        Some(v) => FieldSpec::One(v),
                        None => continue,
                    },
                    (None, _) => continue,
                };
                l.fields.push((name, spec));
            }
            out.push(l);
        }
        Ok(FramePattern {
            layers: out,
            exact: true,
        })
    }
}

/// No bytes, as the notation writes them.
fn shown(s: String) -> String {
    if s.is_empty() {
        "''".into()
    } else {
        s
    }
}

/// Fields that follow from the others (lengths, checksums, next-protocol
/// numbers, MPLS bottom of stack): a transform does not carry them over.
fn derived(layer: &Layer, field: &str) -> bool {
    match layer {
        Layer::Eth(_) | Layer::Dot1q(_) | Layer::Dot1ad(_) => field == "type",
        Layer::Mpls(_) => field == "s",
        Layer::Gre(_) => field == "proto",
        _ => matches!(
            field,
            "proto" | "ihl" | "len" | "checksum" | "nh" | "plen" | "doff"
        ),
    }
}

/// Report names of layers: the keyword, with `[n]` from the second of a kind.
fn layer_names<'a>(kws: impl Iterator<Item = &'a str>) -> Vec<String> {
    let kws: Vec<&str> = kws.collect();
    kws.iter()
        .enumerate()
        .map(|(i, k)| {
            let nth = kws[..i].iter().filter(|x| *x == k).count();
            if nth == 0 {
                k.to_string()
            } else {
                format!("{k}[{}]", nth + 1)
            }
        })
        .collect()
}

/// For each pattern layer, the sent layer it stands for: the longest common
/// sequence of keywords, taking pairs from the innermost layers first (a
/// tunnel adds outer layers; the payload is the sent one's).
fn pair_layers(pat: &[LayerSpec], sent: &[Layer]) -> Vec<Option<usize>> {
    let (n, m) = (pat.len(), sent.len());
    // lcs[i][j]: over pat[i..] and sent[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if pat[i].base.keyword() == sent[j].keyword() {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // Walk from the outermost, skipping an outer layer whenever the rest
    // still pairs as many: the pairs land on the innermost layers.
    let mut out = vec![None; n];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if lcs[i + 1][j] == lcs[i][j] {
            i += 1;
        } else if lcs[i][j + 1] == lcs[i][j] {
            j += 1;
        } else {
            out[i] = Some(j);
            i += 1;
            j += 1;
        }
    }
    out
}

impl Frame {
    /// The innermost payload (a last [`Layer::Raw`]), or nothing: what pairs
    /// a frame that came out with the one sent.
    pub fn payload(&self) -> &[u8] {
        match self.layers.last() {
            Some(Layer::Raw(r)) => &r.data,
            _ => &[],
        }
    }
}
