//! A picture of a run that a person can look at: one self-contained HTML file with an inline
//! SVG timeline, one horizontal lane per client (or watcher), one bar per operation from
//! invocation to completion, and the nemesis's fault windows as shaded bands across every
//! lane. Hovering a bar shows its details through SVG `<title>` tooltips, so the file needs
//! no script and opens offline in any browser.
//!
//! A ten-minute run can hold 100k operations, far more than there are pixels. Drawing each
//! one would make a file of tens of megabytes that browsers struggle to open, and bars
//! narrower than a pixel cannot be told apart anyway. So within a lane, consecutive bars of
//! the same outcome that are each narrower than [`MERGE_BELOW_PX`] and lie within that
//! distance of one another are drawn as one run-length rectangle whose tooltip gives the
//! count. The number of rectangles per lane is then bounded by the plot's width in pixels
//! rather than by the length of the history. Anomalies are the reason to look at the picture,
//! so they are never merged: each is drawn on its own, on top of everything, full lane
//! height and at least a few pixels wide.
//!
//! Bars that never completed ([`Bar::end_ns`] `None`, e.g. an operation whose outcome is
//! unknown and which may take effect at any later time) are drawn as a short fading head
//! where they started and a thin dashed line to the end of the run, underneath the completed
//! bars of their lane.

use crate::history::{OpKind, OpResult, Operation, Outcome};
use std::collections::HashMap;
use std::fmt::Write;

/// Bars and runs narrower than this many pixels are merged with neighbours of the same
/// outcome that are less than this far away.
pub const MERGE_BELOW_PX: f64 = 1.0;

/// Anomalies are drawn at least this wide so that a single one is visible in a long run.
const ANOMALY_MIN_PX: f64 = 3.0;
/// Width of the fading head of a bar that never completed.
const OPEN_HEAD_PX: f64 = 24.0;
/// Room for lane labels left of the plot.
const LEFT_PX: f64 = 150.0;
const RIGHT_PX: f64 = 20.0;
/// Fault-window labels are staggered over up to this many rows so adjacent windows stay
/// legible.
const WINDOW_LABEL_ROWS: usize = 3;
const WINDOW_LABEL_ROW_PX: f64 = 13.0;
/// Height of the time axis (tick labels) above the lanes.
const AXIS_PX: f64 = 18.0;
const BOTTOM_PX: f64 = 10.0;
/// Aim for a tick about every this many pixels.
const TICK_SPACING_PX: f64 = 100.0;
/// Approximate width of one character of bar text, to decide how much of a label fits.
const CHAR_PX: f64 = 6.0;
/// Completed single bars at least this wide show their label inside.
const INLINE_LABEL_MIN_PX: f64 = 40.0;
/// The HTML list of anomalies below the picture stops after this many entries.
const ANOMALY_LIST_MAX: usize = 200;

/// How an operation ended, as far as the picture is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarOutcome {
    /// Acknowledged by the server (green).
    Ok,
    /// Definitely not applied (grey).
    Fail,
    /// May or may not have been applied (yellow).
    Unknown,
    /// Implicated in an anomaly a checker reported (red, on top, never merged).
    Anomaly,
}

impl BarOutcome {
    /// CSS class and word used in tooltips.
    fn name(self) -> &'static str {
        match self {
            BarOutcome::Ok => "ok",
            BarOutcome::Fail => "fail",
            BarOutcome::Unknown => "unknown",
            BarOutcome::Anomaly => "anomaly",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            BarOutcome::Ok => "#2e9e44",
            BarOutcome::Fail => "#8f8f8f",
            BarOutcome::Unknown => "#e6b800",
            BarOutcome::Anomaly => "#d62728",
        }
    }

    const ALL: [BarOutcome; 4] = [
        BarOutcome::Ok,
        BarOutcome::Fail,
        BarOutcome::Unknown,
        BarOutcome::Anomaly,
    ];
}

/// One operation (or any interval) drawn in a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Lane it belongs to, e.g. `"client 3"` or `"watcher 1"`; lanes appear top to bottom in
    /// order of first appearance in the bar list.
    pub lane: String,
    /// Monotonic nanoseconds at which it started.
    pub start_ns: u64,
    /// Monotonic nanoseconds at which it completed; `None` if it never did, in which case it
    /// is drawn to the end of the run, faded and dashed.
    pub end_ns: Option<u64>,
    /// Short description shown in its tooltip (and inside it when wide enough).
    pub label: String,
    /// Colour and drawing order.
    pub outcome: BarOutcome,
}

