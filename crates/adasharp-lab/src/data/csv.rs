//! Real data from a CSV file with a header row and one target column.
//!
//! Features are standardized with the mean and standard deviation of the training split (a
//! constant feature is only centred); regression targets are standardized the same way, so the
//! squared loss is in units of the target's variance. The split is a seeded shuffle.
//!
//! Limitation: values must be plain numbers; there is no quoting, no missing values and no
//! categorical columns.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Dataset, Task, Truth};
use crate::{LabError, Result};

/// What the target column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CsvTask {
    /// Classification if the target column is named `label` or `class`, else regression.
    #[default]
    Auto,
    /// Real targets, squared loss.
    Regression,
    /// Whole-number class labels `0..k`, cross-entropy.
    Classification,
}

/// Where to read a CSV dataset and how to split it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// A built-in name (`diabetes`, `digits`) or a path to a CSV file.
    pub source: String,
    /// The target column; default: the last column.
    #[serde(default)]
    pub target: Option<String>,
    /// Regression or classification.
    #[serde(default)]
    pub task: CsvTask,
    /// Fraction of rows held out for testing, in `(0, 1)`.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Seed of the train/test split.
    #[serde(default)]
    pub seed: u64,
}

fn default_test_fraction() -> f64 {
    0.2
}

/// The text of a built-in dataset, shipped with the crate (`examples/data/`).
pub fn builtin_csv(name: &str) -> Option<&'static str> {
    match name {
        "diabetes" => Some(include_str!("../../../../examples/data/diabetes.csv")),
        "digits" => Some(include_str!("../../../../examples/data/digits.csv")),
        _ => None,
    }
}

/// Loads the dataset `config` names (a built-in name or a file).
pub fn load_csv(config: &CsvConfig) -> Result<Dataset> {
    if !(config.test_fraction > 0.0 && config.test_fraction < 1.0) {
        return Err(LabError::invalid(
            "data.test_fraction",
            config.test_fraction,
            "a number in (0, 1)",
        ));
    }
    let (text, path) = match builtin_csv(&config.source) {
        Some(text) => (text.to_string(), PathBuf::from(&config.source)),
        None => {
            let path = PathBuf::from(&config.source);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    LabError::Unknown {
                        what: "dataset (neither a built-in name nor a readable file)",
                        name: config.source.clone(),
                        known: "diabetes, digits, or a path to a CSV file".into(),
                    }
                } else {
                    LabError::io("cannot read", &path, e)
                }
            })?;
            (text, path)
        }
    };
    parse_csv(&text, &path, config)
}

/// Parses CSV `text` (from `path`, for messages), splits and standardizes it.
pub fn parse_csv(text: &str, path: &Path, config: &CsvConfig) -> Result<Dataset> {
    let bad = |line: usize, message: String| LabError::Csv {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad(1, "empty file".into()))?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    if columns.len() < 2 {
        return Err(bad(
            1,
            "need at least one feature column and a target".into(),
        ));
    }
    let target = match &config.target {
        Some(name) => columns.iter().position(|c| c == name).ok_or_else(|| {
            bad(
                1,
                format!(
                    "no target column `{name}` (columns: {})",
                    columns.join(", ")
                ),
            )
        })?,
        None => columns.len() - 1,
    };
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in lines {
        let values: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(i + 1, format!("not a number ({e})")))?;
        if values.len() != columns.len() {
            let msg = format!("{} values, header has {}", values.len(), columns.len());
            return Err(bad(i + 1, msg));
        }
        if let Some(j) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(i + 1, format!("column `{}` is not finite", columns[j])));
        }
        rows.push(values);
    }
    if rows.len() < 2 {
        return Err(bad(1, format!("{} data rows; need at least 2", rows.len())));
    }

    let task = resolve_task(config.task, columns[target], &rows, target).map_err(|m| bad(1, m))?;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(config.seed));
    let n_test =
        ((rows.len() as f64 * config.test_fraction).round() as usize).clamp(1, rows.len() - 1);
    let (test_idx, train_idx) = order.split_at(n_test);

    let features: Vec<usize> = (0..columns.len()).filter(|j| *j != target).collect();
    let mut x_train = gather(&rows, train_idx, &features);
    let mut x_test = gather(&rows, test_idx, &features);
    let mut y_train = gather(&rows, train_idx, &[target]);
    let mut y_test = gather(&rows, test_idx, &[target]);
    standardize(&mut x_train, &mut x_test, features.len());
    if task == Task::Regression {
        standardize(&mut y_train, &mut y_test, 1);
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    Ok(Dataset {
        name: stem.unwrap_or_else(|| config.source.clone()),
        features: features.len(),
        x_train,
        y_train,
        x_test,
        y_test,
        task,
        truth: Truth::None,
    })
}

