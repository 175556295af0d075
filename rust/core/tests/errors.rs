//! Errors carry their context as data (docs/limits.md, "Errors"): a location (element, row,
//! file) beside the error rather than inside its text, the preset that named a model, the
//! limit exceeded, and a catalog file's OS error once.

use std::path::Path;

use scaleplan_core::error::{Location, NameKind};
use scaleplan_core::limits::{check_samples, MAX_SAMPLES};
use scaleplan_core::testtime::{curves_from_rows, Aggregator, EvalRow};
use scaleplan_core::{Catalog, PlanError};

#[test]
fn a_location_is_data_and_merges_instead_of_nesting() {
    let e = PlanError::invalid("gen_tokens", "must be > 0, got 0");
    let at = e.clone().at_index(3);
    assert_eq!(at.kind(), &e);
    assert_eq!(at.field(), "gen_tokens");
    assert_eq!(
        at.location(),
        Some(&Location {
            index: Some(3),
            ..Location::default()
        })
    );
    assert_eq!(at.to_string(), "gen_tokens: must be > 0, got 0 (element 3)");
    // A row replaces the index: it says the same in the user's terms.
    let row = at.at_row(Some("evals.csv"), 4);
    assert_eq!(row.kind(), &e);
    let loc = row.location().unwrap();
    assert_eq!(
        (loc.index, loc.row, loc.file.as_deref()),
        (None, Some(4), Some("evals.csv"))
    );
    assert!(matches!(row, PlanError::Located { ref error, .. } if **error == e));
    // Stopping is about the call, never an element of it.
    let stop = PlanError::Cancelled { deadline: false };
    assert_eq!(stop.clone().at_index(1), stop);
}

#[test]
fn eval_row_errors_name_the_column_and_the_row_index() {
    let row = |problem: &str, n: u32, c: u32| EvalRow {
        model: "m".into(),
        gen_tokens: 1024.0,
        problem: problem.into(),
        n,
        c,
    };
    let err = curves_from_rows(&[row("a", 4, 1), row("b", 4, 5)]).unwrap_err();
    assert_eq!(err.field(), "rows.c");
    assert_eq!(err.location().and_then(|l| l.index), Some(1));
    let err = curves_from_rows(&[row("a", 4, 1), row("b", 4, 1), row("a", 4, 2)]).unwrap_err();
    assert_eq!(err.field(), "rows");
    assert_eq!(err.location().and_then(|l| l.index), Some(2)); // the repeat, not the first
}

#[test]
fn limits_are_limit_exceeded() {
    assert_eq!(check_samples("k_max", MAX_SAMPLES), Ok(MAX_SAMPLES));
    assert_eq!(
        check_samples("k_max", MAX_SAMPLES + 1),
        Err(PlanError::LimitExceeded {
            field: "k_max".into(),
            limit: 1 << 20,
            got: (1 << 20) + 1,
        })
    );
    assert!(matches!(
        check_samples("k_max", 0),
        Err(PlanError::InvalidArgument { .. })
    ));
}

#[test]
fn an_unknown_model_of_a_preset_names_the_preset_beside_the_name() {
    let preset = Catalog::shipped().accuracy_preset("aime24-qwen3").unwrap();
    let err = preset
        .curve("llama-3.1-8b", Aggregator::Coverage)
        .unwrap_err();
    match &err {
        PlanError::UnknownName {
            field,
            kind,
            name,
            preset,
            known,
        } => {
            assert_eq!((field.as_str(), name.as_str()), ("models", "llama-3.1-8b"));
            assert_eq!(
                (*kind, preset.as_deref()),
                (NameKind::Model, Some("aime24-qwen3"))
            );
            assert!(known.iter().any(|k| k == "qwen3-8b"));
        }
        other => panic!("expected UnknownName, got {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("models: accuracy preset 'aime24-qwen3' has no model 'llama-3.1-8b'"));
}

#[test]
fn an_unreadable_catalog_file_says_so_once() {
    let mut c = Catalog::shipped().clone();
    let err = c.add_file(Path::new("/no/such/dir/x.toml")).unwrap_err();
    match &err {
        PlanError::Catalog {
            file, entry, field, ..
        } => {
            assert_eq!(file, "/no/such/dir/x.toml");
            assert_eq!((entry, field), (&None, &None));
        }
        other => panic!("expected Catalog, got {other:?}"),
    }
    assert_eq!(err.field(), "");
    let text = err.to_string();
    assert_eq!(
        text,
        "catalog /no/such/dir/x.toml: cannot read: No such file or directory (os error 2)"
    );
    let err = c.add_toml("t.toml", "not = [toml").unwrap_err();
    assert!(err.to_string().starts_with("catalog t.toml: "), "{err}");
    assert!(!err.to_string().contains(": -:"), "{err}");
}

#[test]
fn the_message_of_a_field_error_is_field_then_reason() {
    let errors = [
        PlanError::invalid("gen_tokens", "must be > 0, got 0"),
        check_samples("k_max", MAX_SAMPLES + 1).unwrap_err(),
        Catalog::shipped().model("nope").unwrap_err(),
        Catalog::shipped()
            .accuracy_preset("aime24-qwen3")
            .unwrap()
            .curve("nope", Aggregator::Coverage)
            .unwrap_err(),
    ];
    for e in errors {
        assert!(e.names_field());
        assert_eq!(e.to_string(), format!("{}: {}", e.field(), e.reason()));
    }
    let stop = PlanError::Cancelled { deadline: true };
    assert!(!stop.names_field());
    assert_eq!(stop.reason(), stop.to_string());
}
