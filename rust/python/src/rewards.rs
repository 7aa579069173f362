//! Bindings of the text rewards: `extract_answer`, `extract_answer_batch`,
//! `format_reward`, `accuracy_reward`, `chart_reward`, `math_verdicts`,
//! `math_answer_batch`. Batches take
//! sequences of `str` (the Python layer wraps a single string); strings are borrowed, not
//! copied, the GIL is released for the work, and rayon spreads it over threads with the
//! results in input order.

use modomodo_core::accuracy::{self, Kind, Verdict};
use modomodo_core::{batch, text};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyList, PyString};

use crate::errors::IntoPyResult;
use crate::texts::{text_of, Texts};

/// A Python list of the scores. Text rewards are 0.0 or 1.0, so those two float objects
/// are made once per call and shared, instead of one new float per completion.
pub fn score_list<'py>(py: Python<'py>, scores: &[f64]) -> PyResult<Bound<'py, PyList>> {
    let (zero, one) = (PyFloat::new(py, 0.0), PyFloat::new(py, 1.0));
    PyList::new(
        py,
        scores.iter().map(|&v| match v {
            0.0 if v.is_sign_positive() => zero.clone(),
            1.0 => one.clone(),
            _ => PyFloat::new(py, v),
        }),
    )
}

/// The trimmed content of the last `<answer>…</answer>` block, else of the last
/// balanced `\boxed{…}`, else `None`.
#[pyfunction]
fn extract_answer(py: Python<'_>, text: Bound<'_, PyString>) -> Option<String> {
    let text = text_of(&text);
    py.detach(|| text::extract_answer(&text).map(str::to_owned))
}

/// `extract_answer` of each text, in order.
#[pyfunction]
fn extract_answer_batch(py: Python<'_>, texts: Bound<'_, PyAny>) -> PyResult<Vec<Option<String>>> {
    let texts = Texts::new(&texts, "texts")?;
    let texts = texts.strs()?;
    Ok(py.detach(|| {
        use rayon::prelude::*;
        texts.par_iter().map(|t| text::extract_answer(t).map(str::to_owned)).collect()
    }))
}

/// The answer of each text as the `math` kind reads it (the answer block, else the boxes
/// an answer is split over joined by `, `, else the whole text), in order: what the
/// math-verify fallback is given.
#[pyfunction]
fn math_answer_batch(py: Python<'_>, texts: Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let texts = Texts::new(&texts, "texts")?;
    let texts = texts.strs()?;
    Ok(py.detach(|| batch::map_indices(texts.len(), |i| accuracy::math_answer_of(&texts[i]).into_owned())))
}

/// 1.0 when a completion has the required format (strict: `<think>…</think><answer>…</answer>`
/// and nothing else; lenient: an answer block), else 0.0.
#[pyfunction]
#[pyo3(signature = (completions, strict = true))]
fn format_reward<'py>(py: Python<'py>, completions: Bound<'py, PyAny>, strict: bool) -> PyResult<Bound<'py, PyList>> {
    let completions = Texts::new(&completions, "completions")?;
    let completions = completions.strs()?;
    score_list(py, &py.detach(|| accuracy::format_rewards(&completions, strict)))
}

/// Accuracy of each completion's answer against its solution, for one answer `kind`.
#[pyfunction]
#[pyo3(signature = (completions, solutions, kind = "auto", rel_tol = 1e-6))]
fn accuracy_reward<'py>(
    py: Python<'py>,
    completions: Bound<'py, PyAny>,
    solutions: Bound<'py, PyAny>,
    kind: &str,
    rel_tol: f64,
) -> PyResult<Bound<'py, PyList>> {
    let kind = Kind::parse(kind).py()?;
    let (completions, solutions) = (Texts::new(&completions, "completions")?, Texts::new(&solutions, "solutions")?);
    let (completions, solutions) = (completions.strs()?, solutions.strs()?);
    let scores = py.detach(|| accuracy::accuracy_rewards(&completions, &solutions, kind, rel_tol)).py()?;
    score_list(py, &scores)
}

/// ChartQA relaxed accuracy: numeric gold within `rel_tol` (relative), otherwise exact.
#[pyfunction]
#[pyo3(signature = (completions, solutions, rel_tol = 0.05))]
fn chart_reward<'py>(
    py: Python<'py>,
    completions: Bound<'py, PyAny>,
    solutions: Bound<'py, PyAny>,
    rel_tol: f64,
) -> PyResult<Bound<'py, PyList>> {
    let (completions, solutions) = (Texts::new(&completions, "completions")?, Texts::new(&solutions, "solutions")?);
    let (completions, solutions) = (completions.strs()?, solutions.strs()?);
    let scores = py.detach(|| accuracy::chart_rewards(&completions, &solutions, rel_tol)).py()?;
    score_list(py, &scores)
}

/// The Rust `math` check of each pair: 1 equal, 0 not equal, -1 undecided (the pairs
/// the optional math-verify fallback may look at).
#[pyfunction]
#[pyo3(signature = (completions, solutions, rel_tol = 1e-6))]
fn math_verdicts(
    py: Python<'_>,
    completions: Bound<'_, PyAny>,
    solutions: Bound<'_, PyAny>,
    rel_tol: f64,
) -> PyResult<Vec<i8>> {
    let (completions, solutions) = (Texts::new(&completions, "completions")?, Texts::new(&solutions, "solutions")?);
    let (completions, solutions) = (completions.strs()?, solutions.strs()?);
    let verdicts = py.detach(|| accuracy::math_verdicts(&completions, &solutions, rel_tol)).py()?;
    Ok(verdicts
        .into_iter()
        .map(|v| match v {
            Verdict::Equal => 1,
            Verdict::NotEqual => 0,
            Verdict::Unknown => -1,
        })
        .collect())
}

/// The cost of a batch call without the scoring: the texts converted and the GIL
/// released exactly as the rewards do, then 0.0 per completion. The reward benchmark
/// times it as the floor any Python-callable scorer pays for these lists.
#[pyfunction]
#[pyo3(signature = (completions, solutions = None))]
fn batch_floor<'py>(
    py: Python<'py>,
    completions: Bound<'py, PyAny>,
    solutions: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let completions = Texts::new(&completions, "completions")?;
    let solutions = solutions.map(|s| Texts::new(&s, "solutions")).transpose()?;
    let (completions, solutions) = (completions.strs()?, solutions.as_ref().map(Texts::strs).transpose()?);
    if let Some(s) = solutions.as_ref().filter(|s| s.len() != completions.len()) {
        return Err(modomodo_core::Error::length_mismatch("completions", completions.len(), "solutions", s.len())).py();
    }
    let scores = py.detach(|| {
        let n = completions.len();
        let lengths = |i: usize| completions[i].len() + solutions.as_ref().map_or(0, |s| s[i].len());
        batch::map_indices(n, |i| std::hint::black_box(lengths(i)) as f64 * 0.0)
    });
    score_list(py, &scores)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_floor, m)?)?;
    m.add_function(wrap_pyfunction!(extract_answer, m)?)?;
    m.add_function(wrap_pyfunction!(extract_answer_batch, m)?)?;
    m.add_function(wrap_pyfunction!(format_reward, m)?)?;
    m.add_function(wrap_pyfunction!(accuracy_reward, m)?)?;
    m.add_function(wrap_pyfunction!(chart_reward, m)?)?;
    m.add_function(wrap_pyfunction!(math_verdicts, m)?)?;
    m.add_function(wrap_pyfunction!(math_answer_batch, m)?)?;
    Ok(())
}
