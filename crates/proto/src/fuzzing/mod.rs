//! The invariant-checking harness shared by the property tests and the cargo-fuzz target
//! (`fuzz/fuzz_targets/lmtp_session.rs`). Compiled only with the `fuzzing` feature.
//!
//! Arbitrary bytes become a [`Script`] (a configuration, client bytes cut into reads, and
//! shell actions: timeout, shutdown, end of input). A fake shell drives a session through
//! it, giving pseudo-random verdicts and end-of-data replies, spilling bodies with
//! `take_body` at random. Then an independent client-side model (`oracle`) replays the same
//! input against the output and checks what RFC 2033 and our contract promise:
//! - the output is well-formed replies, with enhanced codes where they belong;
//! - exactly one reply per command, and after the end of data exactly one per accepted
//!   recipient, in order (zero for BDAT LAST without recipients);
//! - only CRLF.CRLF ends DATA, BDAT consumes exactly its octets;
//! - each message handed over is the dot-unstuffed (and, if configured, normalised) content,
//!   and each refusal is the right one (size, line length, NUL, bare CR/LF).
//!
//! It deliberately shares no code with the session beyond the public API and smtp-proto's
//! BDAT argument grammar; a bug would have to be made twice to go unnoticed.

mod drive;
mod oracle;
mod reference;
mod script;
mod wire;

pub use script::{Action, Script};

/// What a run exercised, so that tests can tell a deep run from a shallow one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Replies the session wrote.
    pub replies: usize,
    /// Messages handed to the shell.
    pub messages: usize,
    /// Messages handed over that came by BDAT.
    pub chunked_messages: usize,
}

/// Runs the harness on arbitrary bytes; `Err` describes the first broken invariant.
pub fn check(data: &[u8]) -> Result<Summary, String> {
    let script = Script::from_bytes(data);
    let record = drive::run(&script)?;
    let replies = oracle::check(&script.config, &record)?;
    Ok(Summary {
        replies,
        messages: record.messages.len(),
        chunked_messages: record.messages.iter().filter(|m| m.chunked).count(),
    })
}

/// Runs the harness and panics on a broken invariant (the cargo-fuzz entry point).
pub fn run(data: &[u8]) {
    if let Err(violation) = check(data) {
        panic!("LMTP session invariant broken: {violation}");
    }
}
