//! Label-noise experiments on Burn.
