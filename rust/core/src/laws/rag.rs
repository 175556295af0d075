//! The computation allocation model of long-context RAG (Yue et al. 2024, arXiv:2410.04343;
//! docs/design.md#rag-allocation): the predicted metric P of a configuration theta = (documents
//! k, in-context examples m, iterations n) given the informativeness of one document and of one
//! example, and its refit by least squares from a user's own grid (docs/fitting.md#rag-law).
//!
//!   sigma^-1(P) = (a + b * i)^T ln(theta + 0.01) + c,   i = (i_doc, i_shot, 0)
//!   sigma(x)    = scale / (1 + exp(-slope (x + shift))) + offset
//!
//! P lies in sigma's open range (offset, offset + scale): with the paper's constants a normalised
//! metric in (-2.18, 1.12).

use serde::{Deserialize, Serialize};

use crate::cancel;
use crate::error::{check, PlanError, Result};

/// Added to each of k, m, n before the log, so zero documents or examples are allowed.
pub const RAG_LOG_OFFSET: f64 = 0.01;

/// Tokens a document counts for at most: the paper truncates each retrieved document to this
/// length, and the law was fitted with it (docs/planning.md#rag).
pub const RAG_DOC_TOKEN_CAP: f64 = 1024.0;

/// Rows a refit accepts (docs/limits.md): its memory and work are linear in them.
pub const MAX_RAG_FIT_ROWS: usize = 1 << 20;

/// sigma(x) = scale / (1 + exp(-slope (x + shift))) + offset.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RagSigma {
    pub scale: f64,
    pub slope: f64,
    pub shift: f64,
    pub offset: f64,
}

impl RagSigma {
    pub fn validate(&self) -> Result<()> {
        check::positive("sigma.scale", self.scale)?;
        check::positive("sigma.slope", self.slope)?;
        check::finite("sigma.shift", self.shift)?;
        check::finite("sigma.offset", self.offset)?;
        Ok(())
    }

    pub fn apply(&self, x: f64) -> f64 {
        self.scale / (1.0 + (-self.slope * (x + self.shift)).exp()) + self.offset
    }

    /// sigma^-1(p); an error naming `field` when p is outside sigma's open range.
    pub fn inverse(&self, field: &str, p: f64) -> Result<f64> {
        check::finite(field, p)?;
        let u = (p - self.offset) / self.scale;
        if !(u > 0.0 && u < 1.0) {
            return Err(PlanError::invalid(
                field,
                format!(
                    "must lie strictly between {} and {} (the range of the law's sigma), got {p}",
                    self.offset,
                    self.offset + self.scale
                ),
            ));
        }
        Ok(-((1.0 / u) - 1.0).ln() / self.slope - self.shift)
    }

    /// The lowest and highest P the law can predict (open bounds).
    pub fn range(&self) -> (f64, f64) {
        (self.offset, self.offset + self.scale)
    }
}

/// A computation allocation model: a = (a_doc, a_shot, a_iter), b = (b_doc, b_shot) (the
/// iterations have no informativeness term), c, and sigma.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RagLaw {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    pub a: [f64; 3],
    pub b: [f64; 2],
    pub c: f64,
    pub sigma: RagSigma,
}

/// Informativeness of one retrieved document and of one in-context example, as the user
/// measured it (docs/planning.md#rag).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Informativeness {
    pub doc: f64,
    pub shot: f64,
}

impl Informativeness {
    pub fn new(doc: f64, shot: f64) -> Result<Self> {
        Ok(Informativeness {
            doc: check::non_negative("i_doc", doc)?,
            shot: check::non_negative("i_shot", shot)?,
        })
    }
}

