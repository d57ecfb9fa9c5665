//! Conversations with a scripted server, each fed whole, split at every byte boundary, and
//! byte by byte: the client's bytes and the outcomes must not depend on how reads fall.

mod pipeline;
mod security;

use super::{Session, SessionConfig, Step};
use crate::outcome::RcptOutcome;
use crate::trouble::{SessionError, SessionErrorKind};

const GREETING: &str = "220 mx.example ESMTP\r\n";
const EHLO_PIPELINING: &str = "250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n";

struct Conversation {
    /// Everything the client wrote, in order.
    client: String,
    /// Each write of the transaction, separately.
    writes: Vec<String>,
    outcomes: Vec<String>,
    error: Option<String>,
    may_have_delivered: bool,
}

fn describe(outcome: &RcptOutcome) -> String {
    match outcome {
        RcptOutcome::Delivered => "ok".into(),
        RcptOutcome::Deferred { code, .. } => format!("defer {code}"),
        RcptOutcome::Failed { code, .. } => format!("fail {code}"),
    }
}

fn config(lmtp: bool, use_chunking: bool) -> SessionConfig {
    SessionConfig {
        helo_name: "client.example".into(),
        lmtp,
        use_chunking,
    }
}

fn from_error(error: SessionError, client: String, writes: Vec<String>) -> Conversation {
    Conversation {
        client,
        writes,
        outcomes: error.outcomes().iter().map(describe).collect(),
        error: Some(error.kind().to_string()),
        may_have_delivered: error.may_have_delivered(),
    }
}

/// Runs one session and one transaction, feeding `pieces` one per read; when they run out the
/// server has closed the connection.
fn converse(config: &SessionConfig, pieces: &[&[u8]], rcpts: &[&str], body: &[u8]) -> Conversation {
    let rcpts: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
    let mut pieces = pieces.iter();
    let mut session = Session::new(config.clone());
    let mut out = Vec::new();
    let mut client = String::new();
    let mut writes = Vec::new();
    loop {
        match session.pump(&mut out) {
            Ok(Step::Write(_)) => {
                client.push_str(&String::from_utf8_lossy(&out));
                out.clear();
            }
            Ok(Step::Read(_)) => match pieces.next() {
                Some(piece) => session.receive(piece),
                None => {
                    let error = session.fail(SessionErrorKind::Closed);
                    return from_error(error, client, writes);
                }
            },
            Ok(Step::Done) => break,
            Err(error) => return from_error(error, client, writes),
        }
    }
    let mut txn = session.transaction("list-bounces@lists.example", &rcpts, body);
    loop {
        match txn.pump(&mut out) {
            Step::Write(_) => {
                let text = String::from_utf8_lossy(&out).into_owned();
                client.push_str(&text);
                writes.push(text);
                out.clear();
            }
            Step::Read(_) => match pieces.next() {
                Some(piece) => txn.receive(piece),
                None => return from_error(txn.fail(SessionErrorKind::Closed), client, writes),
            },
            Step::Done => break,
        }
    }
    match txn.finish() {
        Ok(outcomes) => Conversation {
            client,
            writes,
            outcomes: outcomes.iter().map(describe).collect(),
            error: None,
            may_have_delivered: true,
        },
        Err(error) => from_error(error, client, writes),
    }
}

