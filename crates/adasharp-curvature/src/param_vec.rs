//! Vectors in parameter space, kept as one flat tensor per parameter tensor.
//!
//! A Hessian acts on the concatenation of every float parameter of a module. Keeping one flat
//! tensor per parameter (rather than one long tensor) lets per-parameter and per-block
//! quantities (Adam-mini's `tr(H_BB)`) be read off without index bookkeeping, and keeps each
//! part in its parameter's dtype and on its device.
//!
//! Reductions ([`ParamVec::dot`], [`ParamVec::norm`]) sum each part on the device, read the
//! per-part sums back in one transfer and add them in `f64` on the host.

use std::collections::HashMap;
use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rand::Rng;
use rand_distr_free::standard_normal;

use crate::{CurvatureError, Result};

/// One parameter tensor's place in a [`ParamLayout`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSlot {
    /// The parameter's id (what optimizers and gradients are keyed by).
    pub id: ParamId,
    /// Dot-separated module path (`layers.0.weight`), as `adasharp_optim::module_params` names
    /// it.
    pub path: String,
    /// The tensor dims.
    pub dims: Vec<usize>,
    /// The parameter's float dtype; every vector part for this slot is kept in it.
    pub dtype: DType,
    /// Index of the slot's first coordinate in the concatenated (flat) vector.
    pub offset: usize,
}

impl ParamSlot {
    /// Number of coordinates.
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }
}

/// The float parameters of a module in module order: the coordinate system of a Hessian.
///
/// A parameter shared by several submodules (the same [`ParamId`] visited twice) gets one slot.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamLayout {
    slots: Vec<ParamSlot>,
    numel: usize,
    index: HashMap<ParamId, usize>,
}

impl ParamLayout {
    /// The layout of every float parameter of `module`.
    pub fn from_module<M: Module>(module: &M) -> Arc<Self> {
        let mut lister = Lister::default();
        module.visit(&mut lister);
        Arc::new(Self::from_slots(lister.slots))
    }

    /// A layout with a single parameter of `numel` coordinates, for operators that are not
    /// tied to a module (a dense matrix, a test problem).
    pub fn flat(path: &str, numel: usize, dtype: DType) -> Arc<Self> {
        Arc::new(Self::from_slots(vec![ParamSlot {
            id: ParamId::new(),
            path: path.to_string(),
            dims: vec![numel],
            dtype,
            offset: 0,
        }]))
    }

    fn from_slots(raw: Vec<ParamSlot>) -> Self {
        let mut slots: Vec<ParamSlot> = Vec::with_capacity(raw.len());
        let mut index = HashMap::new();
        let mut numel = 0;
        for mut slot in raw {
            if index.contains_key(&slot.id) {
                continue;
            }
            slot.offset = numel;
            numel += slot.numel();
            index.insert(slot.id, slots.len());
            slots.push(slot);
        }
        Self {
            slots,
            numel,
            index,
        }
    }

    /// The parameters, in module order.
    pub fn slots(&self) -> &[ParamSlot] {
        &self.slots
    }

    /// Total number of coordinates (the Hessian is `numel x numel`).
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// Number of parameter tensors.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Index of the slot holding parameter `id`.
    pub fn index_of(&self, id: ParamId) -> Option<usize> {
        self.index.get(&id).copied()
    }

    /// The slot holding the global (flat) coordinate `i`, and `i`'s index inside it.
    pub fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.numel {
            return None;
        }
        let slot = self.slots.partition_point(|s| s.offset <= i) - 1;
        Some((slot, i - self.slots[slot].offset))
    }
}

#[derive(Default)]
struct Lister {
    segments: Vec<String>,
    slots: Vec<ParamSlot>,
}

impl ModuleVisitor for Lister {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.segments.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.segments.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        self.slots.push(ParamSlot {
            id: param.id,
            path: self.segments.join("."),
            dims: value.dims().to_vec(),
            dtype: value.dtype(),
            offset: 0,
        });
    }
}

/// A vector in parameter space: one flat tensor per parameter of a [`ParamLayout`].
///
/// Tensors are kept without autodiff. Cloning is cheap (tensors are reference counted).
#[derive(Debug, Clone)]
pub struct ParamVec {
    layout: Arc<ParamLayout>,
    parts: Vec<Tensor<1>>,
}

