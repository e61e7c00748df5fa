//! Progress: a bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use adasharp_lab::{Observer, Record};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Reports one run's progress.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    name: String,
    steps: usize,
    last_log: Instant,
    last_decile: usize,
}

impl Progress {
    /// A bar under `multi` when stderr is a terminal, else log lines (`quiet`: nothing).
    pub fn new(multi: Option<&MultiProgress>, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(1);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            match multi {
                Some(m) => m.add(bar),
                None => bar,
            }
        });
        Self {
            bar,
            quiet,
            name: String::new(),
            steps: 0,
            last_log: Instant::now(),
            last_decile: 0,
        }
    }
}

impl Observer for Progress {
    fn start(&mut self, name: &str, steps: usize) {
        self.name = name.to_string();
        self.steps = steps;
        if let Some(bar) = &self.bar {
            bar.set_length(steps as u64);
            bar.set_prefix(name.to_string());
        } else if !self.quiet {
            log::info!("{name}: starting, {steps} steps");
        }
    }

    fn step(&mut self, step: usize, loss: f64) {
        if let Some(bar) = &self.bar {
            if step.is_multiple_of(100) || step == self.steps {
                bar.set_position(step as u64);
                bar.set_message(format!("batch loss {loss:.3e}"));
            }
            return;
        }
        if self.quiet {
            return;
        }
        let decile = step * 10 / self.steps.max(1);
        if decile > self.last_decile && self.last_log.elapsed() > Duration::from_millis(500) {
            self.last_decile = decile;
            self.last_log = Instant::now();
            log::info!(
                "{}: step {step}/{} batch loss {loss:.3e}",
                self.name,
                self.steps
            );
        }
    }

    fn eval(&mut self, record: &Record) {
        let test = record.get("test_loss").unwrap_or(f64::NAN);
        log::debug!("{}: step {} test loss {test:.3e}", self.name, record.step);
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        } else if !self.quiet {
            log::info!("{}: done", self.name);
        }
    }
}
