//! Hessian-vector products from gradients, for any Burn module.
//!
//! Burn differentiates once, so `H v` is a directional derivative of the gradient taken by
//! finite differences:
//!
//! ```text
//! D(h) = (g(theta + h v) - g(theta - h v)) / (2 h)          central,    error O(h^2)
//! R(h) = (4 D(h/2) - D(h)) / 3                              Richardson, error O(h^4)
//! ```
//!
//! `D(h)` costs two gradients, `R(h)` four. For a loss that is a polynomial of degree at most
//! four in `theta` (a diagonal linear network or a depth-2 factorization under squared loss)
//! `g` is cubic, the `h^2` term is the only error of `D`, and `R` is exact up to rounding.
//!
//! # How the loss closure is called
//!
//! The closure receives a *copy* of the module whose float parameters are `theta + h v`, built
//! as fresh autodiff leaves (whatever device the original module is on, the copy's parameters
//! have autodiff enabled; input tensors without autodiff are treated as constants). It must
//! compute the scalar loss from that copy (never from a module it captured), return it as a
//! one-element tensor, and be deterministic: the two or four evaluations of one product are
//! differenced, so dropout, data shuffling, noise injection or any other randomness must be
//! switched off or fixed by the caller: pass a module whose dropout is off (`valid()` turns
//! Burn's training flags off; the copy keeps the module's flags), close over a fixed batch, and
//! draw random label noise once outside the closure. For randomness drawn from the device's
//! generator inside the forward pass (Burn's `Dropout`), [`Hvp::with_reseed`] reseeds the
//! generator before every evaluation, so all evaluations of one product see the same masks:
//! the product is then the Hessian of the loss under that one fixed mask.

use std::sync::Arc;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{DType, Device, Tensor};

use crate::operator::check_layout;
use crate::{CurvatureError, LinearOperator, OperatorCost, ParamLayout, ParamVec, Result};

/// The finite-difference scheme of an [`Hvp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FdScheme {
    /// `(g(theta + h v) - g(theta - h v)) / 2h`: two gradients, error `O(h^2)`.
    Central,
    /// `(4 D(h/2) - D(h)) / 3`: four gradients, error `O(h^4)`; exact for quartic losses.
    Richardson,
}

impl FdScheme {
    /// Gradients per product.
    pub fn gradients(&self) -> usize {
        match self {
            FdScheme::Central => 2,
            FdScheme::Richardson => 4,
        }
    }

    /// The default relative step for a dtype with machine epsilon `eps`: `eps^(1/3)` for
    /// central differences and `eps^(1/5)` for Richardson, which balance truncation against
    /// rounding error for a loss whose higher derivatives are of order one.
    pub fn default_base_step(&self, eps: f64) -> f64 {
        match self {
            FdScheme::Central => eps.cbrt(),
            FdScheme::Richardson => eps.powf(0.2),
        }
    }
}

/// How the finite-difference step `h` of an [`Hvp`] is chosen.
///
/// The perturbation is `theta +- h v`. With `rms(x) = ||x|| / sqrt(n)`, the relative policies
/// use `h = base * max(rms(theta), 1) / rms(v)`, so each coordinate moves by about
/// `base * max(rms(theta), 1)` whatever the scale of `v`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPolicy {
    /// `base` from the parameters' dtype and the scheme ([`FdScheme::default_base_step`]).
    Auto,
    /// A given `base`.
    Relative(f64),
    /// A fixed `h`, whatever the scales of `theta` and `v`.
    Absolute(f64),
}

/// What the last product of an [`Hvp`] used and how accurate it is believed to be.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HvpReport {
    /// The step `h` (Richardson also used `h / 2`).
    pub step: f64,
    /// `||H v||` of the returned product.
    pub norm: f64,
    /// Gap between the two schemes, `||D(h) - R(h)||` for central and `||R(h) - D(h/2)||` for
    /// Richardson, divided by `||H v||`; present when both were computed. For Richardson it is
    /// the error of the (worse) central estimate `D(h/2)`, hence a conservative bound.
    pub rel_error_estimate: Option<f64>,
}

