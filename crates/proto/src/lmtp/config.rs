//! The limits and switches of an LMTP session, as a plain struct with defaults.
//!
//! The daemon maps its TOML keys onto this; the session only reads it. Nothing here is
//! validated beyond what the types say: a limit of 0 simply refuses everything it limits.

/// What the session does with a bare CR or bare LF inside message content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BareLineEndings {
    /// Refuse the message after the end of data, one `550 5.6.0` per accepted recipient.
    #[default]
    Reject,
    /// Accept the message and store every bare CR and bare LF as CRLF. Normalising happens on
    /// content, after end-of-data detection on the raw stream, so it can never turn a
    /// smuggled `<LF>.<LF>` into an end of data.
    Accept,
}

/// Session configuration. Share one `Arc<Config>` between all sessions of a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Our host name, used in the greeting, the LHLO reply and the timeout reply.
    pub hostname: String,
    /// Largest message in octets, as stored (dot-unstuffed, CRLF line ends). Advertised in SIZE.
    pub max_message_size: u64,
    /// Most accepted recipients per transaction; further RCPTs get `452 4.5.3`.
    pub max_recipients: usize,
    /// Longest data line in octets, line end included.
    pub max_line_length: usize,
    /// Longest command line in octets, line end included.
    pub max_command_line: usize,
    /// Bad commands tolerated before `421 4.7.0 Too many errors` closes the session.
    pub max_errors: usize,
    /// Treatment of bare CR and LF in message content.
    pub bare_line_endings: BareLineEndings,
    /// Whether CHUNKING (BDAT) is offered.
    pub chunking: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hostname: "localhost".to_owned(),
            max_message_size: 33_554_432,
            max_recipients: 1000,
            max_line_length: 65_536,
            max_command_line: 2048,
            max_errors: 20,
            bare_line_endings: BareLineEndings::Reject,
            chunking: true,
        }
    }
}
