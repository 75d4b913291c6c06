use super::*;
use crate::history::{OpKind, OpResult, Operation, Outcome};

const SECOND: u64 = 1_000_000_000;

fn bar(lane: &str, start_ns: u64, end_ns: Option<u64>, label: &str, outcome: BarOutcome) -> Bar {
    Bar {
        lane: lane.into(),
        start_ns,
        end_ns,
        label: label.into(),
        outcome,
    }
}

/// Checks that every tag is closed in order, the way an XML parser would, skipping the
/// doctype. Text is assumed escaped, so a `<` always opens a tag.
fn assert_balanced(html: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let end = rest[at..].find('>').expect("unterminated tag") + at;
        let tag = &rest[at + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(closing) = tag.strip_prefix('/') {
            let expected = open.pop().unwrap_or_else(|| panic!("stray </{closing}>"));
            assert_eq!(expected, closing, "</{closing}> closes <{expected}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("");
            open.push(name);
        }
    }
    assert!(open.is_empty(), "unclosed tags: {open:?}");
}

/// Text between `<title>` and `</title>` in order.
fn tooltips(html: &str) -> Vec<&str> {
    html.split("<title>")
        .skip(1)
        .map(|s| &s[..s.find("</title>").expect("closed title")])
        .collect()
}

#[test]
fn draws_every_lane_and_fault_window() {
    let bars = vec![
        bar("client 1", 0, Some(SECOND), "write r1 a", BarOutcome::Ok),
        bar(
            "watcher 1",
            SECOND / 2,
            Some(2 * SECOND),
            "watch r1",
            BarOutcome::Ok,
        ),
        bar("client 2", SECOND, None, "cas r1 a→b", BarOutcome::Unknown),
        bar(
            "client 1",
            2 * SECOND,
            Some(3 * SECOND),
            "read r1 = b",
            BarOutcome::Fail,
        ),
    ];
    let windows = vec![
        Window {
            start_ns: SECOND,
            end_ns: 2 * SECOND,
            label: "kill m2".into(),
        },
        Window {
            start_ns: 2 * SECOND,
            end_ns: 3 * SECOND,
            label: "isolate leader m1".into(),
        },
    ];
    let html = render_html("run 7", &bars, &windows);
    assert_balanced(&html);
    assert_eq!(html.matches("<svg").count(), 1);
    assert_eq!(html.matches("</svg>").count(), 1);
    // One label per lane, top to bottom in order of first appearance.
    let lane_labels: Vec<usize> = ["client 1", "watcher 1", "client 2"]
        .iter()
        .map(|lane| {
            let label = format!("</title>{lane}</text>");
            assert_eq!(html.matches(&label).count(), 1, "{lane}");
            html.find(&label).unwrap()
        })
        .collect();
    assert!(lane_labels.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(html.matches("class=\"lane-label\"").count(), 3);
    for label in ["kill m2", "isolate leader m1"] {
        assert!(html.contains(&format!(">{label}</text>")), "{label}");
    }
    assert_eq!(html.matches("class=\"fault\"").count(), 2);
    // Every bar is wide here, so each keeps its own tooltip.
    for label in ["write r1 a", "watch r1", "cas r1 a→b", "read r1 = b"] {
        assert!(tooltips(&html).iter().any(|t| t.contains(label)), "{label}");
    }
    assert!(html.contains("class=\"open-unknown\""));
    assert!(html.contains("never completed"));
    // Ticks are in seconds.
    assert!(html.contains(">0.0 s</text>") || html.contains(">0 s</text>"));
}

#[test]
fn escapes_text_everywhere() {
    let nasty = "<script>alert(\"x\" & 'y')</script>";
    let bars = vec![bar(nasty, 0, Some(SECOND), nasty, BarOutcome::Anomaly)];
    let windows = vec![Window {
        start_ns: 0,
        end_ns: SECOND,
        label: nasty.into(),
    }];
    let html = render_html(nasty, &bars, &windows);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("'y'"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"));
    assert_balanced(&html);
    assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
}

/// Ten clients issuing operations back to back for ten minutes.
fn dense_history(
    lanes: usize,
    per_lane: usize,
    outcome_of: impl Fn(usize) -> BarOutcome,
) -> Vec<Bar> {
    let run = 600 * SECOND;
    let slot = run / per_lane as u64;
    let mut bars = Vec::with_capacity(lanes * per_lane);
    for i in 0..per_lane {
        for lane in 0..lanes {
            let start = i as u64 * slot + lane as u64 * 1_000_000;
            bars.push(bar(
                &format!("client {lane}"),
                start,
                Some(start + slot * 4 / 5),
                &format!("write r{} c{lane}-{i}", lane % 3),
                outcome_of(i * lanes + lane),
            ));
        }
    }
    bars
}

#[test]
fn merges_dense_bars_but_never_an_anomaly() {
    let mut bars = dense_history(10, 10_000, |_| BarOutcome::Ok);
    let anomaly = bar(
        "client 3",
        300 * SECOND,
        Some(300 * SECOND + 40_000_000),
        "read r1 = c1-7 <stale>",
        BarOutcome::Anomaly,
    );
    bars.insert(50_003, anomaly);
    let html = render_html("dense", &bars, &[]);
    assert_balanced(&html);
    assert!(html.len() < 200_000, "{} bytes", html.len());
    let tips = tooltips(&html);
    let anomaly_tip = tips
        .iter()
        .filter(|t| t.contains("read r1 = c1-7 &lt;stale&gt;") && t.contains("[anomaly]"))
        .count();
    assert_eq!(anomaly_tip, 1, "the anomaly keeps its own tooltip");
    // Merged runs account for every ok bar.
    let merged: usize = tips
        .iter()
        .filter_map(|t| Some(&t[..t.find(" ok bars merged")?]))
        .map(|t| t.rsplit(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    let single = tips.iter().filter(|t| t.contains("[ok]")).count();
    assert_eq!(merged + single, 100_000);
    // The anomaly is drawn after (on top of) everything else.
    let anomaly_rect = html.find("class=\"anomaly\"").unwrap();
    assert!(html.rfind("class=\"ok run\"").unwrap() < anomaly_rect);
}

#[test]
fn mixed_outcomes_and_many_anomalies_stay_bounded() {
    // Outcomes interleave within each lane; each outcome still collapses into runs.
    let bars = dense_history(10, 10_000, |n| match n % 7 {
        0 => BarOutcome::Fail,
        3 => BarOutcome::Unknown,
        _ => BarOutcome::Ok,
    });
    let html = render_html("mixed", &bars, &[]);
    assert_balanced(&html);
    assert!(html.len() < 3_000_000, "{} bytes", html.len());

    let mut with_anomalies = bars;
    for (n, b) in with_anomalies.iter_mut().enumerate() {
        if n % 1000 == 0 {
            b.outcome = BarOutcome::Anomaly;
        }
    }
    let html = render_html("anomalies", &with_anomalies, &[]);
    assert_eq!(html.matches("class=\"anomaly\"").count(), 100);
    assert!(html.len() < 3_000_000, "{} bytes", html.len());
}

#[test]
fn wide_bars_are_not_merged_and_width_is_an_option() {
    let bars: Vec<Bar> = (0..3)
        .map(|i| {
            let start = i * 2 * SECOND;
            bar(
                "c",
                start,
                Some(start + SECOND),
                &format!("op {i}"),
                BarOutcome::Ok,
            )
        })
        .collect();
    let html = render_html("three", &bars, &[]);
    assert_eq!(html.matches("[ok]").count(), 3);
    assert!(!html.contains("bars merged"));
    // Shown inline too, since each bar is hundreds of pixels wide.
    assert!(html.contains(">op 1</text>"));

    let options = TimelineOptions {
        width_px: 800,
        lane_height_px: 30,
    };
    let narrow = render_html_with(options, "three", &bars, &[]);
    assert!(narrow.contains("width=\"800\""));
    assert_balanced(&narrow);
}

#[test]
fn empty_and_degenerate_inputs_render() {
    for html in [
        render_html("empty", &[], &[]),
        render_html("instant", &[bar("c", 5, Some(5), "x", BarOutcome::Ok)], &[]),
        render_html(
            "backwards window",
            &[],
            &[Window {
                start_ns: 10,
                end_ns: 3,
                label: "w".into(),
            }],
        ),
    ] {
        assert_balanced(&html);
        assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    }
}

#[test]
fn operation_bars_describe_what_happened() {
    let op = |kind, outcome| Operation {
        client: 3,
        key: "jepsen/r1".into(),
        invoke_ns: 10,
        complete_ns: 20,
        kind,
        outcome,
        revision: None,
    };
    let cas = operation_bar(&op(
        OpKind::Cas {
            expected: Some("c3-17".into()),
            new: "c4-2".into(),
        },
        Outcome::Ok(OpResult::Cas(true)),
    ));
    assert_eq!(cas.lane, "client 3");
    assert_eq!(cas.label, "cas r1 c3-17→c4-2");
    assert_eq!((cas.outcome, cas.end_ns), (BarOutcome::Ok, Some(20)));
    let read = operation_bar(&op(OpKind::Read, Outcome::Ok(OpResult::Read(None))));
    assert_eq!(read.label, "read r1 = ∅");
    let lost = operation_bar(&op(OpKind::Write("v".into()), Outcome::Unknown));
    assert_eq!((lost.outcome, lost.end_ns), (BarOutcome::Unknown, None));
}

#[test]
fn an_anomaly_that_never_completed_stays_on_top_without_hiding_its_lane() {
    let bars = vec![
        bar(
            "client 1",
            0,
            Some(10 * SECOND),
            "write r1 a",
            BarOutcome::Ok,
        ),
        bar("client 1", SECOND, None, "cas r1 a→b", BarOutcome::Anomaly),
    ];
    let html = render_html("open anomaly", &bars, &[]);
    assert_balanced(&html);
    let anomaly = html.find("class=\"open-anomaly\"").expect("drawn as open");
    assert!(html.find("class=\"ok\"").unwrap() < anomaly);
    assert!(tooltips(&html)
        .iter()
        .any(|t| t.contains("cas r1 a→b [anomaly]") && t.contains("never completed")));
    assert!(html.contains("<li>client 1 at 1.000 s: cas r1 a→b</li>"));
}
