//! Reading message content (DATA up to CRLF.CRLF, BDAT chunks by count) and ending the
//! message: either the session refuses it itself, one reply per accepted recipient, or it
//! hands the shell a `Step::Message`.
//!
//! What counts as content, and what makes it refusable, is decided in `dot` and `body`.

use std::mem;

use super::{ChunkFate, Phase, Session};
use crate::Reply;
use crate::lmtp::step::{Step, Transaction};

impl Session {
    /// Feeds buffered input to the DATA decoder; ends the message at CRLF.CRLF.
    pub(super) fn read_data(&mut self) -> Option<Step> {
        let Phase::Data(decoder) = &mut self.phase else {
            return None;
        };
        let Some(body) = self.tx.as_mut().and_then(|tx| tx.body.as_mut()) else {
            // Unreachable: DATA creates the body with the phase, and only the end removes it.
            self.phase = Phase::Command;
            return None;
        };
        let input = &self.input[self.input_pos..];
        let (used, done) = decoder.decode(input, |content| body.push(content));
        self.input_pos += used;
        if !done {
            return None;
        }
        self.phase = Phase::Command;
        self.end_message(false)
    }

    /// Consumes buffered octets of the current BDAT chunk.
    pub(super) fn read_chunk(&mut self) -> Option<Step> {
        let Phase::Chunk(chunk) = &mut self.phase else {
            return None;
        };
        let available = self.input.len() - self.input_pos;
        let take = chunk.remaining.min(available);
        let octets = &self.input[self.input_pos..self.input_pos + take];
        if matches!(chunk.fate, ChunkFate::Keep)
            && let Some(body) = self.tx.as_mut().and_then(|tx| tx.body.as_mut())
        {
            body.push(octets);
        }
        chunk.remaining -= take;
        self.input_pos += take;
        self.finish_chunk_if_read()
    }

    /// Once all octets of the current chunk are in, gives its reply (or replies).
    pub(super) fn finish_chunk_if_read(&mut self) -> Option<Step> {
        let Phase::Chunk(chunk) = &self.phase else {
            return None;
        };
        if chunk.remaining > 0 {
            return None;
        }
        let Phase::Chunk(chunk) = mem::replace(&mut self.phase, Phase::Command) else {
            unreachable!("matched above");
        };
        let step = match chunk.fate {
            ChunkFate::Refuse { reply, error: true } => {
                self.error(reply);
                None
            }
            ChunkFate::Refuse {
                reply,
                error: false,
            } => {
                self.reply(&reply);
                None
            }
            ChunkFate::Silent => {
                self.tx = None;
                None
            }
            ChunkFate::Keep if !chunk.last => {
                self.reply(&Reply::chunk_received(chunk.size));
                None
            }
            ChunkFate::Keep => self.end_message(true),
        };
        self.check_shutdown();
        step
    }

    /// The end of data: refuse with one reply per recipient, or hand over the message.
    fn end_message(&mut self, chunked: bool) -> Option<Step> {
        let mut tx = self.tx.take()?;
        let mut body = tx.body.take()?;
        if let Some(refusal) = body.finish() {
            let reply = refusal.reply();
            for _ in &tx.recipients {
                self.reply(&reply);
            }
            self.check_shutdown();
            return None;
        }
        self.phase = Phase::AwaitMessage(tx.recipients.len());
        Some(Step::Message(Transaction {
            reverse_path: tx.reverse_path,
            params: tx.params,
            recipients: tx.recipients,
            body_id: body.id(),
            size: body.size(),
            body: body.into_buffer(),
            chunked,
        }))
    }
}