/// Runs the conversation with the server's bytes whole, split in two at every boundary, and
/// byte by byte, and as a pipeline of one message; asserts all agree and returns the
/// whole-input run.
fn check(config: &SessionConfig, server: &str, rcpts: &[&str], body: &[u8]) -> Conversation {
    let server = server.as_bytes();
    let whole = converse(config, &[server], rcpts, body);
    let mut runs = Vec::new();
    for split in 1..server.len() {
        let (a, b) = server.split_at(split);
        runs.push((
            format!("split at {split}"),
            converse(config, &[a, b], rcpts, body),
        ));
    }
    let bytes: Vec<&[u8]> = server.chunks(1).collect();
    runs.push(("byte by byte".into(), converse(config, &bytes, rcpts, body)));
    let piped = pipeline::converse_piped(config, &[server], rcpts, body);
    assert_eq!(piped.writes, whole.writes, "writes, as a pipeline");
    runs.push(("as a pipeline".into(), piped));
    for (how, run) in runs {
        assert_eq!(run.client, whole.client, "client bytes, {how}");
        assert_eq!(run.outcomes, whole.outcomes, "outcomes, {how}");
        assert_eq!(run.error, whole.error, "error, {how}");
        assert_eq!(run.may_have_delivered, whole.may_have_delivered, "{how}");
    }
    whole
}

fn smtp_server(replies: &str) -> String {
    format!("{GREETING}{EHLO_PIPELINING}{replies}")
}

#[test]
fn pipelined_smtp_mixed_outcomes() {
    let server = smtp_server(concat!(
        "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "451 4.2.0 Try later\r\n",
        "550 5.1.1 No such user\r\n",
        "552 5.2.2 Mailbox full\r\n",
        "354 End data with <CR><LF>.<CR><LF>\r\n",
        "250 2.0.0 Ok: queued as 4F3\r\n",
    ));
    let run = check(
        &config(false, false),
        &server,
        &["a@x", "b@x", "c@x", "d@x"],
        b"Subject: hi\r\n\r\n.hidden\nline\r",
    );
    assert_eq!(run.outcomes, ["ok", "defer 451", "fail 550", "defer 552"]);
    assert_eq!(run.error, None);
    assert_eq!(
        run.client,
        concat!(
            "EHLO client.example\r\n",
            "MAIL FROM:<list-bounces@lists.example> SIZE=28\r\n",
            "RCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nRCPT TO:<d@x>\r\nDATA\r\n",
            "Subject: hi\r\n\r\n..hidden\r\nline\r\n.\r\n",
        )
    );
    // MAIL, the RCPTs and DATA in one write; the body and its terminator in another.
    assert_eq!(run.writes.len(), 2, "{:?}", run.writes);
    assert!(run.writes[0].starts_with("MAIL") && run.writes[0].ends_with("DATA\r\n"));
}

#[test]
fn lock_step_without_pipelining_writes_one_command_per_reply() {
    let server_replies = [
        GREETING,
        "250 mx.example\r\n",
        "250 Ok\r\n",
        "550 No\r\n",
        "250 Ok\r\n",
        "354 Go\r\n",
        "250 Queued\r\n",
    ];
    let pieces: Vec<&[u8]> = server_replies.iter().map(|r| r.as_bytes()).collect();
    let run = converse(&config(false, false), &pieces, &["a@x", "b@x"], b"hi\r\n");
    assert_eq!(run.outcomes, ["fail 550", "ok"]);
    assert_eq!(
        run.writes,
        [
            "MAIL FROM:<list-bounces@lists.example>\r\n",
            "RCPT TO:<a@x>\r\n",
            "RCPT TO:<b@x>\r\n",
            "DATA\r\n",
            "hi\r\n.\r\n"
        ]
    );
    let whole = check(
        &config(false, false),
        &server_replies.concat(),
        &["a@x", "b@x"],
        b"hi\r\n",
    );
    assert_eq!(whole.client, run.client);
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let server = concat!(
        "220 old.example\r\n",
        "502 5.5.1 Command not implemented\r\n",
        "250 old.example\r\n",
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n",
    );
    let run = check(&config(false, false), server, &["a@x"], b"x");
    assert_eq!(run.outcomes, ["ok"]);
    assert!(
        run.client
            .starts_with("EHLO client.example\r\nHELO client.example\r\nMAIL")
    );
}