impl ParamVec {
    /// A vector from its parts, one flat tensor per slot of `layout`, in slot order.
    ///
    /// Parts are moved off autodiff and cast to their slot's dtype.
    pub fn from_parts(layout: Arc<ParamLayout>, parts: Vec<Tensor<1>>) -> Result<Self> {
        if parts.len() != layout.len() {
            return Err(CurvatureError::LayoutMismatch(format!(
                "{} parts for a layout of {} parameters",
                parts.len(),
                layout.len()
            )));
        }
        let parts = parts
            .into_iter()
            .zip(layout.slots())
            .map(|(part, slot)| {
                if part.dims()[0] != slot.numel() {
                    return Err(CurvatureError::LayoutMismatch(format!(
                        "part of {} elements for parameter `{}` of {} elements",
                        part.dims()[0],
                        slot.path,
                        slot.numel()
                    )));
                }
                Ok(part.without_autodiff().cast(slot.dtype))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layout, parts })
    }

    /// The zero vector.
    pub fn zeros(layout: &Arc<ParamLayout>, device: &Device) -> Self {
        let parts = layout
            .slots()
            .iter()
            .map(|s| Tensor::zeros([s.numel()], (&device.clone().inner(), s.dtype)))
            .collect();
        Self {
            layout: layout.clone(),
            parts,
        }
    }

    /// A vector from its concatenated coordinates (module order, row-major within a tensor).
    pub fn from_flat(layout: &Arc<ParamLayout>, values: &[f64], device: &Device) -> Result<Self> {
        if values.len() != layout.numel() {
            return Err(CurvatureError::LayoutMismatch(format!(
                "{} values for a layout of {} coordinates",
                values.len(),
                layout.numel()
            )));
        }
        let device = device.clone().inner();
        let parts = layout
            .slots()
            .iter()
            .map(|s| {
                let chunk = values[s.offset..s.offset + s.numel()].to_vec();
                Tensor::from_data(TensorData::new(chunk, [s.numel()]), (&device, s.dtype))
            })
            .collect();
        Ok(Self {
            layout: layout.clone(),
            parts,
        })
    }

    /// Rademacher probe: every coordinate `+1` or `-1` with probability 1/2, drawn on the host
    /// from `rng` (so a seed gives the same vector on every backend).
    pub fn rademacher(layout: &Arc<ParamLayout>, device: &Device, rng: &mut impl Rng) -> Self {
        let values: Vec<f64> = (0..layout.numel())
            .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
            .collect();
        Self::from_flat(layout, &values, device).expect("length matches the layout")
    }

    /// Standard Gaussian vector (independent `N(0, 1)` coordinates), drawn on the host from
    /// `rng`.
    pub fn gaussian(layout: &Arc<ParamLayout>, device: &Device, rng: &mut impl Rng) -> Self {
        let values: Vec<f64> = (0..layout.numel()).map(|_| standard_normal(rng)).collect();
        Self::from_flat(layout, &values, device).expect("length matches the layout")
    }

    /// The unit vector `e_i` of global coordinate `i`.
    pub fn basis(layout: &Arc<ParamLayout>, device: &Device, i: usize) -> Result<Self> {
        let (slot, local) = layout.locate(i).ok_or_else(|| {
            CurvatureError::invalid("i", format!("{i} >= {} coordinates", layout.numel()))
        })?;
        let mut v = Self::zeros(layout, device);
        let part = v.parts[slot].clone();
        v.parts[slot] = part.slice_fill(local..local + 1, 1.0);
        Ok(v)
    }

    /// The layout.
    pub fn layout(&self) -> &Arc<ParamLayout> {
        &self.layout
    }

    /// The flat part of each parameter, in slot order.
    pub fn parts(&self) -> &[Tensor<1>] {
        &self.parts
    }

    /// Consumes the vector into its parts.
    pub fn into_parts(self) -> Vec<Tensor<1>> {
        self.parts
    }

    /// The part of parameter `id`, if the layout holds it.
    pub fn part(&self, id: ParamId) -> Option<&Tensor<1>> {
        self.layout.index_of(id).map(|i| &self.parts[i])
    }

