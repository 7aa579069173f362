//! modomodo-core: verifiable rewards for multimodal RL and weighted multi-domain sampling.
//!
//! Pure Rust, no Python. Every function that reads model output is total: it never
//! panics, runs in time linear in its input, and scores garbage as 0.0. Bad *arguments*
//! (an unknown kind, mismatched lengths, a negative tolerance) are reported as [`Error`].

pub mod accuracy;
pub mod batch;
pub mod bmas;
pub mod boxes;
pub mod error;
pub mod iou;
pub mod numeric;
pub mod sampler;
pub mod text;

#[cfg(test)]
mod testing;

pub use error::{Error, Result};
