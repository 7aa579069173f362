//! The one place where core errors become Python exceptions.

use modomodo_core::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::PyErr;

/// Longest `repr` of a value quoted in an error message.
pub const MAX_REPR_CHARS: usize = 200;

/// `repr(obj)` for an error message, cut to [`MAX_REPR_CHARS`] characters with its full
/// length noted (a bad gold of millions of numbers must not make a 17 MB message).
pub fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let full = obj.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<unprintable>".to_string());
    match full.char_indices().nth(MAX_REPR_CHARS) {
        Some((cut, _)) => format!("{}… ({} characters in all)", &full[..cut], full.chars().count()),
        None => full,
    }
}

pub fn to_py(err: Error) -> PyErr {
    match err {
        Error::InvalidArgument { .. } | Error::LengthMismatch { .. } | Error::InvalidState(_) => {
            PyValueError::new_err(err.to_string())
        }
    }
}

/// `core_result.map_err(to_py)` shorthand.
pub trait IntoPyResult<T> {
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for modomodo_core::Result<T> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
