//! Bindings of the geometry and BMAS rewards: `parse_boxes`, `parse_boxes_batch`,
//! `iou_reward`, `bmas`, `bmas_batch`. Inputs are converted once (strings and arrays are
//! borrowed, not copied), the GIL is released for the work, and batches run over rayon.

use std::borrow::Cow;

use modomodo_core::bmas::{bmas as bmas_core, bmas_batch as bmas_batch_core, Embeddings};
use modomodo_core::boxes::{self, BBox, Coords, Frame};
use modomodo_core::iou::{self, IouConfig, Solution};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::{short_repr, IntoPyResult};
use crate::texts::{text_of, Texts};

type Size = (f64, f64);
type PyBox = (f64, f64, f64, f64);

/// Two numbers from the items of an exact tuple or list of length 2: the usual size,
/// read without the generic sequence conversion.
fn number_pair(obj: &Bound<'_, PyAny>) -> Option<Size> {
    let both = |w: PyResult<Bound<'_, PyAny>>, h: PyResult<Bound<'_, PyAny>>| {
        Some((w.ok()?.extract::<f64>().ok()?, h.ok()?.extract::<f64>().ok()?))
    };
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        return if t.len() == 2 { both(t.get_item(0), t.get_item(1)) } else { None };
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return if l.len() == 2 { both(l.get_item(0), l.get_item(1)) } else { None };
    }
    None
}

/// An image size: `None`, a sequence of two numbers `(w, h)`, an array (anything with
/// `tolist()`), or a mapping with `width` and `height`. `name` names it in the error.
fn size_of(obj: &Bound<'_, PyAny>, name: impl FnOnce() -> String) -> PyResult<Option<Size>> {
    if obj.is_none() {
        return Ok(None);
    }
    if let Some(size) = number_pair(obj) {
        return Ok(Some(size));
    }
    let pair = |o: &Bound<'_, PyAny>| match o.extract::<Vec<f64>>() {
        Ok(v) if v.len() == 2 && !o.is_instance_of::<PyString>() => Some((v[0], v[1])),
        _ => None,
    };
    let found = pair(obj).or_else(|| obj.call_method0("tolist").ok().and_then(|l| pair(&l))).or_else(|| {
        let d = obj.cast::<PyDict>().ok()?;
        let w = d.get_item("width").ok()??.extract::<f64>().ok()?;
        let h = d.get_item("height").ok()??.extract::<f64>().ok()?;
        Some((w, h))
    });
    found.map(Some).ok_or_else(|| {
        PyValueError::new_err(format!("invalid {} {}: expected (width, height) or None", name(), short_repr(obj)))
    })
}

fn sizes_of(obj: Option<&Bound<'_, PyAny>>, items: &str, n: usize) -> PyResult<Option<Vec<Option<Size>>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let sizes: Vec<Bound<'_, PyAny>> = obj.extract().map_err(|_| {
        PyValueError::new_err("invalid image_sizes: expected a list with one (width, height) or None per item")
    })?;
    if sizes.len() != n {
        return Err(modomodo_core::Error::length_mismatch(items, n, "image_sizes", sizes.len())).py();
    }
    sizes.iter().enumerate().map(|(i, o)| size_of(o, || format!("image_sizes[{i}]"))).collect::<PyResult<_>>().map(Some)
}

fn as_tuples(boxes: Vec<BBox>) -> Vec<PyBox> {
    boxes.into_iter().map(|[a, b, c, d]| (a, b, c, d)).collect()
}

/// Every box in `text`, in order, as absolute `(x1, y1, x2, y2)`.
#[pyfunction]
#[pyo3(signature = (text, coords = "absolute", image_size = None))]
fn parse_boxes(
    py: Python<'_>,
    text: Bound<'_, PyString>,
    coords: &str,
    image_size: Option<Bound<'_, PyAny>>,
) -> PyResult<Vec<PyBox>> {
    let size = match &image_size {
        Some(s) => size_of(s, || "image_size".to_string())?,
        None => None,
    };
    let frame = Frame::new(Coords::parse(coords).py()?, size).py()?;
    let text = text_of(&text);
    let boxes = py.detach(|| boxes::parse_boxes_in(&text, &frame));
    Ok(as_tuples(boxes))
}

