//! Frames as an ordered stack of layers with named fields: the one model that
//! the scenario notation ([`FrameSpec`], scapy-like
//! `eth() / dot1q(vid=10) / ipv4(dst=203.0.113.1) / udp() / raw(text='hi')`),
//! the builder ([`Frame::build`]) and the decoder ([`Frame::decode`]) share.
//!
//! Every layer is a struct below, declared with `layer!` so that its
//! notation names, field kinds, getters and setters come from one list.
//! Fields the builder can work out (lengths, checksums, next-protocol
//! numbers, the MPLS bottom-of-stack bit) are `Option`s: `None` means "fill
//! in", `Some` is sent as given, even when wrong. The decoder fills every one
//! of them with what the bytes say, so `Frame::decode(&f.build())` equals `f`
//! with its blanks filled. Expectations on captured frames are patterns in
//! the same notation ([`FramePattern`]), matched against the decoder's
//! layers.

mod codec;
mod notation;
mod pattern;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::{MacAddr, TcpFlags};

pub use codec::{Spanned, ETHERTYPE_EXPERIMENTAL};
pub use notation::{FieldSpec, FrameParseError, FrameSpec, LayerSpec};
pub use pattern::{FramePattern, Row, TransformError};

/// One field's value, whatever its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Integers, booleans (0/1) and TCP flags.
    U(u64),
    Mac(MacAddr),
    Ip(IpAddr),
    Bytes(Vec<u8>),
}

/// How a field is written and read in the notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An unsigned integer of `bits` bits, shown in hex when `hex`.
    Uint {
        bits: u8,
        hex: bool,
    },
    /// TCP flags: `syn+ack` or a number.
    Flags,
    Mac,
    Ipv4,
    Ipv6,
    /// Bytes in hex (`dead beef`, `0xdeadbeef`) or quoted text.
    Bytes,
}

const fn uint(bits: u8) -> Kind {
    Kind::Uint { bits, hex: false }
}
const fn hex(bits: u8) -> Kind {
    Kind::Uint { bits, hex: true }
}
const BOOL: Kind = uint(1);

impl Kind {
    /// `v` as the notation writes it.
    pub fn show(self, v: &Value) -> String {
        match (self, v) {
            (Kind::Uint { bits, hex: true }, Value::U(n)) => {
                format!("0x{:0w$x}", n, w = usize::from(bits).div_ceil(4))
            }
            (Kind::Flags, Value::U(n)) => TcpFlags(*n as u8).to_string(),
            (_, Value::U(n)) => n.to_string(),
            (_, Value::Mac(m)) => m.to_string(),
            (_, Value::Ip(ip)) => ip.to_string(),
            (_, Value::Bytes(b)) => hex_string(b),
        }
    }
}

/// Lower-case hex, no separators.
pub fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A Rust type a field can have.
pub trait FieldType: Sized {
    fn to_value(&self) -> Option<Value>;
    fn from_value(v: Value) -> Option<Self>;
}

macro_rules! uint_field {
    ($($t:ty),*) => {$(
        impl FieldType for $t {
            fn to_value(&self) -> Option<Value> {
                Some(Value::U(u64::from(*self)))
            }
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::U(n) => <$t>::try_from(n).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
uint_field!(u8, u16, u32);

impl FieldType for bool {
    fn to_value(&self) -> Option<Value> {
        Some(Value::U(u64::from(*self)))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::U(n) if n <= 1 => Some(n == 1),
            _ => None,
        }
    }
}

impl FieldType for TcpFlags {
    fn to_value(&self) -> Option<Value> {
        Some(Value::U(u64::from(self.0)))
    }
    fn from_value(v: Value) -> Option<Self> {
        u8::from_value(v).map(TcpFlags)
    }
}

impl FieldType for MacAddr {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Mac(*self))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Mac(m) => Some(m),
            _ => None,
        }
    }
}

impl FieldType for Ipv4Addr {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Ip((*self).into()))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Ip(IpAddr::V4(a)) => Some(a),
            _ => None,
        }
    }
}

impl FieldType for Ipv6Addr {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Ip((*self).into()))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Ip(IpAddr::V6(a)) => Some(a),
            _ => None,
        }
    }
}

impl FieldType for Vec<u8> {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Bytes(self.clone()))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl<T: FieldType> FieldType for Option<T> {
    fn to_value(&self) -> Option<Value> {
        self.as_ref().and_then(T::to_value)
    }
    fn from_value(v: Value) -> Option<Self> {
        T::from_value(v).map(Some)
    }
}

