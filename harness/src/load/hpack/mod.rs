//! HPACK (RFC 7541) for the lean HTTP/2 client: a decoder for response
//! header blocks and an encoder for constant request header blocks.
//!
//! The decoder hands each field to a callback as byte slices: straight from
//! the block when a string is raw, from one of its two scratch buffers when
//! it is Huffman-coded. Its dynamic table keeps every entry's bytes in one
//! buffer that is compacted rather than reallocated, so decoding a block in
//! steady state allocates nothing, however much the table churns.
//!
//! The encoder never touches the dynamic table (no insertions, no size
//! updates), so a request's block is encoded once and the same bytes go out
//! on every request of a connection. Left out: an encoder dynamic table, and
//! any check of what the fields mean (pseudo-header order, name case, list
//! size), which is the caller's business.

mod huffman;
mod tables;

use std::collections::VecDeque;

use huffman::{huffman_decode, huffman_encode};
use tables::{ENCODE_CODE_LENGTHS, STATIC_TABLE};

/// Bytes an entry costs beyond its name and value (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;
/// Continuation bytes accepted in an integer: enough for any `u32`.
const MAX_INT_BYTES: u32 = 5;

/// Errors: a malformed block (a COMPRESSION_ERROR in HTTP/2 terms).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HpackError {
    /// An integer does not fit in 32 bits or takes too many bytes.
    #[error("HPACK integer overflows")]
    IntegerOverflow,
    /// The block ends inside a field.
    #[error("HPACK block is truncated")]
    Truncated,
    /// An index is 0 or past the end of the dynamic table.
    #[error("HPACK index {0} is not in the table")]
    IndexOutOfRange(usize),
    /// A Huffman-coded string has an invalid code, the EOS symbol, or
    /// padding that is longer than 7 bits or not all ones.
    #[error("HPACK string has a bad Huffman code or padding")]
    Huffman,
    /// A dynamic table size update above the size the decoder allows.
    #[error("HPACK dynamic table size update to {size} is above the limit {max}")]
    SizeUpdateTooLarge {
        /// The size asked for.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A dynamic table size update after a field of the block.
    #[error("HPACK dynamic table size update is not at the start of the block")]
    SizeUpdateNotFirst,
}

/// An HPACK decoder: one per connection, fed every header block in order.
pub struct Decoder {
    /// The limit on the dynamic table's size (our SETTINGS_HEADER_TABLE_SIZE).
    max_size: usize,
    table: Table,
    /// Scratch for a Huffman-coded name.
    name_buf: Vec<u8>,
    /// Scratch for a Huffman-coded value.
    value_buf: Vec<u8>,
}

/// Where a literal field's name is.
#[derive(Clone, Copy)]
enum Name<'b> {
    /// In the block, the static table or (when inserting) a scratch buffer.
    Bytes(&'b [u8]),
    /// In the decoder's name scratch buffer.
    Scratch,
    /// The name of the dynamic table's entry at this position (0 = newest).
    Entry(usize),
}

