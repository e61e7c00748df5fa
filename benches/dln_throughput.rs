//! End-to-end training throughput of the experiment runner on the paper's DLN problem
//! (d = 10000, kappa = 50, n = 500): steps per second for SGD and Adam, full batch and batch
//! size 1, with sharpness evaluated only at the end or every 100 steps, in f32 and f64.
//!
//! A device's float type is fixed once per process, so the f64 half runs in a child process of
//! this benchmark. Timing is wall clock over the whole run (data generation and the final
//! evaluation included), median of 3 runs, printed as a Markdown table.
//!
//! Run: `cargo bench --bench dln_throughput` (a few minutes on 2 cores).

use std::path::Path;
use std::time::Instant;

use adasharp::lab::config::RunConfig;
use adasharp::lab::runner::{Silent, run};
use burn::tensor::{Device, FloatDType};

const STEPS: usize = 1_000;
const REPEATS: usize = 3;

fn config(optimizer: &str, batch: &str, eval_every: usize, dtype: &str) -> RunConfig {
    let optimizer = match optimizer {
        "sgd" => "name = \"sgd\"\nlr = 0.1".to_string(),
        _ => "name = \"paper-adam\"\nlr = 0.003".to_string(),
    };
    let text = format!(
        r#"
name = "bench"
seed = 0
steps = {STEPS}
eval_every = {eval_every}
batch_size = {batch}
dtype = "{dtype}"
fast_path = true
[model]
kind = "dln"
init = 0.01
[data]
kind = "sparse"
d = 10000
kappa = 50
n = 500
n_test = 200
seed = 0
[optimizer]
{optimizer}
[noise]
kind = "gaussian"
sigma = 1.0
[curvature]
method = "auto"
"#
    );
    toml::from_str(&text).expect("benchmark config parses")
}

fn steps_per_second(config: &RunConfig, device: &Device, out: &Path) -> f64 {
    let mut times: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            run(config, device, out, &mut Silent).expect("benchmark run succeeds");
            let seconds = start.elapsed().as_secs_f64();
            std::fs::remove_dir_all(out.join(&config.name)).ok();
            seconds
        })
        .collect();
    times.sort_by(f64::total_cmp);
    STEPS as f64 / times[REPEATS / 2]
}

fn measure(dtype: &str) {
    let mut device = Device::flex();
    if dtype == "f64" {
        device
            .configure(FloatDType::F64)
            .expect("configure Flex to f64 before first use");
    }
    let out = tempfile::tempdir().expect("temporary directory");
    for optimizer in ["sgd", "adam"] {
        for (batch, batch_name) in [("\"full\"", "full"), ("1", "1")] {
            for (eval_every, eval_name) in [(STEPS, "at end"), (100, "every 100")] {
                let config = config(optimizer, batch, eval_every, dtype);
                let rate = steps_per_second(&config, &device, out.path());
                println!("| {optimizer} | {dtype} | {batch_name} | {eval_name} | {rate:.0} |");
            }
        }
    }
}

fn main() {
    if let Ok(dtype) = std::env::var("ADASHARP_BENCH_DTYPE") {
        measure(&dtype);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("| optimizer | dtype | batch | sharpness | steps/s |");
    println!("|---|---|---|---|---:|");
    measure("f32");
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env("ADASHARP_BENCH_DTYPE", "f64")
        .status()
        .expect("run the f64 half");
    assert!(status.success(), "the f64 half failed");
}
