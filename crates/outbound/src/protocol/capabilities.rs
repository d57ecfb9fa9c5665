//! The service extensions a server announced in its EHLO or LHLO reply.
//!
//! Only the extensions the client acts on are
//! kept. Keywords are matched case-insensitively; unknown ones are ignored, as RFC 5321 asks.

/// What the server offers, from its EHLO/LHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The server answered EHLO/LHLO (`false` after a HELO fallback: no extensions at all).
    pub extended: bool,
    /// PIPELINING (RFC 2920): MAIL, RCPTs and DATA may go in one write.
    pub pipelining: bool,
    /// SIZE (RFC 1870): `Some(limit)`, with 0 meaning "no fixed limit".
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// CHUNKING (RFC 3030): BDAT.
    pub chunking: bool,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// The SASL mechanisms after AUTH (RFC 4954), upper-cased.
    pub auth: Vec<String>,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
}

impl Capabilities {
    /// Parses the text of a positive EHLO/LHLO reply (lines joined by `\n`, codes removed); the
    /// first line is the server's name and greeting, each further line one extension.
    pub fn parse(text: &str) -> Capabilities {
        let mut capabilities = Capabilities {
            extended: true,
            ..Capabilities::default()
        };
        for line in text.lines().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            // Some old servers write `AUTH=LOGIN PLAIN`.
            let (keyword, first_param) = match keyword.split_once('=') {
                Some((keyword, param)) => (keyword, Some(param)),
                None => (keyword, None),
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => capabilities.pipelining = true,
                "SIZE" => {
                    let limit = words.next().and_then(|value| value.parse().ok());
                    capabilities.size = Some(limit.unwrap_or(0));
                }
                "8BITMIME" => capabilities.eight_bit_mime = true,
                "SMTPUTF8" => capabilities.smtputf8 = true,
                "CHUNKING" => capabilities.chunking = true,
                "STARTTLS" => capabilities.starttls = true,
                "ENHANCEDSTATUSCODES" => capabilities.enhanced_status_codes = true,
                "DSN" => capabilities.dsn = true,
                "AUTH" => {
                    for mechanism in first_param.into_iter().chain(words) {
                        let mechanism = mechanism.to_ascii_uppercase();
                        if !mechanism.is_empty() && !capabilities.auth.contains(&mechanism) {
                            capabilities.auth.push(mechanism);
                        }
                    }
                }
                _ => {}
            }
        }
        capabilities
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_style_ehlo_reply() {
        let text = "mx.example.org\nPIPELINING\nSIZE 10240000\nVRFY\nETRN\nSTARTTLS\n\
                    AUTH PLAIN LOGIN\nAUTH=PLAIN LOGIN\nENHANCEDSTATUSCODES\n8BITMIME\nDSN\n\
                    SMTPUTF8\nCHUNKING";
        let capabilities = Capabilities::parse(text);
        assert_eq!(
            capabilities,
            Capabilities {
                extended: true,
                pipelining: true,
                size: Some(10_240_000),
                eight_bit_mime: true,
                smtputf8: true,
                chunking: true,
                starttls: true,
                auth: vec!["PLAIN".into(), "LOGIN".into()],
                enhanced_status_codes: true,
                dsn: true,
            }
        );
    }

    #[test]
    fn bare_size_and_lower_case_keywords() {
        let capabilities = Capabilities::parse("lmtp.example\nsize\npipelining");
        assert_eq!(capabilities.size, Some(0));
        assert!(capabilities.pipelining);
        assert!(!capabilities.chunking);
    }

    #[test]
    fn a_one_line_reply_offers_nothing() {
        let capabilities = Capabilities::parse("mx.example.org says hello");
        assert!(capabilities.extended);
        assert!(!capabilities.pipelining);
        assert_eq!(capabilities.size, None);
    }
}