/// Declares a layer struct with its notation field names and kinds; the
/// getters and setters come from the same list.
macro_rules! layer {
    (
        $(#[$m:meta])*
        $name:ident {
            $($(#[$fm:meta])* $f:ident $fname:literal : $ty:ty = $kind:expr,)*
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fm])* pub $f: $ty,)*
        }

        impl $name {
            /// The fields in notation order: name and kind.
            pub const FIELDS: &'static [(&'static str, Kind)] = &[$(($fname, $kind)),*];

            /// A field's value; `None` for an unknown name or a blank.
            pub fn get(&self, field: &str) -> Option<Value> {
                match field {
                    $($fname => FieldType::to_value(&self.$f),)*
                    _ => None,
                }
            }

            /// Set a field; false if the name is unknown or the value does
            /// not fit (the notation checks both before).
            pub fn set(&mut self, field: &str, v: Value) -> bool {
                match field {
                    $($fname => match FieldType::from_value(v) {
                        Some(x) => {
                            self.$f = x;
                            true
                        }
                        None => false,
                    },)*
                    _ => false,
                }
            }
        }
    };
}

layer! {
    /// Ethernet II.
    Eth {
        dst "dst": MacAddr = Kind::Mac,
        src "src": MacAddr = Kind::Mac,
        /// From the next layer; [`ETHERTYPE_EXPERIMENTAL`] before a payload.
        ty "type": Option<u16> = hex(16),
    }
}

layer! {
    /// An 802.1Q (`dot1q`) or 802.1ad (`dot1ad`) tag; the variant of
    /// [`Layer`] gives its TPID.
    Vlan {
        pcp "pcp": u8 = uint(3),
        dei "dei": bool = BOOL,
        vid "vid": u16 = uint(12),
        ty "type": Option<u16> = hex(16),
    }
}

layer! {
    /// ARP for IPv4 over Ethernet (hardware type 1, protocol 0x0800).
    Arp {
        op "op": u16 = uint(16),
        sha "sha": MacAddr = Kind::Mac,
        spa "spa": Ipv4Addr = Kind::Ipv4,
        tha "tha": MacAddr = Kind::Mac,
        tpa "tpa": Ipv4Addr = Kind::Ipv4,
    }
}

layer! {
    /// One MPLS label stack entry.
    Mpls {
        label "label": u32 = uint(20),
        tc "tc": u8 = uint(3),
        /// Bottom of stack: set when the next layer is not MPLS.
        s "s": Option<bool> = BOOL,
        ttl "ttl": u8 = uint(8),
    }
}

layer! {
    /// IPv4; `options` are padded with zeros (end of list) to 32 bits.
    Ipv4 {
        src "src": Ipv4Addr = Kind::Ipv4,
        dst "dst": Ipv4Addr = Kind::Ipv4,
        tos "tos": u8 = hex(8),
        id "id": u16 = uint(16),
        df "df": bool = BOOL,
        mf "mf": bool = BOOL,
        /// Fragment offset in units of 8 bytes.
        frag "frag": u16 = uint(13),
        ttl "ttl": u8 = uint(8),
        proto "proto": Option<u8> = uint(8),
        options "options": Vec<u8> = Kind::Bytes,
        ihl "ihl": Option<u8> = uint(4),
        len "len": Option<u16> = uint(16),
        checksum "checksum": Option<u16> = hex(16),
    }
}

layer! {
    /// IPv6 fixed header.
    Ipv6 {
        src "src": Ipv6Addr = Kind::Ipv6,
        dst "dst": Ipv6Addr = Kind::Ipv6,
        tc "tc": u8 = hex(8),
        fl "fl": u32 = hex(20),
        hlim "hlim": u8 = uint(8),
        nh "nh": Option<u8> = uint(8),
        plen "plen": Option<u16> = uint(16),
    }
}

layer! {
    /// IPv6 hop-by-hop (`hbh`) or destination (`dstopts`) options header;
    /// `options` are padded with Pad1/PadN to a multiple of 8 bytes.
    #[derive(Default)]
    Ext {
        nh "nh": Option<u8> = uint(8),
        len "len": Option<u8> = uint(8),
        options "options": Vec<u8> = Kind::Bytes,
    }
}

layer! {
    /// IPv6 routing header; `data` is what follows segments left (type
    /// specific), zero-padded to the header's 8-byte units.
    #[derive(Default)]
    Routing {
        nh "nh": Option<u8> = uint(8),
        len "len": Option<u8> = uint(8),
        rtype "type": u8 = uint(8),
        segleft "segleft": u8 = uint(8),
        data "data": Vec<u8> = Kind::Bytes,
    }
}

layer! {
    /// IPv6 fragment header.
    #[derive(Default)]
    Frag6 {
        nh "nh": Option<u8> = uint(8),
        /// Offset in units of 8 bytes.
        offset "offset": u16 = uint(13),
        m "m": bool = BOOL,
        id "id": u32 = hex(32),
    }
}

