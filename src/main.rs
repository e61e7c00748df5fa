//! The `adasharp` command: label-noise experiments with SGD, Adam and their kin on Burn.
//!
//! `adasharp` alone runs the demonstration; `adasharp run`, `adasharp sweep` and
//! `adasharp results` are described by `adasharp --help`. Bad input (unknown names, invalid
//! sizes, unwritable paths, malformed config files) exits with status 2 and a message naming
//! the problem; a run that diverges exits with status 1 after keeping its records.

mod cli;

use std::process::ExitCode;

use adasharp_lab::{Dtype, RunStatus, run};
use clap::Parser;

use cli::CliError;
use cli::args::{Cli, Command, Preset};
use cli::device::make_device;
use cli::progress::Progress;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp(None)
        .init();
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code as u8)
        }
    }
}

fn execute(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        None => demo(&cli.demo),
        Some(Command::Demo(args)) => demo(&args),
        Some(Command::Run(args)) => {
            let config = args.to_config()?;
            config.validate()?;
            let device = make_device(&args.common.backend, config.dtype)?;
            let mut progress = Progress::new(None, args.common.quiet);
            let outcome = run(&config, &device, &args.common.out, &mut progress)?;
            if let Some(p) = &outcome.partition {
                println!("{p}\n");
            }
            println!(
                "{}",
                adasharp_lab::report::summary_table(std::slice::from_ref(&outcome))
            );
            println!("run directory: {}", outcome.dir.display());
            Ok(status_code(&outcome.status))
        }
        Some(Command::Sweep(args)) => {
            let config = args.to_config()?;
            config.validate()?;
            let device = make_device(&args.common.backend, config.base.dtype)?;
            let quiet = args.common.quiet;
            let observer = |_: &adasharp_lab::RunConfig| -> Box<dyn adasharp_lab::Observer> {
                Box::new(adasharp_lab::Silent)
            };
            let done = |r: &adasharp_lab::SweepResult, finished: usize, total: usize| {
                if !quiet {
                    log::info!(
                        "[{finished}/{total}] {}: test loss {:.4e} ({}, {:.1}s)",
                        r.name,
                        r.test_loss,
                        r.status,
                        r.seconds
                    );
                }
            };
            let outcome =
                adasharp_lab::sweep(&config, &device, &args.common.out, &observer, &done)?;
            println!("{}", outcome.table);
            println!(
                "ran {} runs ({} already done); sweep directory: {}",
                outcome.ran,
                outcome.results.len() - outcome.ran.min(outcome.results.len()),
                outcome.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Results(args)) => {
            let device = make_device(
                &args.common.backend,
                args.common.dtype.map_or(Dtype::F32, Into::into),
            )?;
            cli::results::results(&args, &device)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn demo(args: &cli::args::DemoArgs) -> Result<ExitCode, CliError> {
    let default = match args.preset {
        Preset::Demo => Dtype::F32,
        Preset::Paper => Dtype::F64,
    };
    let dtype = args.common.dtype.map_or(default, Into::into);
    let device = make_device(&args.common.backend, dtype)?;
    cli::demo::demo(args, &device, dtype)?;
    Ok(ExitCode::SUCCESS)
}

fn status_code(status: &RunStatus) -> ExitCode {
    match status {
        RunStatus::Completed => ExitCode::SUCCESS,
        RunStatus::Diverged { .. } => {
            eprintln!("error: the run {status}; records up to there are kept");
            ExitCode::FAILURE
        }
    }
}
