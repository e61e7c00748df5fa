//! How Shampoo sees a parameter tensor: as a matrix, cut into blocks.
//!
//! A tensor of dims `[d_1, ..., d_k]` with `k >= 2` is viewed as the matrix
//!
//! ```text
//! G = reshape(grad, [d_1 * ... * d_(k-1), d_k])
//! ```
//!
//! i.e. all leading dims are merged into the rows and the last dim is kept as the columns. For a
//! Burn `Linear` weight `[d_input, d_output]` this is the weight itself; for a convolution kernel
//! `[channels_out, channels_in, k_h, k_w]` the rows are `channels_out * channels_in * k_h` and the
//! columns `k_w`, so the kernel width gets its own preconditioner.
//!
//! A side longer than `max_dim` is cut into `ceil(n / max_dim)` contiguous ranges of nearly equal
//! length (they differ by at most one), and every (row range, column range) pair is a block with
//! its own Kronecker factors. Rank-0 and rank-1 tensors have no layout: they take the diagonal
//! method's step.

use std::ops::Range;

use burn::tensor::Tensor;

/// The matrix view of one parameter tensor and its block grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The tensor's own dims, to undo the reshape.
    dims: Vec<usize>,
    /// Row ranges of the blocks.
    pub row_ranges: Vec<Range<usize>>,
    /// Column ranges of the blocks.
    pub col_ranges: Vec<Range<usize>>,
}

impl Layout {
    /// The layout of a tensor of `dims`, or `None` when it has fewer than two dims or no
    /// elements.
    pub fn of(dims: &[usize], max_dim: usize) -> Option<Self> {
        let (&cols, leading) = dims.split_last()?;
        if leading.is_empty() || dims.contains(&0) {
            return None;
        }
        let rows = leading.iter().product();
        Some(Self {
            dims: dims.to_vec(),
            row_ranges: split(rows, max_dim),
            col_ranges: split(cols, max_dim),
        })
    }

    /// Number of blocks.
    pub fn num_blocks(&self) -> usize {
        self.row_ranges.len() * self.col_ranges.len()
    }

    /// `(rows, cols)` of every block, in row-major block order.
    pub fn block_shapes(&self) -> Vec<(usize, usize)> {
        self.block_ranges()
            .map(|(r, c)| (r.len(), c.len()))
            .collect()
    }

    /// The blocks of `tensor`'s matrix view, in row-major block order.
    pub fn split<const D: usize>(&self, tensor: Tensor<D>) -> Vec<Tensor<2>> {
        let rows = self.row_ranges.last().map_or(0, |r| r.end);
        let cols = self.col_ranges.last().map_or(0, |c| c.end);
        let matrix: Tensor<2> = tensor.reshape([rows, cols]);
        if self.num_blocks() == 1 {
            return vec![matrix];
        }
        self.block_ranges()
            .map(|(r, c)| matrix.clone().slice([r, c]))
            .collect()
    }

    /// Reassembles blocks produced by [`split`](Self::split) into a tensor of the original dims.
    pub fn join<const D: usize>(&self, blocks: Vec<Tensor<2>>) -> Tensor<D> {
        let per_row = self.col_ranges.len();
        let mut blocks = blocks.into_iter();
        let rows: Vec<Tensor<2>> = (0..self.row_ranges.len())
            .map(|_| Tensor::cat(blocks.by_ref().take(per_row).collect(), 1))
            .collect();
        let dims: [usize; D] = self.dims.clone().try_into().expect("layout rank matches");
        Tensor::cat(rows, 0).reshape(dims)
    }

    fn block_ranges(&self) -> impl Iterator<Item = (Range<usize>, Range<usize>)> + '_ {
        self.row_ranges
            .iter()
            .flat_map(|r| self.col_ranges.iter().map(move |c| (r.clone(), c.clone())))
    }
}

/// `0..n` cut into `ceil(n / max_len)` contiguous ranges whose lengths differ by at most one.
fn split(n: usize, max_len: usize) -> Vec<Range<usize>> {
    let parts = n.div_ceil(max_len.max(1)).max(1);
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shampoo_layout_merges_leading_dims_into_rows() {
        let layout = Layout::of(&[2, 3, 4], 100).unwrap();
        assert_eq!(layout.row_ranges, vec![0..6]);
        assert_eq!(layout.col_ranges, vec![0..4]);
    }

    #[test]
    fn shampoo_layout_splits_long_sides_into_near_equal_blocks() {
        // 10 rows with at most 4 per block: ceil(10 / 4) = 3 blocks of 4, 3, 3.
        let layout = Layout::of(&[10, 3], 4).unwrap();
        assert_eq!(layout.row_ranges, vec![0..4, 4..7, 7..10]);
        assert_eq!(layout.col_ranges, vec![0..3]);
        assert_eq!(layout.block_shapes(), vec![(4, 3), (3, 3), (3, 3)]);
    }

    #[test]
    fn shampoo_layout_is_absent_for_vectors_and_empty_tensors() {
        assert_eq!(Layout::of(&[5], 4), None);
        assert_eq!(Layout::of(&[0, 3], 4), None);
    }
}
