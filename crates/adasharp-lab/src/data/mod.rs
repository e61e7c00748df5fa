//! Datasets: the paper's synthetic problems and real CSV data, generated or loaded on the host
//! in `f64`, then uploaded to a Burn device with [`Dataset::to_device`].
//!
//! Every generator is seeded and reproducible; a dataset knows its ground truth when it has
//! one (the sparse `w*` of the regression, the low-rank `M*` of matrix sensing).

mod csv;
mod sensing;
mod sparse;

pub use csv::{CsvConfig, CsvTask, builtin_csv, load_csv, parse_csv};
pub use sensing::MatrixSensingConfig;
pub use sparse::SparseRegressionConfig;

use burn::tensor::{Device, Int, Tensor, TensorData};

/// What the targets are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Real targets, squared loss `1/(2b) sum (f(x) - y)^2`.
    Regression,
    /// Class indices `0..classes`, cross-entropy loss.
    Classification {
        /// Number of classes.
        classes: usize,
    },
}

/// The ground truth a dataset was generated from, if known.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// Real data: unknown.
    None,
    /// Sparse regression: `y = <z, w*>`.
    Vector(Vec<f64>),
    /// Matrix sensing: `b = <A, M*>` with `M*` of size `dim x dim`, row-major.
    Matrix {
        /// Side of the square matrix.
        dim: usize,
        /// Entries, row-major.
        entries: Vec<f64>,
    },
}

/// A train/test dataset on the host, row-major `f64`.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// A short name for logs (`sparse(d=200,kappa=5,n=25)`).
    pub name: String,
    /// Number of input features per example.
    pub features: usize,
    /// Training inputs, `n_train x features`.
    pub x_train: Vec<f64>,
    /// Training targets (class indices stored as whole numbers for classification).
    pub y_train: Vec<f64>,
    /// Test inputs, `n_test x features`.
    pub x_test: Vec<f64>,
    /// Test targets.
    pub y_test: Vec<f64>,
    /// Regression or classification.
    pub task: Task,
    /// The ground truth, if known.
    pub truth: Truth,
}

impl Dataset {
    /// Number of training examples.
    pub fn n_train(&self) -> usize {
        self.y_train.len()
    }

    /// Number of test examples.
    pub fn n_test(&self) -> usize {
        self.y_test.len()
    }

    /// Uploads the data to `device` in the device's float dtype.
    pub fn to_device(&self, device: &Device) -> DeviceData {
        let x_train = matrix(&self.x_train, self.n_train(), self.features, device);
        let x_test = matrix(&self.x_test, self.n_test(), self.features, device);
        let (y_train, y_test) = (vector(&self.y_train, device), vector(&self.y_test, device));
        let classes = |y: &[f64]| {
            let idx: Vec<i64> = y.iter().map(|v| *v as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(idx, [y.len()]), device)
        };
        let labels = match self.task {
            Task::Classification { .. } => Some((classes(&self.y_train), classes(&self.y_test))),
            Task::Regression => None,
        };
        DeviceData {
            x_train,
            y_train,
            x_test,
            y_test,
            labels,
            task: self.task,
        }
    }
}

/// A [`Dataset`] as Burn tensors on one device.
#[derive(Debug, Clone)]
pub struct DeviceData {
    /// `[n_train, features]`.
    pub x_train: Tensor<2>,
    /// `[n_train]`.
    pub y_train: Tensor<1>,
    /// `[n_test, features]`.
    pub x_test: Tensor<2>,
    /// `[n_test]`.
    pub y_test: Tensor<1>,
    /// Class indices (train, test) for classification.
    pub labels: Option<(Tensor<1, Int>, Tensor<1, Int>)>,
    /// Regression or classification.
    pub task: Task,
}

/// A `[rows, cols]` tensor from row-major values.
pub fn matrix(values: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), device)
}

/// A `[len]` tensor from values.
pub fn vector(values: &[f64], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

/// Reads a tensor back as `f64` values (in row-major order).
pub fn to_f64<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    tensor.into_data().iter::<f64>().collect()
}
