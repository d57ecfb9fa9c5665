//! Runs of transactions pipelined across the end of data, fed whole, split at every byte
//! boundary and byte by byte, and compared with the same messages sent one transaction at a
//! time: chaining may change how writes are grouped, never the bytes, their order or the
//! outcomes.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::{Conversation, EHLO_PIPELINING, GREETING, config, describe};
use crate::envelope::{Envelope, Message};
use crate::protocol::{Feed, Session, SessionConfig, Step};
use crate::trouble::{SessionError, SessionErrorKind};

/// What one message of a run came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    outcomes: Vec<String>,
    error: Option<String>,
    may_have_delivered: bool,
}

impl Answer {
    fn of(result: Result<Vec<crate::outcome::RcptOutcome>, SessionError>) -> Answer {
        match result {
            Ok(outcomes) => Answer {
                outcomes: outcomes.iter().map(describe).collect(),
                error: None,
                may_have_delivered: true,
            },
            Err(error) => Answer {
                outcomes: error.outcomes().iter().map(describe).collect(),
                error: Some(error.kind().to_string()),
                may_have_delivered: error.may_have_delivered(),
            },
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    client: String,
    writes: Vec<String>,
    answers: Vec<Answer>,
    /// Messages the pipeline took from the feed.
    taken: usize,
    /// The session failure, if one ended the run.
    failure: Option<String>,
}

struct TestFeed {
    queue: VecDeque<Message>,
    answers: Vec<Answer>,
    taken: usize,
}

impl Feed for TestFeed {
    fn next(&mut self) -> Option<Message> {
        let message = self.queue.pop_front()?;
        self.taken += 1;
        Some(message)
    }

    fn finished(
        &mut self,
        message: Message,
        result: Result<Vec<crate::outcome::RcptOutcome>, SessionError>,
    ) {
        let answer = Answer::of(result);
        assert_eq!(answer.outcomes.len(), message.envelope.rcpts.len());
        self.answers.push(answer);
        assert!(
            self.answers.len() <= self.taken,
            "answered before it was taken"
        );
    }
}

fn message(rcpts: &[&str], body: &[u8]) -> Message {
    Message {
        envelope: Envelope::new("list-bounces@lists.example", rcpts.iter().copied()),
        body: body.to_vec(),
    }
}

/// Opens a session over `pieces` (one per read; when they run out the server has closed the
/// connection), then runs `messages` through one pipeline.
fn run(config: &SessionConfig, pieces: &[&[u8]], messages: &[Message]) -> Run {
    let mut pieces = pieces.iter();
    let mut session = Session::new(config.clone());
    let mut out = Vec::new();
    let mut client = String::new();
    let mut feed = TestFeed {
        queue: messages.iter().cloned().collect(),
        answers: Vec::new(),
        taken: 0,
    };
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
                    return failed_opening(client, error);
                }
            },
            Ok(Step::Done) => break,
            Err(error) => return failed_opening(client, error),
        }
    }
    let mut writes = Vec::new();
    let mut pipeline = session.pipeline();
    loop {
        match pipeline.pump(&mut out, &mut feed) {
            Step::Write(_) => {
                let text = String::from_utf8_lossy(&out).into_owned();
                client.push_str(&text);
                writes.push(text);
                out.clear();
            }
            Step::Read(_) => match pieces.next() {
                Some(piece) => pipeline.receive(piece),
                None => {
                    pipeline.fail(SessionErrorKind::Closed, &mut feed);
                    break;
                }
            },
            Step::Done => break,
        }
    }
    let failure = pipeline
        .take_failure()
        .map(|error| error.kind().to_string());
    assert_eq!(
        feed.answers.len(),
        feed.taken,
        "every message taken is answered"
    );
    Run {
        client,
        writes,
        answers: feed.answers,
        taken: feed.taken,
        failure,
    }
}

fn failed_opening(client: String, error: SessionError) -> Run {
    Run {
        client,
        writes: Vec::new(),
        answers: Vec::new(),
        taken: 0,
        failure: Some(error.kind().to_string()),
    }
}

