//! The `adasharp` binary: bad input exits with status 2 and a message naming the problem,
//! leaving no run directory; a short run produces a complete run directory.

use std::path::Path;
use std::process::{Command, Output};

fn adasharp(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adasharp"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit status 2, that stderr mentions `needle`, and that `runs/` holds no run.
fn assert_bad_input(args: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = adasharp(args, dir.path());
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(needle),
        "{args:?}: stderr lacks `{needle}`: {}",
        stderr(&out)
    );
    let runs = dir.path().join("runs");
    let entries = std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(entries, 0, "{args:?} left something in runs/");
}

#[test]
fn unknown_optimizer_exits_2_naming_it() {
    assert_bad_input(&["run", "--optimizer", "adamw", "--steps", "5"], "adamw");
}

#[test]
fn kappa_above_d_exits_2_naming_kappa() {
    assert_bad_input(
        &["run", "--d", "10", "--kappa", "11", "--steps", "5"],
        "data.kappa",
    );
}

#[test]
fn zero_training_examples_exit_2_naming_n() {
    assert_bad_input(&["run", "--n", "0", "--steps", "5"], "data.n");
}

#[test]
fn unknown_model_and_backend_exit_2() {
    assert_bad_input(&["run", "--model", "resnet"], "resnet");
    assert_bad_input(&["run", "--backend", "cuda", "--steps", "5"], "cuda");
}

#[test]
fn malformed_config_file_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "name = \"x\"\nsteps = \"many\"\n").unwrap();
    assert_bad_input(&["run", "--config", path.to_str().unwrap()], "bad.toml");
    let missing = dir.path().join("missing.toml");
    assert_bad_input(
        &["run", "--config", missing.to_str().unwrap()],
        "missing.toml",
    );
}

#[test]
fn unwritable_output_path_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out_dir = file.join("runs");
    let out = adasharp(
        &["run", "--steps", "5", "--out", out_dir.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("a-file"), "{}", stderr(&out));
}

#[test]
fn help_documents_every_run_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = adasharp(&["run", "--help"], dir.path());
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--optimizer",
        "--lr",
        "--noise",
        "--batch-size",
        "--kappa",
        "--curvature",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
}

#[test]
fn short_dln_run_writes_a_complete_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = adasharp(
        &[
            "run",
            "--name",
            "t",
            "--d",
            "20",
            "--kappa",
            "2",
            "--n",
            "8",
            "--n-test",
            "16",
            "--steps",
            "40",
            "--eval-every",
            "10",
            "--optimizer",
            "paper-adam",
            "--lr",
            "0.01",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.path().join("runs").join("t");
    for file in [
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "summary.json",
        "summary.txt",
    ] {
        assert!(run.join(file).is_file(), "missing {file}");
    }
    for plot in [
        "loss.svg",
        "trace_h.svg",
        "trace_sqrt_diag.svg",
        "w_l_half.svg",
    ] {
        assert!(
            run.join("plots").join(plot).is_file(),
            "missing plot {plot}"
        );
    }
    // Evaluations at steps 0, 10, 20, 30, 40: five JSON lines and a CSV header plus five rows.
    let jsonl = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 5);
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6);
    assert!(csv.lines().next().unwrap().contains("tr_sqrt_diag_ggn"));
    // The resolved config parses back as a run configuration with the flags applied.
    let config = adasharp_lab::RunConfig::from_file(&run.join("config.toml")).unwrap();
    assert_eq!(config.steps, 40);
    assert_eq!(config.optimizer.name, "paper-adam");
    // Nothing but the finished run directory is left.
    assert_eq!(
        std::fs::read_dir(dir.path().join("runs")).unwrap().count(),
        1
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("tr(Diag(H)^1/2)"), "{stdout}");
}

#[test]
fn diverging_run_stops_naming_the_step_and_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let out = adasharp(
        &[
            "run",
            "--name",
            "div",
            "--d",
            "20",
            "--kappa",
            "2",
            "--n",
            "8",
            "--init",
            "1.0",
            "--lr",
            "100",
            "--steps",
            "200",
            "--eval-every",
            "1",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("diverged at step"),
        "{}",
        stderr(&out)
    );
    let run = dir.path().join("runs").join("div");
    let summary = std::fs::read_to_string(run.join("summary.json")).unwrap();
    assert!(summary.contains("diverged at step"));
    let jsonl = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(jsonl.lines().count() >= 1);
    // Records before the divergence are kept; no non-finite value is written into them.
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    for text in [&jsonl, &csv] {
        let lower = text.to_lowercase();
        assert!(!lower.contains("nan") && !lower.contains("inf") && !lower.contains("null"));
    }
}

#[test]
fn every_example_config_parses_and_validates() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&configs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("[base]") {
            let sweep = adasharp_lab::SweepConfig::from_file(&path).unwrap();
            sweep
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            let run = adasharp_lab::RunConfig::from_file(&path).unwrap();
            run.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    assert!(seen >= 5);
}
