//! The extension module `modomodo._core`: a thin layer over `modomodo-core`.
//!
//! Each submodule converts Python inputs to Rust data, releases the GIL for the work
//! (`py.detach`), and converts the result back. Errors are mapped in `errors.rs` only.

use pyo3::prelude::*;

mod errors;
mod rewards;
mod boxes;
mod sampler;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    rewards::register(m)?;
    boxes::register(m)?;
    sampler::register(m)?;
    Ok(())
}
