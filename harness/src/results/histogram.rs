//! The one HDR histogram layout used everywhere, and its mergeable serialized form.
//!
//! Every latency histogram in claimbench has the same bounds (1 µs .. 1 h) and
//! 3 significant digits, so histograms from different workers, processes or
//! machines add exactly (see `shared/design/pitfalls.md`). Values above the
//! upper bound are never clamped silently: they are counted in
//! [`Latency::overflow`] and the true maximum is kept beside the histogram.
//!
//! The serialized form is HdrHistogram's V2 compressed encoding in base64,
//! readable by every HdrHistogram implementation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::sync::{Arc, OnceLock};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Lowest discernible value: 1 µs.
pub const LOWEST_US: u64 = 1;
/// Highest trackable value: one hour in µs.
pub const HIGHEST_US: u64 = 3_600_000_000;
/// Significant decimal digits kept.
pub const SIGFIG: u8 = 3;

/// A new, empty histogram of the fixed layout.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG)
        .expect("the fixed histogram bounds are valid")
}

/// A latency distribution in microseconds with the fixed layout, plus the
/// values that fell outside it.
///
/// A distribution is held either live (a histogram, while recording or
/// after a query) or compact (its encoded form only, as read from a file or
/// after [`Latency::compact`]): a results file with thousands of histograms
/// stays small in memory, and each is decoded only when asked for.
#[derive(Clone, Debug)]
pub struct Latency {
    live: OnceLock<Histogram<u64>>,
    encoded: Option<Arc<str>>,
    /// Values above [`HIGHEST_US`], counted but not in the histogram.
    pub overflow: u64,
    /// The largest value seen, including overflowed ones.
    pub max_seen_us: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            live: OnceLock::from(new_histogram()),
            encoded: None,
            overflow: 0,
            max_seen_us: 0,
        }
    }
}

impl PartialEq for Latency {
    fn eq(&self, other: &Self) -> bool {
        self.overflow == other.overflow
            && self.max_seen_us == other.max_seen_us
            && self.hist() == other.hist()
    }
}

impl Latency {
    /// The histogram (decoded on first use when the distribution is compact).
    pub fn hist(&self) -> &Histogram<u64> {
        self.live.get_or_init(|| {
            let encoded = self
                .encoded
                .as_deref()
                .expect("a latency holds a histogram or its encoding");
            decode_histogram(encoded).expect("encodings are validated when read or made")
        })
    }

    #[inline]
    fn hist_mut(&mut self) -> &mut Histogram<u64> {
        if self.live.get().is_none() {
            self.hist();
        }
        self.encoded = None;
        self.live.get_mut().expect("decoded above")
    }

    /// Records one value in microseconds. Zero is recorded as 1 µs (the lowest
    /// discernible value); values above the bound go to `overflow`.
    #[inline]
    pub fn record(&mut self, us: u64) {
        let v = us.max(LOWEST_US);
        if v > self.max_seen_us {
            self.max_seen_us = v;
        }
        if self.hist_mut().record(v).is_err() {
            self.overflow += 1;
        }
    }

    /// Empties the distribution, keeping its allocation.
    pub fn reset(&mut self) {
        self.hist_mut().reset();
        self.overflow = 0;
        self.max_seen_us = 0;
    }

    /// Keeps only the encoded form, freeing the histogram's memory until it
    /// is needed again.
    pub fn compact(&mut self) {
        if self.encoded.is_none() {
            self.encoded = Some(encode_histogram(self.hist()).into());
        }
        self.live = OnceLock::new();
    }

    /// A compact copy (encoded form only), leaving `self` as it is.
    pub fn to_compact(&self) -> Latency {
        Latency {
            live: OnceLock::new(),
            encoded: Some(self.encode().into()),
            overflow: self.overflow,
            max_seen_us: self.max_seen_us,
        }
    }

    /// Number of values recorded (including overflowed ones).
    pub fn count(&self) -> u64 {
        self.hist().len() + self.overflow
    }

    /// Adds another distribution of the same layout into this one. Exact.
    pub fn add(&mut self, other: &Latency) {
        let o = other.hist();
        self.hist_mut()
            .add(o)
            .expect("histograms of the fixed layout always add");
        self.overflow += other.overflow;
        self.max_seen_us = self.max_seen_us.max(other.max_seen_us);
    }

