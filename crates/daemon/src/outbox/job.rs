//! What a delivery job remembers about itself, and the format of its recipient lines.
//!
//! The spool stores a job as one body, opaque recipient lines and a progress log; everything
//! the outgoing runner needs besides that lives in the envelope's `attrs.job` object
//! ([`JobAttrs`], versioned JSON): what kind of mail it is, bulk or one copy per recipient,
//! whether the envelope sender is VERP-encoded, the retry deadline and generation, and the
//! Message-ID for bounce records. A recipient line is the address, optionally followed by a
//! tab and the member's display name (only personalized jobs carry names).
//!
//! This module only encodes and decodes; it does not read or write the spool.

use jiff::Timestamp;
use mailcast_spool::EntryId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key of the job's attributes in the envelope's `attrs`.
pub const ATTRS_KEY: &str = "job";
/// Set in `attrs` once the permanent failures of a finished job were recorded in the store,
/// so that a re-run after a crash does not record them twice.
pub const FAILURES_RECORDED_KEY: &str = "failures_recorded";
/// The version of [`JobAttrs`] this code writes and reads.
const JOB_ATTRS_VERSION: u32 = 1;

/// What kind of mail a job carries; decides whether failures count as member bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// A post to the list's members: permanent failures raise the members' bounce scores.
    Post,
    /// `-owner` mail forwarded to the owners and moderators.
    Owner,
    /// A message mailcast generated (a notice, a reply).
    Notice,
    /// A digest to the members who take digests: permanent failures count as for posts;
    /// copies are never decorated per member (the digest has its own footer).
    Digest,
}

/// How copies are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One body for everyone, several recipients per transaction.
    Bulk,
    /// One transaction per recipient, each copy rendered with the recipient's placeholders.
    Personalized,
}

/// The job's own attributes, stored under `attrs.job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAttrs {
    /// Format version ([`JOB_ATTRS_VERSION`]).
    pub version: u32,
    /// What the job carries.
    pub kind: JobKind,
    /// Bulk or personalized.
    pub mode: Mode,
    /// Whether each copy's envelope sender is VERP-encoded (personalized jobs only).
    pub verp: bool,
    /// When deferred recipients are given up (RFC 3339): the first reception plus
    /// `[smtp] delivery_retry_period`. Retry jobs carry it over unchanged.
    pub deadline: String,
    /// 0 for the first delivery, n for the n-th retry job.
    pub retry: u32,
    /// The id of the first job; retry jobs are `<origin>.r1`, `<origin>.r2`, ...
    pub origin: EntryId,
    /// The Message-ID of the message, for the bounce records.
    pub message_id: Option<String>,
}

impl JobAttrs {
    /// The attributes of a first delivery.
    pub fn new(
        kind: JobKind,
        mode: Mode,
        verp: bool,
        deadline: Timestamp,
        origin: EntryId,
        message_id: Option<String>,
    ) -> JobAttrs {
        JobAttrs {
            version: JOB_ATTRS_VERSION,
            kind,
            mode,
            verp,
            deadline: deadline.to_string(),
            retry: 0,
            origin,
            message_id,
        }
    }

    /// Reads the attributes from an envelope's `attrs`.
    pub fn from_attrs(attrs: &Map<String, Value>) -> Result<JobAttrs, JobAttrsError> {
        let value = attrs.get(ATTRS_KEY).ok_or(JobAttrsError::Missing)?;
        let job: JobAttrs = serde_json::from_value(value.clone())
            .map_err(|err| JobAttrsError::Unreadable(err.to_string()))?;
        if job.version != JOB_ATTRS_VERSION {
            return Err(JobAttrsError::Version(job.version));
        }
        job.deadline()?;
        Ok(job)
    }

    /// Stores the attributes into an envelope's `attrs`.
    pub fn write_to(&self, attrs: &mut Map<String, Value>) {
        // A struct of strings, numbers and enums always converts to a JSON value.
        let value = serde_json::to_value(self).expect("JobAttrs converts to JSON");
        attrs.insert(ATTRS_KEY.to_owned(), value);
    }

    /// The retry deadline.
    pub fn deadline(&self) -> Result<Timestamp, JobAttrsError> {
        self.deadline
            .parse()
            .map_err(|_| JobAttrsError::Unreadable(format!("bad deadline {:?}", self.deadline)))
    }

    /// The attributes of the next retry job.
    pub fn next_retry(&self) -> JobAttrs {
        JobAttrs {
            retry: self.retry + 1,
            ..self.clone()
        }
    }

    /// The id of the next retry job: `<origin>.r<n+1>`.
    pub fn next_retry_id(&self) -> Result<EntryId, mailcast_spool::Error> {
        self.origin.derive(&format!("r{}", self.retry + 1))
    }

    /// Whether permanent failures of this job count against list members.
    pub fn scores_bounces(&self) -> bool {
        matches!(self.kind, JobKind::Post | JobKind::Digest)
    }
}

/// Why an envelope's job attributes cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JobAttrsError {
    /// `attrs.job` is absent: the entry is not a delivery job made by this runner.
    #[error("the entry has no delivery job attributes (attrs.job)")]
    Missing,
    /// `attrs.job` is not in the expected shape.
    #[error("unreadable delivery job attributes: {0}")]
    Unreadable(String),
    /// `attrs.job` was written by another version.
    #[error("unknown delivery job attributes version {0}")]
    Version(u32),
}

