#!/usr/bin/env bash
# Backend parity and GPU timings on a machine with a GPU (e.g. NVIDIA with its Vulkan driver).
#
# 1. Runs the parity suites with every backend required (wgpu must find an adapter).
# 2. Times the optimizer step and curvature benchmarks on wgpu, then on Flex for comparison,
#    and prints the ratio tables.
#
# Usage: scripts/gpu-check.sh   (from anywhere; about 15-25 minutes including the build)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName" || true

CI=1 cargo test --release --workspace --all-features --test parity --test parity_curvature \
    -- --nocapture

for backend in wgpu flex; do
    echo "== benchmarks on $backend =="
    ADASHARP_BENCH_BACKEND=$backend cargo bench --all-features --bench optim_step --bench curvature
    cargo bench --all-features --bench perf_report | tee "target/perf-$backend.md"
done