    /// Value at quantile `q` (0..=1), in µs. Overflowed values sort above
    /// every histogram value, so a quantile that falls among them reports
    /// `max_seen_us`. Returns 0 for an empty distribution.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let h = self.hist();
        let rank = (q.clamp(0.0, 1.0) * total as f64).ceil() as u64;
        if rank > h.len() {
            return self.max_seen_us;
        }
        // Express the rank as a quantile of the in-range histogram alone.
        // A bucket's highest equivalent value may lie above the largest
        // value recorded: no percentile is reported above the maximum.
        let in_q = rank as f64 / h.len() as f64;
        h.value_at_quantile(in_q.min(1.0))
            .min(self.max_seen_us.max(1))
    }

    /// Summary figures of this distribution.
    pub fn percentiles(&self) -> super::schema::Percentiles {
        let n = self.count();
        let h = self.hist();
        super::schema::Percentiles {
            count: n,
            min_us: if n == 0 { 0 } else { h.min() },
            mean_us: if h.is_empty() { 0.0 } else { h.mean() },
            stdev_us: if h.is_empty() { 0.0 } else { h.stdev() },
            p50_us: self.quantile_us(0.50),
            p75_us: self.quantile_us(0.75),
            p90_us: self.quantile_us(0.90),
            p99_us: self.quantile_us(0.99),
            p999_us: self.quantile_us(0.999),
            p9999_us: self.quantile_us(0.9999),
            max_us: self.max_seen_us,
            overflow: self.overflow,
        }
    }

    /// Encodes the histogram as base64 of HdrHistogram V2 + DEFLATE.
    pub fn encode(&self) -> String {
        match &self.encoded {
            Some(e) => e.to_string(),
            None => encode_histogram(self.hist()),
        }
    }

    /// Decodes what [`Latency::encode`] wrote, checking it fully, and keeps
    /// it compact. The histogram is re-laid into the fixed layout when used,
    /// so it adds exactly with any other.
    pub fn decode(b64: &str, overflow: u64, max_seen_us: u64) -> Result<Self, HistogramError> {
        decode_histogram(b64)?;
        Ok(Self {
            live: OnceLock::new(),
            encoded: Some(b64.trim().into()),
            overflow,
            max_seen_us,
        })
    }
}

fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    BASE64.encode(buf)
}

fn decode_histogram(b64: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = BASE64
        .decode(b64.trim())
        .map_err(|e| HistogramError(format!("not base64: {e}")))?;
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| HistogramError(format!("not an HdrHistogram V2 histogram: {e:?}")))?;
    let mut hist = new_histogram();
    hist.add(&decoded)
        .map_err(|e| HistogramError(format!("values outside the fixed layout: {e:?}")))?;
    Ok(hist)
}

/// A histogram that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid histogram: {0}")]
pub struct HistogramError(pub String);

/// The serialized form of a [`Latency`] inside the results JSON.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Latency")]
struct EncodedLatency {
    /// HdrHistogram V2 + DEFLATE, base64; 1 µs .. 1 h, 3 significant digits.
    hdr_v2_base64: String,
    /// Values above one hour, not in the histogram.
    overflow: u64,
    /// Largest value seen, µs.
    max_seen_us: u64,
}

impl schemars::JsonSchema for Latency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Latency".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        EncodedLatency::json_schema(g)
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EncodedLatency {
            hdr_v2_base64: self.encode(),
            overflow: self.overflow,
            max_seen_us: self.max_seen_us,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = EncodedLatency::deserialize(d)?;
        Latency::decode(&e.hdr_v2_base64, e.overflow, e.max_seen_us)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_exact_and_round_trips() {
        let mut a = Latency::default();
        let mut b = Latency::default();
        for v in 1..=10_000u64 {
            a.record(v);
            b.record(v * 7);
        }
        b.record(HIGHEST_US * 4);
        let mut merged = a.clone();
        merged.add(&b);
        assert_eq!(merged.count(), 20_001);
        assert_eq!(merged.overflow, 1);
        assert_eq!(merged.max_seen_us, HIGHEST_US * 4);

        let json = serde_json::to_string(&b).unwrap();
        let back: Latency = serde_json::from_str(&json).unwrap();
        let mut merged2 = a.clone();
        merged2.add(&back);
        assert_eq!(merged2.hist(), merged.hist());
        let mut c = merged.clone();
        c.compact();
        assert_eq!(c, merged);
        assert_eq!(c.percentiles(), merged.percentiles());
        assert_eq!(merged2.percentiles(), merged.percentiles());
    }

    proptest::proptest! {
        /// Values spread over any number of shards, each written to a file
        /// and read back, add up to exactly the one recording of them all.
        #[test]
        fn shards_merge_into_exactly_one_recording(
            values in proptest::collection::vec(
                (0u64..HIGHEST_US * 2, 0usize..5), 0..400),
            shards in 1usize..5,
        ) {
            let mut one = Latency::default();
            let mut parts = vec![Latency::default(); shards];
            for &(v, s) in &values {
                one.record(v);
                parts[s % shards].record(v);
            }
            let mut merged = Latency::default();
            for p in &parts {
                let back: Latency =
                    serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap();
                merged.add(&back);
            }
            proptest::prop_assert_eq!(merged.hist(), one.hist());
            proptest::prop_assert_eq!(merged.percentiles(), one.percentiles());
        }
    }

    #[test]
    fn quantiles_include_overflow() {
        let mut l = Latency::default();
        for _ in 0..99 {
            l.record(1000);
        }
        l.record(HIGHEST_US * 2);
        assert_eq!(l.quantile_us(0.5), l.hist().value_at_quantile(0.5));
        assert_eq!(l.quantile_us(1.0), HIGHEST_US * 2);
        assert_eq!(l.percentiles().max_us, HIGHEST_US * 2);
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(Latency::decode("%%%", 0, 0).is_err());
        assert!(Latency::decode("aGVsbG8=", 0, 0).is_err());
    }
}