impl Decoder {
    /// A decoder whose dynamic table may hold `max_size` bytes (RFC 7541
    /// §4.1 sizes: name + value + 32). 4096 is HTTP/2's default
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            table: Table::new(max_size),
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Decodes one complete header block (HEADERS + CONTINUATION payloads
    /// concatenated), calling `f(name, value)` for each field in order.
    /// Maintains the dynamic table (insertions, evictions, dynamic table size
    /// updates, which are only legal at the start of a block and must be
    /// <= `max_size`). After an error the decoder's state is unspecified: the
    /// connection is to be closed.
    pub fn decode(
        &mut self,
        block: &[u8],
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let mut pos = 0;
        let mut fields = false;
        while let Some(&b) = block.get(pos) {
            if b & 0x80 != 0 {
                // Indexed field (§6.1).
                let index = integer(block, &mut pos, 7)?;
                let (name, value) = self.field(index)?;
                f(name, value);
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3).
                if fields {
                    return Err(HpackError::SizeUpdateNotFirst);
                }
                let size = integer(block, &mut pos, 5)?;
                if size > self.max_size {
                    return Err(HpackError::SizeUpdateTooLarge {
                        size,
                        max: self.max_size,
                    });
                }
                self.table.resize(size);
                continue;
            } else {
                // Literal field, with incremental indexing (01xxxxxx, §6.2.1),
                // without indexing (0000xxxx) or never indexed (0001xxxx).
                let indexing = b & 0x40 != 0;
                let index = integer(block, &mut pos, if indexing { 6 } else { 4 })?;
                let name = match index {
                    0 => match string(block, &mut pos, &mut self.name_buf)? {
                        Some(raw) => Name::Bytes(raw),
                        None => Name::Scratch,
                    },
                    i => self.name(i)?,
                };
                let value = match string(block, &mut pos, &mut self.value_buf)? {
                    Some(raw) => raw,
                    None => &self.value_buf,
                };
                let name_bytes = match name {
                    Name::Bytes(raw) => raw,
                    Name::Scratch => &self.name_buf,
                    Name::Entry(i) => self.table.get(i).map_or(&[][..], |(n, _)| n),
                };
                f(name_bytes, value);
                if indexing {
                    let name = match name {
                        Name::Scratch => Name::Bytes(&self.name_buf),
                        other => other,
                    };
                    self.table.insert(name, value);
                }
            }
            fields = true;
        }
        Ok(())
    }

    /// The field at `index` (1-based: the static table, then the dynamic one).
    fn field(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        if let Some(&(name, value)) = index.checked_sub(1).and_then(|i| STATIC_TABLE.get(i)) {
            return Ok((name, value));
        }
        index
            .checked_sub(STATIC_TABLE.len() + 1)
            .and_then(|i| self.table.get(i))
            .ok_or(HpackError::IndexOutOfRange(index))
    }

    /// Where the name of the field at `index` (not 0) is.
    fn name(&self, index: usize) -> Result<Name<'static>, HpackError> {
        if let Some(&(name, _)) = index.checked_sub(1).and_then(|i| STATIC_TABLE.get(i)) {
            return Ok(Name::Bytes(name));
        }
        match index.checked_sub(STATIC_TABLE.len() + 1) {
            Some(i) if i < self.table.entries.len() => Ok(Name::Entry(i)),
            _ => Err(HpackError::IndexOutOfRange(index)),
        }
    }
}

/// The dynamic table (§2.3.2). Entries' bytes (name then value) lie in
/// `data`, oldest first, from `head` on; bytes before `head` belong to
/// evicted entries and are dropped when the buffer would otherwise grow.
struct Table {
    /// Newest first: position 0 is index 62.
    entries: VecDeque<Entry>,
    data: Vec<u8>,
    head: usize,
    /// Sum of the entries' sizes (§4.1).
    size: usize,
    /// The current maximum size, set by size updates.
    capacity: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    start: usize,
    name_len: usize,
    value_len: usize,
}

impl Entry {
    fn size(&self) -> usize {
        self.name_len + self.value_len + ENTRY_OVERHEAD
    }
}

