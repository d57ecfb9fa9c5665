//! The transaction verbs: LHLO, MAIL, RCPT, DATA, BDAT and RSET. Each first checks that the
//! command fits the session's state (503 otherwise), then its arguments, then acts.
//!
//! The simple verbs (NOOP, QUIT, VRFY, ...) are answered in `Session::execute`; the content
//! that follows DATA and BDAT is read in `data`.

use super::{ChunkFate, ChunkRead, Chunking, Envelope, Phase, Session};
use crate::Reply;
use crate::lmtp::command::{self, Chunk, MailCommand};
use crate::lmtp::dot::DotDecoder;
use crate::lmtp::step::{Recipient, Step};

impl Session {
    pub(super) fn handle_lhlo(&mut self, result: Result<String, Reply>) {
        match result {
            Ok(name) => {
                self.lhlo = Some(name);
                self.tx = None;
                let config = &self.config;
                let reply = Reply::lhlo(&config.hostname, config.max_message_size, config.chunking);
                self.reply(&reply);
            }
            Err(reply) => self.error(reply),
        }
    }

    pub(super) fn handle_mail(&mut self, result: Result<MailCommand, Reply>) {
        if self.lhlo.is_none() {
            return self.error(Reply::lhlo_first());
        }
        if self.tx.is_some() {
            return self.error(Reply::nested_mail());
        }
        let mail = match result {
            Ok(mail) => mail,
            Err(reply) => return self.error(reply),
        };
        if mail
            .params
            .size
            .is_some_and(|size| size > self.config.max_message_size)
        {
            // A fair declaration of a message we cannot take: not a bad command.
            return self.reply(&Reply::message_too_big());
        }
        self.tx = Some(Envelope {
            reverse_path: mail.reverse_path,
            params: mail.params,
            recipients: Vec::new(),
            body: None,
            chunking: Chunking::NotStarted,
        });
        self.reply(&Reply::sender_ok());
    }

    pub(super) fn handle_rcpt(&mut self, result: Result<Vec<u8>, Reply>) -> Option<Step> {
        if self.lhlo.is_none() {
            self.error(Reply::lhlo_first());
            return None;
        }
        let Some(tx) = self.tx.as_ref() else {
            self.error(Reply::need_mail());
            return None;
        };
        if tx.chunking != Chunking::NotStarted {
            self.error(Reply::bad_sequence());
            return None;
        }
        let smtputf8 = tx.params.smtputf8;
        let index = tx.recipients.len();
        let path = match result {
            Ok(path) => command::decode_path(path, smtputf8, Reply::bad_recipient_syntax()),
            Err(reply) => Err(reply),
        };
        let forward_path = match path {
            Ok(forward_path) => forward_path,
            Err(reply) => {
                self.error(reply);
                return None;
            }
        };
        if index >= self.config.max_recipients {
            self.reply(&Reply::too_many_recipients());
            return None;
        }
        self.phase = Phase::AwaitRcpt(forward_path.clone());
        Some(Step::Rcpt(Recipient {
            forward_path,
            index,
        }))
    }

    pub(super) fn handle_data(&mut self, result: Result<(), Reply>) {
        if self.lhlo.is_none() {
            return self.error(Reply::lhlo_first());
        }
        let Some(tx) = self.tx.as_ref() else {
            return self.error(Reply::need_mail());
        };
        if tx.chunking != Chunking::NotStarted {
            return self.error(Reply::bad_sequence());
        }
        if tx.recipients.is_empty() {
            // The consequence of the shell's RCPT refusals, not a bad command (RFC 2033 §4.2).
            return self.reply(&Reply::no_valid_recipients());
        }
        if let Err(reply) = result {
            return self.error(reply);
        }
        let body = self.new_body();
        if let Some(tx) = self.tx.as_mut() {
            tx.body = Some(body);
        }
        self.reply(&Reply::start_data());
        self.phase = Phase::Data(DotDecoder::new());
    }

    /// BDAT: decides the chunk's fate now, reads its octets next (whatever the fate, so the
    /// octets are never read as commands), and replies once they are in.
    pub(super) fn handle_bdat(&mut self, result: Result<Chunk, Reply>) -> Option<Step> {
        if !self.config.chunking {
            self.error(Reply::not_implemented());
            return None;
        }
        let chunk = match result {
            Ok(chunk) => chunk,
            Err(reply) => {
                // Without a valid size the octets cannot be skipped; they will read as commands.
                self.error(reply);
                return None;
            }
        };
        let fate = self.chunk_fate(chunk);
        if matches!(fate, ChunkFate::Keep) {
            let needs_body = self.tx.as_ref().is_some_and(|tx| tx.body.is_none());
            if needs_body {
                let body = self.new_body();
                if let Some(tx) = self.tx.as_mut() {
                    tx.body = Some(body);
                    tx.chunking = Chunking::Receiving;
                }
            }
        }
        self.phase = Phase::Chunk(ChunkRead {
            remaining: chunk.size,
            size: chunk.size,
            last: chunk.last,
            fate,
        });
        self.finish_chunk_if_read()
    }

    pub(super) fn handle_rset(&mut self, result: Result<(), Reply>) {
        match result {
            Ok(()) => {
                self.tx = None;
                self.reply(&Reply::ok());
            }
            Err(reply) => self.error(reply),
        }
    }

    fn chunk_fate(&mut self, chunk: Chunk) -> ChunkFate {
        let refuse = |reply, error| ChunkFate::Refuse { reply, error };
        if self.lhlo.is_none() {
            return refuse(Reply::lhlo_first(), true);
        }
        let Some(tx) = self.tx.as_mut() else {
            return refuse(Reply::need_mail(), true);
        };
        match tx.chunking {
            Chunking::Failed => refuse(Reply::chunk_failed(), true),
            _ if !tx.recipients.is_empty() => ChunkFate::Keep,
            _ if chunk.last => ChunkFate::Silent,
            _ => {
                tx.chunking = Chunking::Failed;
                refuse(Reply::no_valid_recipients(), false)
            }
        }
    }
}
