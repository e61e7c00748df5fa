//! Evaluation records and their JSONL and CSV files.
//!
//! Each record is written as one whole line and flushed, so a run that stops (or diverges)
//! keeps every record before it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::{LabError, Result};

/// One evaluation: the step and named values in a fixed column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Optimizer steps taken before this evaluation.
    pub step: usize,
    /// `(column, value)` pairs.
    pub values: Vec<(String, f64)>,
}

impl Record {
    /// The value of `column`, if recorded.
    pub fn get(&self, column: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(k, _)| k == column)
            .map(|(_, v)| *v)
    }

    /// The record as one JSON object (`{"step": 0, "train_loss": ...}`); non-finite values
    /// become `null`.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("step".into(), self.step.into());
        for (k, v) in &self.values {
            let value = serde_json::Number::from_f64(*v)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null);
            map.insert(k.clone(), value);
        }
        serde_json::Value::Object(map).to_string()
    }
}

/// Appends records to `metrics.jsonl` and `metrics.csv` in a directory.
pub struct MetricsWriter {
    jsonl: File,
    csv: File,
    csv_path: PathBuf,
    columns: Option<Vec<String>>,
}

impl MetricsWriter {
    /// Creates both files in `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        let open = |name: &str| {
            let path = dir.join(name);
            File::create(&path).map_err(|e| LabError::io("cannot create", path, e))
        };
        Ok(Self {
            jsonl: open("metrics.jsonl")?,
            csv: open("metrics.csv")?,
            csv_path: dir.join("metrics.csv"),
            columns: None,
        })
    }

    /// Writes one record to both files. The first record fixes the CSV columns; a later
    /// record's missing columns are written empty.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        let io = |e| LabError::io("cannot write", self.csv_path.clone(), e);
        if self.columns.is_none() {
            let columns: Vec<String> = record.values.iter().map(|(k, _)| k.clone()).collect();
            writeln!(self.csv, "step,{}", columns.join(",")).map_err(io)?;
            self.columns = Some(columns);
        }
        let columns = self.columns.as_ref().expect("set above");
        let cells: Vec<String> = columns
            .iter()
            .map(|c| record.get(c).map(|v| format!("{v:e}")).unwrap_or_default())
            .collect();
        writeln!(self.csv, "{},{}", record.step, cells.join(",")).map_err(io)?;
        self.csv.flush().map_err(io)?;
        writeln!(self.jsonl, "{}", record.to_json()).map_err(io)?;
        self.jsonl.flush().map_err(io)
    }
}

/// Reads the records of a `metrics.jsonl` file (nulls become NaN).
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>> {
    let file = File::open(path).map_err(|e| LabError::io("cannot read", path, e))?;
    let mut records = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| LabError::io("cannot read", path, e))?;
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| LabError::Csv {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        let Some(map) = value.as_object() else {
            continue;
        };
        let step = map.get("step").and_then(|s| s.as_u64()).unwrap_or(0) as usize;
        let values = map
            .iter()
            .filter(|(k, _)| *k != "step")
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        records.push(Record { step, values });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_jsonl_and_csv_has_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = MetricsWriter::create(dir.path()).unwrap();
        let rec = |step, a| Record {
            step,
            values: vec![("train_loss".into(), a), ("tr_h".into(), 2.5)],
        };
        writer.write(&rec(0, 1.0)).unwrap();
        writer.write(&rec(10, 0.5)).unwrap();
        let back = read_jsonl(&dir.path().join("metrics.jsonl")).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].step, 10);
        assert_eq!(back[1].get("train_loss"), Some(0.5));
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "step,train_loss,tr_h");
        assert_eq!(lines.len(), 3);
        assert!(lines[2].starts_with("10,5e-1,"));
    }

    #[test]
    fn non_finite_values_become_json_null() {
        let rec = Record {
            step: 3,
            values: vec![("loss".into(), f64::NAN)],
        };
        assert_eq!(rec.to_json(), r#"{"loss":null,"step":3}"#);
    }
}