/// A fault the nemesis held between two instants, drawn as a band across every lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Monotonic nanoseconds at which the fault began.
    pub start_ns: u64,
    /// Monotonic nanoseconds at which it was healed.
    pub end_ns: u64,
    /// Short description, e.g. `"kill m2"`, written above the band.
    pub label: String,
}

/// Size of the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineOptions {
    /// Width of the SVG in pixels, lane labels included. Wider pictures merge fewer bars and
    /// make larger files.
    pub width_px: u32,
    /// Height of each lane in pixels.
    pub lane_height_px: u32,
}

impl Default for TimelineOptions {
    /// 1600 pixels wide, 18-pixel lanes: a laptop screen without horizontal scrolling.
    fn default() -> TimelineOptions {
        TimelineOptions {
            width_px: 1600,
            lane_height_px: 18,
        }
    }
}

/// The bar for one recorded operation: lane `client N`, labelled with what it did and saw,
/// ending at its completion, or never when its outcome is unknown (it may take effect at any
/// later time). Callers that know an operation is part of an anomaly set
/// [`Bar::outcome`] to [`BarOutcome::Anomaly`].
pub fn operation_bar(op: &Operation) -> Bar {
    // Keys look like `jepsen/r1`; the last segment is enough to tell them apart.
    let key = op.key.rsplit('/').next().unwrap_or(&op.key);
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "∅".to_string());
    let mut label = match &op.kind {
        OpKind::Read => format!("read {key}"),
        OpKind::Write(v) => format!("write {key} {v}"),
        OpKind::Cas { expected, new } => format!("cas {key} {}→{new}", show(expected)),
    };
    match &op.outcome {
        Outcome::Ok(OpResult::Read(v)) => {
            let _ = write!(label, " = {}", show(v));
        }
        Outcome::Ok(OpResult::Cas(false)) => label.push_str(" refused"),
        _ => {}
    }
    let (outcome, end_ns) = match op.outcome {
        Outcome::Ok(_) => (BarOutcome::Ok, Some(op.complete_ns)),
        Outcome::Fail => (BarOutcome::Fail, Some(op.complete_ns)),
        Outcome::Unknown => (BarOutcome::Unknown, None),
    };
    Bar {
        lane: format!("client {}", op.client),
        start_ns: op.invoke_ns,
        end_ns,
        label,
        outcome,
    }
}

/// [`render_html_with`] at the default size.
pub fn render_html(title: &str, bars: &[Bar], windows: &[Window]) -> String {
    render_html_with(TimelineOptions::default(), title, bars, windows)
}

