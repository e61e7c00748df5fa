//! Sample-complexity sweeps: one run per `(optimizer, n, seed)`, in parallel threads,
//! resumable.
//!
//! The sweep directory holds `sweep.toml`, `results.jsonl` (one line per finished run,
//! appended and flushed as each run ends), `runs/<run>/` (each a full run directory),
//! `table.txt` and `test_loss_vs_n.svg`. Running the same sweep again skips every run already
//! in `results.jsonl`, so an interrupted sweep continues where it stopped.

use std::collections::{BTreeMap, VecDeque};
use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, RunConfig, SweepConfig};
use crate::plot::{LinePlot, Series};
use crate::report::{format_value, render};
use crate::rundir::write_file;
use crate::runner::{Observer, RunStatus, run};
use crate::{LabError, Result};

/// The outcome of one run of a sweep, as stored in `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Run name.
    pub name: String,
    /// Optimizer label.
    pub optimizer: String,
    /// Training-set size.
    pub n: usize,
    /// Seed.
    pub seed: u64,
    /// `completed` or `diverged at step ...`.
    pub status: String,
    /// Final noise-free training loss.
    pub train_loss: f64,
    /// Final test loss.
    pub test_loss: f64,
    /// Every final value of the run.
    pub last: BTreeMap<String, f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What a sweep produced.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// The sweep directory.
    pub dir: PathBuf,
    /// Every run's result (earlier ones included), in configuration order.
    pub results: Vec<SweepResult>,
    /// Runs executed now (the others were already done).
    pub ran: usize,
    /// The recovery table.
    pub table: String,
}

