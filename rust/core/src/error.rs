//! The one error type of the core. Every variant carries the field it is about, so each surface
//! (Python exception, gRPC field violation, CLI message) can name the offending input.

use std::fmt;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// An argument is out of its domain (NaN, infinite, non-positive, not a whole number, ...).
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },

    /// A catalog lookup by name failed.
    #[error("{field}: unknown {kind} '{name}' (known: {})", .known.join(", "))]
    UnknownName {
        field: String,
        kind: NameKind,
        name: String,
        known: Vec<String>,
    },

    /// A catalog file or entry is malformed.
    #[error("catalog {file}: {entry}: {field}: {reason}")]
    Catalog {
        file: String,
        entry: String,
        field: String,
        reason: String,
    },

    /// A request is larger than the configured limit (sweep length, grid size, ...).
    #[error("{field}: {got} exceeds the limit of {limit}")]
    LimitExceeded { field: String, limit: u64, got: u64 },

    /// The call's cancellation token fired (`deadline`: by its deadline) before it finished
    /// (docs/limits.md).
    #[error("{}", if *.deadline { "deadline exceeded: the plan was stopped" } else { "cancelled: the plan was stopped" })]
    Cancelled { deadline: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Hardware,
    Model,
    Family,
    Law,
    Option,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Hardware => "hardware",
            NameKind::Model => "model",
            NameKind::Family => "family",
            NameKind::Law => "law",
            NameKind::Option => "option",
        })
    }
}

impl PlanError {
    #[inline]
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        PlanError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error about another field: a surface that takes a list (`models`) reports
    /// a lookup of one of its entries under the list's name.
    pub fn for_field(mut self, name: &str) -> Self {
        match &mut self {
            PlanError::InvalidArgument { field, .. }
            | PlanError::UnknownName { field, .. }
            | PlanError::Catalog { field, .. }
            | PlanError::LimitExceeded { field, .. } => *field = name.to_string(),
            PlanError::Cancelled { .. } => {}
        }
        self
    }

    /// The input field the error is about.
    #[inline]
    pub fn field(&self) -> &str {
        match self {
            PlanError::InvalidArgument { field, .. }
            | PlanError::UnknownName { field, .. }
            | PlanError::Catalog { field, .. }
            | PlanError::LimitExceeded { field, .. } => field,
            PlanError::Cancelled { .. } => "cancel",
        }
    }
}

pub type Result<T> = std::result::Result<T, PlanError>;

/// Checks shared by every entry point: a number must be finite and inside its domain.
pub mod check {
    use super::{PlanError, Result};

    #[inline]
    pub fn finite(field: &str, v: f64) -> Result<f64> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(PlanError::invalid(
                field,
                format!("must be finite, got {v}"),
            ))
        }
    }

    #[inline]
    pub fn positive(field: &str, v: f64) -> Result<f64> {
        finite(field, v)?;
        if v > 0.0 {
            Ok(v)
        } else {
            Err(PlanError::invalid(field, format!("must be > 0, got {v}")))
        }
    }

    #[inline]
    pub fn non_negative(field: &str, v: f64) -> Result<f64> {
        finite(field, v)?;
        if v >= 0.0 {
            Ok(v)
        } else {
            Err(PlanError::invalid(field, format!("must be >= 0, got {v}")))
        }
    }

    /// A fraction in (0, 1], such as an efficiency.
    #[inline]
    pub fn unit_fraction(field: &str, v: f64) -> Result<f64> {
        positive(field, v)?;
        if v <= 1.0 {
            Ok(v)
        } else {
            Err(PlanError::invalid(
                field,
                format!("must be in (0, 1], got {v}"),
            ))
        }
    }

    /// A whole number >= `min` carried as f64 (numpy float arrays reach the core this way).
    #[inline]
    pub fn whole_at_least(field: &str, v: f64, min: f64) -> Result<f64> {
        finite(field, v)?;
        if v.fract() != 0.0 {
            return Err(PlanError::invalid(
                field,
                format!("must be a whole number, got {v}"),
            ));
        }
        if v < min {
            return Err(PlanError::invalid(
                field,
                format!("must be >= {min}, got {v}"),
            ));
        }
        Ok(v)
    }
}
