//! The hand-off of `mailcast inject`: one LMTP transaction with the running daemon.
//!
//! A blocking shell (no runtime, no threads) around the outbound crate's sans-io client core
//! (`mailcast_outbound::protocol`), which does the LMTP work: LHLO, pipelined MAIL and RCPT,
//! dot-stuffed DATA, the per-recipient reply. It connects to the daemon's first Unix-socket
//! listener, else its first TCP one (an unspecified address means loopback), and reports what
//! that means for the caller ([`Handoff`]): only a `250` is final; a refusal or a failure
//! before the end of data stored nothing; silence after the end of data is uncertain.
//!
//! Not here: deciding anything about the message (the daemon does, or the direct way when
//! the daemon does not take it).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use mailcast_outbound::protocol::{Session, SessionConfig, Step, Timer};
use mailcast_outbound::{RcptOutcome, SessionErrorKind};

use crate::config::{Listen, Settings};

/// How long connecting to the daemon may take: it is local, so it answers at once or not at
/// all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the daemon may take to answer a command (it decides RCPT from memory).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to read the message and answer the end of data: RFC 5321's ten
/// minutes, since giving up then leaves the outcome uncertain.
const DATA_TIMEOUT: Duration = Duration::from_secs(600);
/// Read buffer: the daemon's replies to one transaction are a few hundred octets.
const READ_BUFFER: usize = 4096;

/// What became of the message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Handoff {
    /// The daemon answered `250`: it stored the message durably, or its list's policy
    /// discards it.
    Accepted,
    /// The daemon did not take it: it is not running or not reachable, it refused the
    /// message or the recipient, or it failed before the end of data. Nothing was stored.
    Declined(String),
    /// The end of data was sent and no answer came: the daemon may have stored it.
    Uncertain(String),
}

/// Hands the message to the daemon for one recipient.
pub(super) fn deliver(settings: &Settings, sender: &str, rcpt: &str, message: &[u8]) -> Handoff {
    let Some(target) = target(&settings.lmtp.listen) else {
        return Handoff::Declined("the daemon has no LMTP listener".into());
    };
    let mut stream = match Stream::connect(&target) {
        Ok(stream) => stream,
        Err(e) => return Handoff::Declined(format!("cannot connect to the daemon: {e}")),
    };
    let config = SessionConfig {
        helo_name: settings.hostname.clone(),
        lmtp: true,
        use_chunking: false,
    };
    transact(&mut stream, config, sender, rcpt, message)
}

/// Runs the session and its one transaction on `stream`.
fn transact(
    stream: &mut Stream,
    config: SessionConfig,
    sender: &str,
    rcpt: &str,
    message: &[u8],
) -> Handoff {
    let mut session = Session::new(config);
    let mut out = Vec::new();
    let mut input = [0u8; READ_BUFFER];
    loop {
        let step = match session.pump(&mut out) {
            Ok(step) => step,
            Err(e) => return Handoff::Declined(e.to_string()),
        };
        let done = match step {
            Step::Write(timer) => stream.write(&mut out, timer),
            Step::Read(timer) => stream.read(&mut input, timer).map(|n| {
                session.receive(&input[..n]);
            }),
            Step::Done => break,
        };
        if let Err(kind) = done {
            return Handoff::Declined(session.fail(kind).to_string());
        }
    }
    let rcpts = [rcpt.to_string()];
    let mut txn = session.transaction(sender, &rcpts, message);
    loop {
        let done = match txn.pump(&mut out) {
            Step::Write(timer) => stream.write(&mut out, timer),
            Step::Read(timer) => stream
                .read(&mut input, timer)
                .map(|n| txn.receive(&input[..n])),
            Step::Done => break,
        };
        if let Err(kind) = done {
            return failed(txn.fail(kind));
        }
    }
    let outcome = match txn.finish() {
        Ok(mut outcomes) => outcomes.pop(),
        Err(e) => return failed(e),
    };
    // Best effort: the daemon needs no answer to QUIT, and neither do we.
    session.quit(&mut out);
    let _ = stream.write(&mut out, Timer::Command);
    match outcome {
        Some(RcptOutcome::Delivered) => Handoff::Accepted,
        Some(refused) => Handoff::Declined(
            refused
                .reply()
                .map_or_else(|| "no reply".into(), |r| r.to_string()),
        ),
        None => Handoff::Declined("no outcome for the recipient".into()),
    }
}

