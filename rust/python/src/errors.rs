//! The one place where core errors become Python exceptions.

use modomodo_core::Error;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

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
