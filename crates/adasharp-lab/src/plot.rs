//! A small SVG line-plot writer: axes with round-number ticks, linear or log-10 y axis, one
//! polyline per series and a legend. No dependencies.

use std::fmt::Write;

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points; non-finite points (and non-positive ones on a log axis) are skipped.
    pub points: Vec<(f64, f64)>,
    /// Draw dashed (used for the Gauss-Newton counterpart of a raw measure).
    pub dashed: bool,
}

/// A line plot.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Log-10 y axis.
    pub log_y: bool,
    /// Log-10 x axis.
    pub log_x: bool,
    /// Horizontal reference line (e.g. the recovery threshold), drawn grey.
    pub reference_y: Option<f64>,
    /// The lines.
    pub series: Vec<Series>,
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 52.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

impl LinePlot {
    /// A plot with linear axes and no series.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: false,
            log_x: false,
            reference_y: None,
            series: Vec::new(),
        }
    }

    /// The SVG document.
    pub fn to_svg(&self) -> String {
        let tx = |x: f64| if self.log_x { x.log10() } else { x };
        let ty = |y: f64| if self.log_y { y.log10() } else { y };
        let ok = |(x, y): &(f64, f64)| {
            x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0) && (!self.log_x || *x > 0.0)
        };
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| {
                s.points
                    .iter()
                    .filter(|p| ok(p))
                    .map(|&(x, y)| (tx(x), ty(y)))
            })
            .chain(
                self.reference_y
                    .filter(|y| !self.log_y || *y > 0.0)
                    .map(|y| {
                        let x0 = self
                            .series
                            .iter()
                            .flat_map(|s| s.points.first())
                            .map(|p| tx(p.0));
                        (x0.fold(f64::NAN, f64::min), ty(y))
                    }),
            )
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let (x0, x1) = padded(pts.iter().map(|p| p.0), false);
        let (y0, y1) = padded(pts.iter().map(|p| p.1), true);
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);

        let mut svg = String::new();
        let _ = writeln!(
            svg,
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" "#,
                r#"viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#,
            ),
            W = W,
            H = H,
        );
        let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            escape(&self.title)
        );
        self.axes(&mut svg, (x0, x1, y0, y1), &px, &py);
        if let Some(r) = self.reference_y.filter(|y| !self.log_y || *y > 0.0) {
            let y = py(ty(r));
            let _ = writeln!(
                svg,
                concat!(
                    r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#999" "##,
                    r##"stroke-dasharray="2,3"/>"##,
                ),
                W - RIGHT,
                LEFT = LEFT,
                y = y,
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let dash = if s.dashed {
                r#" stroke-dasharray="6,4""#
            } else {
                ""
            };
            let path: Vec<String> = s
                .points
                .iter()
                .filter(|p| ok(p))
                .map(|&(x, y)| format!("{:.1},{:.1}", px(tx(x)), py(ty(y))))
                .collect();
            if path.len() == 1 {
                let (cx, cy) = path[0].split_once(',').expect("formatted as x,y");
                let _ = writeln!(svg, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
            } else if !path.is_empty() {
                let _ = writeln!(
                    svg,
                    concat!(
                        r#"<polyline fill="none" stroke="{color}" stroke-width="1.8"{dash} "#,
                        r#"points="{}"/>"#,
                    ),
                    path.join(" "),
                    color = color,
                    dash = dash,
                );
            }
            let ly = TOP + 8.0 + 18.0 * i as f64;
            let lx = W - RIGHT + 12.0;
            let _ = writeln!(
                svg,
                concat!(
                    r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" "#,
                    r#"stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
                ),
                lx + 22.0,
                lx + 28.0,
                ly + 4.0,
                escape(&s.name),
                lx = lx,
                ly = ly,
                color = color,
                dash = dash,
            );
        }
        svg.push_str("</svg>\n");
        svg
    }

    fn axes(
        &self,
        svg: &mut String,
        (x0, x1, y0, y1): (f64, f64, f64, f64),
        px: &dyn Fn(f64) -> f64,
        py: &dyn Fn(f64) -> f64,
    ) {
        let (bottom, right) = (H - BOTTOM, W - RIGHT);
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="black"/>"#,
            right - LEFT,
            bottom - TOP
        );
        for t in ticks(x0, x1) {
            let x = px(t);
            let label = tick_label(t, self.log_x);
            let _ = writeln!(
                svg,
                concat!(
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom}" "##,
                    r##"stroke="#eee"/><text x="{x:.1}" y="{}" "##,
                    r##"text-anchor="middle">{label}</text>"##,
                ),
                bottom + 16.0,
                x = x,
                TOP = TOP,
                bottom = bottom,
                label = label,
            );
        }
        for t in ticks(y0, y1) {
            let y = py(t);
            let label = tick_label(t, self.log_y);
            let _ = writeln!(
                svg,
                concat!(
                    r##"<line x1="{LEFT}" x2="{right}" y1="{y:.1}" y2="{y:.1}" "##,
                    r##"stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
                ),
                LEFT - 6.0,
                y + 4.0,
                LEFT = LEFT,
                right = right,
                y = y,
                label = label,
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (LEFT + right) / 2.0,
            H - 12.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            concat!(
                r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 "#,
                r#"{0})">{1}</text>"#,
            ),
            (TOP + bottom) / 2.0,
            escape(&self.y_label),
        );
    }
}

/// The range of `values`, padded by 5% (for y) and widened when empty or flat.
fn padded(values: impl Iterator<Item = f64>, pad: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * lo.abs().max(1.0) {
        let w = lo.abs().max(1.0) * 0.5;
        return (lo - w, hi + w);
    }
    let m = if pad { 0.05 * (hi - lo) } else { 0.0 };
    (lo - m, hi + m)
}

/// Round-number ticks (steps of 1, 2 or 5 times a power of ten) inside `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn format_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else if (v - v.round()).abs() < 1e-9 * a.max(1.0) {
        format!("{}", v.round())
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The label of a tick at `t` on an axis drawn in `log10` units when `log` is set.
fn tick_label(t: f64, log: bool) -> String {
    format_num(if log { 10f64.powf(t) } else { t })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.15, 0.62);
        let want = [0.2, 0.3, 0.4, 0.5, 0.6];
        assert_eq!(t.len(), want.len());
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
    }

    #[test]
    fn svg_has_one_polyline_per_series_and_skips_bad_points() {
        let mut plot = LinePlot::new("loss", "step", "loss");
        plot.log_y = true;
        plot.series.push(Series {
            name: "a<b".into(),
            points: vec![(0.0, 1.0), (1.0, 0.1), (2.0, -1.0), (3.0, f64::NAN)],
            dashed: false,
        });
        plot.series.push(Series {
            name: "b".into(),
            points: vec![(0.0, 2.0), (3.0, 0.01)],
            dashed: true,
        });
        let svg = plot.to_svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b"));
        // The first series keeps its two valid points only.
        let first = svg.split("<polyline").nth(1).unwrap();
        let points = first
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 2);
    }
}