/// A session failure: uncertain once the end of data may have reached the daemon.
fn failed(error: mailcast_outbound::SessionError) -> Handoff {
    if error.may_have_delivered() {
        Handoff::Uncertain(error.to_string())
    } else {
        Handoff::Declined(error.to_string())
    }
}

/// Where the daemon listens: its first Unix socket, else its first TCP address, with an
/// unspecified address (`0.0.0.0`, `::`) replaced by loopback.
fn target(listen: &[Listen]) -> Option<Listen> {
    if let Some(unix) = listen.iter().find(|l| matches!(l, Listen::Unix(_))) {
        return Some(unix.clone());
    }
    listen.iter().find_map(|l| match l {
        Listen::Tcp(addr) if addr.ip().is_unspecified() => {
            let ip = match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            Some(Listen::Tcp(SocketAddr::new(ip, addr.port())))
        }
        Listen::Tcp(_) => Some(l.clone()),
        Listen::Unix(_) => None,
    })
}

/// A blocking connection to the daemon.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn connect(target: &Listen) -> io::Result<Stream> {
        Ok(match target {
            Listen::Tcp(addr) => {
                let stream = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
                stream.set_nodelay(true)?;
                Stream::Tcp(stream)
            }
            Listen::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
        })
    }

    /// Writes all of `out` within the timer's limit, then clears it.
    fn write(&mut self, out: &mut Vec<u8>, timer: Timer) -> Result<(), SessionErrorKind> {
        let limit = Some(limit(timer));
        let result = match self {
            Stream::Tcp(s) => s.set_write_timeout(limit).and_then(|()| s.write_all(out)),
            Stream::Unix(s) => s.set_write_timeout(limit).and_then(|()| s.write_all(out)),
        };
        out.clear();
        result.map_err(io_failure)
    }

    /// Reads some bytes within the timer's limit; the end of the stream is a failure.
    fn read(&mut self, input: &mut [u8], timer: Timer) -> Result<usize, SessionErrorKind> {
        let limit = Some(limit(timer));
        let result = match self {
            Stream::Tcp(s) => s.set_read_timeout(limit).and_then(|()| s.read(input)),
            Stream::Unix(s) => s.set_read_timeout(limit).and_then(|()| s.read(input)),
        };
        match result {
            Ok(0) => Err(SessionErrorKind::Closed),
            Ok(n) => Ok(n),
            Err(e) => Err(io_failure(e)),
        }
    }
}

fn limit(timer: Timer) -> Duration {
    match timer {
        Timer::Command => COMMAND_TIMEOUT,
        Timer::Data => DATA_TIMEOUT,
    }
}

