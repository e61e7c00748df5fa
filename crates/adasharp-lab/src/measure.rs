//! The paper's sharpness measures, computed from a Hessian diagonal.
//!
//! Each evaluation yields a [`Sharpness`]: `tr(H)`, `tr(Diag(H)^(1/2))`, and where asked the
//! AdamE measure `tr(Diag(H)^(1-lambda))` and the Adam-mini/Adalayer block measure
//! `sum_B sqrt(|B| tr(H_BB))`, each for the raw Hessian and for its Gauss-Newton part (the
//! value on the zero-loss manifold).
//!
//! Under label noise the iterate jitters around the manifold, and a raw diagonal entry can be
//! negative (the DLN's `4 v_i^2 - 2 g_w,i` with `v_i ~ 0`). Powers below one of such entries are
//! taken of `max(H_ii, 0)`, and [`Sharpness::clipped`] counts the entries that were negative.

use adasharp_optim::{BlockRule, PartitionReport};
use serde::{Deserialize, Serialize};

/// The Hessian diagonal of one parameter tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDiag {
    /// The parameter's path in the module (`u`, `layers.0.weight`).
    pub path: String,
    /// The parameter's dims.
    pub dims: Vec<usize>,
    /// `diag(H)`, row-major.
    pub raw: Vec<f64>,
    /// The Gauss-Newton diagonal, if known.
    pub ggn: Option<Vec<f64>>,
}

/// One evaluation of the sharpness measures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sharpness {
    /// How the diagonal was obtained (`closed form`, `exact (HVP)`, `hutchinson(64)`).
    pub method: String,
    /// `tr(H) = sum_i H_ii`.
    pub trace: f64,
    /// `tr(Diag(H)^(1/2)) = sum_i sqrt(max(H_ii, 0))`.
    pub trace_sqrt_diag: f64,
    /// Number of negative diagonal entries clipped to zero.
    pub clipped: usize,
    /// `tr(G)` of the Gauss-Newton matrix `G`.
    pub ggn_trace: Option<f64>,
    /// `tr(Diag(G)^(1/2))`.
    pub ggn_trace_sqrt_diag: Option<f64>,
    /// `tr(Diag(H)^(1-lambda))` for an AdamE run.
    pub trace_diag_pow: Option<f64>,
    /// `tr(Diag(G)^(1-lambda))`.
    pub ggn_trace_diag_pow: Option<f64>,
    /// `sum_B sqrt(|B| tr(H_BB))` over the optimizer's blocks, for Adam-mini and Adalayer.
    pub block_sqrt_trace: Option<f64>,
    /// The same with `G` in place of `H`.
    pub ggn_block_sqrt_trace: Option<f64>,
}

impl Sharpness {
    /// Computes every measure from per-parameter diagonals.
    ///
    /// `lambda` adds the AdamE measure; `partition` (from `AdamMiniConfig::partition`) adds the
    /// block measure with exactly the optimizer's blocks.
    pub fn from_diag(
        method: &str,
        diag: &[ParamDiag],
        lambda: Option<f64>,
        partition: Option<&PartitionReport>,
    ) -> Self {
        let raw: Vec<f64> = diag.iter().flat_map(|p| p.raw.iter().copied()).collect();
        let ggn: Option<Vec<f64>> = diag
            .iter()
            .map(|p| p.ggn.clone())
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat());
        let block = |pick: &dyn Fn(&ParamDiag) -> Option<&Vec<f64>>| {
            partition.and_then(|report| block_sqrt_trace(diag, report, pick))
        };
        Sharpness {
            method: method.to_string(),
            trace: raw.iter().sum(),
            trace_sqrt_diag: trace_diag_pow(&raw, 0.5),
            clipped: raw.iter().filter(|h| **h < 0.0).count(),
            ggn_trace: ggn.as_ref().map(|g| g.iter().sum()),
            ggn_trace_sqrt_diag: ggn.as_ref().map(|g| trace_diag_pow(g, 0.5)),
            trace_diag_pow: lambda.map(|l| trace_diag_pow(&raw, 1.0 - l)),
            ggn_trace_diag_pow: lambda
                .and_then(|l| ggn.as_ref().map(|g| trace_diag_pow(g, 1.0 - l))),
            block_sqrt_trace: block(&|p| Some(&p.raw)),
            ggn_block_sqrt_trace: block(&|p| p.ggn.as_ref()),
        }
    }

    /// The measures as `(column, value)` pairs; absent measures are left out.
    pub fn columns(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("tr_h", self.trace),
            ("tr_sqrt_diag_h", self.trace_sqrt_diag),
            ("clipped", self.clipped as f64),
        ];
        let optional = [
            ("tr_ggn", self.ggn_trace),
            ("tr_sqrt_diag_ggn", self.ggn_trace_sqrt_diag),
            ("tr_diag_pow_h", self.trace_diag_pow),
            ("tr_diag_pow_ggn", self.ggn_trace_diag_pow),
            ("block_sqrt_tr_h", self.block_sqrt_trace),
            ("block_sqrt_tr_ggn", self.ggn_block_sqrt_trace),
        ];
        out.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        out
    }
}

