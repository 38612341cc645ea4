//! The parser against real configs: every file of tests/fixtures/configs that is a
//! config.json must parse and validate, and mote's model of it must agree with two other
//! parsers (the oci-spec crate and serde_json) on every field mote models.

use crate::prelude::*;

use super::json::ToValue;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/configs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".json")
                && !n.contains("-exec-process")
                && !n.contains("update-resources")
                && !n.starts_with("runc-state")
                && !n.starts_with("runc-list")
                && !n.starts_with("runc-ps")
                && !n.starts_with("runc-events")
                && !n.ends_with("-features.json")
                && n != "containers-common-seccomp-profile.json"
        })
        .collect();
    v.sort();
    v
}

/// Drop what means "absent": null, false, 0, "", [] and {} (after cleaning inside).
fn canon(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::Number(ref n) if n.as_i64() == Some(0) || n.as_u64() == Some(0) => None,
        Value::String(ref s) if s.is_empty() => None,
        Value::Array(a) => {
            // Elements keep their position: a cleaned-away element becomes null, not a gap.
            let a: Vec<Value> = a.into_iter().map(|e| canon(e).unwrap_or(Value::Null)).collect();
            if a.is_empty() {
                None
            } else {
                Some(Value::Array(a))
            }
        }
        Value::Object(m) => {
            let m: serde_json::Map<String, Value> =
                m.into_iter().filter_map(|(k, v)| canon(v).map(|v| (k, v))).collect();
            if m.is_empty() {
                None
            } else {
                Some(Value::Object(m))
            }
        }
        v => Some(v),
    }
}

/// Paths (indices removed) whose objects are maps, not structs.
const MAPS: &[&str] = &[
    "annotations",
    "linux.sysctl",
    "linux.resources.unified",
    "linux.resources.rdma",
    "linux.timeOffsets",
];

/// Keep from `other` only what mote's schema (`schema`, the raw model value with every
/// declared field) knows.
fn restrict(other: &Value, schema: &Value, path: &str) -> Value {
    match (other, schema) {
        (Value::Object(o), Value::Object(s)) => {
            let is_map = MAPS.contains(&path);
            let mut out = serde_json::Map::new();
            for (k, v) in o {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if is_map {
                    let inner = s.get(k).cloned().unwrap_or(Value::Null);
                    out.insert(
                        k.clone(),
                        if inner.is_object() {
                            restrict(v, &inner, &sub)
                        } else {
                            v.clone()
                        },
                    );
                } else if let Some(sv) = s.get(k) {
                    out.insert(k.clone(), restrict(v, sv, &sub));
                }
            }
            Value::Object(out)
        }
        (Value::Array(o), Value::Array(s)) => Value::Array(
            o.iter()
                .enumerate()
                .map(|(i, v)| s.get(i).map_or(v.clone(), |sv| restrict(v, sv, path)))
                .collect(),
        ),
        (v, _) => v.clone(),
    }
}

fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(u, v, &p, out),
                    (u, v) => out.push(format!("{p}: mote {u:?} / other {v:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(u, v, &format!("{path}[{i}]"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: mote {a} / other {b}")),
    }
}

#[test]
fn every_real_config_parses_and_agrees_with_oci_spec_and_serde_json() {
    let files = fixtures();
    assert!(files.len() >= 40, "the corpus went missing: {} files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(f).unwrap();
        let mut arena = vec![0u8; bytes.len()];
        let cfg = match super::parse_config(&bytes, &mut arena) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: mote cannot parse it: {e}"));
                continue;
            }
        };
        if let Err(e) = super::validate::validate(&cfg, &mut |_| {}) {
            failures.push(format!("{name}: mote rejects it: {e}"));
            continue;
        }
        let schema = cfg.spec.to_value(&cfg.pools);
        let ours = canon(schema.clone()).unwrap_or(Value::Null);
        // serde_json: the file itself.
        let raw: Value = serde_json::from_slice(&bytes).unwrap();
        let theirs = canon(restrict(&raw, &schema, "")).unwrap_or(Value::Null);
        let mut d = Vec::new();
        diff(&ours, &theirs, "", &mut d);
        for x in d {
            failures.push(format!("{name} (vs serde_json): {x}"));
        }
        // oci-spec: its typed model, serialized back.
        match serde_json::from_slice::<oci_spec::runtime::Spec>(&bytes) {
            Ok(spec) => {
                let mut v = serde_json::to_value(&spec).unwrap();
                // oci-spec keeps capability sets as hash sets: compare them as sets.
                let mut ours_sorted = ours.clone();
                for val in [&mut v, &mut ours_sorted] {
                    if let Some(c) = val.pointer_mut("/process/capabilities").and_then(|c| c.as_object_mut()) {
                        for set in c.values_mut() {
                            if let Some(a) = set.as_array_mut() {
                                a.sort_by(|x, y| x.to_string().cmp(&y.to_string()));
                            }
                        }
                    }
                }
                let ours = ours_sorted;
                let theirs = canon(restrict(&v, &schema, "")).unwrap_or(Value::Null);
                let mut d = Vec::new();
                diff(&ours, &theirs, "", &mut d);
                for x in d {
                    failures.push(format!("{name} (vs oci-spec): {x}"));
                }
            }
            Err(e) => failures.push(format!(
                "{name}: oci-spec cannot parse it ({e}): the fixture is suspect"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn podman_default_profile_fits_with_room() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/podman-seccomp-default.json");
    let bytes = std::fs::read(f).unwrap();
    let mut arena = vec![0u8; bytes.len()];
    let cfg = super::parse_config(&bytes, &mut arena).unwrap();
    let sc = cfg.spec.linux.as_ref().unwrap().seccomp.as_ref().unwrap();
    let names: usize = cfg.items(sc.syscalls).iter().map(|r| r.names.len()).sum();
    assert_eq!(sc.syscalls.len(), 22);
    assert_eq!(names, 437);
    // Room for several such profiles' worth of strings.
    assert!(
        cfg.pools.strs.len() * 4 < super::limits::MAX_STRINGS,
        "{} strings",
        cfg.pools.strs.len()
    );
}
