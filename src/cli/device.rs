//! The Burn device a command runs on, with its float precision set once for the process.

use adasharp_lab::Dtype;
use burn::tensor::{Device, FloatDType};

use super::CliError;

/// The backends this build knows, for messages.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut names = vec!["flex"];
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    names
}

/// A plain (non-autodiff) device of `backend` whose default float dtype is `dtype`.
///
/// The dtype is process-global per device and can be set once: call this once per process.
pub fn make_device(backend: &str, dtype: Dtype) -> Result<Device, CliError> {
    let mut device = match backend {
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(Default::default()),
        other => {
            let known = compiled_backends().join(", ");
            return Err(CliError::usage(format!(
                "unknown or not compiled backend `{other}`; this build has: {known} \
                 (ndarray and wgpu need the cargo features of the same names)"
            )));
        }
    };
    let float = match dtype {
        Dtype::F32 => FloatDType::F32,
        Dtype::F64 => FloatDType::F64,
    };
    device
        .configure(float)
        .map_err(|e| CliError::usage(format!("cannot use {dtype:?} on {backend}: {e:?}")))?;
    Ok(device)
}
