//! The extension module `modomodo._core`: a thin layer over `modomodo-core`.
//!
//! Each submodule converts Python inputs to Rust data, releases the GIL for the work
//! (`py.detach`), and converts the result back. Errors are mapped in `errors.rs` only.

use pyo3::prelude::*;

/// The extension's Rust allocations (views of a batch, result vectors) go through
/// mimalloc, which keeps freed pages for reuse. With the system allocator a batch of a
/// few thousand items is above its mmap threshold, so every call mapped, faulted in and
/// unmapped fresh pages: ~25 ns per item in the reward benchmark (as polars does).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod boxes;
mod errors;
mod rewards;
mod sampler;
mod texts;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    rewards::register(m)?;
    boxes::register(m)?;
    sampler::register(m)?;
    Ok(())
}
