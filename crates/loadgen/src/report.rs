//! Counting during a run ([`Tally`]) and the summary after it ([`Report`]): durable
//! messages per second, end-of-data latency percentiles, and a count per reply code.
//!
//! Latencies are kept whole (one `u32` of microseconds per durable message), so percentiles
//! are exact rather than bucketed; a million messages cost 4 MB. Percentiles use the
//! nearest-rank method. The report prints as a short text block or as one JSON line; this
//! module does not decide where either goes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::driver::ClientKind;
use crate::load::LoadConfig;
use crate::wire::Reply;

/// How many distinct refusal texts a run keeps.
pub const MAX_DISTINCT_REFUSALS: usize = 100;

/// Counters of one worker, merged at the end of a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// End-of-data latency of each durable message, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Recipient verdicts by reply code (`"250"`, `"451"`, ...).
    pub codes: BTreeMap<u16, u64>,
    /// Every distinct non-2xx verdict (code, enhanced code and text), with its count; at most
    /// [`MAX_DISTINCT_REFUSALS`] distinct ones, the rest only in `codes`.
    pub refusals: BTreeMap<String, u64>,
    /// Messages every recipient of which got a 2xx.
    pub durable: u64,
    /// Messages given up (a 5xx, or out of attempts).
    pub failed: u64,
    /// Attempts after the first.
    pub retried: u64,
    /// Transactions cut by a broken connection.
    pub broken: u64,
    /// Messages never sent (deadline, or the server could not be reached).
    pub unsent: u64,
    /// Connection attempts, and how many failed.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// The first few error descriptions.
    pub errors: Vec<String>,
}

impl Tally {
    /// Counts the verdicts of one transaction.
    pub fn record_verdicts(&mut self, verdicts: &[Reply]) {
        for reply in verdicts {
            *self.codes.entry(reply.code).or_insert(0) += 1;
            if !reply.is_positive() {
                self.count_refusal(reply.to_string(), 1);
            }
        }
    }

    fn count_refusal(&mut self, text: String, n: u64) {
        if let Some(count) = self.refusals.get_mut(&text) {
            *count += n;
        } else if self.refusals.len() < MAX_DISTINCT_REFUSALS {
            self.refusals.insert(text, n);
        }
    }

    /// Counts a durable message and its latency.
    pub fn record_durable(&mut self, latency: Option<Duration>) {
        self.durable += 1;
        if let Some(latency) = latency {
            self.latencies_us
                .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        }
    }