impl Table {
    fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            data: Vec::new(),
            head: 0,
            size: 0,
            capacity,
        }
    }

    /// The name and value of the entry at position `i` (0 = newest).
    fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let e = self.entries.get(i)?;
        let name_end = e.start + e.name_len;
        Some((
            self.data.get(e.start..name_end)?,
            self.data.get(name_end..name_end + e.value_len)?,
        ))
    }

    /// Adds an entry, evicting old ones (§4.4). `name` may be that of an
    /// entry the insertion evicts: it is copied first.
    fn insert(&mut self, name: Name<'_>, value: &[u8]) {
        let name_len = match name {
            Name::Bytes(raw) => raw.len(),
            Name::Entry(i) => match self.entries.get(i) {
                Some(e) => e.name_len,
                None => return,
            },
            Name::Scratch => return, // resolved by the caller
        };
        let len = name_len + value.len();
        if len + ENTRY_OVERHEAD > self.capacity {
            // Larger than the table: empties it and is not inserted.
            self.clear();
            return;
        }
        if self.data.len() + len > self.data.capacity() {
            self.compact();
            // Leave as much room as is live, so compaction stays amortised.
            let want = 2 * (self.data.len() + len);
            self.data
                .reserve_exact(want.saturating_sub(self.data.len()));
        }
        let start = self.data.len();
        match name {
            Name::Bytes(raw) => self.data.extend_from_slice(raw),
            Name::Entry(i) => {
                if let Some(&e) = self.entries.get(i) {
                    self.data.extend_from_within(e.start..e.start + e.name_len);
                }
            }
            Name::Scratch => {}
        }
        self.data.extend_from_slice(value);
        self.entries.push_front(Entry {
            start,
            name_len,
            value_len: value.len(),
        });
        self.size += len + ENTRY_OVERHEAD;
        self.evict();
    }

    /// A dynamic table size update.
    fn resize(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict();
    }

    /// Evicts the oldest entries until the table fits its capacity.
    fn evict(&mut self) {
        while self.size > self.capacity {
            match self.entries.pop_back() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
        match self.entries.back() {
            Some(e) => self.head = e.start,
            None => self.clear(),
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.data.clear();
        self.head = 0;
        self.size = 0;
    }

    /// Drops the evicted entries' bytes from the front of `data`.
    fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        self.data.drain(..self.head);
        for e in &mut self.entries {
            e.start -= self.head;
        }
        self.head = 0;
    }
}

/// Reads an integer with an `prefix`-bit prefix (§5.1) at `*pos`.
fn integer(block: &[u8], pos: &mut usize, prefix: u32) -> Result<usize, HpackError> {
    let max = (1u32 << prefix) - 1;
    let first = u32::from(*block.get(*pos).ok_or(HpackError::Truncated)?) & max;
    *pos += 1;
    if first < max {
        return Ok(first as usize);
    }
    let mut value = u64::from(max);
    for i in 0..MAX_INT_BYTES {
        let b = *block.get(*pos).ok_or(HpackError::Truncated)?;
        *pos += 1;
        value += u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return match u32::try_from(value) {
                Ok(v) => Ok(v as usize),
                Err(_) => Err(HpackError::IntegerOverflow),
            };
        }
    }
    Err(HpackError::IntegerOverflow)
}

/// Reads a string literal (§5.2) at `*pos`: the raw bytes in the block, or
/// None when it was Huffman-coded and has been decoded into `scratch`.
fn string<'b>(
    block: &'b [u8],
    pos: &mut usize,
    scratch: &mut Vec<u8>,
) -> Result<Option<&'b [u8]>, HpackError> {
    let huffman = block.get(*pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = integer(block, pos, 7)?;
    let end = pos.checked_add(len).ok_or(HpackError::Truncated)?;
    let raw = block.get(*pos..end).ok_or(HpackError::Truncated)?;
    *pos = end;
    if huffman {
        huffman_decode(raw, scratch)?;
        Ok(None)
    } else {
        Ok(Some(raw))
    }
}

/// Encodes a request header block that never touches the dynamic table, so
/// the same bytes can be sent on every request of a connection. Each field is
/// an indexed field when (name, value) is in the static table exactly (e.g.
/// `:method GET` is 0x82), else a literal field without indexing, with the
/// static table's name index when the name is there, else with a literal
/// name. A string is Huffman-coded only when that is strictly shorter. Names
/// are sent as given: the caller gives lowercase names.
pub fn encode_block(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(name, value) in fields {
        if let Some(i) = STATIC_TABLE
            .iter()
            .position(|&(n, v)| n == name && v == value)
        {
            encode_integer(&mut out, 0x80, 7, i + 1);
            continue;
        }
        match STATIC_TABLE.iter().position(|&(n, _)| n == name) {
            Some(i) => encode_integer(&mut out, 0x00, 4, i + 1),
            None => {
                out.push(0x00);
                encode_string(&mut out, name);
            }
        }
        encode_string(&mut out, value);
    }
    out
}