#[test]
fn lmtp_gets_one_reply_per_accepted_recipient() {
    let server = concat!(
        "220 lmtp.example LMTP\r\n",
        "250-lmtp.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such list\r\n250 2.1.5 Ok\r\n",
        "354 Go\r\n",
        "250 2.0.0 <a@x> Saved\r\n452 4.2.2 <c@x> Over quota\r\n",
    );
    let run = check(
        &config(true, false),
        server,
        &["a@x", "b@x", "c@x"],
        b"m\r\n",
    );
    assert_eq!(run.outcomes, ["ok", "fail 550", "defer 452"]);
    assert!(run.client.starts_with("LHLO client.example\r\n"));
    assert!(run.client.ends_with("DATA\r\nm\r\n.\r\n"));
}

#[test]
fn lmtp_does_not_fall_back_to_helo() {
    let server = "220 lmtp.example\r\n500 5.5.1 Unknown command\r\n";
    let run = check(&config(true, false), server, &["a@x"], b"m");
    assert_eq!(
        run.error.as_deref(),
        Some("server replied 500 5.5.1 Unknown command")
    );
    assert!(!run.client.contains("HELO"));
}

#[test]
fn all_recipients_refused_sends_no_body_and_resets() {
    let server = smtp_server(concat!(
        "250 Ok\r\n550 5.1.1 No\r\n551 5.1.6 Moved\r\n",
        "554 5.5.1 Error: no valid recipients\r\n",
        "250 2.0.0 Ok\r\n",
    ));
    let run = check(&config(false, false), &server, &["a@x", "b@x"], b"body\r\n");
    assert_eq!(run.outcomes, ["fail 550", "fail 551"]);
    assert!(!run.client.contains("body"));
    assert!(run.client.ends_with("DATA\r\nRSET\r\n"));
}

#[test]
fn a_354_without_recipients_gets_a_lone_dot() {
    let server = smtp_server("250 Ok\r\n550 No\r\n354 Go ahead anyway\r\n554 No recipients\r\n");
    let run = check(&config(false, false), &server, &["a@x"], b"body\r\n");
    assert_eq!(run.outcomes, ["fail 550"]);
    assert!(run.client.ends_with("DATA\r\n.\r\n"));
    assert!(!run.client.contains("body"));
}

#[test]
fn lmtp_354_without_recipients_is_a_protocol_violation() {
    let server = concat!(
        "220 l\r\n250-l\r\n250 PIPELINING\r\n",
        "250 Ok\r\n550 No\r\n354 Go\r\n"
    );
    let run = check(&config(true, false), server, &["a@x"], b"body\r\n");
    assert_eq!(run.outcomes, ["fail 550"]);
    assert!(run.error.unwrap().starts_with("protocol violation"));
    assert!(!run.may_have_delivered);
}

#[test]
fn refused_mail_decides_every_recipient() {
    for (code, expected) in [("550 5.7.1", "fail 550"), ("452 4.3.1", "defer 452")] {
        let server = smtp_server(&format!(
            "{code} Sender refused\r\n503 5.5.1 Need MAIL\r\n503 5.5.1 Need MAIL\r\n503 5.5.1 No\r\n"
        ));
        let run = check(&config(false, false), &server, &["a@x", "b@x"], b"x");
        assert_eq!(run.outcomes, [expected, expected]);
        assert!(run.client.ends_with("DATA\r\n"), "no RSET, no body");
    }
}

#[test]
fn refused_data_decides_the_accepted_recipients() {
    let server = smtp_server("250 Ok\r\n250 Ok\r\n550 No\r\n554 5.7.0 Go away\r\n250 Ok\r\n");
    let run = check(&config(false, false), &server, &["a@x", "b@x"], b"x");
    assert_eq!(run.outcomes, ["fail 554", "fail 550"]);
    assert!(run.client.ends_with("DATA\r\nRSET\r\n"));
}

#[test]
fn refused_end_of_data_552_is_temporary() {
    let server = smtp_server("250 Ok\r\n250 Ok\r\n354 Go\r\n552 5.3.4 Too big\r\n");
    let run = check(&config(false, false), &server, &["a@x"], b"x");
    assert_eq!(run.outcomes, ["defer 552"]);
}

