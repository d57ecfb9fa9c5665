//! Identifiers the daemon generates: Message-IDs, MIME boundaries and confirmation tokens.
//! The pipeline is pure and takes these as parameters; this is where they come from.

use std::time::{SystemTime, UNIX_EPOCH};

fn micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// A new Message-ID, `<time.pid.random@host>` as Mailman's `make_msgid` builds them.
pub fn message_id(hostname: &str) -> String {
    format!(
        "<{}.{}.{:016x}@{hostname}>",
        micros(),
        std::process::id(),
        rand::random::<u64>()
    )
}

/// A MIME boundary that cannot occur in text we did not generate.
pub fn boundary() -> String {
    format!("===============mailcast{:032x}==", rand::random::<u128>())
}

/// A confirmation token: 40 hex digits (160 bits from the CSPRNG), Mailman's token shape.
pub fn token() -> String {
    let a = rand::random::<u128>();
    let b = rand::random::<u32>();
    format!("{a:032x}{b:08x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let id = super::message_id("lists.example.org");
        assert!(
            id.starts_with('<') && id.ends_with("@lists.example.org>"),
            "{id}"
        );
        assert_ne!(super::message_id("h"), super::message_id("h"));
        assert_eq!(super::token().len(), 40);
        assert!(super::token().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
