//! A sweep records each finished run and a rerun skips them.

use adasharp_lab::config::CurvatureMethod;
use adasharp_lab::{
    BatchSize, CurvatureConfig, DataConfig, Dtype, ModelConfig, NoiseConfig, NoiseKind,
    OptimizerConfig, RunConfig, Silent, SparseRegressionConfig, SweepConfig, sweep,
};
use burn::tensor::Device;

fn config() -> SweepConfig {
    SweepConfig {
        name: "tiny".into(),
        ns: vec![4, 8],
        seeds: vec![0, 1],
        threads: 2,
        recovery_loss: 1.0,
        optimizers: vec![
            OptimizerConfig::new("sgd", 0.05),
            OptimizerConfig::new("paper-adam", 0.01),
        ],
        base: RunConfig {
            name: "base".into(),
            seed: 0,
            steps: 20,
            eval_every: 20,
            batch_size: BatchSize::FULL,
            dtype: Dtype::F32,
            fast_path: true,
            model: ModelConfig::Dln { init: 0.1 },
            data: DataConfig::Sparse(SparseRegressionConfig {
                d: 10,
                kappa: 1,
                n: 4,
                n_test: 8,
                seed: 0,
            }),
            optimizer: OptimizerConfig::new("sgd", 0.05),
            noise: NoiseConfig {
                kind: NoiseKind::Gaussian,
                sigma: 0.1,
            },
            curvature: CurvatureConfig {
                method: CurvatureMethod::Off,
                ..CurvatureConfig::default()
            },
        },
    }
}

#[test]
fn rerun_of_a_finished_sweep_runs_nothing_and_keeps_all_results() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let silent = |_: &RunConfig| -> Box<dyn adasharp_lab::Observer> { Box::new(Silent) };
    let first = sweep(&config(), &device, dir.path(), &silent, &|_, _, _| {}).unwrap();
    assert_eq!(first.ran, 8);
    assert_eq!(first.results.len(), 8);
    let second = sweep(&config(), &device, dir.path(), &silent, &|_, _, _| {}).unwrap();
    assert_eq!(second.ran, 0);
    // The second sweep reads the first one's results back from JSON.
    assert_eq!(second.results.len(), first.results.len());
    for (a, b) in first.results.iter().zip(&second.results) {
        assert_eq!(a.name, b.name);
        assert!((a.test_loss - b.test_loss).abs() <= 1e-12 * a.test_loss.abs().max(1.0));
    }
    let sweep_dir = dir.path().join("tiny");
    assert!(sweep_dir.join("test_loss_vs_n.svg").is_file());
    assert!(sweep_dir.join("table.txt").is_file());
    assert_eq!(
        std::fs::read_dir(sweep_dir.join("runs")).unwrap().count(),
        8
    );
}

#[test]
fn interrupted_sweep_runs_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let silent = |_: &RunConfig| -> Box<dyn adasharp_lab::Observer> { Box::new(Silent) };
    sweep(&config(), &device, dir.path(), &silent, &|_, _, _| {}).unwrap();
    // Drop the last three recorded runs, as if the sweep had stopped early.
    let results = dir.path().join("tiny").join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();
    let kept: Vec<&str> = text.lines().take(5).collect();
    std::fs::write(&results, kept.join("\n") + "\n").unwrap();
    let again = sweep(&config(), &device, dir.path(), &silent, &|_, _, _| {}).unwrap();
    assert_eq!(again.ran, 3);
    assert_eq!(again.results.len(), 8);
}

#[test]
fn config_round_trips_through_toml() {
    let c = config();
    let back: SweepConfig = toml::from_str(&c.to_toml()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn resuming_with_other_settings_is_refused_instead_of_mixing_results() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let silent = |_: &RunConfig| -> Box<dyn adasharp_lab::Observer> { Box::new(Silent) };
    sweep(&config(), &device, dir.path(), &silent, &|_, _, _| {}).unwrap();
    let before = std::fs::read_to_string(dir.path().join("tiny").join("sweep.toml")).unwrap();

    let mut longer = config();
    longer.base.steps = 40;
    let Err(err) = sweep(&longer, &device, dir.path(), &silent, &|_, _, _| {}) else {
        panic!("a resume with other steps must be refused");
    };
    assert!(err.to_string().contains("first run with"), "{err}");
    // The sweep's recorded settings are left as they were.
    let after = std::fs::read_to_string(dir.path().join("tiny").join("sweep.toml")).unwrap();
    assert_eq!(before, after);
}
