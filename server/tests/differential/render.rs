//! How answers are shown in a mismatch report: byte strings as text, long runs
//! of one value collapsed, the whole cut to a readable length.

/// Shortens a rendering of a huge message (a 129-op txn, a watch response with
/// 10 KB values) to what a reader can use: runs of one repeated list element
/// are shown once with their length, and what is left is cut at 6000 bytes.
pub(crate) fn clip(s: String) -> String {
    const MAX: usize = 6000;
    let s = squeeze(&bytes_as_text(&s));
    if s.len() <= MAX {
        return s;
    }
    let mut cut = MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ... ({} more bytes)", &s[..cut], s.len() - cut)
}

/// Collapses runs of 4 or more equal comma-separated elements (`120, 120, ...`)
/// into `120 ×N`.
fn squeeze(s: &str) -> String {
    let parts: Vec<&str> = s.split(", ").collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        let mut j = i + 1;
        while j < parts.len() && parts[j] == parts[i] {
            j += 1;
        }
        if j - i >= 4 {
            out.push(format!("{} ×{}", parts[i], j - i));
        } else {
            out.extend(parts[i..j].iter().map(|p| p.to_string()));
        }
        i = j;
    }
    out.join(", ")
}

/// Shows the byte fields of a rendering (`key: [102, 111, 111]`) as text
/// (`key: b"foo"`), long ones shortened.
fn bytes_as_text(s: &str) -> String {
    const FIELDS: [&str; 4] = ["key: [", "value: [", "range_end: [", "name: ["];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((at, field)) = FIELDS
        .iter()
        .filter_map(|f| rest.find(f).map(|i| (i, *f)))
        .min()
    {
        let list_start = at + field.len();
        out.push_str(&rest[..at + field.len() - 1]);
        rest = &rest[list_start..];
        let Some(end) = rest.find(']') else {
            out.push('[');
            continue;
        };
        let bytes: Option<Vec<u8>> = if end == 0 {
            Some(Vec::new())
        } else {
            rest[..end]
                .split(", ")
                .map(|n| n.parse::<u8>().ok())
                .collect()
        };
        match bytes {
            Some(b) => {
                out.push_str(&show_bytes(&b));
                rest = &rest[end + 1..];
            }
            None => out.push('['),
        }
    }
    out.push_str(rest);
    out
}

fn show_bytes(b: &[u8]) -> String {
    let text = |b: &[u8]| -> String {
        b.iter()
            .flat_map(|&c| std::ascii::escape_default(c))
            .map(char::from)
            .collect()
    };
    if b.len() > 32 && b.iter().all(|&c| c == b[0]) {
        return format!("b\"{}\"×{}", text(&b[..1]), b.len());
    }
    if b.len() > 64 {
        return format!("b\"{}\"...({} bytes)", text(&b[..32]), b.len());
    }
    format!("b\"{}\"", text(b))
}
