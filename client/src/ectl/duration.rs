//! Durations written the way etcdctl's `--dial-timeout` and
//! `--command-timeout` accept them (Go's `time.ParseDuration`): `2s`,
//! `500ms`, `1m30s`, `1.5h`, `0`; and printed the way etcdctl reports them
//! (Go's `Duration.String`), as in `endpoint health`'s `took = 2.46ms`.

use std::time::Duration;

use super::gostr::quote;

/// Parses a Go duration. Negative durations are valid Go but meaningless as
/// timeouts; they become zero.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", quote(input.as_bytes()));
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let integer_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let integer = &s[..integer_len];
        s = &s[integer_len..];
        let mut fraction = "";
        if let Some(rest) = s.strip_prefix('.') {
            let fraction_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            fraction = &rest[..fraction_len];
            s = &rest[fraction_len..];
            if integer.is_empty() && fraction.is_empty() {
                return Err(invalid());
            }
        } else if integer.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        if unit.is_empty() {
            return Err(format!(
                "time: missing unit in duration {}",
                quote(input.as_bytes())
            ));
        }
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit.as_bytes()),
                    quote(input.as_bytes())
                ))
            }
        };
        let whole: u128 = if integer.is_empty() {
            0
        } else {
            integer.parse().map_err(|_| invalid())?
        };
        total = total
            .checked_add(whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?)
            .ok_or_else(invalid)?;
        // Fractions are truncated to whole nanoseconds, as in Go.
        let mut scale = nanos_per_unit;
        for digit in fraction.bytes().map(|b| u128::from(b - b'0')) {
            scale /= 10;
            total += digit * scale;
            if scale == 0 {
                break;
            }
        }
        // Go keeps durations in an int64 of nanoseconds.
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    if negative {
        return Ok(Duration::ZERO);
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Formats a duration as Go's `Duration.String` does: the largest fitting
/// unit below a second (`850ns`, `12.5µs`, `2.461ms`), otherwise hours,
/// minutes and seconds (`1.5s`, `2m0.25s`, `1h0m0s`), with all significant
/// fractional digits and no trailing zeros.
pub fn format_duration(duration: Duration) -> String {
    // Go keeps durations in an int64 of nanoseconds.
    let nanos = u64::try_from(duration.as_nanos())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64);
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, digits) = match nanos {
            0..=999 => ("ns", 0),
            1_000..=999_999 => ("\u{b5}s", 3),
            _ => ("ms", 6),
        };
        let scale = 10u64.pow(digits);
        return format!("{}{}{unit}", nanos / scale, fraction(nanos % scale, digits));
    }
    let seconds = nanos / 1_000_000_000;
    let mut text = String::new();
    let minutes = seconds / 60;
    if minutes > 0 {
        if minutes >= 60 {
            text.push_str(&format!("{}h", minutes / 60));
        }
        text.push_str(&format!("{}m", minutes % 60));
    }
    text.push_str(&format!(
        "{}{}s",
        seconds % 60,
        fraction(nanos % 1_000_000_000, 9)
    ));
    text
}

/// `.` and the `digits`-digit decimal fraction `value`, without trailing
/// zeros; nothing at all when the fraction is zero.
fn fraction(value: u64, digits: u32) -> String {
    if value == 0 {
        return String::new();
    }
    let text = format!("{value:0width$}", width = digits as usize);
    format!(".{}", text.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("+3ns"), Ok(Duration::from_nanos(3)));
        assert_eq!(parse_duration("-3s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_like_go() {
        assert_eq!(
            parse_duration("abc").unwrap_err(),
            r#"time: invalid duration "abc""#
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            r#"time: invalid duration """#
        );
        assert_eq!(
            parse_duration("1").unwrap_err(),
            r#"time: missing unit in duration "1""#
        );
        assert_eq!(
            parse_duration("1x").unwrap_err(),
            r#"time: unknown unit "x" in duration "1x""#
        );
        assert!(parse_duration(".s").is_err());
        assert!(parse_duration("3000000h").is_err());
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_000), "1\u{b5}s"),
            (Duration::from_nanos(12_340), "12.34\u{b5}s"),
            (Duration::from_nanos(6_305_050), "6.30505ms"),
            (Duration::from_millis(20), "20ms"),
            (Duration::from_nanos(2_697_605_967), "2.697605967s"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(60_250), "1m0.25s"),
            (Duration::from_secs(3_600), "1h0m0s"),
            (Duration::from_secs(3_723), "1h2m3s"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_duration(duration), text, "{duration:?}");
        }
    }
}
