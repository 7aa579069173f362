//! The one error type of the core. Each variant names the bad value and what was expected;
//! the binding crate maps every variant to a Python exception in one place.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// An argument had a value outside its allowed set or range.
    /// `name` is the argument, `value` what was given, `expected` what is allowed.
    #[error("invalid {name} {value}: expected {expected}")]
    InvalidArgument { name: String, value: String, expected: String },

    /// Two parallel inputs had different lengths.
    #[error("length mismatch: {left_name} has {left} items but {right_name} has {right}")]
    LengthMismatch { left_name: String, left: usize, right_name: String, right: usize },

    /// A state (e.g. a sampler's saved state) could not be restored.
    #[error("invalid state: {0}")]
    InvalidState(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(name: &str, value: impl std::fmt::Debug, expected: &str) -> Self {
        Error::InvalidArgument { name: name.to_string(), value: format!("{value:?}"), expected: expected.to_string() }
    }

    pub fn length_mismatch(left_name: &str, left: usize, right_name: &str, right: usize) -> Self {
        Error::LengthMismatch { left_name: left_name.to_string(), left, right_name: right_name.to_string(), right }
    }
}
