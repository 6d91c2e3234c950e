//! Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! The generator patches a pre-built frame per packet; recomputing the whole
//! checksum each time would cost more than the send itself for small frames.

/// One's complement sum of `data` as big-endian 16-bit words, added to `acc`.
/// An odd trailing byte is padded with zero. The result is not folded.
pub fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Fold a wide sum to 16 bits with end-around carry.
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for `data` (complement of the folded sum).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word `old` -> `new`.
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!hc) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

/// Incremental update for a field that changed from `old` to `new`. Both must
/// have the same even length and start at an even offset of the checksummed
/// data (true for addresses, ports and the tag sequence).
pub fn update(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    debug_assert_eq!(old.len() % 2, 0);
    let mut acc = u64::from(!hc);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        acc += u64::from(!u16::from_be_bytes([o[0], o[1]]));
        acc += u64::from(u16::from_be_bytes([n[0], n[1]]));
    }
    !fold(acc)
}

/// Sum of the IPv4 or IPv6 pseudo header (addresses, protocol, L4 length).
pub fn pseudo_header_sum(src: &[u8], dst: &[u8], proto: u8, l4_len: u32) -> u64 {
    let mut acc = sum(src, 0);
    acc = sum(dst, acc);
    acc += u64::from(proto);
    acc += u64::from(l4_len >> 16) + u64::from(l4_len & 0xffff);
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // The worked example of RFC 1071 section 3: sum is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn incremental_equals_full_for_many_random_patches() {
        // xorshift: deterministic, no rand dependency.
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut data: Vec<u8> = (0..64).map(|_| rnd() as u8).collect();
        let mut hc = checksum(&data);
        for _ in 0..100_000 {
            let off = (rnd() as usize % 31) * 2;
            let len = 2 * (1 + rnd() as usize % 4).min((64 - off) / 2);
            let old = data[off..off + len].to_vec();
            let new: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            data[off..off + len].copy_from_slice(&new);
            hc = update(hc, &old, &new);
            // One's complement has two zeros; compare modulo that.
            let full = checksum(&data);
            assert!(
                hc == full || (hc ^ full == 0xffff && (hc == 0 || full == 0)),
                "{hc:#x} vs {full:#x}"
            );
        }
    }

    #[test]
    fn update16_matches() {
        let mut data = [0x45u8, 0, 0, 20, 0xab, 0xcd, 0, 0];
        let hc = checksum(&data);
        data[4] = 0x12;
        data[5] = 0x34;
        assert_eq!(update16(hc, 0xabcd, 0x1234), checksum(&data));
    }
}
