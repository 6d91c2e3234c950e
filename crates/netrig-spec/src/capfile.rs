//! Reading the pcap and pcapng files a `replay` step sends: Ethernet frames
//! with their capture times. Parsing is pcap-parser's (rusticata, also what
//! netrig's tests read its own pcapng with); this module only picks the
//! frames out and refuses what cannot be replayed faithfully (another link
//! type, frames cut short by a snap length). It lives in the spec crate
//! because `netrig check` must refuse a file `netrig run` would.

use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapNGSlice};
use std::path::Path;

/// Largest capture file a replay reads (it is held in memory).
pub const MAX_CAPTURE_BYTES: u64 = 64 << 20;

/// Shortest frame that has an Ethernet header.
const ETH_HLEN: usize = 14;

/// One frame of a capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time in nanoseconds after the file's first frame (may go
    /// backwards in a file merged from several interfaces).
    pub t_ns: i128,
    pub data: Vec<u8>,
}

/// Why a capture file cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum CapFileError {
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    #[error("it is neither pcap nor pcapng")]
    NotCapture,
    #[error("it is malformed after {frames} frames ({detail})")]
    Malformed { frames: usize, detail: String },
    #[error("frame {frame} has link type {linktype}, not Ethernet")]
    LinkType { frame: usize, linktype: String },
    #[error("frame {frame} was captured cut short ({caplen} of {len} bytes)")]
    Truncated { frame: usize, caplen: u32, len: u32 },
    #[error("frame {frame} has {len} bytes, shorter than an Ethernet header")]
    Short { frame: usize, len: usize },
    #[error("frame {frame} refers to interface {id}, which the file does not describe")]
    NoInterface { frame: usize, id: u32 },
    #[error("it has no frames")]
    Empty,
}

/// Read and check a pcap or pcapng file of at most [`MAX_CAPTURE_BYTES`].
pub fn read_capture(path: &Path) -> Result<Vec<Frame>, CapFileError> {
    let bytes = crate::files::read_bounded(path, MAX_CAPTURE_BYTES, "a capture file")?;
    parse_capture(&bytes)
}

/// Parse a pcap or pcapng file held in memory.
pub fn parse_capture(bytes: &[u8]) -> Result<Vec<Frame>, CapFileError> {
    let mut frames = Vec::new();
    if let Ok(ng) = PcapNGSlice::from_slice(bytes) {
        parse_ng(ng, &mut frames)?;
    } else if let Ok((rest, hdr)) = pcap_parser::pcap::parse_pcap_header(bytes) {
        parse_legacy(rest, &hdr, &mut frames)?;
    } else {
        return Err(CapFileError::NotCapture);
    }
    let Some(t0) = frames.first().map(|f| f.t_ns) else {
        return Err(CapFileError::Empty);
    };
    for f in &mut frames {
        f.t_ns -= t0;
    }
    Ok(frames)
}

fn malformed<E: std::fmt::Debug>(frames: usize, e: E) -> CapFileError {
    let mut detail = format!("{e:?}");
    // nom's errors quote the remaining input: keep the kind only.
    detail.truncate(detail.find('[').unwrap_or(detail.len()).min(80));
    CapFileError::Malformed { frames, detail }
}

/// Check a frame and add it; `t_ns` is absolute here.
fn push(
    frames: &mut Vec<Frame>,
    linktype: Linktype,
    t_ns: i128,
    data: &[u8],
    caplen: u32,
    len: u32,
) -> Result<(), CapFileError> {
    let frame = frames.len() + 1;
    if linktype != Linktype::ETHERNET {
        return Err(CapFileError::LinkType {
            frame,
            linktype: format!("{linktype}"),
        });
    }
    if caplen < len {
        return Err(CapFileError::Truncated { frame, caplen, len });
    }
    if data.len() < ETH_HLEN {
        return Err(CapFileError::Short {
            frame,
            len: data.len(),
        });
    }
    frames.push(Frame {
        t_ns,
        data: data.to_vec(),
    });
    Ok(())
}

