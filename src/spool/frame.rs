//! The on-disk record frame and the scanner that reads frames back, skipping
//! damaged ones.
//!
//! A frame is `MAGIC (4) | payload length (4, LE) | CRC-32 of length and
//! payload (4, LE) | payload`. The checksum is CRC-32 (IEEE, via `crc32fast`).
//! The magic lets the scanner find the next frame after a damaged one, so a
//! flipped byte costs one record, not the rest of the segment.

pub const MAGIC: [u8; 4] = *b"BHR1";
pub const HEADER_BYTES: usize = 12;
/// No encoded row comes near this; a larger length is damage.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Appends one frame holding `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    out.extend_from_slice(payload);
    seal(&mut out[start..]);
}

/// Writes the header of a frame whose payload is already in place: `frame`
/// is the whole frame, its first `HEADER_BYTES` the header's room. The
/// spool serializes a row straight into its mapped segment this way, with
/// no buffer between.
pub fn seal(frame: &mut [u8]) {
    let (header, payload) = frame.split_at_mut(HEADER_BYTES);
    let length = (payload.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&length);
    crc.update(payload);
    header[..4].copy_from_slice(&MAGIC);
    header[4..8].copy_from_slice(&length);
    header[8..].copy_from_slice(&crc.finalize().to_le_bytes());
}

/// Where the written part of a segment ends: after its last intact frame,
/// or after its last byte that is not zero, whichever is further. A segment
/// the collector did not close (it was killed, or the machine stopped) keeps
/// the zeroed tail its size was reserved with; cutting it there lets replay
/// read to the end without counting the unused room as damage, while a
/// frame torn by the stop still counts (its bytes are kept), and so does a
/// frame whose last bytes are zeros (its end is found by walking the frames).
pub fn data_end(segment: &[u8]) -> usize {
    let last_nonzero = segment.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut at = 0;
    let mut last_frame_end = 0;
    while at < last_nonzero {
        match scan(&segment[at..]) {
            Scan::Frame { next, .. } => {
                at += next;
                last_frame_end = at;
            }
            Scan::Damaged { resume } => at += resume,
            Scan::Incomplete => break,
        }
    }
    last_frame_end.max(last_nonzero)
}

/// What the bytes at the start of a buffer hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan<'a> {
    /// An intact frame; the next one starts `next` bytes in.
    Frame { payload: &'a [u8], next: usize },
    /// Not a valid frame; the next candidate starts `resume` bytes in (at least 1).
    Damaged { resume: usize },
    /// The buffer ends inside a frame that may still be completed.
    Incomplete,
}

/// Reads the frame at the start of `buf`.
pub fn scan(buf: &[u8]) -> Scan<'_> {
    if buf.len() < HEADER_BYTES {
        return if MAGIC.starts_with(&buf[..buf.len().min(4)]) {
            Scan::Incomplete
        } else {
            damaged(buf)
        };
    }
    if buf[..4] != MAGIC {
        return damaged(buf);
    }
    let length = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if length > MAX_PAYLOAD_BYTES {
        return damaged(buf);
    }
    let end = HEADER_BYTES + length;
    if buf.len() < end {
        return Scan::Incomplete;
    }
    let stored = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&buf[4..8]);
    crc.update(&buf[HEADER_BYTES..end]);
    if crc.finalize() != stored {
        return damaged(buf);
    }
    Scan::Frame {
        payload: &buf[HEADER_BYTES..end],
        next: end,
    }
}

/// Treats the start of `buf` as damaged even if it looks incomplete (used at the
/// end of a segment that will never grow).
pub fn skip_damaged(buf: &[u8]) -> usize {
    match damaged(buf) {
        Scan::Damaged { resume } => resume,
        _ => buf.len(),
    }
}