/// Runs whole, split in two at every boundary, and byte by byte; asserts all agree.
fn check(config: &SessionConfig, server: &str, messages: &[Message]) -> Run {
    let server = server.as_bytes();
    let whole = run(config, &[server], messages);
    for split in 1..server.len() {
        let (a, b) = server.split_at(split);
        let again = run(config, &[a, b], messages);
        assert_eq!(again.client, whole.client, "client bytes, split at {split}");
        assert_eq!(again.answers, whole.answers, "answers, split at {split}");
        assert_eq!(again.failure, whole.failure, "failure, split at {split}");
    }
    let bytes: Vec<&[u8]> = server.chunks(1).collect();
    let again = run(config, &bytes, messages);
    assert_eq!(again.client, whole.client, "client bytes, byte by byte");
    assert_eq!(again.answers, whole.answers, "answers, byte by byte");
    whole
}

/// The same messages, one [`crate::protocol::Transaction`] after another on one session.
fn one_by_one(config: &SessionConfig, pieces: &[&[u8]], messages: &[Message]) -> Run {
    let mut pieces = pieces.iter();
    let mut session = Session::new(config.clone());
    let mut out = Vec::new();
    let mut client = String::new();
    loop {
        match session.pump(&mut out) {
            Ok(Step::Write(_)) => {
                client.push_str(&String::from_utf8_lossy(&out));
                out.clear();
            }
            Ok(Step::Read(_)) => match pieces.next() {
                Some(piece) => session.receive(piece),
                None => return failed_opening(client, session.fail(SessionErrorKind::Closed)),
            },
            Ok(Step::Done) => break,
            Err(error) => return failed_opening(client, error),
        }
    }
    let mut answers = Vec::new();
    let mut failure = None;
    for message in messages {
        if session.has_ended() {
            break;
        }
        let envelope = &message.envelope;
        let mut txn = session.transaction(&envelope.mail_from, &envelope.rcpts, &message.body);
        let result = loop {
            match txn.pump(&mut out) {
                Step::Write(_) => {
                    client.push_str(&String::from_utf8_lossy(&out));
                    out.clear();
                }
                Step::Read(_) => match pieces.next() {
                    Some(piece) => txn.receive(piece),
                    None => break Err(txn.fail(SessionErrorKind::Closed)),
                },
                Step::Done => break txn.finish(),
            }
        };
        if let Err(error) = &result
            && failure.is_none()
        {
            failure = Some(error.kind().to_string());
        }
        answers.push(Answer::of(result));
    }
    Run {
        client,
        writes: Vec::new(),
        taken: answers.len(),
        answers,
        failure,
    }
}

/// One message through the pipeline, as a [`Conversation`] of the single-transaction tests.
pub(super) fn converse_piped(
    config: &SessionConfig,
    pieces: &[&[u8]],
    rcpts: &[&str],
    body: &[u8],
) -> Conversation {
    let run = run(config, pieces, &[message(rcpts, body)]);
    match run.answers.into_iter().next() {
        Some(answer) => Conversation {
            client: run.client,
            writes: run.writes,
            outcomes: answer.outcomes,
            error: answer.error,
            may_have_delivered: answer.may_have_delivered,
        },
        None => Conversation {
            client: run.client,
            writes: run.writes,
            outcomes: Vec::new(),
            error: run.failure,
            may_have_delivered: false,
        },
    }
}

fn smtp(replies: &str) -> String {
    format!("{GREETING}{EHLO_PIPELINING}{replies}")
}

const OK_TXN: &str = "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Queued\r\n";

