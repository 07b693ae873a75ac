//! Validates and extracts the observables of N generated indicators on one thread and prints
//! the rate as a JSON line; `--write FILE` also writes a sample of them as a JSON array for the
//! Python peers (`bench/stix_validate.sh` puts the two side by side).

use std::io::Write as _;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    /// How many indicators to validate.
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    /// Write the first `sample` indicators to this file as a JSON array.
    #[arg(long)]
    write: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 2000)]
    sample: usize,
}

/// A realistic indicator: one of a few pattern shapes, with the usual optional properties.
fn indicator(i: usize) -> Value {
    let ip = format!("198.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let pattern = match i % 4 {
        0 => format!("[ipv4-addr:value = '{ip}']"),
        1 => format!(
            "[domain-name:value = 'c2-{i}.example'] OR [url:value = 'http://c2-{i}.example/gate.php']"
        ),
        2 => format!(
            "[file:hashes.'SHA-256' = '{:064x}']",
            i as u128 * 0x9e37_79b9_7f4a_7c15
        ),
        _ => format!(
            "[network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port IN (443, 8443)]"
        ),
    };
    let ts = "2026-01-01T00:00:00.000Z";
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{}", uuid::Uuid::new_v4()),
        "created": ts,
        "modified": ts,
        "name": format!("C2: {ip}"),
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": ts,
        "confidence": 80,
        "labels": ["c2"],
        "external_references": [{"source_name": "isac", "external_id": format!("ISAC-{i}")}]
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(path) = &cli.write {
        let sample: Vec<Value> = (0..cli.sample.min(cli.count)).map(indicator).collect();
        std::fs::write(path, serde_json::to_vec(&sample)?)?;
    }
    let objects: Vec<Value> = (0..cli.count).map(indicator).collect();
    let start = Instant::now();
    let (mut valid, mut observables) = (0usize, 0usize);
    // As the relay ingests: check, then extract the observables from the parsed pattern.
    for o in &objects {
        if let Ok(meta) = stix::check_object(o) {
            valid += 1;
            observables += meta.observables(o).len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        json!({"indicators": cli.count, "valid": valid, "observables": observables, "secs": secs, "rate": cli.count as f64 / secs})
    )?;
    Ok(())
}