/// Renders bars and fault windows as one self-contained, well-formed HTML document (no
/// scripts, no external resources). Every lane gets a label, every window a band and a
/// label, every anomaly its own rectangle with its own tooltip; all text is escaped. The
/// number of SVG elements per lane is at most a small multiple of the plot width in pixels,
/// plus the bars wider than [`MERGE_BELOW_PX`], plus the anomalies, however many narrow bars
/// there are.
pub fn render_html_with(
    options: TimelineOptions,
    title: &str,
    bars: &[Bar],
    windows: &[Window],
) -> String {
    let lanes = group_lanes(bars);
    let layout = Layout::new(options, bars, windows, lanes.len());
    let marks: Vec<(usize, Vec<Mark<'_>>)> = lanes
        .iter()
        .enumerate()
        .map(|(i, (_, lane_bars))| (i, lane_marks(lane_bars, &layout)))
        .collect();

    let mut svg = String::new();
    layout.open_svg(&mut svg);
    for (i, (name, lane_bars)) in lanes.iter().enumerate() {
        layout.lane_background(&mut svg, i, name, lane_bars.len());
    }
    layout.axis(&mut svg);
    for (i, window) in windows.iter().enumerate() {
        layout.window(&mut svg, i, window);
    }
    // Back to front: bars that never completed underneath, completed ones over them in
    // increasing order of interest, anomalies last so nothing hides them.
    for layer in 0..=BarOutcome::ALL.len() {
        for (lane, lane_marks) in &marks {
            for mark in lane_marks.iter().filter(|m| m.layer() == layer) {
                layout.mark(&mut svg, lanes[*lane].0, *lane, mark);
            }
        }
    }
    svg.push_str("</svg>\n");

    let mut html = String::with_capacity(svg.len() + 4096);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    let _ = writeln!(html, "<title>{}</title>", escape(title));
    html.push_str(STYLE);
    html.push_str("</head>\n<body>\n");
    let _ = writeln!(html, "<h1>{}</h1>", escape(title));
    summary(&mut html, bars, windows, lanes.len());
    html.push_str(&svg);
    anomaly_list(&mut html, bars);
    html.push_str("</body>\n</html>\n");
    html
}

/// Escapes text for XML content and attribute values alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Outcome colours live in one stylesheet rather than on each of thousands of rectangles.
const STYLE: &str = "<style>
body{font-family:sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 6px 0}
.summary{font-size:13px;margin:0 0 8px 0}
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
svg text{font-size:11px}
.lane-a{fill:#f7f7f7}.lane-b{fill:#ffffff}
.grid{stroke:#dddddd;stroke-width:1}
.fault{fill:#7b5ea7;fill-opacity:0.16}.fault-edge{stroke:#7b5ea7;stroke-opacity:0.5}
.fault-label{fill:#5a3f86;font-size:10px}
.ok{fill:#2e9e44}.fail{fill:#8f8f8f}.unknown{fill:#e6b800}
.anomaly{fill:#d62728;stroke:#7f0000;stroke-width:1}
.run{fill-opacity:0.85}
.head{stroke:none}.tail{stroke-width:1.5;stroke-dasharray:4 3}
.open-ok{fill:url(#fade-ok);stroke:#2e9e44}.open-fail{fill:url(#fade-fail);stroke:#8f8f8f}
.open-unknown{fill:url(#fade-unknown);stroke:#e6b800}.open-anomaly{fill:#d62728;stroke:#d62728}
.inline{fill:#ffffff;font-size:10px;pointer-events:none}
</style>
";

/// Bars grouped by lane, lanes in order of first appearance.
fn group_lanes(bars: &[Bar]) -> Vec<(&str, Vec<&Bar>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut lanes: Vec<(&str, Vec<&Bar>)> = Vec::new();
    for bar in bars {
        let i = *index.entry(bar.lane.as_str()).or_insert_with(|| {
            lanes.push((bar.lane.as_str(), Vec::new()));
            lanes.len() - 1
        });
        lanes[i].1.push(bar);
    }
    lanes
}

/// Where things go: time to x, lane to y.
struct Layout {
    width: f64,
    height: f64,
    lane_height: f64,
    plot_left: f64,
    plot_width: f64,
    /// Top of the first lane.
    lanes_top: f64,
    lanes: usize,
    /// Rows of fault-window labels above the axis.
    label_rows: usize,
    /// Earliest and latest instant shown.
    t0: u64,
    t1: u64,
}

impl Layout {
    fn new(options: TimelineOptions, bars: &[Bar], windows: &[Window], lanes: usize) -> Layout {
        let starts = bars
            .iter()
            .map(|b| b.start_ns)
            .chain(windows.iter().map(|w| w.start_ns));
        let ends = bars
            .iter()
            .map(|b| b.end_ns.unwrap_or(b.start_ns))
            .chain(windows.iter().map(|w| w.end_ns.max(w.start_ns)));
        let t0 = starts.min().unwrap_or(0);
        let t1 = ends.max().unwrap_or(0).max(t0);
        let lane_height = f64::from(options.lane_height_px.max(4));
        let width = f64::from(options.width_px).max(LEFT_PX + RIGHT_PX + 100.0);
        let label_rows = windows.len().min(WINDOW_LABEL_ROWS);
        let lanes_top = label_rows as f64 * WINDOW_LABEL_ROW_PX + AXIS_PX + 4.0;
        Layout {
            width,
            height: lanes_top + lanes as f64 * lane_height + BOTTOM_PX,
            lane_height,
            plot_left: LEFT_PX,
            plot_width: width - LEFT_PX - RIGHT_PX,
            lanes_top,
            lanes,
            label_rows,
            t0,
            t1,
        }
    }

    fn x(&self, t: u64) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        self.plot_left + (t.clamp(self.t0, self.t1) - self.t0) as f64 / span * self.plot_width
    }

    fn lane_y(&self, lane: usize) -> f64 {
        self.lanes_top + lane as f64 * self.lane_height
    }

    fn lanes_bottom(&self) -> f64 {
        self.lane_y(self.lanes)
    }

    fn open_svg(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\">",
            w = self.width,
            h = self.height
        );
        out.push_str("<defs>\n");
        for outcome in [BarOutcome::Ok, BarOutcome::Fail, BarOutcome::Unknown] {
            let _ = writeln!(
                out,
                "<linearGradient id=\"fade-{name}\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">\
                 <stop offset=\"0\" stop-color=\"{c}\" stop-opacity=\"0.8\"/>\
                 <stop offset=\"1\" stop-color=\"{c}\" stop-opacity=\"0.05\"/></linearGradient>",
                name = outcome.name(),
                c = outcome.colour()
            );
        }
        out.push_str("</defs>\n");
    }

    fn lane_background(&self, out: &mut String, lane: usize, name: &str, bars: usize) {
        let y = self.lane_y(lane);
        let class = if lane.is_multiple_of(2) {
            "lane-a"
        } else {
            "lane-b"
        };
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"0\" y=\"{y:.1}\" width=\"{w:.0}\" height=\"{h:.1}\"/>",
            w = self.width,
            h = self.lane_height
        );
        // Long names are cut to fit the margin; the tooltip keeps the whole of it.
        let shown = truncate(name, ((LEFT_PX - 12.0) / CHAR_PX) as usize);
        let _ = writeln!(
            out,
            "<text class=\"lane-label\" x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" \
             dominant-baseline=\"middle\"><title>{full}: {bars} bars</title>{shown}</text>",
            x = LEFT_PX - 8.0,
            ty = y + self.lane_height / 2.0,
            full = escape(name),
            shown = escape(&shown)
        );
    }

    fn axis(&self, out: &mut String) {
        let t0 = self.t0 as f64 / 1e9;
        let t1 = self.t1 as f64 / 1e9;
        let step = tick_step((t1 - t0) * TICK_SPACING_PX / self.plot_width);
        let decimals = if step >= 1.0 {
            0
        } else {
            (-step.log10()).ceil() as usize
        };
        let first = (t0 / step).ceil() as i64;
        let last = (t1 / step).floor() as i64;
        let (top, bottom) = (self.lanes_top - 2.0, self.lanes_bottom());
        for k in first..=last {
            let seconds = k as f64 * step;
            let x = self.x((seconds * 1e9).round() as u64);
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top:.1}\" y2=\"{bottom:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{seconds:.decimals$} s</text>",
                ty = top - 5.0
            );
        }
    }

    fn window(&self, out: &mut String, index: usize, window: &Window) {
        let x0 = self.x(window.start_ns);
        let x1 = self.x(window.end_ns.max(window.start_ns)).max(x0 + 1.0);
        let (top, bottom) = (self.lanes_top, self.lanes_bottom());
        let label = escape(&window.label);
        let tooltip = format!(
            "{label}: {} to {} ({})",
            seconds(window.start_ns),
            seconds(window.end_ns),
            duration(window.end_ns.saturating_sub(window.start_ns))
        );
        let _ = writeln!(
            out,
            "<rect class=\"fault\" x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
             <title>{tooltip}</title></rect>\
             <line class=\"fault-edge\" x1=\"{x0:.1}\" x2=\"{x0:.1}\" y1=\"{ly:.1}\" y2=\"{bottom:.1}\"/>\
             <text class=\"fault-label\" x=\"{tx:.1}\" y=\"{ty:.1}\"><title>{tooltip}</title>{label}</text>",
            w = x1 - x0,
            h = bottom - top,
            ly = self.label_row_y(index) - 9.0,
            tx = x0 + 2.0,
            ty = self.label_row_y(index),
        );
    }

    /// Baseline of a window label; consecutive windows use different rows.
    fn label_row_y(&self, index: usize) -> f64 {
        WINDOW_LABEL_ROW_PX * (1 + index % self.label_rows.max(1)) as f64
    }

    fn mark(&self, out: &mut String, lane_name: &str, lane: usize, mark: &Mark<'_>) {
        let y = self.lane_y(lane);
        let (mut x0, mut x1) = (mark.x0, mark.x1);
        let (bar_y, bar_h) = if mark.outcome == BarOutcome::Anomaly {
            // Centred on the real interval so a tiny anomaly sits where it happened.
            let grow = (ANOMALY_MIN_PX - (x1 - x0)).max(0.0) / 2.0;
            x0 -= grow;
            x1 += grow;
            (y + 1.0, self.lane_height - 2.0)
        } else {
            x1 = x1.max(x0 + 1.0);
            (y + self.lane_height * 0.2, self.lane_height * 0.6)
        };
        let name = mark.outcome.name();
        let class = if mark.count > 1 {
            format!("{name} run")
        } else {
            name.to_string()
        };
        let lane_name = escape(lane_name);
        let end = match mark.end_ns {
            Some(end) => seconds(end),
            None => "never completed".to_string(),
        };
        let tooltip = if mark.count == 1 {
            let took = match mark.end_ns {
                Some(end) => duration(end.saturating_sub(mark.start_ns)),
                None => "open".to_string(),
            };
            format!(
                "{lane_name}: {label} [{name}] {start} to {end} ({took})",
                label = escape(&mark.first.label),
                start = seconds(mark.start_ns)
            )
        } else {
            format!(
                "{lane_name}: {count} {name} bars merged, {start} to {end}; first: {first}; last: {last}",
                count = mark.count,
                start = seconds(mark.start_ns),
                first = escape(&mark.first.label),
                last = escape(&mark.last.label)
            )
        };
        if mark.open {
            // A fading head where it started and a thin dashed tail to the end of the run:
            // stacked full-height fades would paint the whole lane.
            let _ = write!(
                out,
                "<g class=\"open-{name}\"><title>{tooltip}</title>\
                 <rect class=\"head\" x=\"{x0:.1}\" y=\"{bar_y:.1}\" width=\"{w:.1}\" height=\"{bar_h:.1}\"/>\
                 <line class=\"tail\" x1=\"{x0:.1}\" x2=\"{x1:.1}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\"/></g>",
                w = (x1 - x0).min(OPEN_HEAD_PX),
                ty = bar_y + bar_h
            );
        } else {
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{x0:.1}\" y=\"{bar_y:.1}\" width=\"{w:.1}\" height=\"{bar_h:.1}\">\
                 <title>{tooltip}</title></rect>",
                w = x1 - x0
            );
        }
        let fits = ((x1 - x0 - 4.0) / CHAR_PX) as usize;
        if mark.count == 1 && !mark.open && x1 - x0 >= INLINE_LABEL_MIN_PX && fits > 0 {
            let _ = write!(
                out,
                "<text class=\"inline\" x=\"{tx:.1}\" y=\"{ty:.1}\" dominant-baseline=\"middle\">{text}</text>",
                tx = x0 + 2.0,
                ty = y + self.lane_height / 2.0,
                text = escape(&truncate(&mark.first.label, fits))
            );
        }
        out.push('\n');
    }
}

/// One rectangle to draw: a single bar, or a run of merged bars of one outcome.
struct Mark<'a> {
    outcome: BarOutcome,
    /// Drawn to the end of the run.
    open: bool,
    first: &'a Bar,
    last: &'a Bar,
    count: usize,
    start_ns: u64,
    /// Latest completion among the merged bars; `None` when open.
    end_ns: Option<u64>,
    x0: f64,
    x1: f64,
    /// Start of the latest bar merged in, for open runs.
    last_x0: f64,
    /// Every bar merged in was narrower than [`MERGE_BELOW_PX`].
    narrow: bool,
}

impl<'a> Mark<'a> {
    fn single(bar: &'a Bar, layout: &Layout) -> Mark<'a> {
        let x0 = layout.x(bar.start_ns);
        let x1 = match bar.end_ns {
            Some(end) => layout.x(end.max(bar.start_ns)),
            None => layout.x(layout.t1),
        };
        Mark {
            outcome: bar.outcome,
            open: bar.end_ns.is_none(),
            first: bar,
            last: bar,
            count: 1,
            start_ns: bar.start_ns,
            end_ns: bar.end_ns.map(|end| end.max(bar.start_ns)),
            x0,
            x1,
            last_x0: x0,
            narrow: x1 - x0 < MERGE_BELOW_PX,
        }
    }

    /// Whether `next` (a single bar starting no earlier than this mark) would be
    /// indistinguishable from this mark once drawn, so both may be one rectangle.
    /// Drawing order, back to front.
    fn layer(&self) -> usize {
        match self.outcome {
            BarOutcome::Anomaly => BarOutcome::ALL.len(),
            _ if self.open => 0,
            outcome => 1 + outcome as usize,
        }
    }

    fn absorbs(&self, next: &Mark<'_>) -> bool {
        if next.outcome != self.outcome || next.open != self.open {
            return false;
        }
        if self.outcome == BarOutcome::Anomaly {
            return false;
        }
        if self.open {
            // Both reach the end of the run: only their starts can tell them apart.
            return next.x0 - self.last_x0 < MERGE_BELOW_PX;
        }
        self.narrow && next.narrow && next.x0 <= self.x1 + MERGE_BELOW_PX
    }

    fn absorb(&mut self, next: Mark<'a>) {
        self.last = next.last;
        self.count += next.count;
        self.end_ns = match (self.end_ns, next.end_ns) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        self.x1 = self.x1.max(next.x1);
        self.last_x0 = next.x0;
    }
}

/// The rectangles for one lane. Each (outcome, open) kind is merged separately, so sparse
/// failures among dense successes still collapse into a few runs of each.
fn lane_marks<'a>(bars: &[&'a Bar], layout: &Layout) -> Vec<Mark<'a>> {
    let mut sorted = bars.to_vec();
    sorted.sort_by_key(|b| b.start_ns);
    let mut marks = Vec::new();
    // Current run per kind: outcome index * 2 + open.
    let mut runs: [Option<Mark<'a>>; 8] = Default::default();
    for bar in sorted {
        let mark = Mark::single(bar, layout);
        if bar.outcome == BarOutcome::Anomaly {
            marks.push(mark);
            continue;
        }
        let kind = bar.outcome as usize * 2 + usize::from(mark.open);
        match &mut runs[kind] {
            Some(run) if run.absorbs(&mark) => run.absorb(mark),
            slot => marks.extend(slot.replace(mark)),
        }
    }
    marks.extend(runs.into_iter().flatten());
    marks
}

/// A round step in seconds (1, 2 or 5 times a power of ten) no smaller than `at_least`.
fn tick_step(at_least: f64) -> f64 {
    if at_least.is_nan() || at_least <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(at_least.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= at_least)
        .unwrap_or(10.0 * power)
}

fn seconds(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

fn duration(ns: u64) -> String {
    if ns < 10_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} s", ns as f64 / 1e9)
    }
}

/// At most `chars` characters, the last replaced by an ellipsis when cut.
fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn summary(out: &mut String, bars: &[Bar], windows: &[Window], lanes: usize) {
    let count = |o: BarOutcome| bars.iter().filter(|b| b.outcome == o).count();
    let _ = write!(
        out,
        "<p class=\"summary\">{} bars in {lanes} lanes, {} fault windows.",
        bars.len(),
        windows.len()
    );
    for outcome in BarOutcome::ALL {
        let _ = write!(
            out,
            "<span class=\"key\" style=\"background:{}\"></span>{} {}",
            outcome.colour(),
            count(outcome),
            outcome.name()
        );
    }
    out.push_str(
        " &#8212; hover for details; faded bars never completed; \
         thin bars are merged into runs (tooltips give the count), anomalies never are.</p>\n",
    );
}

fn anomaly_list(out: &mut String, bars: &[Bar]) {
    let anomalies: Vec<&Bar> = bars
        .iter()
        .filter(|b| b.outcome == BarOutcome::Anomaly)
        .collect();
    if anomalies.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>{} anomalies</h2>\n<ul>", anomalies.len());
    for bar in anomalies.iter().take(ANOMALY_LIST_MAX) {
        let _ = writeln!(
            out,
            "<li>{} at {}: {}</li>",
            escape(&bar.lane),
            seconds(bar.start_ns),
            escape(&bar.label)
        );
    }
    if anomalies.len() > ANOMALY_LIST_MAX {
        let _ = writeln!(
            out,
            "<li>and {} more</li>",
            anomalies.len() - ANOMALY_LIST_MAX
        );
    }
    out.push_str("</ul>\n");
}

#[cfg(test)]
mod tests;
