//! Where [`SharpnessRecord`]s go: JSON Lines and CSV files written one whole line at a time.
//!
//! Each record becomes one line, formatted in memory, then written with a single `write_all`
//! on a file opened for appending and flushed. A crash can therefore lose at most the record
//! being written (and on a local file system it leaves either the whole line or, at worst, a
//! final partial line that readers can drop), never corrupt an earlier one.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::{CurvatureError, Result, SharpnessRecord};

/// A destination for sharpness records.
pub trait RecordSink: Send {
    /// Writes one record.
    fn write(&mut self, record: &SharpnessRecord) -> Result<()>;
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| CurvatureError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn write_line(file: &mut File, path: &Path, line: &str) -> Result<()> {
    let io = |source| CurvatureError::Io {
        path: path.to_path_buf(),
        source,
    };
    file.write_all(line.as_bytes()).map_err(io)?;
    file.flush().map_err(io)
}

/// One JSON object per line (`serde_json` of [`SharpnessRecord`]), appended to a file.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    file: File,
}

impl JsonlSink {
    /// Opens `path` for appending (creating it if needed).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = open_append(&path)?;
        Ok(Self { path, file })
    }

    /// Reads every complete record of a JSONL file (a final line without newline, left by a
    /// crash, is skipped).
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<SharpnessRecord>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CurvatureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(CurvatureError::from))
            .collect()
    }
}

impl RecordSink for JsonlSink {
    fn write(&mut self, record: &SharpnessRecord) -> Result<()> {
        let mut line = serde_json::to_string(record)?;
        line.push('\n');
        write_line(&mut self.file, &self.path, &line)
    }
}

/// Comma-separated values with a header line.
///
/// Columns: `step, loss, estimator, probes, hvps, gradients, seconds, hvp_rel_error`, then for
/// each measure `NAME, NAME_se, NAME_clipped`. Missing values are empty fields. The header is
/// written with the first record; appending to a file whose header differs is an error, so one
/// file never mixes column layouts.
#[derive(Debug)]
pub struct CsvSink {
    path: PathBuf,
    file: File,
    header: Option<String>,
}

impl CsvSink {
    /// Opens `path` for appending (creating it if needed); an existing header is kept and
    /// checked against the first record.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let header = match File::open(&path) {
            Ok(f) => BufReader::new(f)
                .lines()
                .next()
                .transpose()
                .map_err(|source| CurvatureError::Io {
                    path: path.clone(),
                    source,
                })?,
            Err(_) => None,
        };
        let file = open_append(&path)?;
        Ok(Self { path, file, header })
    }

    /// The header line for `record`'s measures.
    pub fn header_for(record: &SharpnessRecord) -> String {
        let mut cols: Vec<String> = [
            "step",
            "loss",
            "estimator",
            "probes",
            "hvps",
            "gradients",
            "seconds",
            "hvp_rel_error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for m in &record.measures {
            cols.push(csv_field(&m.name));
            cols.push(csv_field(&format!("{}_se", m.name)));
            cols.push(csv_field(&format!("{}_clipped", m.name)));
        }
        cols.join(",")
    }

    /// The data line for `record`.
    pub fn row_for(record: &SharpnessRecord) -> String {
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        let mut cols = vec![
            record.step.to_string(),
            record.loss.to_string(),
            csv_field(&record.estimator),
            record.probes.to_string(),
            record.hvps.to_string(),
            record.gradients.to_string(),
            record.seconds.to_string(),
            opt(record.hvp_rel_error),
        ];
        for m in &record.measures {
            cols.push(m.value.to_string());
            cols.push(opt(m.std_err));
            cols.push(m.clipped.to_string());
        }
        cols.join(",")
    }
}

/// Quotes a field that holds a comma or a quote.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl RecordSink for CsvSink {
    fn write(&mut self, record: &SharpnessRecord) -> Result<()> {
        let header = Self::header_for(record);
        let mut text = String::new();
        match &self.header {
            Some(existing) if *existing != header => {
                return Err(CurvatureError::invalid(
                    "record",
                    format!(
                        "{} has columns `{existing}` but this record needs `{header}`; write to \
                         a new file",
                        self.path.display()
                    ),
                ));
            }
            Some(_) => {}
            None => {
                text.push_str(&header);
                text.push('\n');
            }
        }
        text.push_str(&Self::row_for(record));
        text.push('\n');
        write_line(&mut self.file, &self.path, &text)?;
        self.header = Some(header);
        Ok(())
    }
}