#[test]
fn connection_lost_after_the_body_defers_the_unanswered() {
    let server = smtp_server("250 Ok\r\n250 Ok\r\n550 No\r\n354 Go\r\n");
    let run = check(&config(false, false), &server, &["a@x", "b@x"], b"x");
    assert_eq!(run.outcomes, ["defer 444", "fail 550"]);
    assert_eq!(
        run.error.as_deref(),
        Some("connection closed by the server")
    );
    assert!(run.may_have_delivered);
}

#[test]
fn connection_lost_before_any_reply_has_delivered_nothing() {
    let run = check(
        &config(false, false),
        &smtp_server(""),
        &["a@x", "b@x"],
        b"x",
    );
    assert_eq!(run.outcomes, ["defer 444", "defer 444"]);
    assert!(!run.may_have_delivered);
}

#[test]
fn a_421_ends_the_session_and_defers_the_rest() {
    let server = smtp_server("250 Ok\r\n250 Ok\r\n421 4.3.2 Shutting down\r\n");
    let run = check(&config(false, false), &server, &["a@x", "b@x"], b"x");
    assert_eq!(run.outcomes, ["defer 421", "defer 421"]);
    assert!(run.error.unwrap().contains("421"));
}

#[test]
fn refused_greeting_is_a_session_error() {
    let run = check(
        &config(false, false),
        "554 5.7.1 Go away\r\n",
        &["a@x"],
        b"x",
    );
    assert_eq!(
        run.error.as_deref(),
        Some("server replied 554 5.7.1 Go away")
    );
    assert!(run.client.is_empty());
}

#[test]
fn garbage_is_a_protocol_violation() {
    let run = check(
        &config(false, false),
        &smtp_server("250 Ok\r\nHTTP/1.1 400\r\n"),
        &["a@x"],
        b"x",
    );
    assert!(run.error.unwrap().starts_with("protocol violation"));
    assert_eq!(run.outcomes, ["defer 444"]);
}

#[test]
fn unwritable_recipients_are_refused_locally() {
    let server = smtp_server("250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n");
    let run = check(
        &config(false, false),
        &server,
        &["a@x\r\nRSET", "", "b@x"],
        b"x",
    );
    assert_eq!(run.outcomes, ["fail 553", "fail 553", "ok"]);
    assert!(!run.client.contains("RSET"));
    assert_eq!(run.client.matches("RCPT").count(), 1);
}

#[test]
fn bdat_goes_with_the_envelope_in_one_write() {
    let server = concat!(
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
        "250 Ok\r\n250 Ok\r\n550 No\r\n250 2.0.0 Queued\r\n"
    );
    let run = check(&config(false, true), server, &["a@x", "b@x"], b".a\nb");
    assert_eq!(run.outcomes, ["ok", "fail 550"]);
    assert_eq!(
        run.writes,
        [
            "MAIL FROM:<list-bounces@lists.example>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 7 LAST\r\n.a\r\nb\r\n"
        ]
    );
}

#[test]
fn refused_bdat_resets() {
    let server = concat!(
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
        "250 Ok\r\n550 No\r\n503 5.5.1 No recipients\r\n250 Ok\r\n"
    );
    let run = check(&config(false, true), server, &["a@x"], b"x");
    assert_eq!(run.outcomes, ["fail 550"]);
    assert!(run.client.ends_with("RSET\r\n"));
}

#[test]
fn lmtp_bdat_waits_for_the_rcpt_replies() {
    let server = concat!(
        "220 l\r\n250-l\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
        "250 Ok\r\n250 Ok\r\n250 Ok\r\n",
        "250 2.0.0 a\r\n451 4.3.0 b\r\n"
    );
    let run = check(&config(true, true), server, &["a@x", "b@x"], b"x\r\n");
    assert_eq!(run.outcomes, ["ok", "defer 451"]);
    assert_eq!(
        run.writes,
        [
            "MAIL FROM:<list-bounces@lists.example>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\n",
            "BDAT 3 LAST\r\nx\r\n"
        ]
    );
}