layer! {
    /// ICMP; `id` and `seq` are bytes 4..8 whatever the type.
    Icmp {
        ty "type": u8 = uint(8),
        code "code": u8 = uint(8),
        checksum "checksum": Option<u16> = hex(16),
        id "id": u16 = uint(16),
        seq "seq": u16 = uint(16),
    }
}

layer! {
    /// ICMPv6. Bytes 4.. depend on the type: router solicitation (133),
    /// router advertisement (134: `hlim`, `flags`, `lifetime`, `reachable`,
    /// `retrans`), neighbor solicitation (135: `target`) and advertisement
    /// (136: `flags` R=0x80 S=0x40 O=0x20, `target`) end with the source
    /// (`sll`) and target (`tll`) link-layer address options; every other
    /// type has `id` and `seq` in bytes 4..8.
    Icmpv6 {
        ty "type": u8 = uint(8),
        code "code": u8 = uint(8),
        checksum "checksum": Option<u16> = hex(16),
        id "id": u16 = uint(16),
        seq "seq": u16 = uint(16),
        target "target": Option<Ipv6Addr> = Kind::Ipv6,
        flags "flags": u8 = hex(8),
        hlim "hlim": u8 = uint(8),
        lifetime "lifetime": u16 = uint(16),
        reachable "reachable": u32 = uint(32),
        retrans "retrans": u32 = uint(32),
        sll "sll": Option<MacAddr> = Kind::Mac,
        tll "tll": Option<MacAddr> = Kind::Mac,
    }
}

layer! {
    /// UDP; `dport` defaults to 4789 before VXLAN, 9 (discard) otherwise.
    Udp {
        sport "sport": u16 = uint(16),
        dport "dport": Option<u16> = uint(16),
        len "len": Option<u16> = uint(16),
        checksum "checksum": Option<u16> = hex(16),
    }
}

layer! {
    /// TCP; `options` are padded with zeros (end of list) to 32 bits.
    Tcp {
        sport "sport": u16 = uint(16),
        dport "dport": u16 = uint(16),
        seq "seq": u32 = uint(32),
        ack "ack": u32 = uint(32),
        flags "flags": TcpFlags = Kind::Flags,
        window "window": u16 = uint(16),
        urg "urg": u16 = uint(16),
        options "options": Vec<u8> = Kind::Bytes,
        doff "doff": Option<u8> = uint(4),
        checksum "checksum": Option<u16> = hex(16),
    }
}

layer! {
    /// VXLAN (RFC 7348); flags 0x08 says the VNI is valid.
    Vxlan {
        flags "flags": u8 = hex(8),
        vni "vni": u32 = uint(24),
    }
}

layer! {
    /// GRE (RFC 2890) version 0; a key or sequence number given sets its
    /// flag bit.
    #[derive(Default)]
    Gre {
        proto "proto": Option<u16> = hex(16),
        key "key": Option<u32> = uint(32),
        seq "seq": Option<u32> = uint(32),
    }
}

layer! {
    /// Payload bytes: `raw(hex='dead beef')`, `raw(text='hi')` or `raw('hi')`.
    #[derive(Default)]
    Raw {
        data "hex": Vec<u8> = Kind::Bytes,
    }
}

impl Default for Eth {
    fn default() -> Self {
        Eth {
            dst: MacAddr::BROADCAST,
            src: MacAddr([0x02, 0, 0, 0, 0, 1]),
            ty: None,
        }
    }
}

impl Default for Vlan {
    fn default() -> Self {
        Vlan {
            pcp: 0,
            dei: false,
            vid: 1,
            ty: None,
        }
    }
}

impl Default for Arp {
    fn default() -> Self {
        Arp {
            op: 1,
            sha: MacAddr([0x02, 0, 0, 0, 0, 1]),
            spa: Ipv4Addr::new(192, 0, 2, 1),
            tha: MacAddr::default(),
            tpa: Ipv4Addr::new(192, 0, 2, 2),
        }
    }
}

impl Default for Mpls {
    fn default() -> Self {
        Mpls {
            label: 16,
            tc: 0,
            s: None,
            ttl: 64,
        }
    }
}

impl Default for Ipv4 {
    fn default() -> Self {
        Ipv4 {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
            tos: 0,
            id: 0,
            df: false,
            mf: false,
            frag: 0,
            ttl: 64,
            proto: None,
            options: Vec::new(),
            ihl: None,
            len: None,
            checksum: None,
        }
    }
}

impl Default for Ipv6 {
    fn default() -> Self {
        Ipv6 {
            src: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            dst: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
            tc: 0,
            fl: 0,
            hlim: 64,
            nh: None,
            plen: None,
        }
    }
}

