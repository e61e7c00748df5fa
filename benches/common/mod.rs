//! The device a benchmark runs on, chosen with `ADASHARP_BENCH_BACKEND` (flex by default).

use burn::tensor::Device;

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
