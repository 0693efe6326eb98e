//! Calendar arithmetic for the few places that turn dates into Unix seconds
//! and back (credential expiry times, index upload times, data-file stamps),
//! without a date-time dependency. Proleptic Gregorian calendar, UTC; the
//! algorithms are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (public domain, <https://howardhinnant.github.io/date_algorithms.html>).

/// Days since 1970-01-01 of the date `y`-`m`-`d` (month 1-12).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `YYYY-MM-DD` (UTC).
pub fn date(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_eras_and_leap_days() {
        for (y, m, d, s) in [
            (1970, 1, 1, "1970-01-01"),
            (2000, 2, 29, "2000-02-29"),
            (2022, 12, 25, "2022-12-25"),
            (1969, 12, 31, "1969-12-31"),
            (2100, 3, 1, "2100-03-01"),
        ] {
            let days = days_from_civil(y, m, d);
            assert_eq!(date(days * 86_400), s);
            assert_eq!(date(days * 86_400 + 86_399), s);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
