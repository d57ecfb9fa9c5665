//! The email command language of mail to a list's `-request` address (Mailman 3.3.10's
//! command runner), as pure functions: finding the command lines of a message
//! ([`read`]), parsing one line ([`parse_line`]) and the arguments of `join` / `leave`,
//! the `help` command ([`help_text`]), the texts of Mailman's result lines ([`replies`]) and
//! the body of the results reply ([`results_text`]).
//!
//! Running a command that changes something (`confirm`, `join`, `leave`) and deciding who
//! may see `who` need the store, so they are the daemon's: it runs the lines in order, stops
//! after a command that says [`Flow::Stop`], collects the result lines and builds the reply
//! with [`crate::generated`]. The `-join`, `-leave` and `-confirm` addresses need no parsing:
//! they stand for one `join`, `leave` or `confirm <token>` command
//! ([`confirm_token_from_address`]) and are answered by no results mail, as in Mailman.
//!
//! One difference from Mailman is deliberate: Mailman lower-cases every word of a command
//! line, arguments included; here only the command words are, so that tokens and addresses
//! keep their spelling (the texts of [`replies`] lower-case where Mailman's output shows it).

mod args;
mod help;
pub mod replies;
pub mod results;
mod script;

pub use args::{DigestChoice, JoinArgs, confirm_token_from_address, join_args, leave_args};
pub use help::{help_reply, help_text};
pub use results::{NON_TEXT_IGNORED, RESULTS_SUBJECT, results_text};
pub use script::{Script, read};

use crate::pytext::words;

/// A command Mailman 3 understands by email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandName {
    /// `confirm <token>`: confirm a subscription, unsubscription or held post.
    Confirm,
    /// `echo ...`: send the arguments back.
    Echo,
    /// `end`, `stop`: ignore the rest of the message.
    End,
    /// `help [command]`.
    Help,
    /// `join`, `subscribe`: subscribe (options `digest=`, `address=`).
    Join,
    /// `leave`, `unsubscribe`: unsubscribe the sender.
    Leave,
    /// `who`: the member roster, if the sender may see it.
    Who,
}

/// Every word Mailman registers as an email command and the command it names, in the order
/// `help` lists them.
pub const WORDS: &[(&str, CommandName)] = &[
    ("confirm", CommandName::Confirm),
    ("echo", CommandName::Echo),
    ("end", CommandName::End),
    ("help", CommandName::Help),
    ("join", CommandName::Join),
    ("leave", CommandName::Leave),
    ("stop", CommandName::End),
    ("subscribe", CommandName::Join),
    ("unsubscribe", CommandName::Leave),
    ("who", CommandName::Who),
];

impl CommandName {
    /// Every command, once.
    pub const ALL: [CommandName; 7] = [
        CommandName::Confirm,
        CommandName::Echo,
        CommandName::End,
        CommandName::Help,
        CommandName::Join,
        CommandName::Leave,
        CommandName::Who,
    ];

    /// The command a word names (any case; the aliases `stop`, `subscribe`, `unsubscribe`
    /// included).
    pub fn parse(word: &str) -> Option<CommandName> {
        let word = word.to_lowercase();
        WORDS
            .iter()
            .find(|(name, _)| *name == word)
            .map(|&(_, command)| command)
    }

    /// The command's own name (`end`, `join`, `leave` for the aliases).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Confirm => "confirm",
            CommandName::Echo => "echo",
            CommandName::End => "end",
            CommandName::Help => "help",
            CommandName::Join => "join",
            CommandName::Leave => "leave",
            CommandName::Who => "who",
        }
    }
}

/// Whether the runner goes on with the next line after a command (Mailman's
/// `ContinueProcessing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop here; the remaining lines are reported as unprocessed.
    Stop,
}

/// One command line, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// The command, if the line names one.
    pub command: Option<CommandName>,
    /// The word looked up, lower-cased: the command word as written (`subscribe` for an
    /// alias), or the unknown word to report as `No such command: <name>`.
    pub name: String,
    /// The words after the command word, as written.
    pub args: Vec<&'a str>,
}

/// Splits a command line on white space (Python's rules). The first word is the command;
/// when it is not one and there is a second word, the second is tried, so that
/// `Re: confirm <token>` works. `None` for a blank line, which Mailman skips.
pub fn parse_line(line: &str) -> Option<Line<'_>> {
    let mut words = words(line);
    let first = words.next()?;
    let mut name = first.to_lowercase();
    let mut command = CommandName::parse(&name);
    let mut args: Vec<&str> = words.collect();
    if command.is_none() && !args.is_empty() {
        name = args.remove(0).to_lowercase();
        command = CommandName::parse(&name);
    }
    Some(Line {
        command,
        name,
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_and_aliases() {
        for (word, want) in [
            ("confirm", Some(CommandName::Confirm)),
            ("ECHO", Some(CommandName::Echo)),
            ("stop", Some(CommandName::End)),
            ("End", Some(CommandName::End)),
            ("Subscribe", Some(CommandName::Join)),
            ("unsubscribe", Some(CommandName::Leave)),
            ("leave", Some(CommandName::Leave)),
            ("who", Some(CommandName::Who)),
            ("help", Some(CommandName::Help)),
            ("lists", None),
            ("set", None),
            ("", None),
        ] {
            assert_eq!(CommandName::parse(word), want, "{word:?}");
        }
        for command in CommandName::ALL {
            assert_eq!(CommandName::parse(command.as_str()), Some(command));
        }
    }

    #[test]
    fn line_table() {
        let line = |command, name: &str, args: &[&'static str]| {
            Some(Line {
                command,
                name: name.to_string(),
                args: args.to_vec(),
            })
        };
        for (text, want) in [
            ("", None),
            ("   \t ", None),
            ("help", line(Some(CommandName::Help), "help", &[])),
            (
                "  JOIN digest=MIME  ",
                line(Some(CommandName::Join), "join", &["digest=MIME"]),
            ),
            (
                "Re: confirm TOKEN",
                line(Some(CommandName::Confirm), "confirm", &["TOKEN"]),
            ),
            (
                "AW: Confirm abc123 extra",
                line(Some(CommandName::Confirm), "confirm", &["abc123", "extra"]),
            ),
            ("hello", line(None, "hello", &[])),
            ("hello there world", line(None, "there", &["world"])),
            (
                "> confirm abc",
                line(Some(CommandName::Confirm), "confirm", &["abc"]),
            ),
            (
                "echo Hello  World",
                line(Some(CommandName::Echo), "echo", &["Hello", "World"]),
            ),
            (
                "stop\u{a0}now",
                line(Some(CommandName::End), "stop", &["now"]),
            ),
        ] {
            assert_eq!(parse_line(text), want, "{text:?}");
        }
    }
}
