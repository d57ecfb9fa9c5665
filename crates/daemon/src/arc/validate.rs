//! Mailman's `validate-authenticity`, the first thing done to a message in `incoming`: the
//! DKIM signatures, the author domain's DMARC policy (DKIM alignment only: mailcast sees
//! the message after the MTA, so it has no SMTP client address for SPF) and the ARC chain of
//! the message as received, checked with mail-auth over the daemon's resolver, written as our
//! `Authentication-Results` on top ([`results::replace`]).
//!
//! A DNS failure is a result (`temperror`), never an error: the post goes on. Results of
//! trusted upstream `Authentication-Results` for methods we do not check ourselves (`spf`,
//! `iprev`, …) are copied into ours, as Mailman passes them to authheaders as `prev`, so that
//! the `ARC-Authentication-Results` of our seal records them too.
//!
//! Metric: `mailcast_arc_validations_total{arc=pass|fail|none|neutral|temperror|permerror}`.

use mail_auth::common::auth_results::AsAuthResult;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput, SpfOutput,
    dmarc::verify::DmarcParameters,
};

use super::results;
use crate::config::ArcSettings;
use crate::dns::Dns;

/// What validation checks and whose results it keeps.
#[derive(Debug, Clone)]
pub struct Authenticity {
    authserv_id: String,
    trusted: Vec<String>,
    dkim: bool,
    dmarc: bool,
    dns: Dns,
}

/// The methods our own results report; a trusted upstream result for one of them is not
/// copied into ours.
const OWN_METHODS: &[&str] = &["dkim", "dmarc", "arc"];

impl Authenticity {
    /// Validation as `[arc]` says, over `dns`.
    pub fn new(settings: &ArcSettings, dns: Dns) -> Authenticity {
        Authenticity {
            authserv_id: settings.authserv_id.clone(),
            trusted: settings.trusted_authserv_ids.clone(),
            dkim: settings.dkim,
            dmarc: settings.dmarc,
            dns,
        }
    }

    /// Our authserv-id.
    pub fn authserv_id(&self) -> &str {
        &self.authserv_id
    }

    /// The message with our `Authentication-Results` on top and only the trusted upstream
    /// ones kept. `mail_from` is the envelope sender (DMARC's RFC 5321 domain).
    pub async fn validate(&self, message: &[u8], mail_from: &str) -> Vec<u8> {
        let value = self.results(message, mail_from).await;
        results::replace(message, &value, &self.trusted)
    }

    /// The value of our `Authentication-Results` for `message`.
    pub async fn results(&self, message: &[u8], mail_from: &str) -> String {
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            return format!(
                "{}; arc=permerror (the header cannot be parsed)",
                self.authserv_id
            );
        };
        let authenticator = self.dns.authenticator();
        let dkim = if self.dkim || self.dmarc {
            authenticator.verify_dkim(&parsed).await
        } else {
            Vec::new()
        };
        let dmarc = if self.dmarc {
            let domain = mail_from.rsplit_once('@').map_or("", |(_, d)| d);
            let spf = SpfOutput::new(domain.to_string());
            let params = DmarcParameters {
                message: &parsed,
                dkim_output: &dkim,
                dkim2_output: None,
                rfc5321_mail_from_domain: domain,
                spf_output: &spf,
            };
            Some(authenticator.verify_dmarc(params).await)
        } else {
            None
        };
        let arc = authenticator.verify_arc(&parsed).await;
        metrics::counter!("mailcast_arc_validations_total", "arc" => result_name(arc.result()))
            .increment(1);
        let upstream = results::trusted(message, &self.trusted);
        compose(
            &self.authserv_id,
            self.dkim.then_some(dkim.as_slice()),
            dmarc.as_ref(),
            arc.result(),
            &upstream,
        )
    }
}

/// The result keyword of `result` (`pass`, `fail`, …), for the metric.
fn result_name(result: &DkimResult) -> &'static str {
    match result {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

/// Our results: `dkim=` per signature (`none` without one), `dmarc=`, `arc=`, then the
/// trusted upstream results of other methods; one result per folded line.
pub fn compose(
    authserv_id: &str,
    dkim: Option<&[DkimOutput<'_>]>,
    dmarc: Option<&DmarcOutput>,
    arc: &DkimResult,
    upstream: &[String],
) -> String {
    let mut ar = AuthenticationResults::new(authserv_id);
    if let Some(dkim) = dkim {
        ar = ar.with_dkim_results(dkim, "");
    }
    if let Some(dmarc) = dmarc {
        ar = ar.with_dmarc_result(dmarc);
    }
    let mut value = ar.to_string();
    if dkim.is_some_and(<[DkimOutput<'_>]>::is_empty) {
        value.push_str(";\r\n\tdkim=none");
    }
    value.push_str(";\r\n\tarc=");
    arc.as_auth_result(&mut value);
    for text in upstream {
        for resinfo in results::resinfos(text) {
            if !OWN_METHODS.contains(&results::method(resinfo).as_str()) {
                value.push_str(";\r\n\t");
                value.push_str(resinfo);
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use mail_auth::Error;
    use mail_auth::arc::ArcError;

    use super::*;

    #[test]
    fn results_name_each_method_once_per_line() {
        let upstream = vec!["mx.example.org; spf=pass smtp.mailfrom=example.com; dkim=fail".into()];
        let value = compose(
            "lists.example.org",
            Some(&[]),
            None,
            &DkimResult::Pass,
            &upstream,
        );
        assert_eq!(
            value,
            "lists.example.org;\r\n\tdkim=none;\r\n\tarc=pass;\r\n\tspf=pass smtp.mailfrom=example.com"
        );
        let value = compose(
            "lists.example.org",
            None,
            None,
            &DkimResult::Fail(Error::Arc(ArcError::BrokenChain)),
            &[],
        );
        assert!(
            value.starts_with("lists.example.org;\r\n\tarc=fail"),
            "{value}"
        );
        let read = results::ours(
            results::replace(b"From: a\r\n\r\n", &value, &[]).as_slice(),
            "lists.example.org",
        )
        .unwrap();
        assert_eq!(read.arc, "fail");
    }
}
