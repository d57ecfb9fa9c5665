//! The bounce corpus in `testdata/bounces/`: every sample is analysed and its verdict and its
//! exact set of (address, class, status, poster policy) compared with its `MANIFEST` line.
//!
//! The test fails when a sample has no manifest line or a manifest line no sample, when there
//! are fewer than 40 samples, and on any difference; it reports every mismatch at once, as
//! "missing" (expected, not reported) and "unexpected" (reported, not expected) recipients.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mailcast_bounce::{NotABounce, Report, Verdict, analyse};

/// The fewest samples the corpus may have.
const MIN_SAMPLES: usize = 40;

/// (address, class, status, policy) as the manifest writes them.
type Row = (String, String, Option<String>, Option<String>);

struct Expected {
    verdict: String,
    recipients: BTreeSet<Row>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bounces")
}

fn parse_manifest(text: &str) -> BTreeMap<String, Expected> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let file = words.next().expect("a file name").to_string();
        let verdict = words
            .next()
            .unwrap_or_else(|| panic!("MANIFEST line {}: no verdict", n + 1))
            .to_string();
        let recipients = words.map(|w| parse_row(w, n + 1)).collect();
        let previous = out.insert(
            file.clone(),
            Expected {
                verdict,
                recipients,
            },
        );
        assert!(
            previous.is_none(),
            "MANIFEST line {}: {file} listed twice",
            n + 1
        );
    }
    out
}

fn parse_row(word: &str, line: usize) -> Row {
    // The address may itself hold `=`: the class starts at the first `=<class>`.
    let (address, rest) = ["=permanent", "=temporary", "=not-failure"]
        .iter()
        .filter_map(|class| word.find(class).map(|at| (&word[..at], &word[at + 1..])))
        .min_by_key(|(address, _)| address.len())
        .unwrap_or_else(|| panic!("MANIFEST line {line}: bad recipient {word:?}"));
    let mut parts = rest.split(',');
    let class = parts.next().expect("a class").to_string();
    let mut status = None;
    let mut policy = None;
    for part in parts {
        match part.strip_prefix("policy=") {
            Some(p) => policy = Some(p.to_string()),
            None => status = Some(part.to_string()),
        }
    }
    (address.to_string(), class, status, policy)
}

fn verdict_label(verdict: Verdict) -> String {
    match verdict {
        Verdict::Bounce(format) => format!("bounce:{}", format.as_str()),
        Verdict::NotABounce(NotABounce::AutoReply) => "autoreply".into(),
        Verdict::NotABounce(NotABounce::Complaint) => "complaint".into(),
        Verdict::NotABounce(NotABounce::ChallengeResponse) => "challenge".into(),
        Verdict::Unrecognized => "unrecognized".into(),
    }
}

fn rows(report: &Report) -> BTreeSet<Row> {
    report
        .recipients
        .iter()
        .map(|r| {
            (
                r.address.clone(),
                r.class.as_str().to_string(),
                r.status.clone(),
                r.poster_policy.map(|p| p.as_str().to_string()),
            )
        })
        .collect()
}

fn show(row: &Row) -> String {
    let mut s = format!("{}={}", row.0, row.1);
    if let Some(status) = &row.2 {
        write!(s, ",{status}").unwrap();
    }
    if let Some(policy) = &row.3 {
        write!(s, ",policy={policy}").unwrap();
    }
    s
}

#[test]
fn every_sample_matches_its_manifest_line() {
    let dir = corpus_dir();
    let manifest =
        std::fs::read_to_string(dir.join("MANIFEST")).expect("testdata/bounces/MANIFEST");
    let expected = parse_manifest(&manifest);
    let samples: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("testdata/bounces exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".eml"))
        .collect();

    let mut failures = String::new();
    for name in samples.iter().filter(|n| !expected.contains_key(*n)) {
        writeln!(failures, "{name}: no MANIFEST line").unwrap();
    }
    for name in expected.keys().filter(|n| !samples.contains(*n)) {
        writeln!(failures, "{name}: in MANIFEST but no such file").unwrap();
    }
    assert!(
        samples.len() >= MIN_SAMPLES,
        "the corpus has {} samples, fewer than {MIN_SAMPLES}",
        samples.len()
    );

    for (name, want) in &expected {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            continue;
        };
        let report = analyse(&bytes);
        let verdict = verdict_label(report.verdict);
        let got = rows(&report);
        if verdict == want.verdict && got == want.recipients {
            continue;
        }
        writeln!(failures, "{name}:").unwrap();
        if verdict != want.verdict {
            writeln!(
                failures,
                "    verdict: expected {}, got {verdict}",
                want.verdict
            )
            .unwrap();
        }
        for row in want.recipients.difference(&got) {
            writeln!(failures, "    missing:    {}", show(row)).unwrap();
        }
        for row in got.difference(&want.recipients) {
            writeln!(failures, "    unexpected: {}", show(row)).unwrap();
        }
        for r in &report.recipients {
            writeln!(
                failures,
                "      (diagnostic of {}: {:?})",
                r.address, r.diagnostic
            )
            .unwrap();
        }
    }
    assert!(failures.is_empty(), "corpus mismatches:\n{failures}");
}

#[test]
fn the_manifest_format_parses() {
    let m = parse_manifest(
        "# comment\n\na.eml bounce:dsn x=y@example.net=permanent,5.1.1,policy=dmarc b@example.net=temporary\nb.eml autoreply\n",
    );
    let a = &m["a.eml"];
    assert_eq!(a.verdict, "bounce:dsn");
    assert!(a.recipients.contains(&(
        "x=y@example.net".into(),
        "permanent".into(),
        Some("5.1.1".into()),
        Some("dmarc".into())
    )));
    assert!(
        a.recipients
            .contains(&("b@example.net".into(), "temporary".into(), None, None))
    );
    assert!(m["b.eml"].recipients.is_empty());
}