impl RagLaw {
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(PlanError::invalid("name", "must not be empty"));
        }
        for (i, v) in self.a.iter().enumerate() {
            check::finite(&format!("a[{i}]"), *v)?;
        }
        for (i, v) in self.b.iter().enumerate() {
            check::finite(&format!("b[{i}]"), *v)?;
        }
        check::finite("c", self.c)?;
        self.sigma.validate()
    }

    /// The coefficients of ln(k + 0.01), ln(m + 0.01), ln(n + 0.01) at this informativeness.
    pub fn slopes(&self, i: Informativeness) -> [f64; 3] {
        [
            self.a[0] + self.b[0] * i.doc,
            self.a[1] + self.b[1] * i.shot,
            self.a[2],
        ]
    }

    /// sigma^-1(P) at (k, m, n).
    pub fn logit(&self, i: Informativeness, k: f64, m: f64, n: f64) -> f64 {
        let s = self.slopes(i);
        s[0] * (k + RAG_LOG_OFFSET).ln()
            + s[1] * (m + RAG_LOG_OFFSET).ln()
            + s[2] * (n + RAG_LOG_OFFSET).ln()
            + self.c
    }

    /// P at (k, m, n) with every argument checked (k, m >= 0, n > 0, informativeness >= 0).
    pub fn metric_checked(&self, i_doc: f64, i_shot: f64, k: f64, m: f64, n: f64) -> Result<f64> {
        check::non_negative("documents", k)?;
        check::non_negative("shots", m)?;
        check::positive("iterations", n)?;
        let info = Informativeness::new(i_doc, i_shot)?;
        Ok(self.metric(info, k, m, n))
    }

    /// The predicted metric P at (k, m, n).
    pub fn metric(&self, i: Informativeness, k: f64, m: f64, n: f64) -> f64 {
        self.sigma.apply(self.logit(i, k, m, n))
    }
}

/// One measured configuration of a user's grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RagRow {
    pub documents: f64,
    pub shots: f64,
    pub iterations: f64,
    pub i_doc: f64,
    pub i_shot: f64,
    pub metric: f64,
}

/// A refit: the law with the new a, b, c (sigma kept) and its residuals.
#[derive(Debug, Clone, PartialEq)]
pub struct RagFit {
    pub law: RagLaw,
    /// Fitted sigma^-1(P) minus the observed one, per row.
    pub logit_residuals: Vec<f64>,
    /// Predicted P minus observed P, per row.
    pub residuals: Vec<f64>,
    /// Root mean square of `residuals`.
    pub rms: f64,
}

/// Regressors of one row: ln k, ln m, ln n, i_doc ln k, i_shot ln m, 1.
fn regressors(r: &RagRow) -> [f64; 6] {
    let (lk, lm, ln) = (
        (r.documents + RAG_LOG_OFFSET).ln(),
        (r.shots + RAG_LOG_OFFSET).ln(),
        (r.iterations + RAG_LOG_OFFSET).ln(),
    );
    [lk, lm, ln, r.i_doc * lk, r.i_shot * lm, 1.0]
}

const COEFFICIENTS: [&str; 6] = ["a_doc", "a_shot", "a_iter", "b_doc", "b_shot", "c"];

