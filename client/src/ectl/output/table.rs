//! The `table` format: an ASCII grid laid out exactly as etcdctl's table
//! writer does it (the tablewriter library with etcdctl's settings).
//!
//! Its details are visible in every table: titles are upper-cased and
//! centred (an odd gap leaves the extra space on the right), cells are
//! right-aligned, and a cell wider than 30 columns that contains spaces is
//! word-wrapped onto several lines, with the break points chosen to
//! minimise raggedness and column widths growing row by row as cells are
//! added.

/// Columns never get narrower than this when text has to be wrapped.
const MAX_COLUMN_WIDTH: usize = 30;

/// Renders `rows` under `header`.
pub fn render(out: &mut Vec<u8>, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header
        .iter()
        .map(|h| width(h).min(MAX_COLUMN_WIDTH))
        .collect();
    let mut lines: Vec<Vec<Vec<String>>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(row.len());
        for (column, cell) in row.iter().enumerate() {
            if column == widths.len() {
                widths.push(0);
            }
            let limit = widths[column].max(width(cell).min(MAX_COLUMN_WIDTH));
            let wrapped = wrap(cell, limit);
            let widest = wrapped.iter().map(|l| width(l)).max().unwrap_or(0);
            widths[column] = limit.max(widest);
            cells.push(wrapped);
        }
        lines.push(cells);
    }

    let rule = {
        let mut rule = String::from("+");
        for w in &widths {
            rule.push_str(&"-".repeat(w + 2));
            rule.push('+');
        }
        rule.push('\n');
        rule
    };
    out.extend_from_slice(rule.as_bytes());
    out.push(b'|');
    for (title, &w) in header.iter().zip(&widths) {
        let title = title.replace(['_', '.'], " ").trim().to_uppercase();
        let gap = w.saturating_sub(width(&title));
        let left = gap / 2;
        let text = format!(" {}{title}{} |", " ".repeat(left), " ".repeat(gap - left));
        out.extend_from_slice(text.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(rule.as_bytes());
    for cells in &mut lines {
        let height = cells.iter().map(Vec::len).max().unwrap_or(0);
        // Shorter cells are filled with two-space lines, as the library
        // does; right-aligned they look like empty cells.
        for cell in cells.iter_mut() {
            cell.resize(height, "  ".to_string());
        }
        for line in 0..height {
            out.push(b'|');
            for (cell, &w) in cells.iter().zip(&widths) {
                let text = &cell[line];
                let pad = " ".repeat(w.saturating_sub(width(text)));
                out.extend_from_slice(format!(" {pad}{text} |").as_bytes());
            }
            out.push(b'\n');
        }
    }
    out.extend_from_slice(rule.as_bytes());
}

/// Display width in terminal columns. Everything etcdctl puts in a table
/// (IDs, URLs, numbers, member names) is normally ASCII; other characters
/// are counted as one column each.
fn width(s: &str) -> usize {
    s.chars().count()
}

/// Splits `text` at spaces into lines of at most `limit` characters (or
/// the longest word, if that is longer), choosing the breaks that minimise
/// the sum of the squared shortfalls of the lines.
fn wrap(text: &str, limit: usize) -> Vec<String> {
    let spaced = text.replace('\n', " ");
    let words: Vec<&str> = spaced.split(' ').collect();
    let limit = words.iter().map(|w| w.len()).fold(limit, usize::max) as i64;
    let n = words.len();
    let lens: Vec<i64> = words.iter().map(|w| w.chars().count() as i64).collect();
    // length(i, j): words i..=j joined by single spaces.
    let length = |i: usize, j: usize| lens[i..=j].iter().sum::<i64>() + (j - i) as i64;
    const TOO_LONG_PENALTY: i64 = 100_000;
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut next_break = vec![0; n];
    for i in (0..n).rev() {
        if length(i, n - 1) <= limit {
            cost[i] = 0;
            next_break[i] = n;
            continue;
        }
        for j in i + 1..n {
            let line = length(i, j - 1);
            let shortfall = limit - line;
            let mut c = shortfall * shortfall + cost[j];
            if line > limit {
                c += TOO_LONG_PENALTY;
            }
            if c < cost[i] {
                cost[i] = c;
                next_break[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next_break[i]].join(" "));
        i = next_break[i];
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(header: &[&str], rows: &[&[&str]]) -> String {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        let mut out = Vec::new();
        render(&mut out, header, &rows);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn member_table_like_etcdctl() {
        let text = table(
            &super::super::rows::MEMBER_HEADER,
            &[
                &[
                    "481d269a23819833",
                    "started",
                    "m1",
                    "http://127.0.0.1:37621",
                    "http://127.0.0.1:42455",
                    "false",
                ],
                &[
                    "a3736440f3fa14c7",
                    "unstarted",
                    "",
                    "http://127.0.0.1:39697",
                    "",
                    "true",
                ],
            ],
        );
        assert_eq!(
            text,
            "\
+------------------+-----------+------+------------------------+------------------------+------------+
|        ID        |  STATUS   | NAME |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
+------------------+-----------+------+------------------------+------------------------+------------+
| 481d269a23819833 |   started |   m1 | http://127.0.0.1:37621 | http://127.0.0.1:42455 |      false |
| a3736440f3fa14c7 | unstarted |      | http://127.0.0.1:39697 |                        |       true |
+------------------+-----------+------+------------------------+------------------------+------------+
"
        );
    }

    #[test]
    fn long_cells_wrap_at_spaces() {
        let text = table(
            &super::super::rows::HEALTH_HEADER,
            &[
                &["http://127.0.0.1:42455", "true", "28.538715ms", ""],
                &[
                    "http://127.0.0.1:39263",
                    "false",
                    "2.697605967s",
                    "etcdserver: rpc not supported for learner",
                ],
            ],
        );
        assert_eq!(
            text,
            "\
+------------------------+--------+--------------+--------------------------------+
|        ENDPOINT        | HEALTH |     TOOK     |             ERROR              |
+------------------------+--------+--------------+--------------------------------+
| http://127.0.0.1:42455 |   true |  28.538715ms |                                |
| http://127.0.0.1:39263 |  false | 2.697605967s |  etcdserver: rpc not supported |
|                        |        |              |                    for learner |
+------------------------+--------+--------------+--------------------------------+
"
        );
    }

    #[test]
    fn wrapping_balances_lines() {
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("one", 30), ["one"]);
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
        assert_eq!(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
    }
}
