//! The catalog: hardware, models and model families as data. The shipped TOML files are embedded
//! in the binary; user files (a path, or `SCALEPLAN_CATALOG`) add entries or replace shipped ones.

mod hardware;
mod model;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use hardware::{Dtype, Hardware};
pub use model::{Model, Moe};

use crate::error::{NameKind, PlanError, Result};
use crate::laws::rag::RagLaw;
use crate::laws::LossLaw;
use crate::laws::ParScaleLaw;
use crate::testtime::BetaPreset;

const SHIPPED: [(&str, &str); 5] = [
    ("hardware.toml", include_str!("../../catalog/hardware.toml")),
    ("models.toml", include_str!("../../catalog/models.toml")),
    ("laws.toml", include_str!("../../catalog/laws.toml")),
    ("testtime.toml", include_str!("../../catalog/testtime.toml")),
    ("rag.toml", include_str!("../../catalog/rag.toml")),
];

/// Environment variable listing extra catalog files, separated like `PATH`.
pub const CATALOG_ENV: &str = "SCALEPLAN_CATALOG";

/// An ordered list of catalog models of one design, smallest first.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub hardware: BTreeMap<String, Hardware>,
    pub models: BTreeMap<String, Model>,
    pub families: BTreeMap<String, Family>,
    pub laws: BTreeMap<String, LossLaw>,
    pub accuracy: BTreeMap<String, BetaPreset>,
    /// Parallel-scaling laws (`[[parscale_law]]`, docs/design.md, "Parallel streams").
    pub parscale_laws: BTreeMap<String, ParScaleLaw>,
    /// RAG computation allocation models (`[[rag]]`, docs/catalog.md).
    pub rag: BTreeMap<String, RagLaw>,
}

/// Catalog entries laid out as a catalog file: one array of tables per section (empty ones
/// are left out, so a one-entry file names only the sections it fills).
#[derive(Serialize, Default)]
struct Document<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hardware: Vec<&'a Hardware>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    model: Vec<&'a Model>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    family: Vec<&'a Family>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    law: Vec<&'a LossLaw>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accuracy: Vec<&'a BetaPreset>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parscale_law: Vec<&'a ParScaleLaw>,
    rag: Vec<&'a RagLaw>,
}

impl Document<'_> {
    fn render(&self) -> String {
        toml::to_string(self).expect("catalog entries serialise to TOML")
    }
}

/// One model as a catalog file entry (`[[model]]`), which [`Catalog::add_toml`] reads back
/// equal (docs/catalog.md).
pub fn model_toml(model: &Model) -> String {
    Document {
        model: vec![model],
        ..Document::default()
    }
    .render()
}

/// One hardware entry as a catalog file (`[[hardware]]`), which [`Catalog::add_toml`] reads
/// back equal.
pub fn hardware_toml(hw: &Hardware) -> String {
    Document {
        hardware: vec![hw],
        ..Document::default()
    }
    .render()
}

impl Catalog {
    /// Every entry as one catalog file, which [`Catalog::add_toml`] reads back equal.
    pub fn to_toml(&self) -> String {
        Document {
            hardware: self.hardware.values().collect(),
            model: self.models.values().collect(),
            family: self.families.values().collect(),
            law: self.laws.values().collect(),
            accuracy: self.accuracy.values().collect(),
            parscale_law: self.parscale_laws.values().collect(),
            rag: self.rag.values().collect(),
        }
        .render()
    }

    /// Add (or replace) one model, under the rules a catalog file's entries follow; an error
    /// is an invalid argument naming the field, and leaves the catalog as it was.
    pub fn register_model(&mut self, model: Model) -> Result<()> {
        model.validate()?;
        check_entry_name(&model.name)?;
        let mut next = self.clone();
        next.models.insert(model.name.clone(), model);
        for family in next.families.values() {
            next.check_family(family).map_err(|e| {
                PlanError::invalid(
                    "name",
                    format!("family '{}' would break: {}", family.name, reason_of(&e)),
                )
            })?;
        }
        *self = next;
        Ok(())
    }