/// `tr(Diag(H)^p) = sum_i max(H_ii, 0)^p`.
pub fn trace_diag_pow(diag: &[f64], p: f64) -> f64 {
    let pow = |h: f64| if p == 0.5 { h.sqrt() } else { h.powf(p) };
    diag.iter().map(|h| pow(h.max(0.0))).sum()
}

/// `sum_B sqrt(|B| max(tr(H_BB), 0))` with the blocks of `report`, or `None` when a parameter
/// of `diag` is missing from the report or has no diagonal.
pub fn block_sqrt_trace(
    diag: &[ParamDiag],
    report: &PartitionReport,
    pick: &dyn Fn(&ParamDiag) -> Option<&Vec<f64>>,
) -> Option<f64> {
    let mut total = 0.0;
    for param in diag {
        let entry = report.entry(&param.path)?;
        let values = pick(param)?;
        let blocks = entry.rule.num_blocks(&param.dims);
        let size = entry.rule.block_size(&param.dims) as f64;
        let mut traces = vec![0.0; blocks];
        for (i, h) in values.iter().enumerate() {
            traces[block_of(entry.rule, &param.dims, i)] += h;
        }
        total += traces
            .iter()
            .map(|t| (size * t.max(0.0)).sqrt())
            .sum::<f64>();
    }
    Some(total)
}

/// The block holding flat (row-major) coordinate `i` of a tensor of `dims` under `rule`,
/// following the 2-D view `[rows, cols]` of `adasharp_optim::BlockRule`.
pub fn block_of(rule: BlockRule, dims: &[usize], i: usize) -> usize {
    if dims.len() < 2 {
        return if rule == BlockRule::Element { i } else { 0 };
    }
    let cols = dims[dims.len() - 1];
    match rule {
        BlockRule::Element => i,
        BlockRule::Tensor => 0,
        BlockRule::Rows => i / cols,
        BlockRule::Columns => i % cols,
        BlockRule::Heads { n_heads } => (i % cols) / (cols / n_heads),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag() -> Vec<ParamDiag> {
        vec![ParamDiag {
            path: "w".into(),
            dims: vec![2, 2],
            raw: vec![4.0, 1.0, 9.0, -1.0],
            ggn: Some(vec![4.0, 1.0, 9.0, 0.0]),
        }]
    }

    #[test]
    fn trace_and_sqrt_trace_clip_negative_entries() {
        let s = Sharpness::from_diag("test", &diag(), Some(0.0), None);
        assert_eq!(s.trace, 13.0);
        assert_eq!(s.trace_sqrt_diag, 2.0 + 1.0 + 3.0);
        assert_eq!(s.clipped, 1);
        assert_eq!(s.ggn_trace, Some(14.0));
        // lambda = 0: tr(Diag(H)^1) of the clipped diagonal.
        assert_eq!(s.trace_diag_pow, Some(14.0));
    }

    #[test]
    fn block_index_follows_rows_columns_and_heads() {
        let dims = [2, 4];
        let cols: Vec<usize> = (0..8)
            .map(|i| block_of(BlockRule::Columns, &dims, i))
            .collect();
        assert_eq!(cols, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        let rows: Vec<usize> = (0..8)
            .map(|i| block_of(BlockRule::Rows, &dims, i))
            .collect();
        assert_eq!(rows, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        let heads = BlockRule::Heads { n_heads: 2 };
        let h: Vec<usize> = (0..8).map(|i| block_of(heads, &dims, i)).collect();
        assert_eq!(h, vec![0, 0, 1, 1, 0, 0, 1, 1]);
        assert_eq!(block_of(BlockRule::Columns, &[5], 3), 0);
    }
}
