//! Huffman coding of HPACK strings (RFC 7541 §5.2, Appendix B).

use super::HpackError;
use super::tables::{DECODE_TABLE, ENCODE_CODE_LENGTHS, ENCODE_CODES};

/// Appends the Huffman code of `src` (§5.2), padded with ones.
pub(super) fn huffman_encode(src: &[u8], out: &mut Vec<u8>) {
    let mut bits = 0u64;
    let mut bits_len = 0;
    for &b in src {
        let len = u32::from(ENCODE_CODE_LENGTHS[usize::from(b)]);
        bits = (bits << len) | u64::from(ENCODE_CODES[usize::from(b)]);
        bits_len += len;
        while bits_len >= 8 {
            bits_len -= 8;
            out.push((bits >> bits_len) as u8);
        }
        bits &= (1 << bits_len) - 1;
    }
    if bits_len > 0 {
        let pad = 8 - bits_len;
        out.push(((bits << pad) | ((1 << pad) - 1)) as u8);
    }
}

// Huffman decoding, after the h2 crate 0.4.20 (src/hpack/huffman/decode.rs,
// MIT licensed), made free of panics.
//
// The fast path decodes 12 bits at a time: `FAST_DECODE_TABLE` maps the
// next 12 bits to the one or two symbols they start with (ASCII letters
// and digits have 5-7 bit codes). Codes longer than 12 bits and the tail
// of the input walk `DECODE_TABLE` one input byte at a time.

// DECODE_TABLE is a series of 256-entry tables, walked one input byte at a
// time. A leaf entry (BRANCH bit clear) holds a decoded symbol and the
// number of bits its code used. A branch entry (BRANCH bit set) holds the
// index of the table for the next byte. No valid code leads back to table
// 0, so a branch to 0 means the input is not a valid code (e.g. EOS).
const BRANCH: u16 = 0x8000;
const TABLE_INDEX_MASK: u16 = 0x7f00;
const TABLE_WIDTH: usize = 256;

// Entry layout (u32): bits 0..8 first decoded byte, 8..16 second decoded
// byte (if any), 16..24 number of symbols decoded (1, 2, or 0 when the code
// is longer than 12 bits and the slow path must run), 24..32 how many of
// the 12 bits the decoded symbols used.
const FAST_BITS: usize = 12;
const FAST_DECODE_TABLE: [u32; 1 << FAST_BITS] = build_fast_table();

const fn build_fast_table() -> [u32; 1 << FAST_BITS] {
    let mut table = [0; 1 << FAST_BITS];

    // First every index that starts with one whole code.
    let mut a = 0;
    while a < 256 {
        let len1 = ENCODE_CODE_LENGTHS[a] as usize;
        let code1 = ENCODE_CODES[a] as usize;
        if len1 <= FAST_BITS {
            let rem = FAST_BITS - len1;
            let base = code1 << rem;
            let single = (1 << 16) | ((len1 as u32) << 24) | a as u32;
            let mut i = 0;
            while i < (1 << rem) {
                table[base + i] = single;
                i += 1;
            }
        }
        a += 1;
    }

    // Then the indices where a second whole code fits after the first.
    let mut a = 0;
    while a < 256 {
        let len1 = ENCODE_CODE_LENGTHS[a] as usize;
        let code1 = ENCODE_CODES[a] as usize;
        // A second code needs at least 5 more bits (the shortest code).
        if len1 + 5 <= FAST_BITS {
            let rem = FAST_BITS - len1;
            let mut b = 0;
            while b < 256 {
                let len2 = ENCODE_CODE_LENGTHS[b] as usize;
                let code2 = ENCODE_CODES[b] as usize;
                if len2 <= rem {
                    let rem2 = rem - len2;
                    let base = (code1 << rem) | (code2 << rem2);
                    let pair =
                        (2 << 16) | (((len1 + len2) as u32) << 24) | ((b as u32) << 8) | a as u32;
                    let mut i = 0;
                    while i < (1 << rem2) {
                        table[base + i] = pair;
                        i += 1;
                    }
                }
                b += 1;
            }
        }
        a += 1;
    }

    table
}

/// Decodes one code of any length by walking `DECODE_TABLE`, appending its
/// symbol at `dst[*o]`.
#[inline(always)]
fn decode_code_slow(
    acc: &mut u64,
    bits: &mut usize,
    dst: &mut [u8],
    o: &mut usize,
) -> Result<(), HpackError> {
    let mut table = 0;
    loop {
        let e = *DECODE_TABLE
            .get(table * TABLE_WIDTH + (*acc >> 56) as usize)
            .ok_or(HpackError::Huffman)?;
        if e & BRANCH == 0 {
            let used = (e >> 8) as usize;
            if used > *bits {
                return Err(HpackError::Huffman);
            }
            *dst.get_mut(*o).ok_or(HpackError::Huffman)? = e as u8;
            *o += 1;
            *acc <<= used;
            *bits -= used;
            return Ok(());
        }
        if *bits < 8 {
            return Err(HpackError::Huffman);
        }
        table = ((e & TABLE_INDEX_MASK) >> 8) as usize;
        if table == 0 {
            return Err(HpackError::Huffman);
        }
        *acc <<= 8;
        *bits -= 8;
    }
}

/// Decodes the Huffman-coded `src` into `dst` (cleared first).
pub(super) fn huffman_decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HpackError> {
    let len = src.len();
    // Every code is at least 5 bits, so `len` bytes decode to at most
    // `len * 8 / 5` bytes; one more for the fast path's two-byte write.
    dst.clear();
    dst.resize(len * 8 / 5 + 1, 0);
    let mut o = 0;
    let mut acc: u64 = 0;
    let mut bits: usize = 0;
    let mut pos: usize = 0;

    'outer: loop {
        // Fill the bit buffer. With 8 or more input bytes left, load 8 at
        // once and count as many whole bytes as fit (bringing it to 56-63
        // bits); the bytes that did not fit land in the low end of `acc`,
        // where the next refill ORs the same values over them.
        if let Some(word) = src
            .get(pos..pos + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            acc |= u64::from_be_bytes(word) >> bits;
            pos += (63 - bits) >> 3;
            bits |= 56;
        } else {
            while bits <= 56
                && let Some(&b) = src.get(pos)
            {
                acc |= u64::from(b) << (56 - bits);
                pos += 1;
                bits += 8;
            }
        }

        while bits >= FAST_BITS {
            let entry = FAST_DECODE_TABLE[(acc >> (64 - FAST_BITS)) as usize];
            let count = (entry >> 16) & 0xff;
            if count == 0 {
                // A code longer than 12 bits: refill first if it may not be
                // in the buffer yet (the longest code is 30 bits).
                if bits < 30 && pos < len {
                    continue 'outer;
                }
                decode_code_slow(&mut acc, &mut bits, dst, &mut o)?;
                continue;
            }
            let consumed = (entry >> 24) as usize;
            let out = dst.get_mut(o..o + 2).ok_or(HpackError::Huffman)?;
            out[0] = entry as u8;
            out[1] = (entry >> 8) as u8;
            o += count as usize;
            acc <<= consumed;
            bits -= consumed;
        }

        if pos >= len {
            break;
        }
    }

    // The tail: the input is exhausted and fewer than 12 bits remain. The
    // padding (up to 7 one bits) is valid only between symbols.
    while bits > 0 {
        if bits < 8 && (acc >> (64 - bits)) == (1 << bits) - 1 {
            break;
        }
        decode_code_slow(&mut acc, &mut bits, dst, &mut o)?;
    }
    dst.truncate(o);
    Ok(())
}
