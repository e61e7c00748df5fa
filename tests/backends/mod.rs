//! The backends a parity test runs on: Flex always, NdArray and wgpu when compiled in.

use burn::tensor::Device;

/// A named autodiff device.
pub struct Backend {
    /// Short name for messages.
    pub name: &'static str,
    /// The autodiff device.
    pub device: Device,
}

/// Whether this run must cover every backend (set by CI).
fn strict() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

fn unavailable(name: &str, reason: &str) {
    if strict() {
        panic!("backend {name} is required when CI is set, but {reason}");
    }
    println!("SKIPPED backend {name}: {reason}");
}

/// Flex first (the reference), then every other backend that is compiled in and works.
#[allow(deprecated)]
pub fn enabled_backends() -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "flex",
        device: Device::flex().autodiff(),
    }];

    #[cfg(feature = "ndarray")]
    out.push(Backend {
        name: "ndarray",
        device: Device::ndarray().autodiff(),
    });
    #[cfg(not(feature = "ndarray"))]
    unavailable("ndarray", "the `ndarray` feature is not enabled");

    #[cfg(feature = "wgpu")]
    match wgpu_device() {
        Ok(device) => out.push(Backend {
            name: "wgpu",
            device,
        }),
        Err(reason) => unavailable("wgpu", &reason),
    }
    #[cfg(not(feature = "wgpu"))]
    unavailable("wgpu", "the `wgpu` feature is not enabled");

    out
}

/// The default wgpu adapter, if one answers a tiny computation.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    use burn::tensor::{DeviceKind, Tensor};
    let probe = std::thread::spawn(|| {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let x = Tensor::<1>::from_floats([1.0, 2.0], &device);
        x.sum().into_scalar::<f32>()
    })
    .join();
    match probe {
        Ok(3.0) => Ok(Device::wgpu(DeviceKind::DefaultDevice).autodiff()),
        Ok(sum) => Err(format!("the adapter computed 1 + 2 = {sum}")),
        Err(_) => Err(
            "no adapter could be initialized (install a Vulkan driver, e.g. \
                       `apt-get install -y mesa-vulkan-drivers libvulkan1`)"
                .into(),
        ),
    }
}