/// The Hessian of `loss` at the module's parameters, as a [`LinearOperator`] computed from
/// gradients by finite differences.
///
/// See the [module documentation](self) for the formulas and for how `loss` is called.
///
/// The coordinates are the module's float parameters as stored (one slot per [`ParamId`],
/// shared parameters once). Limitations: a reparameterized parameter (LoRA) contributes its
/// stored base and its adapter factors as separate coordinates, not the merged weight; integer
/// and boolean tensors and batch-norm running statistics are not coordinates (the copies'
/// running statistics are discarded with the copies).
///
/// [`ParamId`]: burn::module::ParamId
///
/// ```
/// use adasharp_curvature::{FdScheme, Hvp, LinearOperator, ParamVec};
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor};
///
/// #[derive(Module, Debug)]
/// struct Point {
///     theta: Param<Tensor<1>>,
/// }
///
/// let device = Device::flex();
/// let model = Point { theta: Param::from_tensor(Tensor::from_floats([1.0, 2.0], &device)) };
/// // L(theta) = theta_0^2 theta_1 has Hessian [[2 theta_1, 2 theta_0], [2 theta_0, 0]].
/// let loss = |m: &Point| {
///     let t = m.theta.val();
///     t.clone().slice(0..1).powi_scalar(2) * t.slice(1..2)
/// };
/// let mut hvp = Hvp::new(&model, loss).unwrap().with_scheme(FdScheme::Richardson);
/// let e0 = ParamVec::basis(hvp.layout(), &device, 0).unwrap();
/// let column = hvp.apply(&e0).unwrap().to_flat();
/// assert!((column[0] - 4.0).abs() < 1e-3 && (column[1] - 2.0).abs() < 1e-3);
/// assert_eq!(hvp.cost().gradients, 4);
/// ```
pub struct Hvp<M, F> {
    module: M,
    layout: Arc<ParamLayout>,
    theta: ParamVec,
    theta_rms: f64,
    loss: F,
    scheme: FdScheme,
    step: StepPolicy,
    eps: f64,
    cost: OperatorCost,
    last: Option<HvpReport>,
    reseed: Option<u64>,
}

impl<M: Module, F: Fn(&M) -> Tensor<1>> Hvp<M, F> {
    /// The Hessian of `loss` at the current parameters of `module` (which is cloned, so later
    /// training does not move it), with central differences and [`StepPolicy::Auto`].
    pub fn new(module: &M, loss: F) -> Result<Self> {
        let layout = ParamLayout::from_module(module);
        if layout.numel() == 0 {
            return Err(CurvatureError::NoParameters);
        }
        let theta = parameters(module, &layout)?;
        let theta_rms = theta.norm() / (layout.numel() as f64).sqrt();
        let eps = layout
            .slots()
            .iter()
            .map(|s| machine_epsilon(s.dtype))
            .fold(0.0, f64::max);
        Ok(Self {
            module: module.clone(),
            layout,
            theta,
            theta_rms,
            loss,
            scheme: FdScheme::Central,
            step: StepPolicy::Auto,
            eps,
            cost: OperatorCost::default(),
            last: None,
            reseed: None,
        })
    }

    /// Reseeds the device's random generator with `seed` before every call of the loss closure,
    /// so dropout masks (and any other draw from the device generator) are identical across
    /// the gradients of one product. Limitation: the seed is per device and may be global to
    /// the backend, so other code drawing on that device concurrently would interfere.
    pub fn with_reseed(mut self, seed: u64) -> Self {
        self.reseed = Some(seed);
        self
    }

