//! Block partitions of a parameter tensor: which coordinates share one second-moment value.
//!
//! Every rule works on the same two-dimensional view of a tensor of dims `[d0, .., dk]`:
//! `rows = d0 * .. * d(k-1)` and `cols = dk`. Burn's `Linear.weight` is `[d_in, d_out]`, so a
//! column of that view holds the weights feeding one output neuron.
//!
//! A tensor of rank 0 or 1 (a bias, a norm scale, a scalar) is one block under every rule except
//! [`BlockRule::Element`]: the rules speak of rows, columns and heads of a matrix, and a vector
//! has no such structure to respect.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How the coordinates of one parameter tensor are grouped into blocks that share one `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockRule {
    /// Every coordinate is its own block (Adam).
    Element,
    /// The whole tensor is one block (Adalayer).
    Tensor,
    /// One block per row of the 2-D view (per token for an embedding table `[vocab, d]`).
    Rows,
    /// One block per column of the 2-D view (per output neuron of a Burn `Linear`).
    Columns,
    /// The columns split into `n_heads` equal slices, one block per slice (per attention head
    /// of a query, key or value projection).
    Heads {
        /// Number of attention heads; must divide the number of columns.
        n_heads: usize,
    },
}

/// The reduced 3-D view `[outer, groups, inner]` in which a rule averages over axes 0 and 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    outer: usize,
    groups: usize,
    inner: usize,
}

impl BlockRule {
    /// A short name for reports and logs (`element`, `tensor`, `rows`, `columns`, `heads(8)`).
    pub fn name(&self) -> String {
        match self {
            BlockRule::Element => "element".into(),
            BlockRule::Tensor => "tensor".into(),
            BlockRule::Rows => "rows".into(),
            BlockRule::Columns => "columns".into(),
            BlockRule::Heads { n_heads } => format!("heads({n_heads})"),
        }
    }

    /// Checks that the rule can partition a tensor of these dims.
    pub fn check(&self, dims: &[usize]) -> Result<(), ConfigError> {
        if let BlockRule::Heads { n_heads } = *self {
            if n_heads == 0 {
                return Err(ConfigError::new(
                    "Adam-mini",
                    "n_heads",
                    0,
                    "at least one attention head",
                ));
            }
            let cols = dims.last().copied().unwrap_or(1);
            if dims.len() >= 2 && cols % n_heads != 0 {
                return Err(ConfigError::new(
                    "Adam-mini",
                    "n_heads",
                    format!("{n_heads} (tensor dims {dims:?}, {cols} columns)"),
                    "a number of heads that divides the number of columns",
                ));
            }
        }
        Ok(())
    }

    fn view(&self, dims: &[usize]) -> View {
        let numel: usize = dims.iter().product();
        if dims.len() < 2 {
            return match self {
                BlockRule::Element => View {
                    outer: 1,
                    groups: numel,
                    inner: 1,
                },
                _ => View {
                    outer: numel,
                    groups: 1,
                    inner: 1,
                },
            };
        }
        let cols = dims[dims.len() - 1];
        let rows = numel / cols.max(1);
        match *self {
            BlockRule::Element => View {
                outer: 1,
                groups: numel,
                inner: 1,
            },
            BlockRule::Tensor => View {
                outer: numel,
                groups: 1,
                inner: 1,
            },
            BlockRule::Rows => View {
                outer: 1,
                groups: rows,
                inner: cols,
            },
            BlockRule::Columns => View {
                outer: rows,
                groups: cols,
                inner: 1,
            },
            BlockRule::Heads { n_heads } => View {
                outer: rows,
                groups: n_heads,
                inner: cols / n_heads,
            },
        }
    }

    /// Number of blocks the rule makes of a tensor of these dims.
    pub fn num_blocks(&self, dims: &[usize]) -> usize {
        self.view(dims).groups
    }

    /// Number of coordinates in each block (all blocks of one tensor have the same size).
    pub fn block_size(&self, dims: &[usize]) -> usize {
        let view = self.view(dims);
        view.outer * view.inner
    }

    /// The shape of the per-block statistic, with the same rank as the tensor: broadcastable to
    /// the tensor's dims for every rule except [`BlockRule::Heads`], whose statistic is stored
    /// as `[1, .., 1, n_heads]`.
    pub fn reduced_dims<const D: usize>(&self, dims: [usize; D]) -> [usize; D] {
        let mut out = [1; D];
        if D == 0 {
            return out;
        }
        match self {
            BlockRule::Element => dims,
            _ if D < 2 => out,
            BlockRule::Tensor => out,
            BlockRule::Rows => {
                out[..D - 1].copy_from_slice(&dims[..D - 1]);
                out
            }
            BlockRule::Columns => {
                out[D - 1] = dims[D - 1];
                out
            }
            BlockRule::Heads { n_heads } => {
                out[D - 1] = *n_heads;
                out
            }
        }
    }

