//! Digest volume and issue numbers, as Mailman's `bump_digest_number_and_volume`.
//!
//! A digest carries the numbers from **before** the bump, and the bump compares the time of
//! this digest with the time of the last one: when the period (`digest_volume_frequency`) has
//! changed, the volume goes up and the next issue is 1; otherwise the issue goes up. So the
//! first digest of a new period is still labelled with the old volume, and the volume rolls
//! for the one after it: Mailman's labelling, kept on purpose.
//!
//! One deliberate difference: Mailman 3.3.10 computes quarters as `(month - 1) // 4`, which
//! gives thirds of a year (Jan–Apr, May–Aug, Sep–Dec). mailcast uses real quarters (Jan–Mar,
//! Apr–Jun, Jul–Sep, Oct–Dec). Weekly keeps Mailman's key, calendar year × 100 + ISO week, so
//! around New Year a week can roll twice or not at all, as in Mailman. Times are UTC.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use mailcast_model::settings::DigestFrequency;

/// Where a list's digests stand: the numbers the next digest carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbers {
    /// The volume.
    pub volume: u64,
    /// The issue within the volume.
    pub number: u64,
    /// When the last digest was sent (`None` before the first).
    pub last_sent_at: Option<Timestamp>,
}

impl Numbers {
    /// The numbers after a digest is sent (or bumped) at `now`.
    pub fn bumped(self, frequency: DigestFrequency, now: Timestamp) -> Numbers {
        let rolls = match self.last_sent_at {
            None => false,
            Some(last) => period(frequency, now) > period(frequency, last),
        };
        if rolls {
            Numbers {
                volume: self.volume + 1,
                number: 1,
                last_sent_at: Some(now),
            }
        } else {
            Numbers {
                volume: self.volume,
                number: self.number + 1,
                last_sent_at: Some(now),
            }
        }
    }
}

/// A number that grows with each period of `frequency` (Mailman's comparison keys).
fn period(frequency: DigestFrequency, at: Timestamp) -> i64 {
    let date = at.to_zoned_datetime(TimeZone::UTC).date();
    let year = i64::from(date.year());
    let month = i64::from(date.month());
    match frequency {
        DigestFrequency::Yearly => year,
        DigestFrequency::Monthly => year * 100 + month,
        DigestFrequency::Quarterly => year * 100 + (month - 1) / 3,
        DigestFrequency::Weekly => year * 100 + i64::from(date.iso_week_date().week()),
        DigestFrequency::Daily => year * 1000 + i64::from(date.day_of_year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn start() -> Numbers {
        Numbers {
            volume: 1,
            number: 1,
            last_sent_at: None,
        }
    }

    #[test]
    fn the_first_digest_never_rolls_the_volume() {
        let n = start().bumped(DigestFrequency::Daily, at("2026-01-05T10:00:00Z"));
        assert_eq!((n.volume, n.number), (1, 2));
    }

    #[test]
    fn the_first_digest_of_a_period_keeps_the_old_volume() {
        // Jan 30: Vol 1 Issue 7 went out, next is 8.
        let jan = Numbers {
            volume: 1,
            number: 8,
            last_sent_at: Some(at("2026-01-30T12:00:00Z")),
        };
        // Feb 2 sends Vol 1 Issue 8 (the numbers before the bump), then the volume rolls.
        let feb = jan.bumped(DigestFrequency::Monthly, at("2026-02-02T12:00:00Z"));
        assert_eq!((feb.volume, feb.number), (2, 1));
        let again = feb.bumped(DigestFrequency::Monthly, at("2026-02-03T12:00:00Z"));
        assert_eq!((again.volume, again.number), (2, 2));
    }

    #[test]
    fn periods_follow_each_frequency() {
        let cases = [
            (
                DigestFrequency::Yearly,
                "2026-12-31T23:59:59Z",
                "2027-01-01T00:00:00Z",
                true,
            ),
            (
                DigestFrequency::Yearly,
                "2026-01-01T00:00:00Z",
                "2026-12-31T00:00:00Z",
                false,
            ),
            (
                DigestFrequency::Monthly,
                "2026-03-31T23:00:00Z",
                "2026-04-01T01:00:00Z",
                true,
            ),
            (
                DigestFrequency::Monthly,
                "2026-03-01T00:00:00Z",
                "2026-03-31T00:00:00Z",
                false,
            ),
            // Real quarters: March to April rolls, April to May does not (Mailman: the
            // reverse).
            (
                DigestFrequency::Quarterly,
                "2026-03-31T00:00:00Z",
                "2026-04-01T00:00:00Z",
                true,
            ),
            (
                DigestFrequency::Quarterly,
                "2026-04-30T00:00:00Z",
                "2026-05-01T00:00:00Z",
                false,
            ),
            (
                DigestFrequency::Weekly,
                "2026-12-06T12:00:00Z",
                "2026-12-07T12:00:00Z",
                true,
            ),
            (
                DigestFrequency::Weekly,
                "2026-12-07T00:00:00Z",
                "2026-12-13T23:00:00Z",
                false,
            ),
            (
                DigestFrequency::Daily,
                "2026-12-06T23:59:59Z",
                "2026-12-07T00:00:00Z",
                true,
            ),
            (
                DigestFrequency::Daily,
                "2026-12-07T00:00:00Z",
                "2026-12-07T23:59:59Z",
                false,
            ),
            (
                DigestFrequency::Daily,
                "2026-12-31T12:00:00Z",
                "2027-01-01T12:00:00Z",
                true,
            ),
        ];
        for (frequency, last, now, rolls) in cases {
            let before = Numbers {
                volume: 3,
                number: 5,
                last_sent_at: Some(at(last)),
            };
            let after = before.bumped(frequency, at(now));
            let expected = if rolls { (4, 1) } else { (3, 6) };
            assert_eq!(
                (after.volume, after.number),
                expected,
                "{frequency:?} {last} {now}"
            );
            assert_eq!(after.last_sent_at, Some(at(now)));
        }
    }
}