/// Runs the sweep in `config.threads` threads; `observer()` makes one observer per run and
/// `done(result, finished, total)` is called as each run ends.
pub fn sweep(
    config: &SweepConfig,
    device: &Device,
    out: &Path,
    observer: &(dyn Fn(&RunConfig) -> Box<dyn Observer> + Sync),
    done: &(dyn Fn(&SweepResult, usize, usize) + Sync),
) -> Result<SweepOutcome> {
    config.validate()?;
    let dir = out.join(&config.name);
    std::fs::create_dir_all(dir.join("runs"))
        .map_err(|e| LabError::io("cannot create sweep directory", &dir, e))?;
    let results_path = dir.join("results.jsonl");
    let previous = read_results(&results_path)?;
    let all = config.runs();
    check_same_settings(&dir, &all, &previous)?;
    write_file(&dir.join("sweep.toml"), &config.to_toml())?;
    let todo: VecDeque<RunConfig> = all
        .iter()
        .filter(|r| !previous.iter().any(|p| p.name == r.name))
        .cloned()
        .collect();
    let total = all.len();
    let skipped = total - todo.len();
    if skipped > 0 {
        log::info!(
            "{skipped} of {total} runs already done in {}",
            dir.display()
        );
    }
    let ran = todo.len();
    let queue = Mutex::new(todo);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .map_err(|e| LabError::io("cannot write", &results_path, e))?;
    let shared = Mutex::new((file, previous, skipped));
    let first_error: Mutex<Option<LabError>> = Mutex::new(None);
    let runs_dir = dir.join("runs");

    std::thread::scope(|scope| {
        for _ in 0..config.threads.min(ran.max(1)) {
            scope.spawn(|| {
                loop {
                    if first_error.lock().expect("not poisoned").is_some() {
                        return;
                    }
                    let Some(run_config) = queue.lock().expect("not poisoned").pop_front() else {
                        return;
                    };
                    let mut obs = observer(&run_config);
                    let result =
                        run(&run_config, device, &runs_dir, obs.as_mut()).and_then(|outcome| {
                            let result = to_result(
                                &run_config,
                                &outcome.records,
                                &outcome.status,
                                outcome.seconds,
                            );
                            let mut guard = shared.lock().expect("not poisoned");
                            let (file, results, finished) = &mut *guard;
                            let line = serde_json::to_string(&result).expect("serializable");
                            writeln!(file, "{line}")
                                .and_then(|_| file.flush())
                                .map_err(|e| LabError::io("cannot write", &results_path, e))?;
                            results.push(result.clone());
                            *finished += 1;
                            done(&result, *finished, total);
                            Ok(())
                        });
                    if let Err(e) = result {
                        first_error.lock().expect("not poisoned").get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let (_, mut results, _) = shared.into_inner().expect("not poisoned");
    let order: Vec<String> = all.iter().map(|r| r.name.clone()).collect();
    results.retain(|r| order.contains(&r.name));
    results.sort_by_key(|r| order.iter().position(|n| *n == r.name));
    let table = recovery_table(config, &results);
    write_file(&dir.join("table.txt"), &table)?;
    write_file(
        &dir.join("test_loss_vs_n.svg"),
        &loss_vs_n_plot(config, &results).to_svg(),
    )?;
    Ok(SweepOutcome {
        dir,
        results,
        ran,
        table,
    })
}

fn to_result(
    config: &RunConfig,
    records: &[crate::metrics::Record],
    status: &RunStatus,
    seconds: f64,
) -> SweepResult {
    let last: BTreeMap<String, f64> = records
        .last()
        .map(|r| r.values.iter().cloned().collect())
        .unwrap_or_default();
    let n = match &config.data {
        DataConfig::Sparse(c) => c.n,
        DataConfig::Sensing(c) => c.n,
        _ => 0,
    };
    SweepResult {
        name: config.name.clone(),
        optimizer: config.optimizer.label(),
        n,
        seed: config.seed,
        status: status.to_string(),
        train_loss: last.get("train_loss").copied().unwrap_or(f64::NAN),
        test_loss: last.get("test_loss").copied().unwrap_or(f64::NAN),
        last,
        seconds,
    }
}

/// Refuses to resume a sweep whose finished runs were made with other settings (steps, learning
/// rate, noise, ...): their results would be mixed into one table with the new ones.
fn check_same_settings(dir: &Path, runs: &[RunConfig], previous: &[SweepResult]) -> Result<()> {
    for run in runs
        .iter()
        .filter(|r| previous.iter().any(|p| p.name == r.name))
    {
        let path = dir.join("runs").join(&run.name).join("config.toml");
        let Ok(old) = RunConfig::from_file(&path) else {
            continue;
        };
        if old != *run {
            return Err(LabError::invalid(
                "sweep",
                format!("run `{}` in {}", run.name, dir.display()),
                "the settings it was first run with (its config.toml differs): use another \
                 sweep name or remove that sweep directory",
            ));
        }
    }
    Ok(())
}

/// Reads `results.jsonl` (missing file: no results).
pub fn read_results(path: &Path) -> Result<Vec<SweepResult>> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| LabError::io("cannot read", path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        // A line cut short by a crash is dropped; its run simply runs again.
        match serde_json::from_str(&line) {
            Ok(r) => out.push(r),
            Err(e) => log::warn!("{}: ignoring line {}: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// The first `n` (in increasing order) whose final test loss is below `threshold`.
pub fn recovery_threshold(points: &[(usize, f64)], threshold: f64) -> Option<usize> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.0);
    sorted
        .into_iter()
        .find(|(_, loss)| *loss < threshold)
        .map(|(n, _)| n)
}

/// Final test loss per optimizer, `n` and seed, and each seed's recovery threshold.
pub fn recovery_table(config: &SweepConfig, results: &[SweepResult]) -> String {
    let mut out = String::new();
    for opt in &config.optimizers {
        let label = opt.label();
        out.push_str(&format!("{label} (lr {}): final test loss\n", opt.lr));
        let mut rows = vec![
            std::iter::once("n".to_string())
                .chain(config.seeds.iter().map(|s| format!("seed {s}")))
                .collect::<Vec<_>>(),
        ];
        for &n in &config.ns {
            let mut row = vec![n.to_string()];
            for &seed in &config.seeds {
                let cell = results
                    .iter()
                    .find(|r| r.optimizer == label && r.n == n && r.seed == seed)
                    .map_or("-".into(), |r| {
                        let mark = if r.status.starts_with("diverged") {
                            " (div)"
                        } else {
                            ""
                        };
                        format!("{}{mark}", format_value(r.test_loss))
                    });
                row.push(cell);
            }
            rows.push(row);
        }
        let mut row = vec![format!("first n with loss < {}", config.recovery_loss)];
        for &seed in &config.seeds {
            let points: Vec<(usize, f64)> = results
                .iter()
                .filter(|r| r.optimizer == label && r.seed == seed)
                .map(|r| (r.n, r.test_loss))
                .collect();
            let t = recovery_threshold(&points, config.recovery_loss);
            row.push(t.map_or("none".into(), |n| n.to_string()));
        }
        rows.push(row);
        out.push_str(&render(&rows));
        out.push('\n');
    }
    out
}

/// Final test loss against `n`: one line per optimizer and seed, with the recovery threshold.
pub fn loss_vs_n_plot(config: &SweepConfig, results: &[SweepResult]) -> LinePlot {
    let mut plot = LinePlot::new("Final test loss against n", "n", "test loss");
    plot.log_y = true;
    plot.reference_y = Some(config.recovery_loss);
    for opt in &config.optimizers {
        let label = opt.label();
        for (k, &seed) in config.seeds.iter().enumerate() {
            let mut points: Vec<(f64, f64)> = results
                .iter()
                .filter(|r| r.optimizer == label && r.seed == seed)
                .map(|r| (r.n as f64, r.test_loss))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !points.is_empty() {
                plot.series.push(Series {
                    name: format!("{label} s{seed}"),
                    points,
                    dashed: k > 0,
                });
            }
        }
    }
    plot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_the_first_n_below_the_loss_level() {
        let points = [(300, 0.5), (100, 5.0), (200, 0.9), (400, 2.0)];
        assert_eq!(recovery_threshold(&points, 1.0), Some(200));
        assert_eq!(recovery_threshold(&points, 0.1), None);
    }
}