    /// The shipped catalog, parsed once per process.
    pub fn shipped() -> &'static Catalog {
        static SHIPPED_CATALOG: OnceLock<Catalog> = OnceLock::new();
        SHIPPED_CATALOG.get_or_init(|| {
            let mut catalog = Catalog::default();
            for (file, text) in SHIPPED {
                catalog
                    .add_toml(file, text)
                    .unwrap_or_else(|e| panic!("shipped catalog is invalid: {e}"));
            }
            catalog
        })
    }

    /// The shipped catalog plus the files named in `SCALEPLAN_CATALOG`, in order.
    pub fn from_env() -> Result<Catalog> {
        let mut catalog = Catalog::shipped().clone();
        if let Some(paths) = std::env::var_os(CATALOG_ENV) {
            for path in std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()) {
                catalog.add_file(&path)?;
            }
        }
        Ok(catalog)
    }

    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::Catalog {
            file: file.clone(),
            entry: None,
            field: None,
            reason: format!("cannot read: {e}"),
        })?;
        self.add_toml(&file, &text)
    }

    /// Add every entry of one TOML document. Nothing is added unless the whole file is valid.
    pub fn add_toml(&mut self, file: &str, text: &str) -> Result<()> {
        // An empty entry or field: the error is about the file (or a section) as a whole.
        let err = |entry: &str, field: &str, reason: String| PlanError::Catalog {
            file: file.to_string(),
            entry: (!entry.is_empty()).then(|| entry.to_string()),
            field: (!field.is_empty()).then(|| field.to_string()),
            reason,
        };
        let doc: toml::Table =
            toml::from_str(text).map_err(|e| err("", "", e.message().to_string()))?;
        let mut next = self.clone();
        for (key, value) in doc {
            let entries = match value {
                toml::Value::Array(a) => a,
                _ => return Err(err("", &key, "must be an array of tables ([[...]])".into())),
            };
            match key.as_str() {
                "hardware" => merge(
                    &mut next.hardware,
                    parse_entries::<Hardware>(file, &key, entries)?,
                    |h| &h.name,
                    |h| h.validate(),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                "model" => merge(
                    &mut next.models,
                    parse_entries::<Model>(file, &key, entries)?,
                    |m| &m.name,
                    |m| m.validate(),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                "law" => merge(
                    &mut next.laws,
                    parse_entries::<LossLaw>(file, &key, entries)?,
                    |l| &l.name,
                    |l| l.validate(),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                "accuracy" => merge(
                    &mut next.accuracy,
                    parse_entries::<BetaPreset>(file, &key, entries)?,
                    |a| &a.name,
                    |a| a.validate(),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                "parscale_law" => merge(
                    &mut next.parscale_laws,
                    parse_entries::<ParScaleLaw>(file, &key, entries)?,
                    |l| &l.name,
                    |l| l.validate(),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                "rag" => merge(
                    &mut next.rag,
                    parse_entries::<RagLaw>(file, &key, entries)?,
                    |l| &l.name,
                    |l| l.validate(),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                "family" => merge(
                    &mut next.families,
                    parse_entries::<Family>(file, &key, entries)?,
                    |f| &f.name,
                    |_| Ok(()),
                )
                .map_err(|(entry, e)| err(&entry, e.field(), reason_of(&e)))?,
                _ => {
                    return Err(err(
                        "",
                        &key,
                        "unknown section (expected [[hardware]], [[model]], [[family]], [[law]], [[accuracy]], [[parscale_law]] or [[rag]])"
                            .into(),
                    ))
                }
            }
        }
        for family in next.families.values() {
            next.check_family(family)
                .map_err(|e| err(&family.name, e.field(), reason_of(&e)))?;
        }
        *self = next;
        Ok(())
    }

    fn check_family(&self, family: &Family) -> Result<()> {
        if family.members.is_empty() {
            return Err(PlanError::invalid(
                "members",
                "must list at least one model",
            ));
        }
        let mut previous = 0.0;
        for name in &family.members {
            let model = self.model(name).map_err(|_| {
                PlanError::invalid("members", format!("'{name}' is not a catalog model"))
            })?;
            if model.flop_params <= previous {
                return Err(PlanError::invalid(
                    "members",
                    "must be ordered by strictly increasing flop_params",
                ));
            }
            previous = model.flop_params;
        }
        Ok(())
    }

    pub fn hardware(&self, name: &str) -> Result<&Hardware> {
        lookup(&self.hardware, name, "hardware", NameKind::Hardware)
    }

    pub fn model(&self, name: &str) -> Result<&Model> {
        lookup(&self.models, name, "model", NameKind::Model)
    }

    pub fn family(&self, name: &str) -> Result<&Family> {
        lookup(&self.families, name, "family", NameKind::Family)
    }

    pub fn accuracy_preset(&self, name: &str) -> Result<&BetaPreset> {
        lookup(&self.accuracy, name, "accuracy", NameKind::Option)
    }

    pub fn law(&self, name: &str) -> Result<&LossLaw> {
        lookup(&self.laws, name, "law", NameKind::Law)
    }

    pub fn parscale_law(&self, name: &str) -> Result<&ParScaleLaw> {
        lookup(&self.parscale_laws, name, "law", NameKind::Law)
    }

    /// A RAG computation allocation model (`[[rag]]`).
    pub fn rag_law(&self, name: &str) -> Result<&RagLaw> {
        lookup(&self.rag, name, "law", NameKind::Law)
    }
}

/// Entry names are lowercase without spaces.
pub(crate) fn check_entry_name(name: &str) -> Result<()> {
    if name != name.to_lowercase() || name.contains(char::is_whitespace) {
        return Err(PlanError::invalid(
            "name",
            format!("must be lowercase without spaces, got '{name}'"),
        ));
    }
    Ok(())
}

fn reason_of(e: &PlanError) -> String {
    match e {
        PlanError::InvalidArgument { reason, .. } | PlanError::Catalog { reason, .. } => {
            reason.clone()
        }
        other => other.to_string(),
    }
}

fn lookup<'a, T>(
    map: &'a BTreeMap<String, T>,
    name: &str,
    field: &str,
    kind: NameKind,
) -> Result<&'a T> {
    map.get(name).ok_or_else(|| PlanError::UnknownName {
        field: field.to_string(),
        kind,
        name: name.to_string(),
        known: map.keys().cloned().collect(),
        preset: None,
    })
}

fn entry_label(value: &toml::Value, section: &str, index: usize) -> String {
    value
        .get("name")
        .and_then(toml::Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{section}[{index}]"))
}

/// Deserialize one entry, naming the field serde stopped at (`moe.experts`, `hbm_bytes`, ...).
pub fn deserialize_entry<'de, T, D>(value: D) -> std::result::Result<T, (String, String)>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path().to_string();
        // serde_path_to_error reports an unknown key at itself but a missing one at its parent.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(k)) => k.to_string(),
            (p, Some(k)) => format!("{p}.{k}"),
            (".", None) => String::new(),
            (p, None) => p.to_string(),
        };
        (field, message)
    })
}

