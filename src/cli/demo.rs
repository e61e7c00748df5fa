//! The demonstration: SGD against Adam on a diagonal linear network with label noise.
//!
//! Demo preset (about 15 seconds on 2 cores, f32): sparse regression with d = 200,
//! kappa = 5, n = 35, data seed 0, Gaussian label noise sigma = 1, full batch,
//! u = v = 0.01 at the start, 300k steps each. SGD: lr 0.1. Adam (paper form, b1 = 0.9,
//! b2 = 0.999, eps = 1e-8, no bias correction): lr 0.01. At n = 35 the sample size lies
//! between what Adam's l1/2-type bias and SGD's l1-type bias need on this seed, so Adam
//! recovers the sparse w* while SGD settles on a denser interpolant with smaller ||w||_1.
//! Limitation: on other seeds at this n both may recover (then Adam's off-support
//! coordinates, which hover at a level set by its learning rate, give it the larger
//! tr(Diag(H)^1/2)) or neither may; docs/RESULTS.md reports six seeds.
//!
//! The paper preset is d = 10000, kappa = 50, n = 500 in f64 (hours on 2 cores).

use std::path::Path;
use std::thread;

use adasharp_lab::report::{run_plots, summary_table};
use adasharp_lab::rundir::write_file;
use adasharp_lab::{
    BatchSize, CurvatureConfig, DataConfig, Dtype, ModelConfig, NoiseConfig, NoiseKind,
    OptimizerConfig, RunConfig, RunOutcome, SparseRegressionConfig, SweepConfig, run,
};
use burn::tensor::Device;
use indicatif::MultiProgress;

use super::CliError;
use super::args::{DemoArgs, Preset};
use super::progress::Progress;

/// The two runs of a preset: `(sgd, adam)`.
pub fn demo_configs(preset: Preset, seed: u64) -> (RunConfig, RunConfig) {
    let (sparse, steps, eval_every, dtype) = match preset {
        Preset::Demo => (
            SparseRegressionConfig {
                d: 200,
                kappa: 5,
                n: 35,
                n_test: 500,
                seed,
            },
            300_000,
            5_000,
            Dtype::F32,
        ),
        Preset::Paper => (
            SparseRegressionConfig {
                d: 10_000,
                kappa: 50,
                n: 500,
                n_test: 1_000,
                seed,
            },
            100_000,
            5_000,
            Dtype::F64,
        ),
    };
    let base = RunConfig {
        name: String::new(),
        seed,
        steps,
        eval_every,
        batch_size: BatchSize::FULL,
        dtype,
        fast_path: true,
        model: ModelConfig::Dln { init: 0.01 },
        data: DataConfig::Sparse(sparse),
        optimizer: OptimizerConfig::new("sgd", 0.1),
        noise: NoiseConfig {
            kind: NoiseKind::Gaussian,
            sigma: 1.0,
        },
        curvature: CurvatureConfig::default(),
    };
    let sgd = RunConfig {
        name: "sgd".into(),
        ..base.clone()
    };
    let adam_lr = match preset {
        Preset::Demo => 0.01,
        Preset::Paper => 3e-3,
    };
    let adam = RunConfig {
        name: "adam".into(),
        optimizer: OptimizerConfig::new("paper-adam", adam_lr),
        ..base
    };
    (sgd, adam)
}

/// The default sweep: a scaled-down sample-complexity experiment (d = 200, kappa = 5).
pub fn default_sweep() -> SweepConfig {
    let (mut base, _) = demo_configs(Preset::Demo, 0);
    base.name = "base".into();
    base.steps = 100_000;
    base.eval_every = 100_000;
    SweepConfig {
        name: "sample-complexity".into(),
        ns: vec![20, 25, 30, 35, 40, 50, 60, 80],
        seeds: vec![0, 1, 2],
        threads: 2,
        recovery_loss: 1.0,
        optimizers: vec![
            OptimizerConfig::new("sgd", 0.1),
            OptimizerConfig::new("paper-adam", 0.01),
            OptimizerConfig {
                lambda: 0.25,
                ..OptimizerConfig::new("adame", 0.01)
            },
        ],
        base,
    }
}

