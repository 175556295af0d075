//! `_core.csv_lines`: result columns as CSV lines, formatted exactly as the CLI's Python CSV
//! writer formats them (docs/architecture.md, "Sweeps"), at ~20-40 ns a cell instead of ~1 us.
//!
//! The convention (python/scaleplan/commands/_output.py): NaN and None are empty cells; a whole
//! number below 2^53 in magnitude is written as an integer (`128`, not `128.0`; `-0.0` as `0`);
//! infinities as `inf` / `-inf`; every other number as Python's `repr` writes it (the shortest
//! digits that read back to the same float64, in exponent form when the decimal exponent is below
//! -4 or above 15: `1e-05`, `1.5e+16`); flags as `true` / `false`; text quoted only when it holds
//! a comma, a double quote or a line feed (quotes doubled), as Python's `csv` module does.
//! The shortest digits come from `zmij` (already in the build through serde_json).

use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyString};

/// The most rows one call formats (the writer calls it per slice of rows; this bounds the
/// returned buffer to a few tens of MB).
const MAX_ROWS: usize = 1 << 20;
const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

enum Column {
    /// The same cell on every row (already formatted and quoted).
    Repeat(String),
    Numbers(Vec<f64>),
    Flags(Vec<bool>),
    Texts(Vec<String>),
}

/// Appends `x` as the Python writer writes a float cell.
pub(crate) fn push_number(out: &mut Vec<u8>, x: f64, buffer: &mut zmij::Buffer) {
    if x.is_nan() {
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    // Whole and below 2^53: the cast round-trips exactly then (`fract` is a libm call).
    if x.abs() < EXACT && (x as i64) as f64 == x {
        let mut ints = itoa::Buffer::new();
        out.extend_from_slice(ints.format(x as i64).as_bytes());
        return;
    }
    push_repr(out, x, buffer);
}

/// Python's `repr` of a finite, non-zero float: shortest round-trip digits, exponent form when
/// the decimal point position `decpt` (value = 0.d1d2... x 10^decpt) is <= -4 or > 16.
fn push_repr(out: &mut Vec<u8>, x: f64, buffer: &mut zmij::Buffer) {
    let text = buffer.format_finite(x.abs());
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // At most 17 significant digits, plus the zeros zmij may write around them.
    let mut all = [0u8; 48];
    let mut len = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        if len < all.len() {
            all[len] = b;
            len += 1;
        }
    }
    let leading = all[..len].iter().take_while(|&&d| d == b'0').count();
    let decpt = int_part.len() as i32 + exponent - leading as i32;
    let mut end = len;
    while end > leading && all[end - 1] == b'0' {
        end -= 1;
    }
    let digits = &all[leading..end];
    if digits.is_empty() {
        out.push(b'0');
        return;
    }
    if x < 0.0 {
        out.push(b'-');
    }
    let k = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        if e.abs() < 10 {
            out.push(b'0');
        }
        let mut ints = itoa::Buffer::new();
        out.extend_from_slice(ints.format(e.abs()).as_bytes());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(digits);
    } else if decpt >= k {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (decpt - k) as usize));
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(&digits[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[decpt as usize..]);
    }
}

