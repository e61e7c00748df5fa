//! Tables and plots of finished runs.

use crate::plot::{LinePlot, Series};
use crate::runner::RunOutcome;

/// A metric group drawn in one plot: file name, title, columns (the second and later drawn
/// dashed), log-scale y axis.
struct Group {
    file: &'static str,
    title: &'static str,
    columns: &'static [(&'static str, &'static str)],
    log_y: bool,
}

const GROUPS: &[Group] = &[
    Group {
        file: "loss.svg",
        title: "Loss on noise-free labels",
        columns: &[("train_loss", "train"), ("test_loss", "test")],
        log_y: true,
    },
    Group {
        file: "trace_h.svg",
        title: "tr(H): raw (solid) and Gauss-Newton (dashed)",
        columns: &[("tr_h", "raw"), ("tr_ggn", "GGN")],
        log_y: false,
    },
    Group {
        file: "trace_sqrt_diag.svg",
        title: "tr(Diag(H)^1/2): raw (solid) and Gauss-Newton (dashed)",
        columns: &[("tr_sqrt_diag_h", "raw"), ("tr_sqrt_diag_ggn", "GGN")],
        log_y: false,
    },
    Group {
        file: "trace_diag_pow.svg",
        title: "tr(Diag(H)^(1-lambda)): raw and Gauss-Newton",
        columns: &[("tr_diag_pow_h", "raw"), ("tr_diag_pow_ggn", "GGN")],
        log_y: false,
    },
    Group {
        file: "block_measure.svg",
        title: "sum_B sqrt(|B| tr(H_BB)): raw and Gauss-Newton",
        columns: &[("block_sqrt_tr_h", "raw"), ("block_sqrt_tr_ggn", "GGN")],
        log_y: false,
    },
    Group {
        file: "w_l1.svg",
        title: "||w||_1",
        columns: &[("w_l1", "")],
        log_y: false,
    },
    Group {
        file: "w_l_half.svg",
        title: "||w||_1/2 = (sum sqrt|w_i|)^2",
        columns: &[("w_l_half", "")],
        log_y: true,
    },
    Group {
        file: "w_nnz.svg",
        title: "Coordinates with |w_i| > 0.1",
        columns: &[("w_nnz", "")],
        log_y: false,
    },
    Group {
        file: "w_dist.svg",
        title: "||w - w*||_2",
        columns: &[("w_dist", "")],
        log_y: true,
    },
    Group {
        file: "accuracy.svg",
        title: "Accuracy",
        columns: &[("train_acc", "train"), ("test_acc", "test")],
        log_y: false,
    },
    Group {
        file: "nuclear.svg",
        title: "Nuclear norm of the product",
        columns: &[("nuclear", "")],
        log_y: false,
    },
    Group {
        file: "m_dist.svg",
        title: "||M - M*||_F / ||M*||_F",
        columns: &[("m_dist", "")],
        log_y: true,
    },
    Group {
        file: "position.svg",
        title: "Ellipse toy: x and y",
        columns: &[("x", "x"), ("y", "y")],
        log_y: false,
    },
    Group {
        file: "axis_angle.svg",
        title: "Angle to the nearest axis (45 = tips of the (1,1) axis)",
        columns: &[("axis_angle", "")],
        log_y: false,
    },
];