/// Appends `value` with an `prefix`-bit prefix, the byte's other bits `first` (§5.1).
fn encode_integer(out: &mut Vec<u8>, first: u8, prefix: u32, value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a string literal, Huffman-coded when that is strictly shorter.
fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    let huffman_len = s
        .iter()
        .map(|&b| usize::from(ENCODE_CODE_LENGTHS[usize::from(b)]))
        .sum::<usize>()
        .div_ceil(8);
    if huffman_len < s.len() {
        encode_integer(out, 0x80, 7, huffman_len);
        huffman_encode(s, out);
    } else {
        encode_integer(out, 0x00, 7, s.len());
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::tables::ENCODE_CODES;
    use super::*;

    /// Decoded fields, or table entries, as text.
    type Fields = Vec<(String, String)>;

    impl Decoder {
        /// The dynamic table, newest first, and its size.
        fn dump(&self) -> (Fields, usize) {
            let entries = (0..self.table.entries.len())
                .map(|i| {
                    let (n, v) = self.table.get(i).expect("entry");
                    (text(n), text(v))
                })
                .collect();
            (entries, self.table.size)
        }
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// `encode_block` on text fields.
    fn encode(fields: &[(&str, &str)]) -> Vec<u8> {
        let fields: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|&(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        encode_block(&fields)
    }

    /// Bytes from an RFC hex dump (spaces and newlines ignored).
    fn hex(dump: &str) -> Vec<u8> {
        let digits: String = dump.split_whitespace().collect();
        hex::decode(digits).expect("hex")
    }

    fn pairs(list: &[(&str, &str)]) -> Fields {
        list.iter()
            .map(|&(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn decode(d: &mut Decoder, block: &[u8]) -> Result<Fields, HpackError> {
        let mut out = Vec::new();
        d.decode(block, |n, v| out.push((text(n), text(v))))?;
        Ok(out)
    }

    /// Decodes `dump` and checks the fields, then the dynamic table
    /// (newest first) and its size.
    fn check(
        d: &mut Decoder,
        dump: &str,
        fields: &[(&str, &str)],
        table: &[(&str, &str)],
        size: usize,
    ) {
        assert_eq!(decode(d, &hex(dump)).expect("decodes"), pairs(fields));
        assert_eq!(d.dump(), (pairs(table), size));
    }

    // RFC 7541 C.1: integer representation.
    #[test]
    fn c1_integers() {
        let mut pos = 0;
        assert_eq!(integer(&[0xea], &mut pos, 5), Ok(10));
        assert_eq!(pos, 1);
        let mut pos = 0;
        assert_eq!(integer(&[0xff, 0x9a, 0x0a], &mut pos, 5), Ok(1337));
        assert_eq!(pos, 3);
        let mut pos = 0;
        assert_eq!(integer(&[0x2a], &mut pos, 8), Ok(42));
        for (value, prefix, bytes) in [
            (10, 5, &[0x0a][..]),
            (1337, 5, &[0x1f, 0x9a, 0x0a][..]),
            (42, 8, &[0x2a][..]),
        ] {
            let mut out = Vec::new();
            encode_integer(&mut out, 0, prefix, value);
            assert_eq!(out, bytes);
        }
    }

    // RFC 7541 C.2.1-C.2.4: one field each, on a fresh decoder.
    #[test]
    fn c2_field_representations() {
        check(
            &mut Decoder::new(4096),
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            &[("custom-key", "custom-header")],
            &[("custom-key", "custom-header")],
            55,
        );
        check(
            &mut Decoder::new(4096),
            "040c 2f73 616d 706c 652f 7061 7468",
            &[(":path", "/sample/path")],
            &[],
            0,
        );
        check(
            &mut Decoder::new(4096),
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            &[("password", "secret")],
            &[],
            0,
        );
        check(&mut Decoder::new(4096), "82", &[(":method", "GET")], &[], 0);
    }

    const REQ1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const REQ_TABLE: &[(&str, &str)] = &[
        ("custom-key", "custom-value"),
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ];

    // RFC 7541 C.3: three requests without Huffman coding.
    #[test]
    fn c3_requests_without_huffman() {
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            REQ1,
            &REQ_TABLE[2..],
            57,
        );
        check(
            &mut d,
            "8286 84be 5808 6e6f 2d63 6163 6865",
            REQ2,
            &REQ_TABLE[1..],
            110,
        );
        check(
            &mut d,
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            REQ3,
            REQ_TABLE,
            164,
        );
    }

    // RFC 7541 C.4: the same requests with Huffman coding.
    #[test]
    fn c4_requests_with_huffman() {
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            REQ1,
            &REQ_TABLE[2..],
            57,
        );
        check(
            &mut d,
            "8286 84be 5886 a8eb 1064 9cbf",
            REQ2,
            &REQ_TABLE[1..],
            110,
        );
        check(
            &mut d,
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            REQ3,
            REQ_TABLE,
            164,
        );
    }

    const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const LOCATION: &str = "https://www.example.com";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    const C5: [&str; 3] = [
        "4803 3330 3258 0770 7269 7661 7465 611d
         4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768
         7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420
         3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153
         444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61
         6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ];
    const C6: [&str; 3] = [
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe
         9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8
         e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595
         040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b
         3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ];

    /// RFC 7541 C.5 and C.6 (a 256-byte table): the three responses, each
    /// with its fields, then the table after it and its size.
    fn responses() -> [(Fields, Fields, usize); 3] {
        [
            (
                pairs(&[
                    (":status", "302"),
                    ("cache-control", "private"),
                    ("date", DATE1),
                    ("location", LOCATION),
                ]),
                pairs(&[
                    ("location", LOCATION),
                    ("date", DATE1),
                    ("cache-control", "private"),
                    (":status", "302"),
                ]),
                222,
            ),
            (
                pairs(&[
                    (":status", "307"),
                    ("cache-control", "private"),
                    ("date", DATE1),
                    ("location", LOCATION),
                ]),
                pairs(&[
                    (":status", "307"),
                    ("location", LOCATION),
                    ("date", DATE1),
                    ("cache-control", "private"),
                ]),
                222,
            ),
            (
                pairs(&[
                    (":status", "200"),
                    ("cache-control", "private"),
                    ("date", DATE2),
                    ("location", LOCATION),
                    ("content-encoding", "gzip"),
                    ("set-cookie", COOKIE),
                ]),
                pairs(&[
                    ("set-cookie", COOKIE),
                    ("content-encoding", "gzip"),
                    ("date", DATE2),
                ]),
                215,
            ),
        ]
    }

    fn check_responses(blocks: [&str; 3]) {
        let mut d = Decoder::new(256);
        for (dump, (fields, table, size)) in blocks.iter().zip(responses()) {
            assert_eq!(decode(&mut d, &hex(dump)).expect("decodes"), fields);
            assert_eq!(d.dump(), (table, size));
        }
    }

    // RFC 7541 C.5: three responses without Huffman coding, with evictions.
    #[test]
    fn c5_responses_without_huffman() {
        check_responses(C5);
    }

    // RFC 7541 C.6: the same responses with Huffman coding.
    #[test]
    fn c6_responses_with_huffman() {
        check_responses(C6);
    }

    // The same server responses over and over: the table stays within its
    // size and, once warm, nothing grows (no allocation per block).
    #[test]
    fn steady_state_is_bounded() {
        let blocks: Vec<Vec<u8>> = C6.iter().chain(&C5).map(|b| hex(b)).collect();
        let expect = responses();
        let mut d = Decoder::new(256);
        let mut warm = None;
        for round in 0..2000 {
            for (i, block) in blocks.iter().enumerate() {
                let (fields, table, size) = &expect[i % 3];
                assert_eq!(&decode(&mut d, block).expect("decodes"), fields);
                assert_eq!(d.table.size, *size);
                assert_eq!(&d.dump().0, table);
                assert!(d.table.data.len() <= 4 * 256);
            }
            let caps = (
                d.table.data.capacity(),
                d.table.entries.capacity(),
                d.name_buf.capacity(),
                d.value_buf.capacity(),
            );
            if round == 10 {
                warm = Some(caps);
            } else if round > 10 {
                assert_eq!(Some(caps), warm, "round {round}");
            }
        }
    }

    // §4.4: a new entry whose name is that of an entry it evicts.
    #[test]
    fn insertion_evicting_its_own_name() {
        let mut d = Decoder::new(100);
        check(
            &mut d,
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            &[("custom-key", "custom-header")],
            &[("custom-key", "custom-header")],
            55,
        );
        // Literal with incremental indexing, name index 62, a 15-byte value.
        let mut block = vec![0x7e, 0x0f];
        block.extend_from_slice(b"a-different-val");
        assert_eq!(
            decode(&mut d, &block),
            Ok(pairs(&[("custom-key", "a-different-val")]))
        );
        assert_eq!(d.dump(), (pairs(&[("custom-key", "a-different-val")]), 57));
    }

    // §4.4: an entry larger than the table empties it and is not inserted.
    #[test]
    fn entry_larger_than_table_empties_it() {
        let mut d = Decoder::new(60);
        decode(
            &mut d,
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
        )
        .expect("decodes");
        assert_eq!(d.table.size, 55);
        let mut block = vec![0x7e, 30];
        block.extend_from_slice(&[b'v'; 30]);
        let value = "v".repeat(30);
        assert_eq!(
            decode(&mut d, &block),
            Ok(pairs(&[("custom-key", value.as_str())]))
        );
        assert_eq!(d.dump(), (vec![], 0));
        assert_eq!(
            decode(&mut d, &[0xbe]),
            Err(HpackError::IndexOutOfRange(62))
        );
    }

    #[test]
    fn size_updates() {
        let mut d = Decoder::new(4096);
        decode(
            &mut d,
            &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        )
        .expect("decodes");
        assert_eq!(d.table.size, 57);
        // Two updates at the start (to 0, then back to 4096) are legal.
        assert_eq!(
            decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]),
            Ok(pairs(&[(":method", "GET")]))
        );
        assert_eq!(d.dump(), (vec![], 0));
        assert_eq!(
            decode(&mut d, &[0xbe]),
            Err(HpackError::IndexOutOfRange(62))
        );
        assert_eq!(
            decode(&mut d, &[0x3f, 0xe2, 0x1f]),
            Err(HpackError::SizeUpdateTooLarge {
                size: 4097,
                max: 4096
            })
        );
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x82, 0x20]),
            Err(HpackError::SizeUpdateNotFirst)
        );
        // A smaller table evicts what no longer fits.
        let mut d = Decoder::new(4096);
        for dump in [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
        ] {
            decode(&mut d, &hex(dump)).expect("decodes");
        }
        // Size update to 60 (0x3f 0x1d), then index 62.
        assert_eq!(
            decode(&mut d, &[0x3f, 0x1d, 0xbe]),
            Ok(pairs(&[("cache-control", "no-cache")]))
        );
        assert_eq!(d.dump(), (pairs(&[("cache-control", "no-cache")]), 53));
    }

    #[test]
    fn hostile_blocks_are_errors() {
        use HpackError::*;
        let cases: &[(&[u8], HpackError)] = &[
            (&[0x40], Truncated),
            (&[0x41, 0x05, b'a'], Truncated),
            (&[0xff], Truncated),
            (&[0x00, 0x81], Truncated),
            (&[0x04], Truncated),
            (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], IntegerOverflow),
            (&[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], IntegerOverflow),
            (&[0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x07], Truncated),
            (&[0x80], IndexOutOfRange(0)),
            (&[0xbe], IndexOutOfRange(62)),
            (&[0xff, 0x80, 0x01], IndexOutOfRange(255)),
            (&[0x7e, 0x00], IndexOutOfRange(62)),
            (&[0x0f, 0x2f, 0x00], IndexOutOfRange(62)),
            // Padding of zeros, padding of 8 bits, EOS.
            (&[0x00, 0x01, b'a', 0x81, 0x00], Huffman),
            (&[0x00, 0x01, b'a', 0x81, 0xff], Huffman),
            (&[0x00, 0x01, b'a', 0x84, 0xff, 0xff, 0xff, 0xff], Huffman),
            (&[0x00, 0x81, 0xff, 0x00], Huffman),
            (
                &[0x3f, 0xe2, 0x1f],
                SizeUpdateTooLarge {
                    size: 4097,
                    max: 4096,
                },
            ),
            (&[0x82, 0x20], SizeUpdateNotFirst),
        ];
        for (block, err) in cases {
            assert_eq!(
                decode(&mut Decoder::new(4096), block).as_ref(),
                Err(err),
                "{block:02x?}"
            );
        }
        // A response cut inside its last string.
        let c63 = hex(C6[2]);
        let mut d = Decoder::new(256);
        for dump in &C6[..2] {
            decode(&mut d, &hex(dump)).expect("decodes");
        }
        assert_eq!(decode(&mut d, &c63[..c63.len() - 1]), Err(Truncated));
    }

    /// A simple linear congruential generator (Knuth's MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    // Random bytes and mutated real blocks: errors, never panics, and the
    // table never exceeds its limit.
    #[test]
    fn random_input_never_panics() {
        let mut rng = Lcg(0x5eed);
        let mut d = Decoder::new(4096);
        for i in 0..20_000 {
            if i % 1000 == 0 {
                d = Decoder::new(if i % 2000 == 0 { 4096 } else { 64 });
            }
            let len = (rng.next() % 64) as usize;
            let block: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = d.decode(&block, |_, _| {});
            assert!(d.table.size <= d.table.capacity && d.table.capacity <= d.max_size);
        }
        let real: Vec<Vec<u8>> = C5.iter().chain(&C6).map(|b| hex(b)).collect();
        let mut d = Decoder::new(256);
        for _ in 0..20_000 {
            let mut block = real[(rng.next() % 6) as usize].clone();
            for _ in 0..=rng.next() % 3 {
                let at = (rng.next() as usize) % block.len();
                block[at] = rng.next() as u8;
            }
            let cut = (rng.next() as usize) % (block.len() + 1);
            let _ = d.decode(&block[..cut], |_, _| {});
            assert!(d.table.size <= d.table.capacity && d.table.capacity <= d.max_size);
        }
    }

    // Huffman codes of strings from RFC 7541 C.4 and C.6.
    #[test]
    fn huffman_rfc_strings() {
        for (s, dump) in [
            ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            ("no-cache", "a8eb 1064 9cbf"),
            ("custom-key", "25a8 49e9 5ba9 7d7f"),
            ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            ("302", "6402"),
            ("307", "640e ff"),
            ("private", "aec3 771a 4b"),
            ("gzip", "9bd9 ab"),
            (
                DATE1,
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
            ),
            (LOCATION, "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"),
            (
                COOKIE,
                "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1
                 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ),
        ] {
            let mut out = Vec::new();
            huffman_encode(s.as_bytes(), &mut out);
            assert_eq!(out, hex(dump), "{s}");
            let mut back = Vec::new();
            huffman_decode(&out, &mut back).expect("decodes");
            assert_eq!(back, s.as_bytes());
        }
    }

    #[test]
    fn huffman_round_trip() {
        let mut rng = Lcg(7);
        let all: Vec<u8> = (0..=255).collect();
        let mut inputs = vec![all, vec![b'0'; 100], vec![]];
        for len in 0..300 {
            inputs.push((0..len).map(|_| rng.next() as u8).collect());
        }
        for s in inputs {
            let mut out = Vec::new();
            huffman_encode(&s, &mut out);
            let mut back = Vec::new();
            huffman_decode(&out, &mut back).expect("decodes");
            assert_eq!(back, s);
        }
    }

    /// The simplest decoder: match the codes as strings of '0' and '1'
    /// (no code is a prefix of another); what is left must be padding.
    fn reference_decode(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let codes: Vec<String> = ENCODE_CODES
            .iter()
            .zip(ENCODE_CODE_LENGTHS)
            .map(|(&code, len)| format!("{code:0len$b}", len = len as usize))
            .collect();
        let bits: String = src.iter().map(|b| format!("{b:08b}")).collect();
        let mut rest = bits.as_str();
        let mut out = Vec::new();
        while let Some(sym) = (0..256).find(|&s| rest.starts_with(&codes[s])) {
            out.push(sym as u8);
            rest = &rest[codes[sym].len()..];
        }
        if rest.len() >= 8 || rest.contains('0') {
            return Err(HpackError::Huffman);
        }
        Ok(out)
    }

    #[test]
    fn huffman_matches_reference_on_random_bytes() {
        let mut rng = Lcg(0xdead_beef);
        let mut out = Vec::new();
        for i in 0..20_000 {
            let len = (rng.next() % 40) as usize;
            // Half biased to high bytes: long codes and EOS prefixes.
            let high = if i % 2 == 0 { 0 } else { 0xe0 };
            let src: Vec<u8> = (0..len).map(|_| rng.next() as u8 | high).collect();
            let ours = huffman_decode(&src, &mut out).map(|()| out.clone());
            assert_eq!(ours, reference_decode(&src), "{src:02x?}");
        }
    }

    #[test]
    fn encode_uses_static_indices() {
        let block = encode(&[(":method", "GET"), (":scheme", "https"), (":path", "/")]);
        assert_eq!(block, [0x82, 0x87, 0x84]);
        // Name index 1 (4-bit prefix, no indexing), Huffman value (12 < 15).
        assert_eq!(
            encode(&[(":authority", "www.example.com")]),
            hex("01 8c f1e3 c2e5 f23a 6ba0 ab90 f4ff")
        );
        // Name index 58 (15 + 43); "ab" is 11 bits, 2 bytes: not shorter.
        assert_eq!(
            encode(&[("user-agent", "ab")]),
            [0x0f, 0x2b, 0x02, b'a', b'b']
        );
        // Literal name; "~~" is 26 bits in Huffman: raw.
        assert_eq!(
            encode(&[("x~", "~~")]),
            [0x00, 0x02, b'x', b'~', 0x02, b'~', b'~']
        );
        // Huffman name (C.4.3's "custom-key"), raw value.
        assert_eq!(
            encode(&[("custom-key", "~")]),
            hex("00 88 25a8 49e9 5ba9 7d7f 01 7e")
        );
    }

    #[test]
    fn encoded_blocks_decode_to_the_same_fields() {
        let long = "x".repeat(300);
        let binary: Vec<u8> = (0..=255).collect();
        let mut fields: Vec<(&[u8], &[u8])> = [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "localhost:8080"),
            (":path", "/io/downstream?delay=5ms"),
            ("accept-encoding", "gzip, deflate"),
            ("accept", "*/*"),
            ("user-agent", "claimbench/0.1"),
            ("content-type", "application/json"),
            ("x-request-id", ""),
            ("x-long", &long),
        ]
        .iter()
        .map(|&(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
        fields.push((b"x-binary", &binary));
        let block = encode_block(&fields);
        let mut d = Decoder::new(4096);
        for _ in 0..3 {
            let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            d.decode(&block, |n, v| out.push((n.to_vec(), v.to_vec())))
                .expect("decodes");
            let expect: Vec<(Vec<u8>, Vec<u8>)> = fields
                .iter()
                .map(|&(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(out, expect);
            assert_eq!(d.table.size, 0);
        }
    }

    #[test]
    fn static_table_ends() {
        assert_eq!(STATIC_TABLE[0], (&b":authority"[..], &b""[..]));
        assert_eq!(
            STATIC_TABLE[15],
            (&b"accept-encoding"[..], &b"gzip, deflate"[..])
        );
        assert_eq!(STATIC_TABLE[60], (&b"www-authenticate"[..], &b""[..]));
    }
}