fn damaged(buf: &[u8]) -> Scan<'_> {
    let resume = buf
        .windows(MAGIC.len())
        .skip(1)
        .position(|w| w == MAGIC)
        .map(|i| i + 1)
        .unwrap_or(buf.len().max(1));
    Scan::Damaged { resume }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode(p, &mut out);
        }
        out
    }

    /// Reads a whole buffer as a closed segment: (payloads, damaged count).
    fn read_all(mut buf: &[u8]) -> (Vec<Vec<u8>>, usize) {
        let (mut payloads, mut damaged_count) = (Vec::new(), 0);
        while !buf.is_empty() {
            match scan(buf) {
                Scan::Frame { payload, next } => {
                    payloads.push(payload.to_vec());
                    buf = &buf[next..];
                }
                Scan::Damaged { resume } => {
                    damaged_count += 1;
                    buf = &buf[resume..];
                }
                Scan::Incomplete => {
                    damaged_count += 1;
                    buf = &buf[skip_damaged(buf)..];
                }
            }
        }
        (payloads, damaged_count)
    }

    #[test]
    fn round_trip() {
        let buf = frames(&[b"one", b"", b"three"]);
        assert_eq!(
            read_all(&buf),
            (vec![b"one".to_vec(), vec![], b"three".to_vec()], 0)
        );
    }

    #[test]
    fn a_flipped_payload_byte_costs_one_record() {
        let mut buf = frames(&[b"first", b"second", b"third"]);
        let second_payload = HEADER_BYTES + 5 + HEADER_BYTES + 2;
        buf[second_payload] ^= 0xff;
        assert_eq!(
            read_all(&buf),
            (vec![b"first".to_vec(), b"third".to_vec()], 1)
        );
    }

    #[test]
    fn a_damaged_length_costs_one_record() {
        let mut buf = frames(&[b"first", b"second", b"third"]);
        buf[HEADER_BYTES + 5 + 4] = 0xee;
        assert_eq!(
            read_all(&buf),
            (vec![b"first".to_vec(), b"third".to_vec()], 1)
        );
        let mut huge = frames(&[b"first", b"second"]);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_all(&huge), (vec![b"second".to_vec()], 1));
    }

    #[test]
    fn a_torn_tail_is_incomplete_then_damaged() {
        let buf = frames(&[b"first", b"second"]);
        let torn = &buf[..buf.len() - 3];
        assert_eq!(scan(&torn[HEADER_BYTES + 5..]), Scan::Incomplete);
        assert_eq!(read_all(torn), (vec![b"first".to_vec()], 1));
        assert_eq!(scan(&buf[..2]), Scan::Incomplete);
    }

    #[test]
    fn the_zeroed_tail_of_a_segment_is_cut_and_nothing_written_is() {
        let written = frames(&[b"first", b"second"]);
        let mut segment = written.clone();
        segment.resize(4096, 0);
        assert_eq!(data_end(&segment), written.len());
        assert_eq!(data_end(&written), written.len());
        assert_eq!(data_end(&[0; 64]), 0);
        assert_eq!(data_end(&[]), 0);

        // A frame whose payload ends in zeros keeps them.
        let zeros_last = frames(&[b"first", b"ends\0\0\0"]);
        let mut segment = zeros_last.clone();
        segment.resize(4096, 0);
        assert_eq!(data_end(&segment), zeros_last.len());

        // A frame torn by a stop keeps its bytes, so replay counts it damaged.
        let mut torn = frames(&[b"first"]);
        torn.extend_from_slice(&MAGIC);
        torn.extend_from_slice(&[9, 0, 0, 0, 1]);
        let mut segment = torn.clone();
        segment.resize(4096, 0);
        assert_eq!(data_end(&segment), torn.len());
        assert_eq!(read_all(&segment[..data_end(&segment)]).1, 1);

        // Frames after a hole of zeros (pages lost in a power cut) are kept.
        let mut holed = frames(&[b"first"]);
        holed.resize(holed.len() + 100, 0);
        encode(b"after", &mut holed);
        let mut segment = holed.clone();
        segment.resize(4096, 0);
        assert_eq!(data_end(&segment), holed.len());
        assert_eq!(
            read_all(&segment[..data_end(&segment)]),
            (vec![b"first".to_vec(), b"after".to_vec()], 1)
        );
    }

    #[test]
    fn a_sealed_frame_reads_as_an_encoded_one() {
        let mut frame = vec![0; HEADER_BYTES];
        frame.extend_from_slice(b"payload");
        seal(&mut frame);
        assert_eq!(frame, frames(&[b"payload"]));
    }

    #[test]
    fn garbage_between_frames_is_skipped() {
        let mut buf = frames(&[b"first"]);
        buf.extend_from_slice(b"\x00\x01garbage");
        encode(b"after", &mut buf);
        assert_eq!(
            read_all(&buf),
            (vec![b"first".to_vec(), b"after".to_vec()], 1)
        );
    }
}
