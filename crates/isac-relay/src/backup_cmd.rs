//! `isac-relay backup DEST` and `isac-relay restore SRC`: an online copy of the store (one
//! consistent snapshot, taken while a server may be running on the same data directory) with a
//! manifest naming its schema version and SHA-256; and its restoration into a data directory,
//! refused unless the checksum matches, then brought to this build's schema by the usual
//! migrations.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::SqliteStore;

use crate::admin_cmd::run;
use crate::{DataArgs, load_config, say};

/// The database file inside a backup directory.
const BACKUP_DB: &str = "relay.db";
const MANIFEST: &str = "MANIFEST.json";
const FORMAT: &str = "isac-relay-backup/1";

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    schema: i64,
    bytes: u64,
    sha256: String,
    created: String,
}

fn sha256_of(path: &Path) -> Result<(String, u64)> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(h.finalize()), total))
}

/// Writes `bytes` to `path` and makes it durable.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Backup and restore copy the embedded database; a PostgreSQL store has its own tools.
fn embedded_only(data: &DataArgs, what: &str) -> Result<()> {
    if crate::load_config(data, None)?.store.is_some() {
        bail!(
            "this relay keeps its data in PostgreSQL (store): {what} it with PostgreSQL's own tools (pg_dump, pg_restore, or a replica), not with isac-relay"
        );
    }
    Ok(())
}

pub async fn backup(dest: PathBuf, data: DataArgs) -> Result<()> {
    embedded_only(&data, "back up")?;
    if dest.exists() && std::fs::read_dir(&dest)?.next().is_some() {
        bail!(
            "{} exists and is not empty: a backup goes to a new directory",
            dest.display()
        );
    }
    std::fs::create_dir_all(&dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let db = dest.join(BACKUP_DB);
    let db_for_store = db.clone();
    run(&data, |relay, me| async move {
        relay.backup(&me, db_for_store).await?;
        Ok(())
    })
    .await?;
    let (sha256, bytes) = sha256_of(&db)?;
    let manifest = Manifest {
        format: FORMAT.into(),
        schema: SqliteStore::file_schema(&db)?,
        bytes,
        sha256,
        created: stix::Timestamp::now().to_string(),
    };
    write_synced(
        &dest.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    say(&format!(
        "backup of schema {} written to {}: {} bytes, sha256 {}",
        manifest.schema,
        dest.display(),
        manifest.bytes,
        manifest.sha256
    ))
}

pub async fn restore(src: PathBuf, force: bool, data: DataArgs) -> Result<()> {
    embedded_only(&data, "restore")?;
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(src.join(MANIFEST))
            .with_context(|| format!("{} is not a backup: no {MANIFEST}", src.display()))?,
    )
    .with_context(|| format!("{}: unreadable manifest", src.join(MANIFEST).display()))?;
    if manifest.format != FORMAT {
        bail!(
            "{}: backup format '{}', this build reads '{FORMAT}'",
            src.display(),
            manifest.format
        );
    }
    let db = src.join(BACKUP_DB);
    let (sha256, bytes) = sha256_of(&db)?;
    if sha256 != manifest.sha256 || bytes != manifest.bytes {
        bail!(
            "{} does not match its manifest (sha256 {sha256}, {bytes} bytes; the manifest says {}, {} bytes): the backup is damaged, nothing was restored",
            db.display(),
            manifest.sha256,
            manifest.bytes
        );
    }
    if manifest.schema > SqliteStore::schema_version() {
        bail!(
            "the backup has schema {}, newer than this build's {}: restore it with a newer isac-relay",
            manifest.schema,
            SqliteStore::schema_version()
        );
    }
    let config = load_config(&data, None)?;
    let target_dir = config.data.clone();
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("cannot create {}", target_dir.display()))?;
    let target = target_dir.join(store::DB_FILE);
    if target.exists() && !force {
        bail!(
            "{} already holds a relay database; stop its server and add --force to replace it",
            target_dir.display()
        );
    }
    // Copied beside the target, made durable, then renamed over it: a restore cut half-way
    // leaves the old database or the new one, never a mixture.
    let part = target_dir.join(format!("{}.restoring", store::DB_FILE));
    std::fs::copy(&db, &part).with_context(|| format!("cannot write {}", part.display()))?;
    std::fs::File::open(&part)?.sync_all()?;
    for stale in ["-wal", "-shm"] {
        let p = target_dir.join(format!("{}{stale}", store::DB_FILE));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    std::fs::rename(&part, &target)
        .with_context(|| format!("cannot move the restored database to {}", target.display()))?;
    // Opening it runs the migrations a backup from an earlier release needs.
    let opened = SqliteStore::open(&target_dir).with_context(|| {
        format!(
            "the restored database in {} does not open",
            target_dir.display()
        )
    })?;
    relay_core::Store::close(&opened).await;
    say(&format!(
        "restored {} ({} bytes, schema {} → {}) into {}",
        src.display(),
        bytes,
        manifest.schema,
        SqliteStore::schema_version(),
        target_dir.display()
    ))
}
