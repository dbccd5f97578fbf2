//! What a correct target answers, computed here independently of every
//! target: the Fibonacci numbers, the SHA-256 chain and buffer digests, the
//! matrix-product sums, the echo records; and how answers are compared.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The SHA-256 chain of the contract: round 1 hashes `claimbench`, each
/// next round the previous 32-byte digest. Returns the last digest in hex.
pub fn hash_chain(rounds: u32) -> String {
    let mut digest: [u8; 32] = Sha256::digest(b"claimbench").into();
    for _ in 1..rounds {
        digest = Sha256::digest(digest).into();
    }
    hex::encode(digest)
}

/// The `/cpu/sha256` input of the contract: `kib` KiB, byte i is `i % 251`.
pub fn sha256_input(kib: u32) -> Vec<u8> {
    (0..kib as usize * 1024).map(|i| (i % 251) as u8).collect()
}

/// `/cpu/sha256` digests from CONTRACT.md (computed with Python's hashlib),
/// as (kib, lowercase hex).
pub const SHA256_EXPECTED: [(u32, &str); 2] = [
    (
        1,
        "2bce1ba628720664be4b9fdd77aae0678e5f0f3f02fc6ff641ec879094f6a404",
    ),
    (
        1024,
        "631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769",
    ),
];

/// The sum of all elements of C = A x B for the contract's N x N matrices
/// A[i][j] = (i + j) % 10 and B[i][j] = (i * j) % 10 (in integers: exact).
pub fn matmul_sum(n: u64) -> u64 {
    // sum_ij C[i][j] = sum_k (sum_i A[i][k]) * (sum_j B[k][j]).
    (0..n)
        .map(|k| {
            let col_a: u64 = (0..n).map(|i| (i + k) % 10).sum();
            let row_b: u64 = (0..n).map(|j| (k * j) % 10).sum();
            col_a * row_b
        })
        .sum()
}

/// `/cpu/matmul` sums from CONTRACT.md (computed with Python), as (n, sum).
pub const MATMUL_EXPECTED: [(u64, u64); 2] = [(8, 7852), (256, 274_362_360)];

/// Recursive Fibonacci's value, computed iteratively.
pub fn fib(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// `n` echo records like a typical API payload; values have exact binary
/// fractions so every stack sums them exactly.
pub fn echo_records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": i,
                "name": format!("item-{i} \u{e9}l\u{e8}ve \"quoted\""),
                "value": (i * 37 % 1000) as f64 + [0.25, 0.5, 0.75, 0.125][i % 4],
                "tags": [format!("t{}", i % 5), format!("group-{}", i % 3)],
            })
        })
        .collect()
}

/// The `data:` payloads of a server-sent-events body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d).to_string())
        .collect()
}

/// JSON equality with numbers compared as values (`3` equals `3.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `v` holds `key: want` anywhere (the downstream's answer may be
/// returned as is or wrapped).
pub(super) fn contains_value(v: &Value, key: &str, want: u64) -> bool {
    match v {
        Value::Object(m) => {
            m.get(key).and_then(Value::as_u64) == Some(want)
                || m.values().any(|x| contains_value(x, key, want))
        }
        Value::Array(a) => a.iter().any(|x| contains_value(x, key, want)),
        _ => false,
    }
}