fn outcomes(run: &Run) -> Vec<Vec<&str>> {
    run.answers
        .iter()
        .map(|answer| answer.outcomes.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn each_envelope_follows_the_previous_dot_in_the_same_write() {
    let messages = [
        message(&["a@x"], b"one\r\n"),
        message(&["b@x"], b"two\r\n"),
        message(&["c@x"], b".three\r\n"),
    ];
    let run = check(&config(false, false), &smtp(&OK_TXN.repeat(3)), &messages);
    assert_eq!(outcomes(&run), [["ok"], ["ok"], ["ok"]]);
    assert_eq!(
        run.writes,
        [
            "MAIL FROM:<list-bounces@lists.example> SIZE=5\r\nRCPT TO:<a@x>\r\nDATA\r\n",
            "one\r\n.\r\nMAIL FROM:<list-bounces@lists.example> SIZE=5\r\nRCPT TO:<b@x>\r\nDATA\r\n",
            "two\r\n.\r\nMAIL FROM:<list-bounces@lists.example> SIZE=8\r\nRCPT TO:<c@x>\r\nDATA\r\n",
            "..three\r\n.\r\n",
        ]
    );
    assert_eq!(run.failure, None);
}

#[test]
fn refusals_in_the_middle_decide_only_their_own_message() {
    let server = smtp(concat!(
        // 1: the end of data is refused for good.
        "250 Ok\r\n250 Ok\r\n354 Go\r\n554 5.7.1 Rejected\r\n",
        // 2: one recipient of two refused, the other delivered.
        "250 Ok\r\n550 5.1.1 No such user\r\n250 Ok\r\n354 Go\r\n250 Queued\r\n",
        // 3: every recipient refused: no body, DATA refused, RSET.
        "250 Ok\r\n451 4.2.0 Later\r\n554 5.5.1 No valid recipients\r\n250 Reset\r\n",
        // 4: the sender refused.
        "452 4.3.1 Full\r\n503 5.5.1 Need MAIL\r\n503 5.5.1 Need MAIL\r\n",
        // 5: temporary failure at the end of data.
        "250 Ok\r\n250 Ok\r\n354 Go\r\n451 4.3.0 Try again\r\n",
        // 6: fine again.
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Queued\r\n",
    ));
    let messages = [
        message(&["a@x"], b"1"),
        message(&["gone@x", "b@x"], b"2"),
        message(&["c@x"], b"3"),
        message(&["d@x"], b"4"),
        message(&["e@x"], b"5"),
        message(&["f@x"], b"6"),
    ];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(
        outcomes(&run),
        [
            vec!["fail 554"],
            vec!["fail 550", "ok"],
            vec!["defer 451"],
            vec!["defer 452"],
            vec!["defer 451"],
            vec!["ok"],
        ]
    );
    assert_eq!(run.failure, None);
    // After a transaction that sent no body, the next one starts in a write of its own.
    assert!(
        run.writes.contains(&"RSET\r\n".to_string()),
        "{:?}",
        run.writes
    );
    let sequential = one_by_one(&config(false, false), &[server.as_bytes()], &messages);
    assert_eq!(sequential.client, run.client);
    assert_eq!(sequential.answers, run.answers);
}

#[test]
fn connection_lost_after_a_dot_defers_both_messages_in_flight() {
    // The server vanishes after the replies of the first transaction's envelope: its dot and
    // the second envelope went out, no reply came back.
    let server = smtp("250 Ok\r\n250 Ok\r\n354 Go\r\n");
    let messages = [
        message(&["a@x"], b"1"),
        message(&["b@x"], b"2"),
        message(&["c@x"], b"3"),
    ];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(run.taken, 2, "the third message was never started");
    assert_eq!(outcomes(&run), [["defer 444"], ["defer 444"]]);
    assert!(run.answers[0].may_have_delivered, "its dot was sent");
    assert!(
        !run.answers[1].may_have_delivered,
        "only its envelope was sent"
    );
    assert_eq!(
        run.failure.as_deref(),
        Some("connection closed by the server")
    );
}

#[test]
fn connection_lost_after_the_reply_to_a_dot_keeps_that_delivery() {
    let server = smtp("250 Ok\r\n250 Ok\r\n354 Go\r\n250 Queued\r\n250 Ok\r\n");
    let messages = [message(&["a@x"], b"1"), message(&["b@x", "c@x"], b"2")];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(outcomes(&run), [vec!["ok"], vec!["defer 444", "defer 444"]]);
    assert!(!run.answers[1].may_have_delivered);
}

#[test]
fn a_421_to_the_next_mail_defers_only_that_message() {
    let server =
        smtp("250 Ok\r\n250 Ok\r\n354 Go\r\n250 Queued\r\n421 4.7.0 Too many messages\r\n");
    let messages = [
        message(&["a@x"], b"1"),
        message(&["b@x"], b"2"),
        message(&["c@x"], b"3"),
    ];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(run.taken, 2);
    assert_eq!(outcomes(&run), [["ok"], ["defer 421"]]);
    assert!(!run.answers[1].may_have_delivered);
    assert!(run.failure.unwrap().contains("421"));
}

#[test]
fn a_421_to_a_dot_defers_it_and_the_envelope_behind_it() {
    let server = smtp("250 Ok\r\n250 Ok\r\n354 Go\r\n421 4.3.2 Shutting down\r\n");
    let messages = [message(&["a@x"], b"1"), message(&["b@x"], b"2")];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(outcomes(&run), [["defer 421"], ["defer 421"]]);
    assert!(run.answers[0].may_have_delivered);
    assert!(!run.answers[1].may_have_delivered);
}

#[test]
fn garbage_after_a_dot_is_a_protocol_violation_for_both() {
    let server = smtp("250 Ok\r\n250 Ok\r\n354 Go\r\n250 Queued\r\n250 Ok\r\nHTTP/1.1 400\r\n");
    let messages = [
        message(&["a@x"], b"1"),
        message(&["b@x"], b"2"),
        message(&["c@x"], b"3"),
    ];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(outcomes(&run), [["ok"], ["defer 444"]]);
    assert!(
        run.answers[1]
            .error
            .as_deref()
            .unwrap()
            .starts_with("protocol violation")
    );
}

#[test]
fn lmtp_replies_per_recipient_then_the_next_envelope() {
    let server = concat!(
        "220 lmtp.example LMTP\r\n",
        "250-lmtp.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
        "250 Ok\r\n250 Ok\r\n550 5.1.1 No\r\n250 Ok\r\n354 Go\r\n",
        "250 2.0.0 a Saved\r\n452 4.2.2 c Over quota\r\n",
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 2.0.0 d Saved\r\n",
    );
    let messages = [
        message(&["a@x", "b@x", "c@x"], b"1"),
        message(&["d@x"], b"2"),
    ];
    let run = check(&config(true, false), server, &messages);
    assert_eq!(
        outcomes(&run),
        [vec!["ok", "fail 550", "defer 452"], vec!["ok"]]
    );
    assert!(
        run.writes[1].starts_with("1\r\n.\r\nMAIL FROM:"),
        "{:?}",
        run.writes
    );
}

#[test]
fn a_message_decided_locally_waits_for_the_one_before_it() {
    let server = smtp(&OK_TXN.repeat(2));
    let messages = [
        message(&["a@x"], b"1"),
        message(&["bad@x>\r\nRSET"], b"2"),
        message(&["c@x"], b"3"),
    ];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(outcomes(&run), [["ok"], ["fail 553"], ["ok"]]);
    assert!(!run.client.contains("bad@"));
}

#[test]
fn without_pipelining_transactions_go_in_lock_step() {
    let server = concat!(
        "220 old\r\n250 old\r\n",
        "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n"
    )
    .to_string()
        + "250 Ok\r\n250 Ok\r\n354 Go\r\n250 Ok\r\n";
    let messages = [message(&["a@x"], b"1"), message(&["b@x"], b"2")];
    let run = check(&config(false, false), &server, &messages);
    assert_eq!(outcomes(&run), [["ok"], ["ok"]]);
    assert_eq!(
        run.writes.len(),
        8,
        "one command per write: {:?}",
        run.writes
    );
    assert_eq!(run.writes[3], "1\r\n.\r\n");
}

#[test]
fn bdat_transactions_are_not_chained() {
    let server = concat!(
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
        "250 Ok\r\n550 No\r\n503 5.5.1 No recipients\r\n250 Reset\r\n",
        "250 Ok\r\n250 Ok\r\n250 Queued\r\n",
    );
    let messages = [message(&["a@x"], b"1"), message(&["b@x"], b"2")];
    let run = check(&config(false, true), server, &messages);
    assert_eq!(outcomes(&run), [["fail 550"], ["ok"]]);
    assert_eq!(
        run.writes,
        [
            "MAIL FROM:<list-bounces@lists.example>\r\nRCPT TO:<a@x>\r\nBDAT 3 LAST\r\n1\r\n",
            "RSET\r\n",
            "MAIL FROM:<list-bounces@lists.example>\r\nRCPT TO:<b@x>\r\nBDAT 3 LAST\r\n2\r\n",
        ]
    );
}

#[test]
fn an_empty_feed_writes_nothing() {
    let run = check(&config(false, false), &smtp(""), &[]);
    assert_eq!(run.taken, 0);
    assert!(run.writes.is_empty());
    assert_eq!(run.failure, None);
}

/// A random reply: the codes a server gives, plus a few that break the protocol.
fn any_reply() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "250 2.0.0 Ok\r\n",
        "250 2.0.0 Ok\r\n",
        "250 2.0.0 Ok\r\n",
        "354 Go\r\n",
        "354 Go\r\n",
        "451 4.3.0 Later\r\n",
        "452 4.5.3 Too many\r\n",
        "550 5.1.1 No\r\n",
        "552 5.2.2 Full\r\n",
        "554 5.7.1 Refused\r\n",
        "503 5.5.1 Sequence\r\n",
        "421 4.3.2 Bye\r\n",
    ])
}

