//! The period a report covers, and the times and durations it shows.
//!
//! Times are kept as normalised UTC text (`YYYY-MM-DDTHH:MM:SS.mmmZ`, see [`crate::time`]),
//! which compares correctly as strings; an event time that does not parse is kept as it was
//! written rather than dropped, so that the report still shows it.

/// Why [`super::report`] refused its period.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(
        "invalid {bound} date {value:?}: expected YYYY-MM-DD or an RFC 3339 time such as 2025-03-31T23:59:59Z"
    )]
    BadDate { bound: &'static str, value: String },
    #[error("the period is empty: --from {from} is after --to {to}\nhint: swap the two values")]
    Reversed { from: String, to: String },
}

/// The period of the report, as normalised UTC times, either bound open.
pub(super) struct Period {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
}

impl Period {
    pub(super) fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, ReportError> {
        let bound = |value: Option<&str>, name: &'static str, end: bool| {
            value
                .map(|v| {
                    bound_ms(v.trim(), end)
                        .and_then(crate::time::format_rfc3339_ms)
                        .ok_or_else(|| ReportError::BadDate {
                            bound: name,
                            value: v.to_owned(),
                        })
                })
                .transpose()
        };
        let period = Period {
            from: bound(from, "--from", false)?,
            to: bound(to, "--to", true)?,
        };
        if let (Some(f), Some(t)) = (&period.from, &period.to)
            && f > t
        {
            return Err(ReportError::Reversed {
                from: f.clone(),
                to: t.clone(),
            });
        }
        Ok(period)
    }

    pub(super) fn contains(&self, time: &str) -> bool {
        self.from.as_deref().is_none_or(|f| time >= f) && self.until(time)
    }

    pub(super) fn until(&self, time: &str) -> bool {
        self.to.as_deref().is_none_or(|t| time <= t)
    }

    pub(super) fn describe(&self) -> String {
        match (&self.from, &self.to) {
            (Some(f), Some(t)) => format!("{f} to {t}"),
            (Some(f), None) => format!("from {f} on"),
            (None, Some(t)) => format!("up to {t}"),
            (None, None) => "the whole trail".to_owned(),
        }
    }
}

/// A bound of the period in milliseconds since the epoch: a date stands for the start of its
/// day, or for the end of it when it ends the period.
fn bound_ms(value: &str, end: bool) -> Option<i64> {
    use crate::time::DAY_MS;
    if value.len() == 10 {
        let start = crate::time::parse_date(value)? * DAY_MS;
        return Some(if end { start + DAY_MS - 1 } else { start });
    }
    crate::time::parse_rfc3339_ms(value)
}

/// An event's time, normalised when it parses (the server writes them normalised already).
pub(super) fn norm(time: &str) -> String {
    crate::time::parse_rfc3339_ms(time)
        .and_then(crate::time::format_rfc3339_ms)
        .unwrap_or_else(|| time.to_owned())
}

/// Milliseconds from `start` to `end`, when both parse.
pub(super) fn between(start: &str, end: &str) -> Option<i64> {
    use crate::time::parse_rfc3339_ms;
    Some(parse_rfc3339_ms(end)? - parse_rfc3339_ms(start)?)
}

/// `42s`, `1.5s`, `12m 30s`, `3h 05m`, `2d 04h`.
pub(super) fn human_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let s = ms / 1000;
    let text = if ms < 10_000 && !ms.is_multiple_of(1000) {
        format!("{}.{}s", s, ms % 1000 / 100)
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}d {:02}h", s / 86_400, s / 3600 % 24)
    };
    format!("{sign}{text}")
}

/// Seconds with up to three decimals: `750`, `1.25`.
pub(super) fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms.is_multiple_of(1000) {
        format!("{sign}{}", ms / 1000)
    } else {
        let frac = format!("{:03}", ms % 1000);
        format!("{sign}{}.{}", ms / 1000, frac.trim_end_matches('0'))
    }
}

pub(super) fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => {
            let (a, b) = (values[n / 2 - 1], values[n / 2]);
            Some(a + (b - a) / 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_dates_are_refused_with_the_expected_format() {
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "yesterday",
            "2025-03-01T25:00:00Z",
            "2025-03-01T10:00:00",
        ] {
            let Err(err) = Period::parse(Some(bad), None) else {
                panic!("{bad} is not a date");
            };
            assert_eq!(
                err,
                ReportError::BadDate {
                    bound: "--from",
                    value: bad.to_owned()
                }
            );
            let message = err.to_string();
            assert!(
                message.contains(bad) && message.contains("YYYY-MM-DD"),
                "{message}"
            );
        }
        assert!(
            Period::parse(None, Some("2024-02-29")).is_ok(),
            "a leap day"
        );
        let Err(err) = Period::parse(Some("2025-03-02"), Some("2025-03-01")) else {
            panic!("a reversed period");
        };
        assert!(matches!(err, ReportError::Reversed { .. }), "{err}");
    }

    #[test]
    fn times_parse_and_normalise() {
        let cases = [
            ("2025-03-05T14:00:00.000Z", "2025-03-05T14:00:00.000Z"),
            ("2025-03-05t14:00:00z", "2025-03-05T14:00:00.000Z"),
            ("2025-03-05 14:00:00.1234567Z", "2025-03-05T14:00:00.123Z"),
            ("2025-03-05T15:30:00+01:30", "2025-03-05T14:00:00.000Z"),
            ("2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00.000Z"),
            ("2024-02-28T23:00:00-01:00", "2024-02-29T00:00:00.000Z"),
            ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
        ];
        for (input, normal) in cases {
            assert_eq!(norm(input), normal, "{input}");
        }
        // What does not parse is shown as written.
        assert_eq!(norm("last tuesday"), "last tuesday");
        let period = Period::parse(Some("2025-03-01"), Some("2025-03-31")).unwrap();
        assert_eq!(period.from.as_deref(), Some("2025-03-01T00:00:00.000Z"));
        assert_eq!(period.to.as_deref(), Some("2025-03-31T23:59:59.999Z"));
        assert_eq!(
            between("2025-03-01T00:00:00Z", "2025-03-01T00:00:01.5Z"),
            Some(1500)
        );
        assert_eq!(human_duration(750_000), "12m 30s");
        assert_eq!(human_duration(4200), "4.2s");
        assert_eq!(human_duration(93_784_000), "1d 02h");
        assert_eq!(seconds(1250), "1.25");
        assert_eq!(median(vec![60_000, 750_000]), Some(405_000));
    }
}
