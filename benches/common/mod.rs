//! What the benchmarks share: the device (chosen with `ADASHARP_BENCH_BACKEND`, flex by
//! default) and the benchmark models. Each bench binary uses part of it.
#![allow(dead_code)]

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

/// The MLP 784-512-512-10 of the optimizer benchmarks.
#[derive(Module, Debug)]
pub struct Mlp {
    l1: Linear,
    l2: Linear,
    l3: Linear,
}

/// The MLP 784-512-512-10, freshly initialized on `device`.
pub fn mlp(device: &Device) -> Mlp {
    Mlp {
        l1: LinearConfig::new(784, 512).init(device),
        l2: LinearConfig::new(512, 512).init(device),
        l3: LinearConfig::new(512, 10).init(device),
    }
}

/// A diagonal linear network's parameters `u`, `v` (20,000 parameters for d = 10,000).
#[derive(Module, Debug)]
pub struct Dln {
    u: Param<Tensor<1>>,
    v: Param<Tensor<1>>,
}

/// A DLN of dimension `d` with random parameters on `device`.
pub fn dln(d: usize, device: &Device) -> Dln {
    let random = || Param::from_tensor(Tensor::random([d], Distribution::Default, device));
    Dln {
        u: random(),
        v: random(),
    }
}

/// `flex` (default), `ndarray` or `wgpu` (the latter two when compiled in), with autodiff.
#[allow(deprecated)]
pub fn bench_device() -> Device {
    let name = std::env::var("ADASHARP_BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    let device = match name.as_str() {
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        other => panic!(
            "ADASHARP_BENCH_BACKEND={other} is not available; use flex, or ndarray/wgpu \
             with the cargo features of the same names"
        ),
    };
    eprintln!("benchmarking on {name}");
    device.autodiff()
}