/// Appends a text cell, quoted as Python's csv module quotes it (QUOTE_MINIMAL with the
/// writer's "\n" line terminator: a comma, a double quote or a line feed; Python 3.11 leaves a
/// lone carriage return unquoted, and so does this).
fn push_text(out: &mut Vec<u8>, text: &str) {
    if text.contains([',', '"', '\n']) {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn column(value: &Bound<'_, PyAny>, index: usize, n: usize) -> PyResult<Column> {
    let mut buffer = zmij::Buffer::new();
    let length = |got: usize| -> PyResult<()> {
        if got == n {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "columns[{index}]: {got} values for {n} rows"
            )))
        }
    };
    if value.is_none() {
        return Ok(Column::Repeat(String::new()));
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        let text = if flag.is_true() { "true" } else { "false" };
        return Ok(Column::Repeat(text.to_owned()));
    }
    if value.is_instance_of::<PyFloat>() || value.is_instance_of::<PyInt>() {
        let mut out = Vec::new();
        if let Ok(i) = value.extract::<i64>() {
            let mut ints = itoa::Buffer::new();
            out.extend_from_slice(ints.format(i).as_bytes());
        } else {
            push_number(&mut out, value.extract::<f64>()?, &mut buffer);
        }
        return Ok(Column::Repeat(String::from_utf8(out).unwrap_or_default()));
    }
    if let Ok(text) = value.cast::<PyString>() {
        let mut out = Vec::new();
        push_text(&mut out, &text.to_cow()?);
        return Ok(Column::Repeat(String::from_utf8(out).unwrap_or_default()));
    }
    if let Ok(array) = value.cast::<PyArray1<f64>>() {
        length(array.len())?;
        return Ok(Column::Numbers(array.to_vec().unwrap_or_else(|_| {
            array.readonly().as_array().iter().copied().collect()
        })));
    }
    if let Ok(array) = value.cast::<PyArray1<bool>>() {
        length(array.len())?;
        return Ok(Column::Flags(
            array.readonly().as_array().iter().copied().collect(),
        ));
    }
    // Text arrays (numpy str or object arrays, lists): their items as Python strings.
    let list = if let Ok(list) = value.cast::<PyList>() {
        list.clone()
    } else {
        value
            .call_method0("tolist")
            .and_then(|l| l.cast_into::<PyList>().map_err(PyErr::from))
            .map_err(|_| {
                PyValueError::new_err(format!(
                    "columns[{index}]: expected None, a number, a string, a flag, a 1-D float64 \
                     or bool array, or a sequence of strings"
                ))
            })?
    };
    length(list.len())?;
    let mut texts = Vec::with_capacity(n);
    for item in list.iter() {
        let mut out = Vec::new();
        if item.is_none() {
        } else if let Ok(text) = item.cast::<PyString>() {
            push_text(&mut out, &text.to_cow()?);
        } else {
            push_text(&mut out, &item.str()?.to_cow()?);
        }
        texts.push(String::from_utf8(out).unwrap_or_default());
    }
    Ok(Column::Texts(texts))
}

/// `n` CSV lines (each ending in a newline) of `columns` in order, formatted as described in
/// this module's documentation. Each column is None, a number, a string or a flag (the same on
/// every row), a 1-D float64 or bool array of length `n`, or a sequence of `n` strings.
#[pyfunction]
fn csv_lines<'py>(
    py: Python<'py>,
    columns: Vec<Bound<'py, PyAny>>,
    n: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    if n > MAX_ROWS {
        return Err(PyValueError::new_err(format!(
            "n: at most {MAX_ROWS} rows per call, got {n}"
        )));
    }
    let columns = columns
        .iter()
        .enumerate()
        .map(|(i, c)| column(c, i, n))
        .collect::<PyResult<Vec<_>>>()?;
    let text = |out: &mut Vec<u8>| {
        out.clear();
        out.reserve(n * columns.len() * 12);
        let mut buffer = zmij::Buffer::new();
        for row in 0..n {
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match column {
                    Column::Repeat(text) => out.extend_from_slice(text.as_bytes()),
                    Column::Numbers(values) => push_number(out, values[row], &mut buffer),
                    Column::Flags(values) => {
                        out.extend_from_slice(if values[row] { b"true" } else { b"false" })
                    }
                    Column::Texts(values) => out.extend_from_slice(values[row].as_bytes()),
                }
            }
            // Python's csv writes a row of one empty field as "" (a blank line would read
            // back as no row).
            if columns.len() == 1 && out.last().is_none_or(|&b| b == b'\n') {
                out.extend_from_slice(b"\"\"");
            }
            out.push(b'\n');
        }
    };
    // One buffer per thread, kept between calls: a fresh one of tens of MB was mapped and
    // page-faulted in on every call (the sweep calls once per 65,536 rows).
    LINES.with_borrow_mut(|out| {
        py.detach(|| text(out));
        let bytes = PyBytes::new(py, out);
        if out.capacity() > KEEP_BYTES {
            *out = Vec::new();
        }
        Ok(bytes)
    })
}

/// The most bytes of a thread's line buffer kept between calls (a 65,536-row slice of the
/// sweep's 37 fields is ~20 MB).
const KEEP_BYTES: usize = 64 << 20;

thread_local! {
    static LINES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(csv_lines, m)?)
}