impl Default for Icmp {
    fn default() -> Self {
        Icmp {
            ty: 8,
            code: 0,
            checksum: None,
            id: 0,
            seq: 0,
        }
    }
}

impl Default for Icmpv6 {
    fn default() -> Self {
        Icmpv6 {
            ty: 128,
            code: 0,
            checksum: None,
            id: 0,
            seq: 0,
            target: None,
            flags: 0,
            hlim: 0,
            lifetime: 0,
            reachable: 0,
            retrans: 0,
            sll: None,
            tll: None,
        }
    }
}

impl Default for Udp {
    fn default() -> Self {
        Udp {
            sport: 1024,
            dport: None,
            len: None,
            checksum: None,
        }
    }
}

impl Default for Tcp {
    fn default() -> Self {
        Tcp {
            sport: 1024,
            dport: 80,
            seq: 0,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65535,
            urg: 0,
            options: Vec::new(),
            doff: None,
            checksum: None,
        }
    }
}

impl Default for Vxlan {
    fn default() -> Self {
        Vxlan {
            flags: 0x08,
            vni: 0,
        }
    }
}

/// Declares [`Layer`] and its per-variant dispatch from one list.
macro_rules! layers {
    ($($(#[$m:meta])* $variant:ident($ty:ident) = $kw:literal,)*) => {
        /// One layer of a frame.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Layer {
            $($(#[$m])* $variant($ty),)*
        }

        impl Layer {
            /// Every notation keyword, in the order [`Layer`] lists them.
            pub const KEYWORDS: &'static [&'static str] = &[$($kw),*];

            /// The layer's notation keyword.
            pub fn keyword(&self) -> &'static str {
                match self {
                    $(Layer::$variant(_) => $kw,)*
                }
            }

            /// A layer with default fields for `keyword`.
            pub fn new(keyword: &str) -> Option<Layer> {
                match keyword {
                    $($kw => Some(Layer::$variant($ty::default())),)*
                    _ => None,
                }
            }

            /// The layer's field names and kinds, in notation order.
            pub fn field_kinds(&self) -> &'static [(&'static str, Kind)] {
                match self {
                    $(Layer::$variant(_) => $ty::FIELDS,)*
                }
            }

            /// A field's value; `None` for a blank or an unknown name.
            pub fn get(&self, field: &str) -> Option<Value> {
                match self {
                    $(Layer::$variant(l) => l.get(field),)*
                }
            }

            /// Set a field; false if the name is unknown or the value does
            /// not fit.
            pub fn set(&mut self, field: &str, v: Value) -> bool {
                match self {
                    $(Layer::$variant(l) => l.set(field, v),)*
                }
            }
        }
    };
}

layers! {
    Eth(Eth) = "eth",
    /// 802.1Q tag (TPID 0x8100).
    Dot1q(Vlan) = "dot1q",
    /// 802.1ad service tag (TPID 0x88a8).
    Dot1ad(Vlan) = "dot1ad",
    Arp(Arp) = "arp",
    Mpls(Mpls) = "mpls",
    Ipv4(Ipv4) = "ipv4",
    Ipv6(Ipv6) = "ipv6",
    /// IPv6 hop-by-hop options (next header 0).
    HopByHop(Ext) = "hbh",
    /// IPv6 routing header (43).
    Routing(Routing) = "routing",
    /// IPv6 fragment header (44).
    Frag6(Frag6) = "frag6",
    /// IPv6 destination options (60).
    DestOpts(Ext) = "dstopts",
    Icmp(Icmp) = "icmp",
    Icmpv6(Icmpv6) = "icmpv6",
    Udp(Udp) = "udp",
    Tcp(Tcp) = "tcp",
    Vxlan(Vxlan) = "vxlan",
    Gre(Gre) = "gre",
    Raw(Raw) = "raw",
}

impl Layer {
    /// The kind of field `name`, if the layer has it.
    pub fn field_kind(&self, name: &str) -> Option<Kind> {
        self.field_kinds()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }

    /// Every field with a value, as the notation writes it.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        self.field_kinds()
            .iter()
            .filter_map(|(n, k)| self.get(n).map(|v| (*n, k.show(&v))))
            .collect()
    }
}

impl fmt::Display for Layer {
    /// The notation of this layer with every field that has a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.keyword())?;
        for (i, (n, v)) in self.fields().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            if v.is_empty() {
                write!(f, "{n}=''")?;
            } else {
                write!(f, "{n}={v}")?;
            }
        }
        write!(f, ")")
    }
}

/// A frame: layers outermost first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub layers: Vec<Layer>,
}

impl fmt::Display for Frame {
    /// The notation, which [`FrameSpec`] parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.layers.iter().enumerate() {
            if i > 0 {
                write!(f, " / ")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}
