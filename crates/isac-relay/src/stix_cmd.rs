//! `isac-relay stix validate|observables FILE...`: the STIX checks and the observable
//! extraction of the `stix` crate, on files, for people and scripts.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;
use stix::object::document_objects;

fn read(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// Prints one line per problem (`FILE: JSON-PATH: message`) and a summary per file. Returns
/// whether every object of every file is valid.
pub fn validate(files: &[std::path::PathBuf], options: stix::ValidationOptions) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    let mut all_valid = true;
    for path in files {
        let doc = match read(path) {
            Ok(doc) => doc,
            Err(e) => {
                writeln!(out, "{e:#}")?;
                all_valid = false;
                continue;
            }
        };
        let objects = document_objects(&doc);
        let mut invalid = 0;
        for (at, obj) in &objects {
            let id = obj.get("id").and_then(Value::as_str).unwrap_or("(no id)");
            match stix::check_object_with(obj, options) {
                Ok(meta) => {
                    for w in meta.warnings {
                        let w = w.strip_prefix('$').unwrap_or(&w);
                        writeln!(out, "{}: {id}: warning: {at}{w}", path.display())?;
                    }
                }
                Err(e) => {
                    invalid += 1;
                    writeln!(out, "{}: {id}: {}", path.display(), e.under(at))?;
                }
            }
        }
        writeln!(
            out,
            "{}: {} objects, {} valid, {invalid} invalid",
            path.display(),
            objects.len(),
            objects.len() - invalid
        )?;
        all_valid &= invalid == 0;
    }
    Ok(all_valid)
}

/// Prints `KIND<TAB>VALUE<TAB>OBJECT_ID` for every observable of every object.
pub fn observables(files: &[std::path::PathBuf]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for path in files {
        let doc = read(path)?;
        for (_, obj) in document_objects(&doc) {
            let id = obj.get("id").and_then(Value::as_str).unwrap_or("");
            for o in stix::observable::extract(obj) {
                writeln!(out, "{}\t{}\t{id}", o.kind, o.value)?;
            }
        }
    }
    Ok(())
}