    /// Adds another worker's counts.
    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (code, n) in other.codes {
            *self.codes.entry(code).or_insert(0) += n;
        }
        for (text, n) in other.refusals {
            self.count_refusal(text, n);
        }
        self.durable += other.durable;
        self.failed += other.failed;
        self.retried += other.retried;
        self.broken += other.broken;
        self.unsent += other.unsent;
        self.connects += other.connects;
        self.connect_failures += other.connect_failures;
        for error in other.errors {
            if self.errors.len() < 20 {
                self.errors.push(error);
            }
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples_us` (sorted in place).
    pub fn of(samples_us: &mut [u32]) -> Latency {
        if samples_us.is_empty() {
            return Latency::default();
        }
        samples_us.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let rank = |q: f64| {
            let n = samples_us.len();
            let index = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            ms(samples_us[index])
        };
        let sum: u64 = samples_us.iter().map(|&us| u64::from(us)).sum();
        Latency {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: ms(samples_us[samples_us.len() - 1]),
            mean: sum as f64 / samples_us.len() as f64 / 1000.0,
        }
    }
}

/// The summary of a run (also its JSON line).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `lean` or `outbound`.
    pub client: &'static str,
    /// The server.
    pub target: String,
    /// Concurrent connections.
    pub connections: usize,
    /// Messages per connection.
    pub messages_per_connection: u64,
    /// Message size in octets.
    pub size: usize,
    /// Wall time from the first transaction to the last, in seconds.
    pub elapsed_s: f64,
    /// Messages every recipient of which got a 2xx.
    pub durable: u64,
    /// `durable / elapsed_s`.
    pub durable_per_s: f64,
    /// End of data to the last 250 (whole transaction with the outbound client).
    pub latency_ms: Latency,
    /// Recipient verdicts by reply code.
    pub codes: BTreeMap<String, u64>,
    /// Each distinct non-2xx verdict with its count.
    pub refusals: BTreeMap<String, u64>,
    /// Messages given up.
    pub failed: u64,
    /// Attempts after the first.
    pub retried: u64,
    /// Transactions cut by a broken connection.
    pub broken: u64,
    /// Messages never sent.
    pub unsent: u64,
    /// Connection attempts.
    pub connects: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// The first few errors.
    pub errors: Vec<String>,
}

impl Report {
    /// Summarises a run of `config` that took `elapsed`.
    pub fn new(config: &LoadConfig, mut tally: Tally, elapsed: Duration) -> Report {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Report {
            client: match config.client {
                ClientKind::Lean => "lean",
                ClientKind::Outbound => "outbound",
            },
            target: config.target.to_string(),
            connections: config.connections,
            messages_per_connection: config.messages_per_connection,
            size: config.message.size,
            elapsed_s: seconds,
            durable: tally.durable,
            durable_per_s: tally.durable as f64 / seconds,
            latency_ms: Latency::of(&mut tally.latencies_us),
            codes: tally
                .codes
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            refusals: tally.refusals,
            failed: tally.failed,
            retried: tally.retried,
            broken: tally.broken,
            unsent: tally.unsent,
            connects: tally.connects,
            connect_failures: tally.connect_failures,
            errors: tally.errors,
        }
    }

    /// The report as one line of JSON.
    pub fn to_json_line(&self) -> String {
        // A struct of numbers, strings and string-keyed maps always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_ms;
        writeln!(
            f,
            "{} connection(s) x {} messages of {} B to {} ({} client)",
            self.connections, self.messages_per_connection, self.size, self.target, self.client
        )?;
        writeln!(
            f,
            "durable: {} in {:.2} s = {:.0} messages/s",
            self.durable, self.elapsed_s, self.durable_per_s
        )?;
        writeln!(
            f,
            "latency (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
            l.p50, l.p90, l.p99, l.max, l.mean
        )?;
        let codes: Vec<String> = self
            .codes
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        writeln!(f, "replies: {}", codes.join(", "))?;
        for (refusal, n) in &self.refusals {
            writeln!(f, "  {n} x {refusal}")?;
        }
        write!(
            f,
            "failed {}  retried {}  broken {}  unsent {}  connects {} ({} failed)",
            self.failed,
            self.retried,
            self.broken,
            self.unsent,
            self.connects,
            self.connect_failures
        )?;
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<u32> = (1..=100).rev().map(|ms| ms * 1000).collect();
        let latency = Latency::of(&mut samples);
        assert_eq!(latency.p50, 50.0);
        assert_eq!(latency.p90, 90.0);
        assert_eq!(latency.p99, 99.0);
        assert_eq!(latency.max, 100.0);
        assert_eq!(latency.mean, 50.5);
        assert_eq!(Latency::of(&mut []), Latency::default());
        assert_eq!(Latency::of(&mut [1500]).p99, 1.5);
    }

    #[test]
    fn tallies_merge_and_count_codes_per_recipient() {
        let reply = |code| Reply {
            code,
            enhanced: None,
            text: "text".into(),
        };
        let mut a = Tally::default();
        a.record_verdicts(&[reply(250), reply(451)]);
        a.record_durable(Some(Duration::from_micros(700)));
        let mut b = Tally::default();
        b.record_verdicts(&[reply(250)]);
        b.record_durable(None);
        b.broken = 2;
        a.merge(b);
        let mut c = Tally::default();
        c.record_verdicts(&[reply(451)]);
        a.merge(c);
        assert_eq!(a.codes, BTreeMap::from([(250, 2), (451, 2)]));
        assert_eq!(a.refusals, BTreeMap::from([("451 text".to_string(), 2)]));
        assert_eq!(a.durable, 2);
        assert_eq!(a.latencies_us, vec![700]);
        assert_eq!(a.broken, 2);
    }
}
