//! Message bodies on their way into the spool, and what a caller submits.
//!
//! A body is either bytes in memory or, for a large message, the first bytes in memory plus a
//! [`SpillFile`] in the spool's `tmp/` directory that the LMTP shell filled while the message
//! arrived. The spool copies a spilled body into the write-ahead log record (the log must hold
//! the whole message), so a spill file is only a staging area and is removed when dropped.
//! This module does not commit anything.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::error::{IoContext, Result};
use crate::meta::Envelope;

/// A temporary file in the spool's `tmp/` that holds the tail of a large incoming message.
/// Created by `Spool::create_spill`; the file is deleted when the value is dropped.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl SpillFile {
    /// Wraps a freshly created file; the spool calls this.
    pub(crate) fn new(path: PathBuf, file: File) -> SpillFile {
        SpillFile { path, file, len: 0 }
    }

    /// Where the spill file is (inside the spool's `tmp/`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bytes have been written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the file's whole content to `out`.
    fn read_into(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&self.file).take(self.len).read_to_end(out))
            .ctx("read spill file", &self.path)?;
        Ok(())
    }
}

impl Write for SpillFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        // Best effort: recovery empties tmp/ at the next start anyway.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The bytes of a message (RFC 5322, exactly as it will be stored).
#[derive(Debug)]
pub enum Body {
    /// The whole message in memory.
    Bytes(Vec<u8>),
    /// The first bytes in memory followed by the content of a spill file.
    Spilled {
        /// The bytes that precede the spill file's content.
        head: Vec<u8>,
        /// The rest of the message.
        spill: SpillFile,
    },
}

impl Body {
    /// The body's length in octets.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Spilled { head, spill } => head.len() as u64 + spill.len(),
        }
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the whole body to `out`.
    pub(crate) fn append_to(&mut self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Body::Bytes(bytes) => out.extend_from_slice(bytes),
            Body::Spilled { head, spill } => {
                out.reserve(head.len() + spill.len() as usize);
                out.extend_from_slice(head);
                spill.read_into(out)?;
            }
        }
        Ok(())
    }

    /// The whole body in memory.
    pub(crate) fn into_bytes(mut self) -> Result<Vec<u8>> {
        if let Body::Bytes(bytes) = self {
            return Ok(bytes);
        }
        let mut out = Vec::new();
        self.append_to(&mut out)?;
        Ok(out)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(bytes)
    }
}

/// One received message and its accepted recipients: one body, one envelope per recipient.
/// Each envelope becomes its own entry; they share the body file through hard links.
#[derive(Debug)]
pub struct Submission {
    /// The message.
    pub body: Body,
    /// One envelope per accepted recipient (at least one).
    pub envelopes: Vec<Envelope>,
    /// The size as received, if it differs from the body's length (headers were added).
    pub original_size: Option<u64>,
    /// When the message was received.
    pub received_at: Timestamp,
}

impl Submission {
    /// A submission received now.
    pub fn new(body: impl Into<Body>, envelopes: Vec<Envelope>) -> Submission {
        Submission {
            body: body.into(),
            envelopes,
            original_size: None,
            received_at: Timestamp::now(),
        }
    }
}
