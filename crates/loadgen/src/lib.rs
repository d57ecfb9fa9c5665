//! mailcast's LMTP load generator: drives N concurrent LMTP connections (TCP or a Unix
//! socket), each sending M messages one transaction after another on the same connection, as
//! Postfix's cached LMTP connections do, and reports durable messages per second, the latency
//! from the end of data to the 250s, and every reply code.
//!
//! - [`message`]: realistic posts of a given size with unique Message-IDs (no I/O);
//! - [`wire`]: commands, dot-stuffing and reply parsing (no I/O);
//! - [`client`]: the lean tokio LMTP client that measures the end-of-data latency and keeps
//!   the queue id of every 250;
//! - [`load`]: the run itself (connections, retries, reconnects, deadline), with an
//!   acknowledgement log ([`Ack`]) for crash tests;
//! - [`report`]: counts, percentiles, text and JSON;
//! - [`sink`]: a do-nothing LMTP server, to measure the generator's own ceiling.
//!
//! `mailcast_outbound::Connection` can drive the load instead of the lean client
//! ([`ClientKind::Outbound`]), to compare the two. The generator does not start or stop the
//! server under test and does not look at its spool; `bench/lmtp/run.sh` and the daemon's
//! crash test do that.
#![warn(missing_docs)]

pub mod client;
mod driver;
pub mod load;
pub mod message;
pub mod report;
pub mod sink;
pub mod wire;

use std::path::PathBuf;

pub use driver::ClientKind;
pub use load::{Ack, LoadConfig, Outcome, Retry, run};
pub use mailcast_outbound::Target;
pub use message::{MessageFactory, MessageSpec};
pub use report::{Latency, Report};

/// Parses `HOST:PORT` (TCP) or `unix:PATH` (a Unix-domain socket).
pub fn parse_target(text: &str) -> Result<Target, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("unix: needs a socket path".into());
        }
        return Ok(Target::Unix(PathBuf::from(path)));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is neither HOST:PORT nor unix:PATH"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("{port:?} is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    Ok(Target::Tcp {
        host: host.to_string(),
        port,
    })
}

/// The acknowledgement log of a run: `ack<TAB>message-id<TAB>queue-id[,queue-id...]` for each
/// durable message, then `uncertain<TAB>message-id` for each message whose connection broke
/// after the end of data.
pub fn ack_log(outcome: &Outcome) -> String {
    let mut log = String::new();
    for ack in &outcome.acks {
        log.push_str("ack\t");
        log.push_str(&ack.message_id);
        log.push('\t');
        log.push_str(&ack.queue_ids.join(","));
        log.push('\n');
    }
    for message_id in &outcome.uncertain {
        log.push_str("uncertain\t");
        log.push_str(message_id);
        log.push('\n');
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("127.0.0.1:8024"),
            Ok(Target::Tcp {
                host: "127.0.0.1".into(),
                port: 8024
            })
        );
        assert_eq!(
            parse_target("[::1]:24"),
            Ok(Target::Tcp {
                host: "::1".into(),
                port: 24
            })
        );
        assert_eq!(
            parse_target("unix:/run/mailcast/lmtp"),
            Ok(Target::Unix("/run/mailcast/lmtp".into()))
        );
        for bad in ["localhost", "unix:", ":24", "host:http", "host:70000"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