    /// Uses `scheme` for every product.
    pub fn with_scheme(mut self, scheme: FdScheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Uses `step` to choose `h`.
    pub fn with_step(mut self, step: StepPolicy) -> Self {
        self.step = step;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> FdScheme {
        self.scheme
    }

    /// The parameters `theta` the Hessian is taken at.
    pub fn theta(&self) -> &ParamVec {
        &self.theta
    }

    /// The module at `theta`.
    pub fn module(&self) -> &M {
        &self.module
    }

    /// Machine epsilon of the parameters' dtype (the widest epsilon if dtypes are mixed).
    pub fn epsilon(&self) -> f64 {
        self.eps
    }

    /// The report of the last product, if any.
    pub fn last_report(&self) -> Option<HvpReport> {
        self.last
    }

    /// The step `h` used for direction `v` (see [`StepPolicy`]).
    pub fn step_for(&self, v: &ParamVec) -> f64 {
        self.step_for_norm(v.norm())
    }

    fn step_for_norm(&self, v_norm: f64) -> f64 {
        let base = match self.step {
            StepPolicy::Absolute(h) => return h,
            StepPolicy::Relative(base) => base,
            StepPolicy::Auto => self.scheme.default_base_step(self.eps),
        };
        let v_rms = v_norm / (self.layout.numel() as f64).sqrt();
        base * self.theta_rms.max(1.0) / v_rms
    }

    /// The loss at `theta` (one forward pass, not counted as a gradient).
    pub fn loss(&self) -> Result<f64> {
        let loss = (self.loss)(&self.module);
        check_scalar(&loss)?;
        Ok(loss.into_scalar::<f64>())
    }

    /// The loss at an arbitrary point of parameter space (one forward pass, no gradient).
    pub fn loss_at(&self, point: &ParamVec) -> Result<f64> {
        check_layout(&self.layout, point)?;
        let mut perturb = Perturb {
            point,
            leaves: Vec::new(),
        };
        let copy = self.module.clone().map(&mut perturb);
        if let Some(seed) = self.reseed {
            point.device().seed(seed);
        }
        let loss = (self.loss)(&copy);
        check_scalar(&loss)?;
        Ok(loss.into_scalar::<f64>())
    }

    /// The loss and its gradient at `theta` (one gradient).
    pub fn loss_and_gradient(&mut self) -> Result<(f64, ParamVec)> {
        let theta = self.theta.clone();
        let (loss, grad) = self.gradient_at(&theta)?;
        Ok((loss.into_scalar::<f64>(), grad))
    }

    /// The gradient of the loss at an arbitrary point `point` of parameter space (one
    /// gradient). The returned loss tensor is the closure's value at `point`, without autodiff.
    pub fn gradient_at(&mut self, point: &ParamVec) -> Result<(Tensor<1>, ParamVec)> {
        check_layout(&self.layout, point)?;
        self.cost.gradients += 1;
        gradient_at(&self.module, point, self.reseed, &self.loss)
    }

    /// `D(h) = (g(theta + h v) - g(theta - h v)) / 2h`.
    fn central(&mut self, v: &ParamVec, h: f64) -> Result<ParamVec> {
        let plus = self.theta.axpy(h, v);
        let minus = self.theta.axpy(-h, v);
        let (_, g_plus) = self.gradient_at(&plus)?;
        let (_, g_minus) = self.gradient_at(&minus)?;
        Ok(g_plus.sub(&g_minus).scale(0.5 / h))
    }

    /// `H v` by Richardson extrapolation together with the central estimate at `h`, `h/2`.
    fn richardson(&mut self, v: &ParamVec, h: f64) -> Result<(ParamVec, ParamVec, ParamVec)> {
        let coarse = self.central(v, h)?;
        let fine = self.central(v, 0.5 * h)?;
        let extrapolated = fine.scale(4.0 / 3.0).axpy(-1.0 / 3.0, &coarse);
        Ok((extrapolated, coarse, fine))
    }

    /// `H v` with an error estimate, whatever the configured scheme: four gradients.
    ///
    /// Returns the configured scheme's product; the report's error is the gap to the other
    /// scheme (see [`HvpReport::rel_error_estimate`]).
    pub fn apply_with_error(&mut self, v: &ParamVec) -> Result<(ParamVec, HvpReport)> {
        check_layout(&self.layout, v)?;
        let h = self.checked_step(v.norm())?;
        self.cost.matvecs += 1;
        let (extrapolated, coarse, fine) = self.richardson(v, h)?;
        let (product, other) = match self.scheme {
            FdScheme::Central => (coarse, extrapolated),
            FdScheme::Richardson => (extrapolated, fine),
        };
        let norm = product.norm();
        let gap = product.sub(&other).norm();
        let report = HvpReport {
            step: h,
            norm,
            rel_error_estimate: Some(relative(gap, norm)),
        };
        self.finish(product, report)
    }

    fn checked_step(&self, v_norm: f64) -> Result<f64> {
        let h = self.step_for_norm(v_norm);
        if h.is_finite() && h > 0.0 {
            Ok(h)
        } else {
            Err(CurvatureError::invalid(
                "step",
                format!("finite-difference step {h} is not a finite positive number"),
            ))
        }
    }

    fn finish(&mut self, product: ParamVec, report: HvpReport) -> Result<(ParamVec, HvpReport)> {
        self.last = Some(report);
        if !report.norm.is_finite() {
            return Err(CurvatureError::NonFinite {
                what: format!("Hessian-vector product (step {})", report.step),
            });
        }
        Ok((product, report))
    }
}

impl<M: Module, F: Fn(&M) -> Tensor<1>> LinearOperator for Hvp<M, F> {
    fn layout(&self) -> &Arc<ParamLayout> {
        &self.layout
    }

    fn device(&self) -> Device {
        self.theta.device()
    }

    /// `H v` with the configured scheme. `H 0 = 0` costs nothing.
    fn apply(&mut self, v: &ParamVec) -> Result<ParamVec> {
        check_layout(&self.layout, v)?;
        let v_norm = v.norm();
        if v_norm == 0.0 {
            return Ok(ParamVec::zeros(&self.layout, &self.device()));
        }
        let h = self.checked_step(v_norm)?;
        self.cost.matvecs += 1;
        let (product, rel_error_estimate) = match self.scheme {
            FdScheme::Central => (self.central(v, h)?, None),
            FdScheme::Richardson => {
                let (extrapolated, _, fine) = self.richardson(v, h)?;
                let gap = extrapolated.sub(&fine).norm();
                (extrapolated, Some(gap))
            }
        };
        let norm = product.norm();
        let report = HvpReport {
            step: h,
            norm,
            rel_error_estimate: rel_error_estimate.map(|gap| relative(gap, norm)),
        };
        Ok(self.finish(product, report)?.0)
    }

    fn cost(&self) -> OperatorCost {
        self.cost
    }
}

impl<M: std::fmt::Debug, F> std::fmt::Debug for Hvp<M, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hvp")
            .field("numel", &self.layout.numel())
            .field("scheme", &self.scheme)
            .field("step", &self.step)
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

fn relative(gap: f64, norm: f64) -> f64 {
    if norm > 0.0 { gap / norm } else { gap }
}

/// Machine epsilon of a float dtype.
pub fn machine_epsilon(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F16 => 9.765625e-4,
        DType::BF16 => 7.8125e-3,
        _ => f32::EPSILON as f64,
    }
}

pub(crate) fn check_scalar(loss: &Tensor<1>) -> Result<()> {
    let dims = loss.dims();
    if dims == [1] {
        Ok(())
    } else {
        Err(CurvatureError::NonScalarLoss {
            dims: dims.to_vec(),
        })
    }
}

/// The current parameters of `module` as a vector on `layout`.
pub fn parameters<M: Module>(module: &M, layout: &Arc<ParamLayout>) -> Result<ParamVec> {
    let mut collector = Collector {
        layout,
        parts: vec![None; layout.len()],
    };
    module.visit(&mut collector);
    let parts = collector
        .parts
        .into_iter()
        .zip(layout.slots())
        .map(|(p, s)| {
            p.ok_or_else(|| {
                CurvatureError::LayoutMismatch(format!("the module has no parameter `{}`", s.path))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    ParamVec::from_parts(layout.clone(), parts)
}

struct Collector<'a> {
    layout: &'a ParamLayout,
    parts: Vec<Option<Tensor<1>>>,
}

impl ModuleVisitor for Collector<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(i) = self.layout.index_of(param.id)
            && self.parts[i].is_none()
        {
            let numel = self.layout.slots()[i].numel();
            self.parts[i] = Some(param.val().without_autodiff().reshape([numel]));
        }
    }
}

/// Replaces every float parameter by a fresh autodiff leaf holding `point`'s value, keeping the
/// leaves so their gradients can be read after the backward pass.
struct Perturb<'a> {
    point: &'a ParamVec,
    leaves: Vec<(usize, Tensor<1>)>,
}

impl ModuleMapper for Perturb<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, value, mapper) = param.consume();
        let Some(i) = self.point.layout().index_of(id) else {
            return Param::from_mapped_value(id, value, mapper);
        };
        let leaf = self.point.parts()[i]
            .clone()
            .cast(value.dtype())
            .autodiff()
            .require_grad();
        self.leaves.push((i, leaf.clone()));
        Param::from_mapped_value(id, leaf.reshape(value.dims()), mapper)
    }
}