    /// Total number of coordinates.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The device of the parts (without autodiff).
    pub fn device(&self) -> Device {
        self.parts[0].device()
    }

    fn check(&self, other: &Self) {
        assert!(
            Arc::ptr_eq(&self.layout, &other.layout) || self.layout == other.layout,
            "ParamVec operands have different layouts"
        );
    }

    /// Applies `f` to every part.
    pub fn map(&self, f: impl Fn(Tensor<1>) -> Tensor<1>) -> Self {
        Self {
            layout: self.layout.clone(),
            parts: self.parts.iter().cloned().map(f).collect(),
        }
    }

    /// Applies `f` to every pair of parts.
    ///
    /// # Panics
    /// If the layouts differ.
    pub fn zip_map(&self, other: &Self, f: impl Fn(Tensor<1>, Tensor<1>) -> Tensor<1>) -> Self {
        self.check(other);
        let parts = self
            .parts
            .iter()
            .zip(&other.parts)
            .map(|(a, b)| f(a.clone(), b.clone()))
            .collect();
        Self {
            layout: self.layout.clone(),
            parts,
        }
    }

    /// `self + a * x`.
    pub fn axpy(&self, a: f64, x: &Self) -> Self {
        self.zip_map(x, |s, x| s + x.mul_scalar(a))
    }

    /// `a * self`.
    pub fn scale(&self, a: f64) -> Self {
        self.map(|t| t.mul_scalar(a))
    }

    /// `self + other`.
    pub fn add(&self, other: &Self) -> Self {
        self.zip_map(other, |a, b| a + b)
    }

    /// `self - other`.
    pub fn sub(&self, other: &Self) -> Self {
        self.zip_map(other, |a, b| a - b)
    }

    /// Coordinate-wise product `self * other`.
    pub fn mul(&self, other: &Self) -> Self {
        self.zip_map(other, |a, b| a * b)
    }

    /// The sum of each part, read back in one transfer.
    pub fn part_sums(&self) -> Vec<f64> {
        // One read for all parts: they are concatenated, so they need one common dtype.
        let common = accumulation_dtype(self.parts[0].dtype());
        let sums: Vec<Tensor<1>> = self
            .parts
            .iter()
            .map(|p| {
                p.clone()
                    .cast(accumulation_dtype(p.dtype()))
                    .sum()
                    .cast(common)
            })
            .collect();
        read_f64(Tensor::cat(sums, 0))
    }

    /// Sum of all coordinates.
    pub fn sum(&self) -> f64 {
        self.part_sums().iter().sum()
    }

    /// Inner product `<self, other>`.
    pub fn dot(&self, other: &Self) -> f64 {
        self.mul(other).sum()
    }

    /// Squared Euclidean norm.
    pub fn norm_sq(&self) -> f64 {
        self.dot(self)
    }

    /// Euclidean norm.
    pub fn norm(&self) -> f64 {
        self.norm_sq().max(0.0).sqrt()
    }

    /// All coordinates, concatenated in slot order, as `f64`.
    pub fn to_flat(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.numel());
        for part in &self.parts {
            out.extend(read_f64(part.clone()));
        }
        out
    }

    /// Whether every coordinate is finite.
    pub fn is_finite(&self) -> bool {
        self.parts
            .iter()
            .all(|p| p.clone().is_finite().all().into_scalar::<bool>())
    }
}

/// The dtype sums are accumulated in: `f64` for `f64` parts, `f32` for every narrower type.
fn accumulation_dtype(dtype: DType) -> DType {
    match dtype {
        DType::F64 => DType::F64,
        _ => DType::F32,
    }
}

/// Reads a tensor back to the host as `f64` values.
pub(crate) fn read_f64(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .try_into_vec_as::<f64>()
        .expect("a float tensor converts to f64")
}

/// Gaussian sampling without an extra dependency: Box-Muller on two uniforms.
mod rand_distr_free {
    use rand::Rng;

    /// One standard normal draw.
    pub fn standard_normal(rng: &mut impl Rng) -> f64 {
        loop {
            let u: f64 = rng.random();
            if u > f64::MIN_POSITIVE {
                let v: f64 = rng.random();
                return (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            }
        }
    }
}

#[cfg(test)]
pub(crate) use rand_distr_free::standard_normal as normal_draw;