    /// Mean of `x` over each block, in the reduced shape of [`reduced_dims`](Self::reduced_dims).
    ///
    /// Written with whole-tensor and single-axis reductions of the 2-D view only: on Flex a
    /// reduction over an axis of a 3-D view of a large tensor is two orders of magnitude slower.
    pub fn block_mean<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dims = x.dims();
        let reduced = self.reduced_dims(dims);
        if *self == BlockRule::Element {
            return x;
        }
        if D < 2 || *self == BlockRule::Tensor {
            return x.mean().reshape(reduced);
        }
        let cols = dims[D - 1];
        let rows = dims.iter().product::<usize>() / cols.max(1);
        let matrix = x.reshape([rows, cols]);
        match *self {
            BlockRule::Rows => matrix.mean_dim(1).reshape(reduced),
            BlockRule::Columns => matrix.mean_dim(0).reshape(reduced),
            BlockRule::Heads { n_heads } => matrix
                .mean_dim(0)
                .reshape([n_heads, cols / n_heads])
                .mean_dim(1)
                .reshape(reduced),
            BlockRule::Element | BlockRule::Tensor => unreachable!("handled above"),
        }
    }

    /// Multiplies `x` coordinate-wise by a per-block value given in the reduced shape.
    pub fn scale_by_block<const D: usize>(&self, x: Tensor<D>, per_block: Tensor<D>) -> Tensor<D> {
        match self {
            BlockRule::Element => x * per_block,
            BlockRule::Heads { .. } => {
                let dims = x.dims();
                let view = self.view(&dims);
                let scaled = x.reshape([view.outer, view.groups, view.inner])
                    * per_block.reshape([1, view.groups, 1]);
                scaled.reshape(dims)
            }
            _ => x * per_block,
        }
    }

    /// Expands a per-block value given in the reduced shape to the tensor's full dims.
    pub fn broadcast<const D: usize>(&self, per_block: Tensor<D>, dims: [usize; D]) -> Tensor<D> {
        match self {
            BlockRule::Element => per_block,
            BlockRule::Heads { .. } => {
                let view = self.view(&dims);
                per_block
                    .reshape([1, view.groups, 1])
                    .expand([view.outer, view.groups, view.inner])
                    .reshape(dims)
            }
            _ => per_block.expand(dims),
        }
    }
}

impl std::fmt::Display for BlockRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn matrix() -> Tensor<2> {
        // 2 x 4:  [[1, 2, 3, 4],
        //          [5, 6, 7, 8]]
        Tensor::from_data(
            TensorData::new(vec![1.0f32, 2., 3., 4., 5., 6., 7., 8.], [2, 4]),
            &Device::flex(),
        )
    }

    #[test]
    fn columns_average_down_each_column() {
        let m = BlockRule::Columns.block_mean(matrix());
        assert_eq!(m.dims(), [1, 4]);
        assert_eq!(values(m), vec![3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn rows_average_along_each_row() {
        let m = BlockRule::Rows.block_mean(matrix());
        assert_eq!(m.dims(), [2, 1]);
        assert_eq!(values(m), vec![2.5, 6.5]);
    }

    #[test]
    fn heads_average_over_rows_and_each_column_slice() {
        // Two heads of two columns: head 0 holds {1,2,5,6}, head 1 holds {3,4,7,8}.
        let rule = BlockRule::Heads { n_heads: 2 };
        let m = rule.block_mean(matrix());
        assert_eq!(values(m.clone()), vec![3.5, 5.5]);
        let full = rule.broadcast(m, [2, 4]);
        assert_eq!(values(full), vec![3.5, 3.5, 5.5, 5.5, 3.5, 3.5, 5.5, 5.5]);
    }

    #[test]
    fn tensor_rule_is_the_global_mean() {
        let m = BlockRule::Tensor.block_mean(matrix());
        assert_eq!(values(m), vec![4.5]);
    }

    #[test]
    fn block_counts_and_sizes_tile_the_tensor() {
        for rule in [
            BlockRule::Element,
            BlockRule::Tensor,
            BlockRule::Rows,
            BlockRule::Columns,
            BlockRule::Heads { n_heads: 2 },
        ] {
            assert_eq!(
                rule.num_blocks(&[2, 4]) * rule.block_size(&[2, 4]),
                8,
                "{rule}"
            );
        }
        assert_eq!(BlockRule::Columns.num_blocks(&[2, 4]), 4);
        assert_eq!(BlockRule::Columns.num_blocks(&[7]), 1);
        assert_eq!(BlockRule::Element.num_blocks(&[7]), 7);
    }

    #[test]
    fn heads_must_divide_columns() {
        let err = BlockRule::Heads { n_heads: 3 }.check(&[2, 4]).unwrap_err();
        assert_eq!(err.field, "n_heads");
        assert!(BlockRule::Heads { n_heads: 0 }.check(&[2, 4]).is_err());
        assert!(BlockRule::Heads { n_heads: 4 }.check(&[2, 4]).is_ok());
    }
}
