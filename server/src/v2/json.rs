//! JSON written the way etcd's Go server writes it: fields in etcd's order, empty
//! fields left out, `<`, `>` and `&` escaped, invalid UTF-8 shown as `\ufffd`,
//! and times in RFC 3339 with trailing zeros of the fraction dropped.

/// Appends `bytes` as a JSON string, escaped as Go's `encoding/json` escapes it.
pub fn string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                escape_str(out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                escape_str(out, std::str::from_utf8(good).expect("valid prefix"));
                out.push_str("\\ufffd");
                let skip = e.error_len().unwrap_or(bad.len());
                rest = &bad[skip..];
            }
        }
    }
    out.push('"');
}

fn escape_str(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// Unix nanoseconds as Go's `time.Time` JSON (UTC, RFC 3339, fraction without
/// trailing zeros), quoted.
pub fn time(out: &mut String, unix_nanos: i64) {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let day_secs = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    out.push_str(&format!(
        "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        day_secs / 3600,
        (day_secs / 60) % 60,
        day_secs % 60
    ));
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str("Z\"");
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let mut out = String::new();
        string(&mut out, b"a\"b\\c\n<&>\x01\xffz");
        assert_eq!(out, r#""a\"b\\c\n\u003c\u0026\u003e\u0001\ufffdz""#);
    }

    #[test]
    fn times_drop_trailing_zeros() {
        let mut out = String::new();
        time(&mut out, 1_764_826_294_120_000_000);
        assert_eq!(out, "\"2025-12-04T05:31:34.12Z\"");
        out.clear();
        time(&mut out, 951_782_400_000_000_000);
        assert_eq!(out, "\"2000-02-29T00:00:00Z\"");
    }
}
