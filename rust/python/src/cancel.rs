//! Cancellation from Python (docs/limits.md): a `CancelToken` shared with the core, and the
//! runner under `crate::enter`, the one way a binding call enters the core. It runs the core
//! with the GIL released and the token current; on the main thread it runs the core on a
//! scoped worker thread and polls `Python::check_signals` every 20 ms meanwhile, so Ctrl-C
//! (KeyboardInterrupt) fires the token and the call returns within ~0.1 s.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use scaleplan_core::cancel::{self, Cancel};
use scaleplan_core::limits;

/// How often the main thread looks at pending signals while the core runs.
const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// A cancellation token: pass it as `cancel=` to a planner, call `cancel()` from another
/// thread (or let `timeout_s` pass) and the planner raises `scaleplan.errors.Cancelled`.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct CancelToken(pub Cancel);

#[pymethods]
impl CancelToken {
    #[new]
    #[pyo3(signature = (timeout_s=None))]
    fn new(timeout_s: Option<f64>) -> PyResult<Self> {
        match timeout_s {
            None => Ok(CancelToken(Cancel::new())),
            Some(t) if t.is_finite() && t >= 0.0 => {
                // Durations beyond ~584 years are as good as none.
                let d = Duration::try_from_secs_f64(t.min(1.8e10)).unwrap_or(Duration::MAX);
                Ok(CancelToken(match Instant::now().checked_add(d) {
                    Some(at) => Cancel::with_deadline(at),
                    None => Cancel::new(),
                }))
            }
            Some(t) => Err(pyo3::exceptions::PyValueError::new_err(format!(
                "timeout_s: must be a finite number >= 0, got {t}"
            ))),
        }
    }

    /// Fire the token: a call using it stops within ~0.1 s and raises `Cancelled`.
    fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether `cancel()` was called or the timeout has passed.
    #[getter]
    fn cancelled(&self) -> bool {
        self.0.is_fired()
    }

    /// Whether the timeout (if any) has passed.
    #[getter]
    fn expired(&self) -> bool {
        self.0.is_expired()
    }

    fn __repr__(&self) -> String {
        format!(
            "CancelToken(cancelled={}, expired={})",
            self.0.is_cancelled(),
            self.0.is_expired()
        )
    }
}

fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let main = threading.call_method0("main_thread")?;
    let current = threading.call_method0("current_thread")?;
    Ok(main.is(&current))
}

/// Run `f` (the core's work; called only by `crate::enter`) with the GIL released and `token`
/// current; KeyboardInterrupt (or any exception a signal handler raises) on the main thread
/// fires the token, waits for the core to stop and is returned. `inline`: run on the calling
/// thread even on the main thread (short work: Ctrl-C is seen when it returns).
pub fn run<T: Send>(
    py: Python<'_>,
    token: Option<&CancelToken>,
    inline: bool,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let token = token.map_or_else(Cancel::new, |t| t.0.clone());
    if inline || !on_main_thread(py)? {
        return Ok(py.detach(|| cancel::scope(&token, f)));
    }
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        let worker_token = token.clone();
        s.spawn(move || {
            // The receiver outlives the scope, so the send cannot fail.
            let _ = tx.send(cancel::scope(&worker_token, f));
        });
        let mut rx = rx;
        loop {
            // The receiver is Send but not Sync: hand it to the detached closure and back.
            let (back, received) = py.detach(move || {
                let r = rx.recv_timeout(SIGNAL_POLL);
                (rx, r)
            });
            rx = back;
            match received {
                Ok(result) => return Ok(result),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(err) = py.check_signals() {
                        token.cancel();
                        // The core sees the flag at its next loop head; its result is dropped.
                        let _ = py.detach(move || rx.recv());
                        return Err(err);
                    }
                }
                // The worker panicked: the scope's join re-raises the panic, which PyO3 turns
                // into a PanicException.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "the planning thread stopped without a result",
                    ))
                }
            }
        }
    })
}

/// Elements of a binding's own loop over a batch between two looks at the call's token: one
/// element prices in ~0.1-1 us, so a fired token is seen within ~1 ms of work.
pub const POLL_EVERY: usize = 1024;

/// At the head of a binding's own loop over a batch (element `i`): `Err(Cancelled)` once the
/// call's token has fired, looked at every [`POLL_EVERY`] elements.
#[inline]
pub fn poll(i: usize) -> Result<(), scaleplan_core::PlanError> {
    if i % POLL_EVERY == 0 {
        cancel::check()
    } else {
        Ok(())
    }
}

/// A result being built by a binding's loop (the columns of a huge batch). Dropped because the
/// call was cancelled, its memory is freed on a thread of its own: freeing the ~1 GB of a
/// partial 10^7-row cost took ~0.1 s, which Ctrl-C would otherwise wait for.
pub struct Partial<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> Partial<T> {
    pub fn new(value: T) -> Self {
        Partial(Some(value))
    }

    /// The finished result.
    pub fn into_inner(mut self) -> T {
        self.0
            .take()
            .expect("a Partial holds its value until taken")
    }
}

impl<T: Send + 'static> std::ops::Deref for Partial<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("a Partial holds its value until taken")
    }
}

impl<T: Send + 'static> std::ops::DerefMut for Partial<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("a Partial holds its value until taken")
    }
}

impl<T: Send + 'static> Drop for Partial<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            if cancel::fired() {
                // If no thread can be started, the value is dropped here, as it would be.
                let _ = std::thread::Builder::new().spawn(move || drop(value));
            }
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CancelToken>()?;
    m.add("MAX_SAMPLES", limits::MAX_SAMPLES)?;
    m.add("MAX_MAJORITY_SAMPLES", limits::MAX_MAJORITY_SAMPLES)?;
    m.add("MEASURED_TABLE_SAMPLES", limits::MEASURED_TABLE_SAMPLES)?;
    m.add("MAX_SEARCH_STEPS", limits::MAX_SEARCH_STEPS)?;
    // Parallel streams (ParScale) the cost model prices, for the façade's messages.
    m.add("MAX_STREAMS", limits::MAX_STREAMS as u32)?;
    Ok(())
}