fn resolve_task(
    task: CsvTask,
    name: &str,
    rows: &[Vec<f64>],
    target: usize,
) -> std::result::Result<Task, String> {
    let classification = match task {
        CsvTask::Auto => matches!(name, "label" | "class"),
        CsvTask::Regression => false,
        CsvTask::Classification => true,
    };
    if !classification {
        return Ok(Task::Regression);
    }
    let labels: Vec<f64> = rows.iter().map(|r| r[target]).collect();
    if let Some(v) = labels.iter().find(|v| v.fract() != 0.0 || **v < 0.0) {
        return Err(format!(
            "class label {v} in `{name}` is not a whole number >= 0"
        ));
    }
    let classes = labels.iter().fold(0.0_f64, |a, b| a.max(*b)) as usize + 1;
    Ok(Task::Classification { classes })
}

fn gather(rows: &[Vec<f64>], idx: &[usize], cols: &[usize]) -> Vec<f64> {
    idx.iter()
        .flat_map(|&i| cols.iter().map(move |&j| rows[i][j]))
        .collect()
}

/// Standardizes each of `width` columns of `train` and `test` with the train statistics.
fn standardize(train: &mut [f64], test: &mut [f64], width: usize) {
    let n = (train.len() / width) as f64;
    for j in 0..width {
        let col = || train.iter().skip(j).step_by(width);
        let mean = col().sum::<f64>() / n;
        let var = col().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        for x in train.iter_mut().skip(j).step_by(width) {
            *x = (*x - mean) / sd;
        }
        for x in test.iter_mut().skip(j).step_by(width) {
            *x = (*x - mean) / sd;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(source: &str) -> CsvConfig {
        CsvConfig {
            source: source.into(),
            target: None,
            task: CsvTask::Auto,
            test_fraction: 0.25,
            seed: 0,
        }
    }

    const TINY: &str = "a,b,y\n1,10,0\n2,10,2\n3,10,4\n4,10,6\n5,10,8\n6,10,10\n7,10,12\n8,10,14\n";

    #[test]
    fn features_are_standardized_with_train_statistics() {
        let data = parse_csv(TINY, Path::new("tiny.csv"), &config("tiny")).unwrap();
        assert_eq!((data.n_train(), data.n_test(), data.features), (6, 2, 2));
        // Train column `a`: mean 0, population sd 1 after standardization.
        let a: Vec<f64> = data.x_train.iter().step_by(2).copied().collect();
        let mean = a.iter().sum::<f64>() / 6.0;
        let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 6.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        // Constant column `b` is centred, not divided by zero.
        assert!(
            data.x_train
                .iter()
                .chain(&data.x_test)
                .skip(1)
                .step_by(2)
                .all(|x| *x == 0.0)
        );
        // y = 2 (a - 1) exactly, so the standardized target equals the standardized `a`.
        for (x, y) in data.x_train.chunks(2).zip(&data.y_train) {
            assert!((x[0] - y).abs() < 1e-12);
        }
        for (x, y) in data.x_test.chunks(2).zip(&data.y_test) {
            assert!((x[0] - y).abs() < 1e-12);
        }
    }

    #[test]
    fn standardization_uses_train_mean_and_population_sd() {
        // Train column [1, 3]: mean 2, population sd 1. Test value 5 -> (5 - 2) / 1 = 3.
        // Second column constant 7 in train: centred only, test 9 -> 2.
        let mut train = vec![1.0, 7.0, 3.0, 7.0];
        let mut test = vec![5.0, 9.0];
        standardize(&mut train, &mut test, 2);
        assert_eq!(train, vec![-1.0, 0.0, 1.0, 0.0]);
        assert_eq!(test, vec![3.0, 2.0]);
    }

    #[test]
    fn label_column_gives_classification_with_class_count() {
        let text = "p0,label\n0.5,0\n0.1,2\n0.3,1\n0.2,2\n";
        let data = parse_csv(text, Path::new("c.csv"), &config("c")).unwrap();
        assert_eq!(data.task, Task::Classification { classes: 3 });
        assert!(
            data.y_train
                .iter()
                .chain(&data.y_test)
                .all(|y| y.fract() == 0.0)
        );
    }

    #[test]
    fn malformed_rows_are_reported_with_their_line() {
        let err = parse_csv("a,y\n1,2\n3,x\n", Path::new("m.csv"), &config("m")).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = parse_csv("a,y\n1,2\n3\n", Path::new("m.csv"), &config("m")).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn builtin_datasets_load_with_their_shapes() {
        let diabetes = load_csv(&config("diabetes")).unwrap();
        assert_eq!(diabetes.features, 10);
        assert_eq!(diabetes.n_train() + diabetes.n_test(), 442);
        assert_eq!(diabetes.task, Task::Regression);
        let digits = load_csv(&config("digits")).unwrap();
        assert_eq!(digits.features, 64);
        assert_eq!(digits.task, Task::Classification { classes: 10 });
    }
}
