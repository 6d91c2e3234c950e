//! Payload tags: 20 bytes at the start of the L4 payload that survive header
//! rewriting (NAT, tunnels), so a receiver can tell loss, duplication,
//! reordering and misrouting apart.
//!
//! Layout (network byte order): magic `NRTG` (4), stream id u32, sequence u64,
//! source id u16, intended destination id u16.

/// Marker at the start of every tag.
pub const TAG_MAGIC: [u8; 4] = *b"NRTG";
/// Encoded length in bytes.
pub const TAG_LEN: usize = 20;
/// Offset of the sequence number inside the tag (even, so checksum updates
/// stay word-aligned).
pub const TAG_SEQ_OFFSET: usize = 8;

/// A decoded payload tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub stream: u32,
    pub seq: u64,
    pub src: u16,
    pub dst: u16,
}

impl Tag {
    /// Encode into the first [`TAG_LEN`] bytes of `buf`; `None` if too short.
    pub fn write(&self, buf: &mut [u8]) -> Option<()> {
        let b = buf.get_mut(..TAG_LEN)?;
        b[0..4].copy_from_slice(&TAG_MAGIC);
        b[4..8].copy_from_slice(&self.stream.to_be_bytes());
        b[8..16].copy_from_slice(&self.seq.to_be_bytes());
        b[16..18].copy_from_slice(&self.src.to_be_bytes());
        b[18..20].copy_from_slice(&self.dst.to_be_bytes());
        Some(())
    }

    /// The encoded bytes.
    pub fn to_bytes(&self) -> [u8; TAG_LEN] {
        let mut b = [0u8; TAG_LEN];
        // Cannot fail: the buffer has exactly TAG_LEN bytes.
        let _ = self.write(&mut b);
        b
    }

    /// Decode a tag from the start of an L4 payload; `None` without the magic.
    pub fn parse(payload: &[u8]) -> Option<Tag> {
        let b = payload.get(..TAG_LEN)?;
        if b[0..4] != TAG_MAGIC {
            return None;
        }
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[8..16]);
        Some(Tag {
            stream: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            seq: u64::from_be_bytes(seq),
            src: u16_at(16),
            dst: u16_at(18),
        })
    }

    /// Find the tag in a whole Ethernet frame (IPv4/IPv6, UDP/TCP/ICMP).
    pub fn from_frame(frame: &[u8]) -> Option<Tag> {
        let p = etherparse::SlicedPacket::from_ethernet(frame).ok()?;
        let payload = match p.transport? {
            etherparse::TransportSlice::Udp(u) => u.payload(),
            etherparse::TransportSlice::Tcp(t) => t.payload(),
            etherparse::TransportSlice::Icmpv4(i) => i.payload(),
            etherparse::TransportSlice::Icmpv6(i) => i.payload(),
            _ => return None,
        };
        Tag::parse(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let t = Tag {
            stream: 0xdead_beef,
            seq: 0x0102_0304_0506_0708,
            src: 7,
            dst: 65535,
        };
        let b = t.to_bytes();
        assert_eq!(&b[..4], b"NRTG");
        assert_eq!(Tag::parse(&b), Some(t));
        let mut bad = b;
        bad[0] = b'X';
        assert_eq!(Tag::parse(&bad), None);
        assert_eq!(Tag::parse(&b[..19]), None);
    }
}
