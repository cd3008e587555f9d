//! UTC time as gatekeep writes and reads it: civil dates ↔ days since the epoch, and RFC 3339
//! times with milliseconds (`2026-11-21T08:40:12.345Z`), the one form every record carries.
//!
//! The one home of the calendar arithmetic (Howard Hinnant's `days_from_civil` and
//! `civil_from_days`, exact for every proleptic Gregorian date, negative days included), so
//! that the ledger, the server and the report cannot disagree on a date. No time zones beyond
//! the numeric offsets RFC 3339 allows, no clock except [`now_rfc3339`], no crate: a parser
//! of one fixed format is shorter than a dependency, and nothing here is on a hot path.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date; the date is not checked (see
/// [`parse_date`] for that).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both fit: the day is 1..=31 and the month 1..=12 by construction.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since the epoch of a valid `YYYY-MM-DD` date; `None` for any other text or an
/// impossible date (month 13, February 30, February 29 outside a leap year).
pub fn parse_date(s: &str) -> Option<i64> {
    parse_date_bytes(s.as_bytes())
}

fn parse_date_bytes(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&b[..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&d) {
        return None;
    }
    // Both fit: checked against 1..=12 and 1..=31 above.
    Some(days_from_civil(y, m as u32, d as u32))
}

/// Digits only, as a number.
fn num(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Milliseconds since the epoch of an RFC 3339 time: `YYYY-MM-DD`, `T` (or `t` or a space),
/// `HH:MM:SS`, an optional fraction (cut to milliseconds), then `Z` or `±HH:MM`. A leap
/// second (`:60`) counts as the second after `:59`.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let day = parse_date_bytes(&b[..10])?;
    let (hour, min, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let mut frac = b[start..i.min(start + 3)].to_vec();
        frac.resize(3, b'0');
        ms = num(&frac)?;
    }
    let offset_min = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    Some(day * DAY_MS + ((hour * 60 + min - offset_min) * 60 + sec) * 1000 + ms)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of milliseconds since the epoch, or `None` outside the years
/// 0000..=9999 (which four digits cannot write, and which would not sort as text).
pub fn format_rfc3339_ms(ms: i64) -> Option<String> {
    let (days, rem) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    ))
}

/// Now as RFC 3339 UTC with milliseconds (`2026-11-21T08:40:12.345Z`).
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `t` as RFC 3339 UTC with milliseconds; a time before the epoch (a clock set wrong) reads
/// as the epoch, since a record's time is never negative.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Known dates, their days since the epoch (checked with `date -u -d @$((days*86400))`).
    const KNOWN: [((i64, u32, u32), i64); 8] = [
        ((1970, 1, 1), 0),
        ((1969, 12, 31), -1),
        ((1900, 1, 1), -25_567),
        ((0, 1, 1), -719_528),
        ((2000, 2, 29), 11_016),
        ((2000, 3, 1), 11_017),
        ((2024, 12, 31), 20_088),
        ((9999, 12, 31), 2_932_896),
    ];

    #[test]
    fn civil_dates_and_days_agree_both_ways() {
        for ((y, m, d), days) in KNOWN {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d), "{days}");
        }
        // Every day of four centuries round-trips, leap years and century rules included.
        let (start, end) = (days_from_civil(1600, 1, 1), days_from_civil(2400, 12, 31));
        let mut previous = civil_from_days(start - 1);
        for days in start..=end {
            let date = civil_from_days(days);
            assert_eq!(days_from_civil(date.0, date.1, date.2), days);
            assert!(date > previous, "{date:?} after {previous:?}");
            previous = date;
        }
    }

    #[test]
    fn dates_parse_only_when_they_exist() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        assert_eq!(parse_date("2024-12-31"), Some(20_088));
        assert_eq!(parse_date("9999-12-31"), Some(2_932_896));
        for bad in [
            "1900-02-29",
            "2025-02-29",
            "2025-04-31",
            "2025-13-01",
            "2025-00-10",
            "2025-01-00",
            "2025-1-01",
            "2025/01/01",
            "+025-01-01",
            "２０２５-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_parse_to_milliseconds_and_format_back() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00.000Z"),
            ("1970-01-01T00:00:01.5Z", 1500, "1970-01-01T00:00:01.500Z"),
            ("1969-12-31T23:59:59.999Z", -1, "1969-12-31T23:59:59.999Z"),
            (
                "2000-02-29T12:00:00+02:00",
                11_016 * DAY_MS + 10 * 3_600_000,
                "2000-02-29T10:00:00.000Z",
            ),
            (
                "2024-12-31T23:59:59.1239z",
                20_089 * DAY_MS - 877,
                "2024-12-31T23:59:59.123Z",
            ),
            (
                "9999-12-31 23:59:59.999-00:00",
                2_932_897 * DAY_MS - 1,
                "9999-12-31T23:59:59.999Z",
            ),
        ];
        for (text, ms, normal) in cases {
            assert_eq!(parse_rfc3339_ms(text), Some(ms), "{text}");
            assert_eq!(format_rfc3339_ms(ms).as_deref(), Some(normal), "{ms}");
        }
        for bad in [
            "2025-03-01T10:00:00",
            "2025-03-01T24:00:00Z",
            "2025-03-01T10:60:00Z",
            "2025-03-01T10:00:00.Z",
            "2025-03-01T10:00:00+1:00",
            "2025-03-01T10:00:00+24:00",
            "2025-02-30T10:00:00Z",
            "2025-03-01X10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
        // Four digits cannot write years outside 0000..=9999.
        assert_eq!(format_rfc3339_ms(2_932_897 * DAY_MS), None);
        assert_eq!(format_rfc3339_ms(-719_528 * DAY_MS - 1), None);
        assert_eq!(
            format_rfc3339_ms(-719_528 * DAY_MS).as_deref(),
            Some("0000-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn system_times_format_with_milliseconds() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_251_612_345)),
            "2026-11-21T09:00:12.345Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000Z"
        );
        let now = now_rfc3339();
        assert_eq!(
            format_rfc3339_ms(parse_rfc3339_ms(&now).unwrap()),
            Some(now)
        );
    }
}