/// One recipient of a job, as stored in a recipient line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RcptLine<'a> {
    /// The address to deliver to, as spelled by the member.
    pub address: &'a str,
    /// The member's display name, if known and kept.
    pub display_name: Option<&'a str>,
}

impl<'a> RcptLine<'a> {
    /// Splits a stored line.
    pub fn parse(line: &'a str) -> RcptLine<'a> {
        match line.split_once('\t') {
            Some((address, name)) => RcptLine {
                address,
                display_name: Some(name).filter(|n| !n.is_empty()),
            },
            None => RcptLine {
                address: line,
                display_name: None,
            },
        }
    }

    /// The stored form: the address, then a tab and the name when there is one. Control
    /// characters in the name (which could break the line format) become spaces.
    pub fn encode(address: &str, display_name: Option<&str>) -> String {
        let clean: Option<String> = display_name.map(|name| {
            name.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        });
        match clean.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            None => address.to_owned(),
            Some(name) => format!("{address}\t{name}"),
        }
    }
}

/// Sorts recipient lines by domain, then by address, ignoring ASCII case (Mailman groups by
/// top-level domain; a sort by domain keeps each domain's recipients together in as few
/// transactions as possible). Allocates nothing: it runs over 100,000 lines.
pub fn sort_by_domain(lines: &mut [String]) {
    fn key(line: &str) -> (&str, &str) {
        let address = RcptLine::parse(line).address;
        match address.rsplit_once('@') {
            Some((local, domain)) => (domain, local),
            None => ("", address),
        }
    }
    fn caseless(a: &str, b: &str) -> std::cmp::Ordering {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    }
    lines.sort_unstable_by(|a, b| {
        let ((domain_a, local_a), (domain_b, local_b)) = (key(a), key(b));
        caseless(domain_a, domain_b).then_with(|| caseless(local_a, local_b))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> JobAttrs {
        let origin = EntryId::parse("0061b4c3d2e1f-9a3c01fe.out").unwrap();
        let deadline: Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
        JobAttrs::new(
            JobKind::Post,
            Mode::Personalized,
            true,
            deadline,
            origin,
            Some("<m@x>".into()),
        )
    }

    #[test]
    fn attrs_round_trip_through_the_envelope() {
        let job = sample();
        let mut attrs = Map::new();
        attrs.insert("other".into(), Value::Bool(true));
        job.write_to(&mut attrs);
        assert_eq!(attrs["job"]["kind"], "post");
        assert_eq!(attrs["job"]["mode"], "personalized");
        assert_eq!(JobAttrs::from_attrs(&attrs).unwrap(), job);
        assert_eq!(job.deadline().unwrap().to_string(), "2030-01-02T03:04:05Z");
    }

    #[test]
    fn missing_unknown_or_damaged_attrs_are_refused() {
        assert!(matches!(
            JobAttrs::from_attrs(&Map::new()),
            Err(JobAttrsError::Missing)
        ));
        let mut attrs = Map::new();
        sample().write_to(&mut attrs);
        attrs["job"]["version"] = Value::from(2);
        assert!(matches!(
            JobAttrs::from_attrs(&attrs),
            Err(JobAttrsError::Version(2))
        ));
        sample().write_to(&mut attrs);
        attrs["job"]["deadline"] = Value::from("tomorrow");
        assert!(matches!(
            JobAttrs::from_attrs(&attrs),
            Err(JobAttrsError::Unreadable(_))
        ));
    }

    #[test]
    fn retry_ids_derive_from_the_origin_not_the_previous_retry() {
        let first = sample();
        assert_eq!(
            first.next_retry_id().unwrap().as_str(),
            "0061b4c3d2e1f-9a3c01fe.out.r1"
        );
        let second = first.next_retry();
        assert_eq!(second.retry, 1);
        assert_eq!(second.deadline, first.deadline);
        assert_eq!(
            second.next_retry_id().unwrap().as_str(),
            "0061b4c3d2e1f-9a3c01fe.out.r2"
        );
    }

    #[test]
    fn recipient_lines_round_trip_and_names_cannot_break_lines() {
        for (address, name, line) in [
            ("a@x.org", None, "a@x.org"),
            ("a@x.org", Some(""), "a@x.org"),
            ("a@x.org", Some(" Ann Lee "), "a@x.org\tAnn Lee"),
            (
                "a@x.org",
                Some("Evil\r\nBcc: x\tY"),
                "a@x.org\tEvil  Bcc: x Y",
            ),
        ] {
            let encoded = RcptLine::encode(address, name);
            assert_eq!(encoded, line);
            let parsed = RcptLine::parse(&encoded);
            assert_eq!(parsed.address, address);
            assert_eq!(
                parsed.display_name,
                name.map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|_| &line[address.len() + 1..])
            );
        }
    }

    #[test]
    fn lines_sort_by_domain_then_address() {
        let mut lines: Vec<String> = ["z@b.org", "A@c.org\tAnn", "b@a.org", "a@b.org", "c@A.org"]
            .map(String::from)
            .to_vec();
        sort_by_domain(&mut lines);
        assert_eq!(
            lines,
            ["b@a.org", "c@A.org", "a@b.org", "z@b.org", "A@c.org\tAnn"]
        );
    }
}