fn parse_legacy(
    mut rest: &[u8],
    hdr: &pcap_parser::PcapHeader,
    frames: &mut Vec<Frame>,
) -> Result<(), CapFileError> {
    // The fraction is in microseconds unless the magic says nanoseconds.
    let frac_ns: i128 = if hdr.is_nanosecond_precision() {
        1
    } else {
        1000
    };
    while !rest.is_empty() {
        let r = if hdr.is_modified_format() {
            parse_pcap_frame_modified(rest)
        } else if hdr.is_bigendian() {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        let (next, b) = r.map_err(|e| malformed(frames.len(), e))?;
        let t = i128::from(b.ts_sec) * 1_000_000_000 + i128::from(b.ts_usec) * frac_ns;
        push(frames, hdr.network, t, b.data, b.caplen, b.origlen)?;
        rest = next;
    }
    Ok(())
}

/// An interface a pcapng section describes: its link type and clock.
struct NgIface {
    linktype: Linktype,
    /// Timestamp units per second.
    resolution: u64,
    offset_s: i64,
}

fn parse_ng(ng: PcapNGSlice<'_>, frames: &mut Vec<Frame>) -> Result<(), CapFileError> {
    let mut ifaces: Vec<NgIface> = Vec::new();
    for block in ng {
        let block = block.map_err(|e| malformed(frames.len(), e))?;
        let PcapBlockOwned::NG(block) = block else {
            continue;
        };
        match block {
            // Interface numbers start again in each section.
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(idb) => ifaces.push(NgIface {
                linktype: idb.linktype,
                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                offset_s: idb.ts_offset(),
            }),
            Block::EnhancedPacket(epb) => {
                let frame = frames.len() + 1;
                let Some(i) = ifaces.get(epb.if_id as usize) else {
                    return Err(CapFileError::NoInterface {
                        frame,
                        id: epb.if_id,
                    });
                };
                let ts = (u128::from(epb.ts_high) << 32) | u128::from(epb.ts_low);
                let t = (ts * 1_000_000_000 / u128::from(i.resolution.max(1))) as i128
                    + i128::from(i.offset_s) * 1_000_000_000;
                // `data` carries the block's padding: the frame is caplen long.
                let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                push(frames, i.linktype, t, data, epb.caplen, epb.origlen)?;
            }
            Block::SimplePacket(spb) => {
                // No timestamp: sent right after the frame before it.
                let frame = frames.len() + 1;
                let Some(i) = ifaces.first() else {
                    return Err(CapFileError::NoInterface { frame, id: 0 });
                };
                let t = frames.last().map_or(0, |f| f.t_ns);
                let len = (spb.origlen as usize).min(spb.data.len());
                let caplen = len as u32;
                push(frames, i.linktype, t, &spb.data[..len], caplen, spb.origlen)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap, little-endian, microseconds: header then records.
    fn pcap(linktype: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&linktype.to_le_bytes());
        for (s, us, data, len) in records {
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&us.to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(data);
        }
        b
    }

    const F: &[u8] = &[0xff; 60];

    #[test]
    fn pcap_frames_and_times() {
        let b = pcap(1, &[(10, 500, F, 60), (11, 0, &F[..20], 20)]);
        let f = parse_capture(&b).expect("parses");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].t_ns, 0);
        assert_eq!(f[1].t_ns, 999_500_000);
        assert_eq!(f[1].data, &F[..20]);
    }

    #[test]
    fn what_cannot_be_replayed_is_refused() {
        let e = parse_capture(&pcap(113, &[(0, 0, F, 60)])).expect_err("sll");
        assert!(e.to_string().contains("not Ethernet"), "{e}");
        let e = parse_capture(&pcap(1, &[(0, 0, F, 1500)])).expect_err("cut");
        assert!(e.to_string().contains("cut short"), "{e}");
        let e = parse_capture(&pcap(1, &[(0, 0, &F[..10], 10)])).expect_err("short");
        assert!(e.to_string().contains("shorter than"), "{e}");
        let e = parse_capture(&pcap(1, &[])).expect_err("empty");
        assert!(matches!(e, CapFileError::Empty), "{e}");
        let mut b = pcap(1, &[(0, 0, F, 60)]);
        b.truncate(b.len() - 5);
        let e = parse_capture(&b).expect_err("torn");
        assert!(e.to_string().contains("malformed after 0 frames"), "{e}");
        let e = parse_capture(b"[nodes.a]\n").expect_err("toml");
        assert!(matches!(e, CapFileError::NotCapture), "{e}");
    }
}