#[test]
fn lmtp_bdat_with_no_recipient_sends_no_bdat() {
    let server = concat!(
        "220 l\r\n250-l\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
        "250 Ok\r\n550 No\r\n250 Ok\r\n"
    );
    let run = check(&config(true, true), server, &["a@x"], b"x");
    assert_eq!(run.outcomes, ["fail 550"]);
    assert!(!run.client.contains("BDAT"));
    assert!(run.client.ends_with("RSET\r\n"));
}

#[test]
fn eight_bit_bodies_and_utf8_addresses_get_their_parameters() {
    let server = concat!(
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n"
    );
    let run = check(
        &config(false, false),
        server,
        &["jörg@x"],
        "café".as_bytes(),
    );
    assert_eq!(run.outcomes, ["ok"]);
    assert!(
        run.client
            .contains("MAIL FROM:<list-bounces@lists.example> BODY=8BITMIME SMTPUTF8\r\n")
    );
}

#[test]
fn a_transaction_on_an_ended_session_fails_without_writing() {
    let mut session = Session::new(config(false, false));
    let _ = session.fail(SessionErrorKind::Closed);
    let rcpts = vec!["a@x".to_string()];
    let mut txn = session.transaction("s@x", &rcpts, b"x");
    let mut out = Vec::new();
    assert_eq!(txn.pump(&mut out), Step::Done);
    assert!(out.is_empty());
    let error = txn.finish().unwrap_err();
    assert_eq!(error.outcomes().len(), 1);
    assert!(error.outcomes()[0].is_temporary());
}

#[test]
fn two_transactions_on_one_session_and_quit() {
    let server = smtp_server(concat!(
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n",
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n",
        "221 Bye\r\n"
    ));
    let mut session = Session::new(config(false, false));
    session.receive(server.as_bytes());
    let mut out = Vec::new();
    while session.pump(&mut out).unwrap() != Step::Done {
        out.clear();
    }
    let rcpts = vec!["a@x".to_string()];
    for _ in 0..2 {
        let mut txn = session.transaction("s@x", &rcpts, b"x");
        while txn.pump(&mut out) != Step::Done {
            out.clear();
        }
        assert_eq!(txn.finish().unwrap(), [RcptOutcome::Delivered]);
        assert!(session.is_ready());
    }
    session.quit(&mut out);
    assert_eq!(out, b"QUIT\r\n");
    out.clear();
    assert_eq!(session.pump(&mut out).unwrap(), Step::Done);
    assert!(session.has_ended());
}

#[test]
fn large_envelopes_are_pipelined_in_windows() {
    let rcpts: Vec<String> = (0..2500).map(|i| format!("m{i}@x")).collect();
    let rcpt_refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let mut server = smtp_server("250 Ok\r\n");
    for _ in 0..2500 {
        server.push_str("250 Ok\r\n");
    }
    server.push_str("354 Go\r\n250 Queued\r\n");
    let run = converse(
        &config(false, false),
        &[server.as_bytes()],
        &rcpt_refs,
        b"x",
    );
    assert!(run.outcomes.iter().all(|outcome| outcome == "ok"));
    assert_eq!(run.writes[0].matches("RCPT TO").count(), 1000);
    assert!(!run.writes[0].contains("DATA"));
    assert_eq!(run.client.matches("RCPT TO").count(), 2500);
    assert!(
        run.client
            .ends_with("RCPT TO:<m2499@x>\r\nDATA\r\nx\r\n.\r\n")
    );
    let bytes: Vec<&[u8]> = server.as_bytes().chunks(7).collect();
    let chunked = converse(&config(false, false), &bytes, &rcpt_refs, b"x");
    assert_eq!(chunked.client, run.client);
    assert_eq!(chunked.outcomes, run.outcomes);
}