/// A socket timeout shows as `WouldBlock` or `TimedOut`, depending on the platform.
fn io_failure(error: io::Error) -> SessionErrorKind {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => SessionErrorKind::Timeout,
        _ => SessionErrorKind::Io(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    /// How a scripted daemon answers; `None` closes the connection instead of answering.
    #[derive(Clone, Copy)]
    struct Script {
        greeting: Option<&'static str>,
        mail: Option<&'static str>,
        rcpt: Option<&'static str>,
        end_of_data: Option<&'static str>,
    }

    const HAPPY: Script = Script {
        greeting: Some("220 lists.test LMTP"),
        mail: Some("250 2.1.0 Ok"),
        rcpt: Some("250 2.1.5 Ok"),
        end_of_data: Some("250 2.0.0 Stored"),
    };

    /// Runs one hand-off against a daemon that follows `script`; returns the outcome and the
    /// message the daemon received, if it got to the end of data.
    fn against(script: Script) -> (Handoff, Option<Vec<u8>>) {
        let (client, server) = UnixStream::pair().unwrap();
        let daemon = std::thread::spawn(move || serve(server, script));
        let mut stream = Stream::Unix(client);
        let config = SessionConfig {
            helo_name: "lists.test".into(),
            lmtp: true,
            use_chunking: false,
        };
        let message = b"Subject: x\r\n\r\n.dot first\r\n";
        let outcome = transact(
            &mut stream,
            config,
            "anne@example.org",
            "dev@a.test",
            message,
        );
        drop(stream);
        (outcome, daemon.join().unwrap())
    }

    fn serve(stream: UnixStream, script: Script) -> Option<Vec<u8>> {
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut say = |reply: Option<&str>| match reply {
            Some(r) => writer.write_all(format!("{r}\r\n").as_bytes()).is_ok(),
            None => false,
        };
        if !say(script.greeting) {
            return None;
        }
        let mut line = String::new();
        let mut accepted = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply = match verb.as_str() {
                "LHLO" => Some("250-lists.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES"),
                "MAIL" => script.mail,
                "RCPT" if !script.mail.is_some_and(|r| r.starts_with('2')) => {
                    Some("503 5.5.1 MAIL first")
                }
                "RCPT" => {
                    accepted += usize::from(script.rcpt.is_some_and(|r| r.starts_with('2')));
                    script.rcpt
                }
                "DATA" if accepted == 0 => Some("503 5.5.1 No valid recipients"),
                "RSET" | "QUIT" => Some("250 2.0.0 Ok"),
                "DATA" => {
                    say(Some("354 Go ahead"));
                    let mut body = Vec::new();
                    loop {
                        let mut data = Vec::new();
                        reader.read_until(b'\n', &mut data).ok()?;
                        if data.is_empty() || data == b".\r\n" {
                            break;
                        }
                        body.extend_from_slice(&data);
                    }
                    say(script.end_of_data);
                    return Some(body);
                }
                _ => Some("500 5.5.1 Unknown command"),
            };
            if !say(reply) {
                return None;
            }
        }
    }

    #[test]
    fn only_a_250_is_accepted_and_only_silence_after_the_data_is_uncertain() {
        let declined = |outcome: &Handoff| matches!(outcome, Handoff::Declined(_));
        let (accepted, body) = against(HAPPY);
        assert_eq!(accepted, Handoff::Accepted);
        // The body arrives dot-stuffed, as LMTP carries it.
        assert_eq!(
            body.as_deref(),
            Some(&b"Subject: x\r\n\r\n..dot first\r\n"[..])
        );
        for (script, refused_before_data) in [
            (
                Script {
                    end_of_data: Some("550 5.7.1 Non-members are not allowed"),
                    ..HAPPY
                },
                false,
            ),
            (
                Script {
                    end_of_data: Some("451 4.3.0 Cannot store the message"),
                    ..HAPPY
                },
                false,
            ),
            (
                Script {
                    rcpt: Some("550 5.1.1 <dev@a.test>: no such list address"),
                    ..HAPPY
                },
                true,
            ),
            (
                Script {
                    mail: Some("501 5.1.7 Bad sender address syntax"),
                    ..HAPPY
                },
                true,
            ),
            (
                Script {
                    greeting: Some("421 4.3.2 Shutting down"),
                    ..HAPPY
                },
                true,
            ),
            (
                Script {
                    rcpt: None,
                    ..HAPPY
                },
                true,
            ),
        ] {
            let (outcome, body) = against(script);
            assert!(declined(&outcome), "{outcome:?}");
            assert_eq!(body.is_none(), refused_before_data, "{outcome:?}");
        }
        let (silent, body) = against(Script {
            end_of_data: None,
            ..HAPPY
        });
        assert!(matches!(silent, Handoff::Uncertain(_)), "{silent:?}");
        assert!(body.is_some());
    }

    #[test]
    fn a_daemon_that_is_not_running_declines() {
        let dir = tempfile::tempdir().unwrap();
        let config = "[lmtp]\nlisten = \"unix:lmtp.sock\"\n";
        let settings = Settings::from_toml(config, dir.path(), None).unwrap();
        let outcome = deliver(&settings, "", "dev@a.test", b"Subject: x\r\n\r\n");
        assert!(
            matches!(&outcome, Handoff::Declined(why) if why.contains("cannot connect")),
            "{outcome:?}"
        );
    }

    #[test]
    fn the_target_is_a_unix_socket_first_and_loopback_for_a_wildcard() {
        let tcp = |s: &str| Listen::Tcp(s.parse().unwrap());
        let unix = Listen::Unix("/run/mailcast/lmtp".into());
        assert_eq!(
            target(&[tcp("127.0.0.1:8024"), unix.clone()]),
            Some(unix.clone())
        );
        assert_eq!(target(&[tcp("0.0.0.0:24")]), Some(tcp("127.0.0.1:24")));
        assert_eq!(target(&[tcp("[::]:24")]), Some(tcp("[::1]:24")));
        assert_eq!(target(&[tcp("192.0.2.7:24")]), Some(tcp("192.0.2.7:24")));
        assert_eq!(target(&[]), None);
    }
}