/// Refit a, b, c of `base` by ordinary least squares on sigma^-1(P) (the model is linear in
/// them there), keeping sigma. Each row's metric must lie in sigma's open range; the grid must
/// vary enough to determine all six coefficients (else an error naming `rows`).
pub fn fit_rag(base: &RagLaw, rows: &[RagRow], name: &str) -> Result<RagFit> {
    base.validate()?;
    if rows.len() > MAX_RAG_FIT_ROWS {
        return Err(PlanError::LimitExceeded {
            field: "rows".into(),
            limit: MAX_RAG_FIT_ROWS as u64,
            got: rows.len() as u64,
        });
    }
    if rows.len() < COEFFICIENTS.len() {
        return Err(PlanError::invalid(
            "rows",
            format!(
                "need at least {} rows to fit a, b and c, got {}",
                COEFFICIENTS.len(),
                rows.len()
            ),
        ));
    }
    let mut x = Vec::with_capacity(rows.len());
    let mut y = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let located = |e: PlanError| e.at_index(i);
        check::non_negative("rows.documents", r.documents).map_err(located)?;
        check::non_negative("rows.shots", r.shots).map_err(located)?;
        check::positive("rows.iterations", r.iterations).map_err(located)?;
        check::non_negative("rows.i_doc", r.i_doc).map_err(located)?;
        check::non_negative("rows.i_shot", r.i_shot).map_err(located)?;
        y.push(
            base.sigma
                .inverse("rows.metric", r.metric)
                .map_err(located)?,
        );
        x.push(regressors(r));
    }
    let beta = least_squares(&x, &y)?;
    cancel::check()?;
    let law = RagLaw {
        name: name.to_string(),
        description: format!("refit of {} on {} rows", base.name, rows.len()),
        source: "fit_rag: least squares on the user's grid".into(),
        a: [beta[0], beta[1], beta[2]],
        b: [beta[3], beta[4]],
        c: beta[5],
        sigma: base.sigma,
    };
    let mut logit_residuals = Vec::with_capacity(rows.len());
    let mut residuals = Vec::with_capacity(rows.len());
    for (r, yi) in rows.iter().zip(&y) {
        let i = Informativeness {
            doc: r.i_doc,
            shot: r.i_shot,
        };
        let fitted = law.logit(i, r.documents, r.shots, r.iterations);
        logit_residuals.push(fitted - yi);
        residuals.push(law.sigma.apply(fitted) - r.metric);
    }
    let rms = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
    Ok(RagFit {
        law,
        logit_residuals,
        residuals,
        rms,
    })
}

/// min ||X beta - y|| by Householder QR (no normal equations: they square the condition
/// number). A column the others determine to within 1e-10 of its norm is an error naming it.
fn least_squares(x: &[[f64; 6]], y: &[f64]) -> Result<[f64; 6]> {
    const P: usize = 6;
    let n = x.len();
    // Column-major copy: a[j] is column j.
    let mut a: Vec<Vec<f64>> = (0..P).map(|j| x.iter().map(|r| r[j]).collect()).collect();
    let mut b = y.to_vec();
    let norms: Vec<f64> = a
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let mut r = [[0.0f64; P]; P];
    for j in 0..P {
        if cancel::fired() {
            break;
        }
        let sigma: f64 = a[j][j..].iter().map(|v| v * v).sum::<f64>().sqrt();
        if sigma.is_nan() || sigma <= 1e-10 * norms[j].max(1e-300) {
            return Err(PlanError::invalid(
                "rows",
                format!(
                    "the grid does not determine {}: vary documents, shots, iterations and the \
                     informativeness across rows",
                    COEFFICIENTS[j]
                ),
            ));
        }
        let alpha = if a[j][j] > 0.0 { -sigma } else { sigma };
        let mut v: Vec<f64> = a[j][j..].to_vec();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|t| t * t).sum();
        if vnorm2 > 0.0 {
            for col in a.iter_mut().skip(j) {
                let dot: f64 = v.iter().zip(&col[j..]).map(|(p, q)| p * q).sum();
                let f = 2.0 * dot / vnorm2;
                for (t, vi) in col[j..].iter_mut().zip(&v) {
                    *t -= f * vi;
                }
            }
            let dot: f64 = v.iter().zip(&b[j..]).map(|(p, q)| p * q).sum();
            let f = 2.0 * dot / vnorm2;
            for (t, vi) in b[j..].iter_mut().zip(&v) {
                *t -= f * vi;
            }
        }
        for (i, row) in r.iter_mut().enumerate().take(j + 1) {
            row[j] = a[j][i];
        }
    }
    debug_assert!(n >= P);
    let mut beta = [0.0; P];
    for i in (0..P).rev() {
        let s: f64 = (i + 1..P).map(|j| r[i][j] * beta[j]).sum();
        beta[i] = (b[i] - s) / r[i][i];
    }
    Ok(beta)
}
