//! The one error type of the core. Every variant carries the field it is about and its other
//! context as data (where in the input: `Location`; the preset that lacks a model; the limit
//! exceeded), so each surface (Python exception, gRPC details, CLI message) builds its own text
//! from it (docs/limits.md, "Errors").

use std::fmt;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// An argument is out of its domain (NaN, infinite, non-positive, not a whole number, ...).
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },

    /// A catalog lookup by name failed. `preset` names the accuracy preset that referenced the
    /// name, when the lookup was one of its models.
    #[error("{field}: {}", unknown_name(*kind, name, known, preset.as_deref()))]
    UnknownName {
        field: String,
        kind: NameKind,
        name: String,
        known: Vec<String>,
        // Boxed: keeps PlanError small (it is the Err of every Result of the core).
        preset: Option<Box<str>>,
    },

    /// A catalog file or entry is malformed, or the file cannot be read. `entry` and `field`
    /// are absent for an error about the whole file (unreadable, not TOML).
    #[error(
        "catalog {file}: {}{}{reason}",
        .entry.as_ref().map(|e| format!("{e}: ")).unwrap_or_default(),
        .field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
    )]
    Catalog {
        file: String,
        entry: Option<String>,
        field: Option<String>,
        reason: String,
    },

    /// A request is larger than a limit of the core (docs/limits.md) or of the caller (sweep
    /// length, number of runs, ...).
    #[error("{field}: {}", exceeds(*got, *limit))]
    LimitExceeded { field: String, limit: u64, got: u64 },

    /// The call's cancellation token fired (`deadline`: by its deadline) before it finished
    /// (docs/limits.md).
    #[error("{}", if *.deadline { "deadline exceeded: the plan was stopped" } else { "cancelled: the plan was stopped" })]
    Cancelled { deadline: bool },

    /// Any of the errors above, about one element of a broadcast batch or one row of an input
    /// file (docs/limits.md, "Errors"). Built with [`PlanError::at_index`] and
    /// [`PlanError::at_row`]; never nests (the location is merged instead).
    #[error("{error} ({at})")]
    Located { at: Location, error: Box<PlanError> },
}

fn exceeds(got: u64, limit: u64) -> String {
    format!("{got} exceeds the limit of {limit}")
}

fn unknown_name(kind: NameKind, name: &str, known: &[String], preset: Option<&str>) -> String {
    let known = known.join(", ");
    match preset {
        // The name may well be in the catalog: the preset has no accuracy for it.
        Some(p) => format!("accuracy preset '{p}' has no {kind} '{name}' (it has: {known})"),
        None => format!("unknown {kind} '{name}' (known: {known})"),
    }
}

/// Where in the input an error is. Every part is optional; a surface shows what it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Element of a broadcast batch (0-based, in the flattened order of the call's arrays).
    pub index: Option<usize>,
    /// Row of an input file (1-based, the header not counted).
    pub row: Option<usize>,
    /// The input file.
    pub file: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.clone());
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if let Some(i) = self.index {
            parts.push(format!("element {i}"));
        }
        f.write_str(&parts.join(" "))
    }
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
            | PlanError::LimitExceeded { field, .. } => *field = name.to_string(),
            PlanError::Catalog { field, .. } => *field = Some(name.to_string()),
            PlanError::Located { error, .. } => **error = error.as_ref().clone().for_field(name),
            PlanError::Cancelled { .. } => {}
        }
        self
    }

    /// The input field the error is about ("" for an error about a whole catalog file).
    #[inline]
    pub fn field(&self) -> &str {
        match self {
            PlanError::InvalidArgument { field, .. }
            | PlanError::UnknownName { field, .. }
            | PlanError::LimitExceeded { field, .. } => field,
            PlanError::Catalog { field, .. } => field.as_deref().unwrap_or(""),
            PlanError::Located { error, .. } => error.field(),
            PlanError::Cancelled { .. } => "cancel",
        }
    }

    /// What is wrong, without the field or the location: the message of an error about a field
    /// is `"{field}: {reason}"`; for the others (a catalog file, a cancelled call) it is the
    /// whole message.
    pub fn reason(&self) -> String {
        match self {
            PlanError::InvalidArgument { reason, .. } => reason.clone(),
            PlanError::UnknownName {
                kind,
                name,
                known,
                preset,
                ..
            } => unknown_name(*kind, name, known, preset.as_deref()),
            PlanError::LimitExceeded { limit, got, .. } => exceeds(*got, *limit),
            PlanError::Located { error, .. } => error.reason(),
            PlanError::Catalog { .. } | PlanError::Cancelled { .. } => self.to_string(),
        }
    }

    /// Whether the message is `"{field}: {reason}"` (an error about an input field).
    pub fn names_field(&self) -> bool {
        matches!(
            self.kind(),
            PlanError::InvalidArgument { .. }
                | PlanError::UnknownName { .. }
                | PlanError::LimitExceeded { .. }
        )
    }

    /// The error without its location.
    pub fn kind(&self) -> &PlanError {
        match self {
            PlanError::Located { error, .. } => error,
            other => other,
        }
    }

    /// Where in the input the error is, if a caller said.
    pub fn location(&self) -> Option<&Location> {
        match self {
            PlanError::Located { at, .. } => Some(at),
            _ => None,
        }
    }

    fn locate(self, update: impl FnOnce(&mut Location)) -> Self {
        match self {
            // Stopping is about the call, not about an element of it.
            PlanError::Cancelled { .. } => self,
            PlanError::Located { mut at, error } => {
                update(&mut at);
                PlanError::Located { at, error }
            }
            error => {
                let mut at = Location::default();
                update(&mut at);
                PlanError::Located {
                    at,
                    error: Box::new(error),
                }
            }
        }
    }

    /// The same error, about element `index` of a broadcast batch.
    pub fn at_index(self, index: usize) -> Self {
        self.locate(|at| at.index = Some(index))
    }

    /// The same error, about row `row` (1-based) of the input file `file`. Replaces an element
    /// index: the row says the same thing in the user's terms.
    pub fn at_row(self, file: Option<&str>, row: usize) -> Self {
        self.locate(|at| {
            at.index = None;
            at.row = Some(row);
            at.file = file.map(str::to_string);
        })
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
