//! The sink's scripted behaviour: which replies it gives to whom, when it stalls, when it hangs up.
//!
//! A script is an ordered list of rules. At each stage the sink looks for rules of that stage
//! whose pattern is a case-insensitive substring of the stage's key (the sender at MAIL, the
//! recipient at RCPT and, in LMTP, at the end of data; the sender or any accepted recipient at
//! DATA and at the SMTP end of data). Rules are tried in order: a delay waits and goes on to the
//! next rule, a counted reply answers its first N matches per key and then lets the next rule
//! decide, a reply or a hang-up ends the search. No decisive rule means the normal answer.

use std::time::Duration;

use crate::protocol::reply_from_line;
use crate::reply::Reply;

/// The moment of the conversation a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// The greeting; the key is empty, so only the pattern `""` matches.
    Connect,
    /// MAIL FROM; the key is the sender.
    Mail,
    /// RCPT TO; the key is the recipient.
    Rcpt,
    /// The DATA command (or the first BDAT); keys are the sender and the accepted recipients.
    Data,
    /// The end of data (or BDAT LAST): LMTP asks once per accepted recipient (key: that
    /// recipient); SMTP asks once (keys: the sender and the accepted recipients).
    DataEnd,
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer with this reply.
    Reply(Reply),
    /// Answer with this reply the first `times` times per key, then let later rules decide.
    ReplyTimes(u32, Reply),
    /// Wait this long (flushing replies already due), then let later rules decide.
    Delay(Duration),
    /// Close the connection without answering (replies already due are sent first).
    Drop,
}

/// One scripted behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The stage it applies to.
    pub when: When,
    /// Matches keys containing it, ignoring ASCII case; `""` matches everything.
    pub pattern: String,
    /// What happens.
    pub action: Action,
}

/// What the sink does at one stage once the rules were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Give the normal answer.
    Default,
    /// Answer with this reply.
    Reply(Reply),
    /// Hang up.
    Drop,
}

impl Rule {
    /// A rule at `when` for keys containing `pattern`.
    pub fn new(when: When, pattern: impl Into<String>, action: Action) -> Rule {
        Rule {
            when,
            pattern: pattern.into().to_ascii_lowercase(),
            action,
        }
    }

    /// The first of `keys` this rule matches.
    pub(crate) fn matching_key<'k>(&self, keys: &[&'k str]) -> Option<&'k str> {
        keys.iter()
            .copied()
            .find(|key| key.to_ascii_lowercase().contains(&self.pattern))
    }
}

/// Parses one reply line such as `"550 5.1.1 No such user"`, for writing scripts.
///
/// # Panics
/// If `line` is not a reply; scripts are test code, where a typo should fail loudly.
pub fn reply(line: &str) -> Reply {
    match reply_from_line(line) {
        Some(reply) => reply,
        None => panic!("not a reply line: {line:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_parse() {
        let parsed = reply("550 5.1.1 No such user");
        assert_eq!(parsed.code, 550);
        assert_eq!(
            parsed.enhanced.map(|e| e.to_string()).as_deref(),
            Some("5.1.1")
        );
        assert_eq!(parsed.text, "No such user");
        assert_eq!(reply("354 Go ahead").enhanced, None);
    }

    #[test]
    fn patterns_ignore_case_and_empty_matches_all() {
        let rule = Rule::new(When::Rcpt, "Bad@", Action::Drop);
        assert_eq!(rule.matching_key(&["ok@x", "BAD@x"]), Some("BAD@x"));
        assert_eq!(rule.matching_key(&["ok@x"]), None);
        assert_eq!(
            Rule::new(When::Connect, "", Action::Drop).matching_key(&[""]),
            Some("")
        );
    }
}