/// Runs configurations side by side, one thread each.
pub fn run_parallel(
    configs: &[RunConfig],
    device: &Device,
    out: &Path,
    quiet: bool,
) -> Result<Vec<RunOutcome>, CliError> {
    let multi = MultiProgress::new();
    let results: Vec<Result<RunOutcome, CliError>> = thread::scope(|scope| {
        let handles: Vec<_> = configs
            .iter()
            .map(|config| {
                let multi = &multi;
                scope.spawn(move || {
                    let mut progress = Progress::new(Some(multi), quiet);
                    run(config, device, out, &mut progress).map_err(CliError::from)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("run thread panicked"))
            .collect()
    });
    results.into_iter().collect()
}

/// Runs the demonstration and prints its table and verdicts.
pub fn demo(args: &DemoArgs, device: &Device, dtype: Dtype) -> Result<(), CliError> {
    let (mut sgd, mut adam) = demo_configs(args.preset, args.seed);
    (sgd.dtype, adam.dtype) = (dtype, dtype);
    if let Some(steps) = args.steps {
        sgd.steps = steps;
        adam.steps = steps;
        sgd.eval_every = (steps / 50).max(1);
        adam.eval_every = sgd.eval_every;
    }
    let dir = args.common.out.join(match args.preset {
        Preset::Demo => "demo",
        Preset::Paper => "demo-paper",
    });
    for config in [&sgd, &adam] {
        config.validate()?;
    }
    println!(
        "adasharp demo: diagonal linear network on sparse regression {}, label noise sigma = {}, \
         SGD (lr {}) against Adam (paper form, lr {}), {} steps each",
        describe(&sgd.data),
        sgd.noise.sigma,
        sgd.optimizer.lr,
        adam.optimizer.lr,
        sgd.steps
    );
    let outcomes = run_parallel(&[sgd, adam], device, &dir, args.common.quiet)?;
    let text = comparison(&outcomes);
    write_file(&dir.join("summary.txt"), &text)?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots)
        .map_err(|e| CliError::from(adasharp_lab::LabError::io("cannot create", &plots, e)))?;
    for (file, plot) in run_plots(&outcomes) {
        write_file(&plots.join(&file), &plot.to_svg())?;
    }
    println!("\n{text}");
    println!("plots: {}", plots.display());
    Ok(())
}

fn describe(data: &DataConfig) -> String {
    match data {
        DataConfig::Sparse(s) => format!("(d = {}, kappa = {}, n = {})", s.d, s.kappa, s.n),
        _ => String::new(),
    }
}

/// The table of final values and the three checks the paper predicts, computed from them.
pub fn comparison(outcomes: &[RunOutcome]) -> String {
    let mut text = summary_table(outcomes);
    let value = |name: &str, col: &str| {
        outcomes
            .iter()
            .find(|o| o.config.name == name)
            .and_then(|o| o.last())
            .and_then(|r| r.get(col))
    };
    let check = |claim: &str, col: &str, lower: &str, higher: &str| match (
        value(lower, col),
        value(higher, col),
    ) {
        (Some(a), Some(b)) => {
            let verdict = if a < b { "yes" } else { "NO" };
            format!("{claim}: {verdict} ({lower} {a:.4} vs {higher} {b:.4})\n")
        }
        _ => format!("{claim}: not measured\n"),
    };
    text.push('\n');
    text.push_str(&check(
        "Adam ends with the lower tr(Diag(H)^1/2) (GGN)",
        "tr_sqrt_diag_ggn",
        "adam",
        "sgd",
    ));
    text.push_str(&check(
        "Adam ends with the lower tr(Diag(H)^1/2) (raw)",
        "tr_sqrt_diag_h",
        "adam",
        "sgd",
    ));
    text.push_str(&check(
        "SGD ends with the lower tr(H) (GGN)",
        "tr_ggn",
        "sgd",
        "adam",
    ));
    text.push_str(&check(
        "SGD ends with the lower tr(H) (raw)",
        "tr_h",
        "sgd",
        "adam",
    ));
    text.push_str(&check(
        "Adam's solution is sparser (||w||_1/2)",
        "w_l_half",
        "adam",
        "sgd",
    ));
    text.push_str(&check(
        "Adam's solution is sparser (#|w_i| > 0.1)",
        "w_nnz",
        "adam",
        "sgd",
    ));
    text
}
