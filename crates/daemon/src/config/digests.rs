//! `[digests]`: the built-in digest schedule. Mailman 3 sends periodic digests only when the
//! site runs `mailman digests --periodic` from cron; mailcast runs the same step itself, once
//! a day at `send_time` (UTC), for every list with `digest_send_periodic`.

use anyhow::{Context, bail};
use jiff::civil::Time;
use serde::Deserialize;

/// `[digests]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDigests {
    /// Whether the daemon sends periodic digests itself.
    pub periodic: bool,
    /// `HH:MM`, UTC.
    pub send_time: String,
}

impl Default for RawDigests {
    fn default() -> RawDigests {
        RawDigests {
            periodic: true,
            send_time: "00:00".into(),
        }
    }
}

/// The digest schedule, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestSettings {
    /// `[digests] periodic`: off when the site keeps a cron job running `mailcast digests
    /// --periodic` instead.
    pub periodic: bool,
    /// `[digests] send_time`: when each day the periodic digests go out (UTC).
    pub send_time: Time,
}

impl Default for DigestSettings {
    fn default() -> DigestSettings {
        DigestSettings {
            periodic: true,
            send_time: Time::midnight(),
        }
    }
}

impl DigestSettings {
    /// From the file's table.
    pub fn from_raw(raw: &RawDigests) -> anyhow::Result<DigestSettings> {
        Ok(DigestSettings {
            periodic: raw.periodic,
            send_time: parse_time(&raw.send_time).context("key `digests.send_time`")?,
        })
    }
}

/// `HH:MM` (24-hour clock).
fn parse_time(text: &str) -> anyhow::Result<Time> {
    let Some((hour, minute)) = text.split_once(':') else {
        bail!("{text:?} is not a time of day as HH:MM");
    };
    let (Ok(hour), Ok(minute)) = (hour.parse::<i8>(), minute.parse::<i8>()) else {
        bail!("{text:?} is not a time of day as HH:MM");
    };
    Time::new(hour, minute, 0, 0).map_err(|_| anyhow::anyhow!("{text:?} is not a time of day"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times() {
        assert_eq!(parse_time("06:30").unwrap(), Time::constant(6, 30, 0, 0));
        assert_eq!(parse_time("0:05").unwrap(), Time::constant(0, 5, 0, 0));
        for bad in ["24:00", "6", "6:60", "six:00", ""] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