fn any_message() -> impl Strategy<Value = Message> {
    let rcpt = prop::sample::select(vec!["a@x", "b@x", "c@x", "bad@x\r\n"]);
    (
        proptest::collection::vec(rcpt, 1..4),
        prop::sample::select(vec![&b"x"[..], b".dot\r\nline", b""]),
    )
        .prop_map(|(rcpts, body)| message(&rcpts, body))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the server answers, a pipelined run agrees with the same messages sent one at a
    /// time up to the first session failure; after it, the one message that may have been
    /// started early is deferred as never delivered, and nothing else was taken.
    #[test]
    fn pipelined_runs_agree_with_one_by_one(
        mode in 0..5usize,
        messages in proptest::collection::vec(any_message(), 1..8),
        replies in proptest::collection::vec(any_reply(), 0..40),
    ) {
        // SMTP and LMTP with PIPELINING, SMTP and LMTP with CHUNKING too, SMTP lock-step.
        let (lmtp, chunking, hello) = [
            (false, false, EHLO_PIPELINING),
            (true, false, "250-l\r\n250 PIPELINING\r\n"),
            (false, true, "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (true, true, "250-l\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (false, false, "250 mx\r\n"),
        ][mode];
        let config = config(lmtp, chunking);
        let server = format!("{GREETING}{hello}{}", replies.concat());
        let piped = run(&config, &[server.as_bytes()], &messages);
        let bytes: Vec<&[u8]> = server.as_bytes().chunks(1).collect();
        prop_assert_eq!(&run(&config, &bytes, &messages), &piped);
        let sequential = one_by_one(&config, &[server.as_bytes()], &messages);
        prop_assert!(piped.client.starts_with(&sequential.client));
        let common = sequential.answers.len().min(piped.answers.len());
        prop_assert_eq!(&piped.answers[..common], &sequential.answers[..common]);
        // The sequential run stops after the first failure; the pipelined one may have
        // started one more message behind a dot, which is then deferred as undelivered
        // (messages decided locally, which send nothing, may come between).
        prop_assert!(sequential.answers.len() <= piped.answers.len());
        let extras = &piped.answers[common..];
        prop_assert!(extras.iter().filter(|extra| extra.error.is_some()).count() <= 1);
        for extra in extras {
            let refused = |o: &String| o == "fail 553";
            let local = extra.error.is_none() && extra.outcomes.iter().all(refused);
            let deferred = !extra.may_have_delivered
                && extra.outcomes.iter().all(|o| o.starts_with("defer") || refused(o));
            prop_assert!(local || deferred, "{:?}", extra);
        }
        prop_assert_eq!(piped.failure.is_some(), sequential.failure.is_some());
    }
}
