//! What the session hands to its shell: the `Step`s, and the data they carry.
//!
//! These are plain values with public fields. They carry no behaviour and do no I/O; the
//! shell answers them through `Session::answer_rcpt` and `Session::answer_message`.

use crate::Reply;

/// What the shell must do next; returned by `Session::poll`.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// All buffered input is consumed: write `take_output()`, then read and `feed` (or `eof`).
    NeedInput,
    /// A RCPT needs a verdict: answer with `answer_rcpt` before polling again.
    Rcpt(Recipient),
    /// A message is complete: commit it, then give one reply per accepted recipient with
    /// `answer_message` before polling again.
    Message(Transaction),
    /// The session is over: write `take_output()` and close the connection.
    Close,
}

/// A forward-path waiting for the shell's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The forward-path exactly as sent, without the angle brackets: not lower-cased, quotes
    /// and any source route (`@relay:`) kept. Never empty. ASCII unless the transaction
    /// declared SMTPUTF8, in which case it is valid UTF-8.
    pub forward_path: String,
    /// The position this recipient will have among the accepted recipients (and so among
    /// the end-of-data replies) if the shell accepts it.
    pub index: usize,
}

/// The shell's answer to a [`Step::Rcpt`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accept with `250 2.1.5 Ok`.
    Accept,
    /// Accept with this 2xx reply instead.
    AcceptWith(Reply),
    /// Refuse with this 4xx or 5xx reply (e.g. `550 5.1.1` for an unknown list).
    Reject(Reply),
}

/// The body type declared with MAIL `BODY=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// The MAIL parameters the session accepts (it refuses all others with `555 5.5.4`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `BODY=`, if given. Eight-bit content is accepted whatever it says.
    pub body: Option<BodyType>,
    /// `SMTPUTF8` was given: addresses and headers may be UTF-8.
    pub smtputf8: bool,
    /// `SIZE=`, if given: the client's estimate, never trusted for allocation.
    pub size: Option<u64>,
}

/// A complete message, delivered to the shell in [`Step::Message`].
#[derive(Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The reverse-path as sent, without brackets; empty for the null sender `<>`.
    pub reverse_path: String,
    /// The accepted MAIL parameters.
    pub params: MailParams,
    /// The accepted recipients' forward-paths, in RCPT order, duplicates kept. The shell
    /// answers with exactly this many replies, in this order.
    pub recipients: Vec<String>,
    /// The body octets the shell has not taken with `take_body` (all of them if it took
    /// none): dot-unstuffed, CRLF line ends.
    pub body: Vec<u8>,
    /// The number of the body, as `Session::body_id` reported while it arrived: the shell
    /// appends `body` to whatever it took under this number.
    pub body_id: u64,
    /// The size of the whole body in octets, taken parts included.
    pub size: u64,
    /// True if the body came by BDAT, false if by DATA.
    pub chunked: bool,
}
