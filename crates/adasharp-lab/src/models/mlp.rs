//! A multilayer perceptron with `tanh` activations (smooth, so its Hessian is well defined).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::LabModel;
use crate::data::{matrix, vector};

/// `x -> Linear -> tanh -> ... -> Linear`, with Burn `Linear` layers.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// Layer widths `inputs, hidden..., outputs`; weights and biases uniform in
    /// `(-1/sqrt(fan_in), 1/sqrt(fan_in))`, drawn from a seeded generator so a run is
    /// reproducible whatever else shares the device.
    pub fn new(
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let widths: Vec<usize> = std::iter::once(inputs)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(outputs))
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| {
                let k = 1.0 / (w[0] as f64).sqrt();
                let mut draw =
                    |n: usize| -> Vec<f64> { (0..n).map(|_| rng.random_range(-k..k)).collect() };
                Linear {
                    weight: Param::from_tensor(matrix(&draw(w[0] * w[1]), w[0], w[1], device)),
                    bias: Some(Param::from_tensor(vector(&draw(w[1]), device))),
                }
            })
            .collect();
        Self { layers }
    }
}

impl LabModel for Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |h, (i, layer)| {
            let out = layer.forward(h);
            if i < last { tanh(out) } else { out }
        })
    }
}
