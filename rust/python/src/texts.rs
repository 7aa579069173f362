//! Python `str` read as borrowed Rust text: one string, or a sequence for the batch calls.
//!
//! A batch call holds its texts while the GIL is released. The argument is first copied
//! into a private list (`list(arg)`: one C loop of reference increments) that owns a
//! reference to every string. Nothing else can reach that list and `str` objects are
//! immutable, so UTF-8 views into the strings stay valid until the list is dropped,
//! whatever other Python threads do meanwhile. Each item is then read through the C API
//! (a borrowed pointer and the string's own UTF-8 buffer): no reference counting and no
//! copy per item, which keeps the boundary at a few nanoseconds per string.

use std::borrow::Cow;
use std::ffi::c_char;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyFrozenSet, PyList, PySet, PyString};

/// A private list of `str` and the argument name it came from (for error messages).
pub struct Texts<'py> {
    list: Bound<'py, PyList>,
    name: &'static str,
}

impl<'py> Texts<'py> {
    /// `list(obj)`. Refused with a `TypeError` naming what was given: `None`, a bare `str`
    /// or `bytes` (they would be read as their characters or byte values), a `dict` (its
    /// keys would be scored) and a `set` (it has no order).
    pub fn new(obj: &Bound<'py, PyAny>, name: &'static str) -> PyResult<Self> {
        let refused = if obj.is_none() {
            Some("None")
        } else if obj.is_instance_of::<PyString>() {
            Some("one str")
        } else if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
            Some("bytes")
        } else if obj.is_instance_of::<PyDict>() {
            Some("a dict")
        } else if obj.is_instance_of::<PySet>() || obj.is_instance_of::<PyFrozenSet>() {
            Some("a set")
        } else {
            None
        };
        if let Some(given) = refused {
            return Err(PyTypeError::new_err(format!("invalid {name}: expected a list of str, got {given}")));
        }
        let list = obj
            .py()
            .get_type::<PyList>()
            .call1((obj,))
            .map_err(|e| PyTypeError::new_err(format!("invalid {name}: expected a list of str ({e})")))?
            .cast_into::<PyList>()?;
        Ok(Texts { list, name })
    }

    /// The text of every item, borrowed from the strings. Strings that are not valid
    /// UTF-8 (lone surrogates) are read lossily rather than refused; a non-`str` item is
    /// a `TypeError` naming its index and type.
    pub fn strs(&self) -> PyResult<Vec<Cow<'_, str>>> {
        let py = self.list.py();
        let n = self.list.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: `i < n` and the private list cannot change length; the item is a
            // borrowed reference kept alive by the list for as long as `self` lives.
            let item = unsafe { ffi::PyList_GetItem(self.list.as_ptr(), i as ffi::Py_ssize_t) };
            if unsafe { ffi::PyUnicode_Check(item) } == 0 {
                let ty = unsafe { Borrowed::from_ptr(py, item) }.get_type();
                let ty = ty.name().map(|s| s.to_string()).unwrap_or_else(|_| "?".into());
                return Err(PyTypeError::new_err(format!("invalid {}[{i}]: expected str, got {ty}", self.name)));
            }
            let mut size: ffi::Py_ssize_t = 0;
            // SAFETY: `item` is a str; the returned buffer is owned by the string (which
            // the private list keeps alive) and holds `size` bytes of valid UTF-8.
            let data: *const c_char = unsafe { ffi::PyUnicode_AsUTF8AndSize(item, &mut size) };
            if data.is_null() {
                drop(PyErr::take(py)); // surrogates: read lossily instead
                let s = unsafe { Borrowed::from_ptr(py, item) };
                out.push(Cow::Owned(s.cast::<PyString>()?.to_string_lossy().into_owned()));
            } else {
                let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) };
                out.push(Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) }));
            }
        }
        Ok(out)
    }
}

/// One Python `str` as `&str` without a copy; a string that is not valid UTF-8 (lone
/// surrogates) is read lossily rather than refused.
pub fn text_of<'a>(s: &'a Bound<'_, PyString>) -> Cow<'a, str> {
    match s.to_str() {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => s.to_string_lossy(),
    }
}
