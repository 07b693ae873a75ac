//! STIX 2.1 timestamps (section 3.2): RFC 3339 in UTC, upper-case `T` and `Z`, seconds always
//! present, any number of fractional digits. Stored and compared as microseconds since the Unix
//! epoch, which is the precision the relay keeps (`date_added` needs sub-millisecond steps so
//! that every object of a large envelope gets its own).

use std::fmt;

/// A point in time with microsecond precision, as the relay stores STIX and TAXII timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("'{0}' is not a STIX timestamp (expected YYYY-MM-DDTHH:MM:SS[.fraction]Z in UTC)")]
    Format(String),
    #[error("'{0}' is not a real date and time")]
    Impossible(String),
}

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Timestamp(jiff::Timestamp::now().as_microsecond())
    }

    /// Parses a STIX timestamp strictly: the format of section 3.2, then a calendar check.
    /// Fractions finer than a microsecond are truncated, never rounded up, so that a timestamp
    /// never moves later than what the producer wrote.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        let fmt_err = || TimestampError::Format(s.to_owned());
        if b.len() < 20 || b[b.len() - 1] != b'Z' {
            return Err(fmt_err());
        }
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if !(digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19))
        {
            return Err(fmt_err());
        }
        let rest = &b[19..b.len() - 1];
        let mut micros_frac: i64 = 0;
        if !rest.is_empty() {
            if rest[0] != b'.' || rest.len() < 2 || !rest[1..].iter().all(u8::is_ascii_digit) {
                return Err(fmt_err());
            }
            for i in 0..6 {
                micros_frac *= 10;
                if let Some(d) = rest.get(1 + i) {
                    micros_frac += i64::from(d - b'0');
                }
            }
        }
        let num = |r: std::ops::Range<usize>| -> i64 {
            b[r].iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0'))
        };
        let (year, month, day) = (num(0..4), num(5..7), num(8..10));
        let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
        let impossible = || TimestampError::Impossible(s.to_owned());
        // STIX allows a leap second (60) in the format; jiff does not model it, so it is
        // clamped to :59 the way RFC 3339 parsers commonly do.
        let second = if second == 60 { 59 } else { second };
        let date = jiff::civil::Date::new(year as i16, month as i8, day as i8)
            .map_err(|_| impossible())?;
        let time = jiff::civil::Time::new(hour as i8, minute as i8, second as i8, 0)
            .map_err(|_| impossible())?;
        let ts = date
            .to_datetime(time)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| impossible())?
            .timestamp();
        Ok(Timestamp(ts.as_microsecond() + micros_frac))
    }
}

/// Formats as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the form the relay writes in TAXII resources.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(ts) = jiff::Timestamp::from_microsecond(self.0) else {
            return write!(f, "invalid-timestamp({})", self.0);
        };
        let dt = jiff::tz::TimeZone::UTC.to_datetime(ts);
        let Ok(year) = u32::try_from(dt.year()) else {
            return write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S.%6fZ"));
        };
        // Written digit by digit: exports and TAXII pages print millions of these.
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, dt.month() as u32);
        put(8, 2, dt.day() as u32);
        put(11, 2, dt.hour() as u32);
        put(14, 2, dt.minute() as u32);
        put(17, 2, dt.second() as u32);
        put(20, 6, self.0.rem_euclid(1_000_000) as u32);
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        let cases = [
            ("2016-05-12T08:17:27Z", "2016-05-12T08:17:27.000000Z"),
            ("2016-05-12T08:17:27.000Z", "2016-05-12T08:17:27.000000Z"),
            (
                "2016-05-12T08:17:27.123456789Z",
                "2016-05-12T08:17:27.123456Z",
            ),
            ("1970-01-01T00:00:00.5Z", "1970-01-01T00:00:00.500000Z"),
            ("1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"),
            ("0001-02-03T04:05:06.000007Z", "0001-02-03T04:05:06.000007Z"),
            ("2999-12-31T23:59:59Z", "2999-12-31T23:59:59.000000Z"),
        ];
        for (input, out) in cases {
            assert_eq!(Timestamp::parse(input).unwrap().to_string(), out, "{input}");
        }
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "yesterday",
            "2016-05-12",
            "2016-05-12T08:17:27",
            "2016-05-12T08:17:27+00:00",
            "2016-05-12t08:17:27Z",
            "2016-05-12T08:17:27.Z",
            "2016-05-12 08:17:27Z",
            "2016-5-12T08:17:27Z",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Format(_))),
                "{bad}"
            );
        }
        for bad in [
            "2016-02-30T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-01-01T24:00:00Z",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Impossible(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn orders_by_time() {
        let a = Timestamp::parse("2020-01-01T00:00:00.000001Z").unwrap();
        let b = Timestamp::parse("2020-01-01T00:00:00.000002Z").unwrap();
        assert!(a < b);
    }
}