/// One plot per metric group present in the runs; several runs share each plot, one line per
/// run (and per raw/Gauss-Newton column).
pub fn run_plots(outcomes: &[RunOutcome]) -> Vec<(String, LinePlot)> {
    let mut plots = Vec::new();
    for group in GROUPS {
        let mut plot = LinePlot::new(group.title, "step", group.columns[0].0);
        plot.log_y = group.log_y;
        for outcome in outcomes {
            for (i, (column, suffix)) in group.columns.iter().enumerate() {
                let points: Vec<(f64, f64)> = outcome
                    .records
                    .iter()
                    .filter_map(|r| r.get(column).map(|v| (r.step as f64, v)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let name = match (outcomes.len(), suffix.is_empty()) {
                    (1, true) => column.to_string(),
                    (1, false) => suffix.to_string(),
                    (_, true) => outcome.config.name.clone(),
                    (_, false) => format!("{} {suffix}", outcome.config.name),
                };
                plot.series.push(Series {
                    name,
                    points,
                    dashed: i > 0,
                });
            }
        }
        if !plot.series.is_empty() {
            plots.push((group.file.to_string(), plot));
        }
    }
    plots
}

/// Rows of the summary table: column name and description.
const SUMMARY_ROWS: &[(&str, &str)] = &[
    ("train_loss", "train loss (noise-free)"),
    ("test_loss", "test loss"),
    ("train_acc", "train accuracy"),
    ("test_acc", "test accuracy"),
    ("tr_h", "tr(H), raw"),
    ("tr_ggn", "tr(H), Gauss-Newton"),
    ("tr_sqrt_diag_h", "tr(Diag(H)^1/2), raw"),
    ("tr_sqrt_diag_ggn", "tr(Diag(H)^1/2), Gauss-Newton"),
    ("tr_diag_pow_h", "tr(Diag(H)^(1-l)), raw"),
    ("tr_diag_pow_ggn", "tr(Diag(H)^(1-l)), Gauss-Newton"),
    ("block_sqrt_tr_h", "block measure, raw"),
    ("block_sqrt_tr_ggn", "block measure, Gauss-Newton"),
    ("clipped", "negative diag entries clipped"),
    ("w_l1", "||w||_1"),
    ("w_l_half", "||w||_1/2"),
    ("w_nnz", "#{|w_i| > 0.1}"),
    ("w_dist", "||w - w*||"),
    ("nuclear", "nuclear norm of product"),
    ("m_dist", "relative error to M*"),
    ("x", "x"),
    ("y", "y"),
    ("axis_angle", "angle to nearest axis (deg)"),
];

/// The final values of each run side by side, one column per run.
pub fn summary_table(outcomes: &[RunOutcome]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let header: Vec<String> = std::iter::once("".to_string())
        .chain(outcomes.iter().map(|o| o.config.name.clone()))
        .collect();
    rows.push(header);
    let text_row = |label: &str, f: &dyn Fn(&RunOutcome) -> String| -> Vec<String> {
        std::iter::once(label.to_string())
            .chain(outcomes.iter().map(f))
            .collect()
    };
    rows.push(text_row("optimizer", &|o| o.config.optimizer.label()));
    rows.push(text_row("lr", &|o| format!("{}", o.config.optimizer.lr)));
    rows.push(text_row("status", &|o| o.status.to_string()));
    rows.push(text_row("steps", &|o| {
        o.last().map_or("-".into(), |r| r.step.to_string())
    }));
    rows.push(text_row("seconds", &|o| format!("{:.1}", o.seconds)));
    for (column, label) in SUMMARY_ROWS {
        if outcomes
            .iter()
            .any(|o| o.last().and_then(|r| r.get(column)).is_some())
        {
            rows.push(text_row(label, &|o| {
                o.last()
                    .and_then(|r| r.get(column))
                    .map_or("-".into(), format_value)
            }));
        }
    }
    if let Some(method) = outcomes.iter().find_map(curvature_method) {
        rows.push(vec![format!("curvature: {method}")]);
    }
    render(&rows)
}

fn curvature_method(outcome: &RunOutcome) -> Option<String> {
    outcome.last()?.get("tr_h")?;
    Some(format!("{:?}", outcome.config.curvature.method).to_lowercase())
}

/// A value with four significant digits.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else if v.fract() == 0.0 && a < 1e6 {
        format!("{v}")
    } else {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    }
}

/// Left-aligned first column, right-aligned others.
pub fn render(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter(|r| r.len() > 1)
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if row.len() == 1 {
                    cell.clone()
                } else if c == 0 {
                    format!("{cell:<w$}", w = width[c])
                } else {
                    format!("{cell:>w$}", w = width[c])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_four_significant_digits() {
        assert_eq!(format_value(12.34567), "12.35");
        assert_eq!(format_value(0.012345), "0.01235");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(1.5e-7), "1.500e-7");
    }

    #[test]
    fn render_aligns_columns() {
        let rows = vec![
            vec!["".into(), "a".into(), "bbb".into()],
            vec!["loss".into(), "1".into(), "2".into()],
        ];
        assert_eq!(render(&rows), "      a  bbb\nloss  1    2\n");
    }
}
