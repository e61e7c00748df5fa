//! Turns the latest criterion medians and means into ratio tables against each group's
//! baseline, and adds optimizer state sizes from the partition reports. Prints Markdown for
//! docs/PERFORMANCE.md. The mean is the amortized cost of an optimizer whose steps differ
//! (Shampoo recomputes its roots one step in `precondition_interval`); the median is the
//! typical step.
//!
//! Run after the timing benches: `cargo bench --bench perf_report`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adasharp::optim::{AdalayerConfig, AdamMiniConfig};
use burn::tensor::Device;

mod common;

/// The baseline each group is compared against.
const BASELINES: [&str; 2] = ["adam (burn)", "gradient"];

fn find_benchmarks(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.ends_with("new") && path.join("estimates.json").exists() {
            out.push(path);
        } else if path.is_dir() {
            find_benchmarks(&path, out);
        }
    }
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// A benchmark's median and mean time per iteration, in seconds.
#[derive(Clone, Copy)]
struct Timing {
    median: f64,
    mean: f64,
}

/// group -> [(function, timing)]
fn timings(root: &Path) -> BTreeMap<String, Vec<(String, Timing)>> {
    let mut dirs = Vec::new();
    find_benchmarks(root, &mut dirs);
    let mut out: BTreeMap<String, Vec<(String, Timing)>> = BTreeMap::new();
    for dir in dirs {
        let (Some(bench), Some(est)) = (
            read_json(&dir.join("benchmark.json")),
            read_json(&dir.join("estimates.json")),
        ) else {
            continue;
        };
        let group = bench["group_id"].as_str().unwrap_or("?").to_string();
        let function = bench["function_id"].as_str().unwrap_or("?").to_string();
        let (Some(median), Some(mean)) = (
            est["median"]["point_estimate"].as_f64(),
            est["mean"]["point_estimate"].as_f64(),
        ) else {
            continue;
        };
        let timing = Timing {
            median: median * 1e-9,
            mean: mean * 1e-9,
        };
        out.entry(group).or_default().push((function, timing));
    }
    out
}

fn state_table() {
    let device = Device::flex();
    let mlp = common::mlp(&device);
    let dln = common::dln(10_000, &device);
    println!("\n### Optimizer state (f32)\n");
    println!("| model | Adam (burn) bytes | Adam-mini bytes | ratio | Adalayer bytes | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |name: &str,
               mini: adasharp::optim::PartitionReport,
               layer: adasharp::optim::PartitionReport| {
        let adam = mini.adam_state_bytes() as f64;
        println!(
            "| {name} | {} | {} | {:.3} | {} | {:.3} |",
            adam,
            mini.state_bytes(),
            mini.state_bytes() as f64 / adam,
            layer.state_bytes(),
            layer.state_bytes() as f64 / adam
        );
    };
    row(
        "MLP 784-512-512-10",
        AdamMiniConfig::new().partition(&mlp).unwrap(),
        AdalayerConfig::new().partition(&mlp).unwrap(),
    );
    row(
        "DLN d=10000",
        AdamMiniConfig::new().partition(&dln).unwrap(),
        AdalayerConfig::new().partition(&dln).unwrap(),
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("criterion");
    let groups = timings(&root);
    if groups.is_empty() {
        println!(
            "no criterion results under {}: run the timing benches first",
            root.display()
        );
    }
    for (group, mut rows) in groups {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let baseline = rows
            .iter()
            .find(|(f, _)| BASELINES.contains(&f.as_str()))
            .map(|(_, t)| *t);
        println!("\n### {group}\n");
        println!("| what | median | ratio | mean | ratio |");
        println!("|---|---:|---:|---:|---:|");
        for (function, t) in &rows {
            let ratio = |x: f64, b: Option<f64>| b.map_or("-".into(), |b| format!("{:.2}x", x / b));
            println!(
                "| {function} | {:.3} ms | {} | {:.3} ms | {} |",
                t.median * 1e3,
                ratio(t.median, baseline.map(|b| b.median)),
                t.mean * 1e3,
                ratio(t.mean, baseline.map(|b| b.mean)),
            );
        }
    }
    state_table();
}