/// `parse_boxes` of each text, in order, over threads; one image size (or None) per text.
#[pyfunction]
#[pyo3(signature = (texts, coords = "absolute", image_sizes = None))]
fn parse_boxes_batch(
    py: Python<'_>,
    texts: Bound<'_, PyAny>,
    coords: &str,
    image_sizes: Option<Bound<'_, PyAny>>,
) -> PyResult<Vec<Vec<PyBox>>> {
    let texts = Texts::new(&texts, "texts")?;
    let strs = texts.strs()?;
    let sizes = sizes_of(image_sizes.as_ref(), "texts", strs.len())?;
    let out = py.detach(|| boxes::parse_boxes_batch(&strs, coords, sizes.as_deref())).py()?;
    Ok(out.into_iter().map(as_tuples).collect())
}

/// A number of a gold box: an exact `float` or `int` (not `bool`), read without the
/// generic conversion.
fn plain_number(item: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = item.cast_exact::<PyFloat>() {
        return Some(f.value());
    }
    if item.is_exact_instance_of::<PyInt>() {
        return item.extract::<f64>().ok();
    }
    None
}

/// Four plain numbers from `item(0..4)`.
fn four_numbers<'py>(item: impl Fn(usize) -> Option<Bound<'py, PyAny>>) -> Option<BBox> {
    Some([plain_number(&item(0)?)?, plain_number(&item(1)?)?, plain_number(&item(2)?)?, plain_number(&item(3)?)?])
}

/// One box as an exact list or tuple of four plain numbers.
fn plain_box(obj: &Bound<'_, PyAny>) -> Option<BBox> {
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return (l.len() == 4).then(|| four_numbers(|i| l.get_item(i).ok())).flatten();
    }
    let t = obj.cast_exact::<PyTuple>().ok()?;
    (t.len() == 4).then(|| four_numbers(|i| t.get_item(i).ok())).flatten()
}

/// The boxes of `n` items `item(0..n)`: one box of four plain numbers, or boxes.
fn boxes_of_items<'py>(n: usize, item: impl Fn(usize) -> Option<Bound<'py, PyAny>>) -> Option<Vec<BBox>> {
    if n == 4 {
        if let Some(one) = four_numbers(&item) {
            return Some(vec![one]);
        }
    }
    (0..n).map(|i| plain_box(&item(i)?)).collect()
}

/// The usual gold boxes, read first and without raising: an exact list or tuple that is
/// one box of four plain numbers, empty, or a list of such boxes. `None`: the general
/// path of [`solution_of`] decides.
fn plain_boxes(obj: &Bound<'_, PyAny>) -> Option<Vec<BBox>> {
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return boxes_of_items(l.len(), |i| l.get_item(i).ok());
    }
    let t = obj.cast_exact::<PyTuple>().ok()?;
    boxes_of_items(t.len(), |i| t.get_item(i).ok())
}

/// The numbers of a contiguous numpy array of element type `T`, and its shape.
fn array_numbers<T: Element + Copy>(obj: &Bound<'_, PyAny>, to_f64: fn(T) -> f64) -> Option<(Vec<f64>, Vec<usize>)> {
    let array = obj.cast::<PyArrayDyn<T>>().ok()?;
    let numbers = array.to_vec().ok()?.into_iter().map(to_f64).collect();
    Some((numbers, array.shape().to_vec()))
}

/// Gold boxes as a numpy array of floats or integers: shape (4,) is one box, (0,) none,
/// (k, 4) k boxes. `None` for other arrays: the general path decides.
fn array_boxes(obj: &Bound<'_, PyAny>) -> Option<Vec<BBox>> {
    let (numbers, shape) = array_numbers::<f64>(obj, |v| v)
        .or_else(|| array_numbers::<f32>(obj, f64::from))
        .or_else(|| array_numbers::<i64>(obj, |v| v as f64))
        .or_else(|| array_numbers::<i32>(obj, f64::from))?;
    let boxes = numbers.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]).collect();
    match shape[..] {
        [4] | [0] | [_, 4] => Some(boxes),
        _ => None,
    }
}

