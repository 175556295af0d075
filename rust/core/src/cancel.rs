//! Cooperative cancellation of a planning call (docs/limits.md).
//!
//! A [`Cancel`] token is a shared flag plus an optional deadline. A caller makes it current for
//! one call with [`scope`]; the loops of the core poll [`fired`] at their heads (a thread-local
//! read and an atomic load, the clock only every few polls) and, once it fired, stop early with
//! whatever they hold. Results computed after that are meaningless, so every public planning
//! entry point ends with [`check`], which turns a fired token into `PlanError::Cancelled`: a
//! cancelled call returns that error, never a plan.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{PlanError, Result};

/// A cancellation flag shared between the caller and the computation, with an optional deadline.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Cancel {
    /// A token that fires only when [`Cancel::cancel`] is called.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// A token that also fires at `deadline`.
    pub fn with_deadline(deadline: Instant) -> Self {
        Cancel {
            flag: Arc::default(),
            deadline: Some(deadline),
        }
    }

    /// Fire the token (from any thread).
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Cancelled or expired.
    pub fn is_fired(&self) -> bool {
        self.is_cancelled() || self.is_expired()
    }

    /// The error a call stopped by this token returns.
    pub fn error(&self) -> PlanError {
        PlanError::Cancelled {
            deadline: !self.is_cancelled() && self.is_expired(),
        }
    }
}

/// Polls between two reads of the clock; a poll sits at a loop head whose body prices at least
/// one configuration (~0.1-1 us), so the deadline is seen within ~0.1 ms of work.
const CLOCK_EVERY: u32 = 64;

thread_local! {
    static CURRENT: RefCell<Option<Cancel>> = const { RefCell::new(None) };
    static FIRED: Cell<bool> = const { Cell::new(false) };
    static POLLS: Cell<u32> = const { Cell::new(0) };
}

/// Restores the previous token when the scope ends (also on unwinding).
struct Restore(Option<Cancel>, bool);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        FIRED.with(|f| f.set(self.1));
    }
}

/// Run `f` with `token` current on this thread.
pub fn scope<T>(token: &Cancel, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(token.clone()));
    let was_fired = FIRED.with(|f| f.replace(false));
    let _restore = Restore(previous, was_fired);
    f()
}

/// The current call's token (None outside any [`scope`]), for work that leaves this thread
/// (the fit's bootstrap runs on rayon's workers, which do not see this thread's token).
pub fn current() -> Option<Cancel> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Whether the current call's token has fired (false outside any [`scope`]). Once true it stays
/// true for the rest of the scope.
#[inline]
pub fn fired() -> bool {
    if FIRED.with(Cell::get) {
        return true;
    }
    let now = CURRENT.with(|c| {
        let c = c.borrow();
        let Some(token) = c.as_ref() else {
            return false;
        };
        if token.is_cancelled() {
            return true;
        }
        token.deadline.is_some() && {
            let polls = POLLS.with(|p| {
                let n = p.get().wrapping_add(1);
                p.set(n);
                n
            });
            polls % CLOCK_EVERY == 0 && token.is_expired()
        }
    });
    if now {
        FIRED.with(|f| f.set(true));
    }
    now
}

/// `Err(PlanError::Cancelled)` when the current call's token has fired. Reads the clock, so
/// an expired deadline is seen here even between two polls of [`fired`].
pub fn check() -> Result<()> {
    let err = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|t| (FIRED.with(Cell::get) || t.is_fired()).then(|| t.error()))
    });
    match err {
        Some(e) => {
            FIRED.with(|f| f.set(true));
            Err(e)
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn outside_a_scope_nothing_fires() {
        assert!(!fired());
        assert!(check().is_ok());
    }

    #[test]
    fn a_cancelled_token_fires_inside_its_scope_only() {
        let t = Cancel::new();
        scope(&t, || assert!(!fired() && check().is_ok()));
        t.cancel();
        scope(&t, || {
            assert!(fired());
            assert_eq!(check(), Err(PlanError::Cancelled { deadline: false }));
        });
        assert!(!fired() && check().is_ok());
    }

    #[test]
    fn a_deadline_fires_and_is_reported_as_such() {
        let t = Cancel::with_deadline(Instant::now() - Duration::from_millis(1));
        scope(&t, || {
            assert_eq!(check(), Err(PlanError::Cancelled { deadline: true }));
            assert!(fired());
        });
        let t = Cancel::with_deadline(Instant::now() + Duration::from_secs(3600));
        scope(&t, || {
            assert!((0..1000).all(|_| !fired()));
            assert!(check().is_ok());
        });
    }

    #[test]
    fn scopes_nest_and_restore() {
        let outer = Cancel::new();
        outer.cancel();
        scope(&outer, || {
            assert!(fired());
            scope(&Cancel::new(), || assert!(!fired()));
            assert!(fired());
        });
    }
}