/// `f` and its gradient at `point`, evaluated on a perturbed copy of `module`.
///
/// A parameter that `f` does not depend on gets a zero gradient.
pub(crate) fn gradient_at<M: Module>(
    module: &M,
    point: &ParamVec,
    reseed: Option<u64>,
    f: impl Fn(&M) -> Tensor<1>,
) -> Result<(Tensor<1>, ParamVec)> {
    let mut perturb = Perturb {
        point,
        leaves: Vec::new(),
    };
    let copy = module.clone().map(&mut perturb);
    if let Some(seed) = reseed {
        point.device().seed(seed);
    }
    let value = f(&copy);
    check_scalar(&value)?;
    let device = point.device();
    let zeros = ParamVec::zeros(point.layout(), &device);
    if !value.is_tracked() {
        return Ok((value.without_autodiff(), zeros));
    }
    let grads = value.backward();
    let mut parts: Vec<Option<Tensor<1>>> = vec![None; point.layout().len()];
    for (i, leaf) in perturb.leaves {
        if let Some(g) = leaf.grad(&grads) {
            parts[i] = Some(match parts[i].take() {
                Some(acc) => acc + g,
                None => g,
            });
        }
    }
    let parts = parts
        .into_iter()
        .zip(zeros.into_parts())
        .map(|(g, zero)| g.unwrap_or(zero))
        .collect();
    Ok((
        value.without_autodiff(),
        ParamVec::from_parts(point.layout().clone(), parts)?,
    ))
}