/// A solution: text (borrowed from the `str`), one box (four numbers) or a list of boxes
/// (lists, tuples, or arrays: anything with `tolist()`); a dict or a list of dicts
/// (e.g. `[{'Position': [...]}]`) is read through its Python literal.
fn solution_of<'a>(obj: &'a Bound<'_, PyAny>, i: usize) -> PyResult<Solution<Cow<'a, str>>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Solution::Text(text_of(s)));
    }
    if let Some(boxes) = plain_boxes(obj) {
        return Ok(Solution::Boxes(boxes));
    }
    if obj.is_instance_of::<PyUntypedArray>() {
        if let Some(boxes) = array_boxes(obj) {
            return Ok(Solution::Boxes(boxes));
        }
    }
    let holds_dicts = obj.is_instance_of::<PyDict>()
        || ((obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>())
            && obj.try_iter()?.any(|x| x.map(|x| x.is_instance_of::<PyDict>()).unwrap_or(false)));
    if holds_dicts {
        return Ok(Solution::Text(Cow::Owned(obj.repr()?.to_string())));
    }
    if obj.hasattr("tolist")? && !obj.is_instance_of::<PyList>() {
        // torch tensors and other arrays
        return Ok(match solution_of(&obj.call_method0("tolist")?, i)? {
            Solution::Text(t) => Solution::Text(Cow::Owned(t.into_owned())),
            Solution::Boxes(b) => Solution::Boxes(b),
        });
    }
    if let Ok(v) = obj.extract::<Vec<f64>>() {
        if let [a, b, c, d] = v[..] {
            return Ok(Solution::Boxes(vec![[a, b, c, d]]));
        }
        if v.is_empty() {
            return Ok(Solution::Boxes(vec![]));
        }
    } else if let Ok(vs) = obj.extract::<Vec<Vec<f64>>>() {
        if vs.iter().all(|v| v.len() == 4) {
            return Ok(Solution::Boxes(vs.into_iter().map(|v| [v[0], v[1], v[2], v[3]]).collect()));
        }
    }
    Err(PyValueError::new_err(format!(
        "invalid solutions[{i}] {}: expected a box [x1, y1, x2, y2], a list of boxes, or text",
        short_repr(obj)
    )))
}

/// The IoU reward of each completion against its solution, in order.
#[pyfunction]
#[pyo3(signature = (completions, solutions, mode = "continuous", threshold = 0.5, coords = "absolute", image_sizes = None))]
fn iou_reward(
    py: Python<'_>,
    completions: Bound<'_, PyAny>,
    solutions: Vec<Bound<'_, PyAny>>,
    mode: &str,
    threshold: f64,
    coords: &str,
    image_sizes: Option<Bound<'_, PyAny>>,
) -> PyResult<Vec<f64>> {
    let completions = Texts::new(&completions, "completions")?;
    let completions = completions.strs()?;
    let cfg = IouConfig::new(mode, threshold, coords).py()?;
    if solutions.len() != completions.len() {
        return Err(modomodo_core::Error::length_mismatch(
            "completions",
            completions.len(),
            "solutions",
            solutions.len(),
        ))
        .py();
    }
    let sizes = sizes_of(image_sizes.as_ref(), "completions", completions.len())?;
    let sols = solutions.iter().enumerate().map(|(i, s)| solution_of(s, i)).collect::<PyResult<Vec<_>>>()?;
    py.detach(|| iou::iou_reward(&completions, &sols, &cfg, sizes.as_deref())).py()
}

fn embeddings<'a>(a: &'a PyReadonlyArray2<'_, f32>, name: &str) -> PyResult<Embeddings<'a>> {
    let shape = a.shape();
    let data = a.as_slice().map_err(|_| {
        PyValueError::new_err(format!("invalid {name}: expected a C-contiguous float32 array of shape [n_tokens, dim]"))
    })?;
    Embeddings::new(data, shape[0], shape[1]).py()
}

/// BMAS of one response's token embeddings against the gold's, both float32 [n, dim].
#[pyfunction]
fn bmas(py: Python<'_>, response: PyReadonlyArray2<'_, f32>, gold: PyReadonlyArray2<'_, f32>) -> PyResult<f64> {
    let r = embeddings(&response, "response")?;
    let g = embeddings(&gold, "gold")?;
    py.detach(|| bmas_core(&r, &g)).py()
}

/// BMAS of each (response, gold) pair, in order, over threads.
#[pyfunction]
fn bmas_batch(
    py: Python<'_>,
    responses: Vec<PyReadonlyArray2<'_, f32>>,
    golds: Vec<PyReadonlyArray2<'_, f32>>,
) -> PyResult<Vec<f64>> {
    let rs = responses
        .iter()
        .enumerate()
        .map(|(i, a)| embeddings(a, &format!("responses[{i}]")))
        .collect::<PyResult<Vec<_>>>()?;
    let gs =
        golds.iter().enumerate().map(|(i, a)| embeddings(a, &format!("golds[{i}]"))).collect::<PyResult<Vec<_>>>()?;
    py.detach(|| bmas_batch_core(&rs, &gs)).py()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_boxes, m)?)?;
    m.add_function(wrap_pyfunction!(parse_boxes_batch, m)?)?;
    m.add_function(wrap_pyfunction!(iou_reward, m)?)?;
    m.add_function(wrap_pyfunction!(bmas, m)?)?;
    m.add_function(wrap_pyfunction!(bmas_batch, m)?)?;
    Ok(())
}