/// A catalog entry given as JSON (how the bindings pass user-built entries).
pub fn entry_from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    deserialize_entry(&mut de).map_err(|(field, reason)| {
        // An error about the entry as a whole (not an object, ...) has no field path.
        let field = if field.is_empty() {
            "entry".into()
        } else {
            field
        };
        PlanError::invalid(field, reason)
    })
}

/// Deserialize each entry on its own so an error names the entry and the field.
fn parse_entries<T: DeserializeOwned>(
    file: &str,
    section: &str,
    entries: Vec<toml::Value>,
) -> Result<Vec<(String, T)>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let label = entry_label(&value, section, i);
            deserialize_entry(value)
                .map(|t| (label.clone(), t))
                .map_err(|(field, reason)| PlanError::Catalog {
                    file: file.to_string(),
                    entry: Some(label),
                    field: (!field.is_empty()).then_some(field),
                    reason,
                })
        })
        .collect()
}

// The error (an entry's label and its error) is built once per bad catalog file, off any hot
// path: its size does not matter.
#[allow(clippy::result_large_err)]
fn merge<T>(
    into: &mut BTreeMap<String, T>,
    entries: Vec<(String, T)>,
    name: impl Fn(&T) -> &String,
    validate: impl Fn(&T) -> Result<()>,
) -> std::result::Result<(), (String, PlanError)> {
    let mut seen = std::collections::BTreeSet::new();
    for (label, entry) in entries {
        validate(&entry).map_err(|e| (label.clone(), e))?;
        let key = name(&entry).clone();
        check_entry_name(&key).map_err(|e| (label.clone(), e))?;
        if !seen.insert(key.clone()) {
            return Err((
                label,
                PlanError::invalid("name", "appears twice in this file"),
            ));
        }
        into.insert(key, entry);
    }
    Ok(())
}
