//! Binding of the mixture sampler: `MixtureSamplerCore`, wrapped by
//! `modomodo.sampling.MixtureSampler`. Items come one at a time through `__next__` (what a
//! DataLoader pulls; the state is exact after every item) or in bulk into a NumPy array with
//! the GIL released.

use modomodo_core::sampler::{Config, MixtureSampler, OnExhausted};
use numpy::{IntoPyArray, PyArray1, PyReadwriteArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::IntoPyResult;

/// The stream of one rank: indices into the concatenation of the domains.
#[pyclass(module = "modomodo._core", name = "MixtureSamplerCore")]
pub struct PyMixtureSampler {
    inner: MixtureSampler,
}

#[pymethods]
impl PyMixtureSampler {
    #[new]
    #[pyo3(signature = (
        names, sizes, weights, *, seed = 0, num_generations = 1, replacement = false,
        on_exhausted = "reshuffle", rank = 0, world_size = 1, batch_size = 1, repeat_count = 1
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        names: Vec<String>,
        sizes: Vec<u64>,
        weights: Vec<f64>,
        seed: u64,
        num_generations: u64,
        replacement: bool,
        on_exhausted: &str,
        rank: u64,
        world_size: u64,
        batch_size: u64,
        repeat_count: u64,
    ) -> PyResult<Self> {
        let cfg = Config {
            names,
            sizes,
            weights,
            seed,
            num_generations,
            replacement,
            on_exhausted: OnExhausted::parse(on_exhausted).py()?,
            rank,
            world_size,
            batch_size,
            repeat_count,
        };
        Ok(PyMixtureSampler { inner: MixtureSampler::new(cfg).py()? })
    }

    /// Starts an iteration (a complete epoch gives way to the next one) and returns self.
    /// `__iter__` itself has no effect, as an iterator's should.
    fn begin_epoch(mut slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        slf.inner.begin_epoch();
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next index of the current epoch.
    fn __next__(&mut self) -> Option<u64> {
        self.inner.next_in_epoch()
    }

    /// Items in the current epoch (see `MixtureSampler.__len__`).
    fn __len__(&self) -> usize {
        self.inner.epoch_len() as usize
    }

    /// The next `n` items (across epochs) as int64; shorter only if a finite stream ends.
    fn draw<'py>(&mut self, py: Python<'py>, n: usize) -> Bound<'py, PyArray1<i64>> {
        let inner = &mut self.inner;
        let out = py.detach(|| {
            let mut out = vec![0i64; n];
            let got = inner.fill(&mut out);
            out.truncate(got);
            out
        });
        out.into_pyarray(py)
    }

    /// Fills a contiguous int64 array with the next items (across epochs), in place; returns
    /// how many were written (fewer than its length only if a finite stream ends).
    fn fill(&mut self, py: Python<'_>, mut out: PyReadwriteArray1<'_, i64>) -> PyResult<usize> {
        let len = out.len();
        let slice = out.as_slice_mut().map_err(|_| {
            PyValueError::new_err(format!(
                "invalid out array of {len} items: expected a contiguous, writeable int64 array"
            ))
        })?;
        let inner = &mut self.inner;
        Ok(py.detach(|| inner.fill(slice)))
    }

    /// Skips `n` items (across epochs); returns how many were skipped.
    fn skip(&mut self, py: Python<'_>, n: u64) -> u64 {
        let inner = &mut self.inner;
        py.detach(|| inner.skip(n))
    }

    /// Moves forward to the start of epoch `epoch` (never backwards).
    fn set_epoch(&mut self, py: Python<'_>, epoch: u64) {
        let inner = &mut self.inner;
        py.detach(|| inner.set_epoch(epoch))
    }

    fn set_weights(&mut self, weights: Vec<f64>) -> PyResult<()> {
        self.inner.set_weights(&weights).py()
    }

    /// Current weights, normalised to sum 1.
    #[getter]
    fn weights(&self) -> Vec<f64> {
        self.inner.weights().to_vec()
    }

    /// Draws made for this rank per domain (each draw once, not per repetition).
    #[getter]
    fn counts(&self) -> Vec<u64> {
        self.inner.counts().to_vec()
    }

    /// Domains removed by `drop` mode.
    #[getter]
    fn dropped(&self) -> Vec<bool> {
        self.inner.dropped()
    }

    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// Items of the current epoch already yielded.
    #[getter]
    fn epoch_pos(&self) -> u64 {
        self.inner.epoch_pos()
    }

    /// Draws of the global stream made so far (all ranks' shares).
    #[getter]
    fn global_draws(&self) -> u64 {
        self.inner.global_draws()
    }

    /// True when the stream never ends (with replacement, or `reshuffle`).
    #[getter]
    fn infinite(&self) -> bool {
        self.inner.is_infinite()
    }

    /// Position of the domain holding `index`.
    fn domain_of(&self, index: u64) -> PyResult<usize> {
        self.inner.domain_of(index).py()
    }

    /// The exact state as a JSON string.
    fn state_json(&self) -> String {
        self.inner.state_json()
    }

    /// Restores a state from `state_json` of a sampler with the same configuration.
    fn load_state_json(&mut self, state: &str) -> PyResult<()> {
        self.inner.load_state_json(state).py()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMixtureSampler>()
}
