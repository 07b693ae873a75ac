//! Moving a relay from the embedded SQLite database to PostgreSQL: every table copied as it
//! is (the two schemas have the same tables and columns, step for step), in one PostgreSQL
//! transaction, then checked table by table by row count and checksum on both sides.
//!
//! The SQLite file is first opened as the store opens it (so it is at the current schema),
//! then read table by table. Stop the relay first: each table is read in a snapshot of its
//! own, and what a running relay wrote between two of them would not agree. The PostgreSQL
//! database gets its schema from `PgStore::connect`; it must hold no relay data yet (rows the
//! migrations themselves create, such as the operator organisation, are replaced).
//!
//! Rows stream from a blocking reader thread to `COPY ... FROM STDIN (FORMAT binary)` in
//! batches: a relay of millions of objects is never held in memory. Identity sequences are
//! moved past the copied ids. The checksum of a table is order-independent: the wrapping sum
//! of the first eight bytes of each row's SHA-256 over a canonical encoding of its values, as
//! written (SQLite side) and as read back (PostgreSQL side).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures_util::{StreamExt, pin_mut};
use rusqlite::types::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::{ToSql, Type};

use crate::postgres::{PgOpenError, PgStore};
use crate::sqlite::{DB_FILE, SqliteStore, StoreOpenError};

/// Rows handed from the reader to the writer at once.
const BATCH: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Sqlite(#[from] StoreOpenError),
    #[error(transparent)]
    Postgres(#[from] PgOpenError),
    #[error("there is no relay database at {0}")]
    NoSource(PathBuf),
    #[error("reading the SQLite database: {0}")]
    Read(#[from] rusqlite::Error),
    #[error("writing to PostgreSQL: {0}")]
    Write(#[from] tokio_postgres::Error),
    #[error(
        "the PostgreSQL database already holds relay data ({0}); migrate into an empty database"
    )]
    NotEmpty(String),
    #[error(
        "table {table}: the PostgreSQL schema has no column {column} (schema versions differ?)"
    )]
    Schema { table: String, column: String },
    #[error("table {table}, column {column}: cannot store {value} as {target}")]
    Convert {
        table: String,
        column: String,
        value: String,
        target: String,
    },
    #[error(
        "table {table} differs after the copy: {source_rows} rows (checksum {source_sum:016x}) in SQLite, {target_rows} (checksum {target_sum:016x}) in PostgreSQL; nothing was committed"
    )]
    Mismatch {
        table: String,
        source_rows: u64,
        source_sum: u64,
        target_rows: u64,
        target_sum: u64,
    },
    #[error("the SQLite reader stopped: {0}")]
    Reader(String),
}

/// One table as copied and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: String,
    pub rows: u64,
    pub checksum: u64,
}

/// A column's PostgreSQL type, as the copy writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int8,
    Int4,
    Text,
    Bytea,
    Float8,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        match data_type {
            "bigint" => Some(Kind::Int8),
            "integer" => Some(Kind::Int4),
            "text" => Some(Kind::Text),
            "bytea" => Some(Kind::Bytea),
            "double precision" => Some(Kind::Float8),
            _ => None,
        }
    }

    fn pg(self) -> Type {
        match self {
            Kind::Int8 => Type::INT8,
            Kind::Int4 => Type::INT4,
            Kind::Text => Type::TEXT,
            Kind::Bytea => Type::BYTEA,
            Kind::Float8 => Type::FLOAT8,
        }
    }
}

/// A value as PostgreSQL stores it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Int4(i32),
    Text(String),
    Bytes(Vec<u8>),
    Float(f64),
}

impl Cell {
    /// The value to write to a column of `kind` (a NULL is typed as the column is).
    fn to_sql(&self, kind: Kind) -> &(dyn ToSql + Sync) {
        const NULL_INT8: Option<i64> = None;
        const NULL_INT4: Option<i32> = None;
        const NULL_TEXT: Option<String> = None;
        const NULL_BYTEA: Option<Vec<u8>> = None;
        const NULL_FLOAT8: Option<f64> = None;
        match self {
            Cell::Null => match kind {
                Kind::Int8 => &NULL_INT8,
                Kind::Int4 => &NULL_INT4,
                Kind::Text => &NULL_TEXT,
                Kind::Bytea => &NULL_BYTEA,
                Kind::Float8 => &NULL_FLOAT8,
            },
            Cell::Int(v) => v,
            Cell::Int4(v) => v,
            Cell::Text(v) => v,
            Cell::Bytes(v) => v,
            Cell::Float(v) => v,
        }
    }

    /// Feeds the canonical encoding of the value to a row hash.
    fn hash(&self, h: &mut Sha256) {
        match self {
            Cell::Null => h.update([0]),
            Cell::Int(v) => {
                h.update([1]);
                h.update(v.to_be_bytes());
            }
            Cell::Int4(v) => {
                h.update([1]);
                h.update(i64::from(*v).to_be_bytes());
            }
            Cell::Text(v) => {
                h.update([2]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
            Cell::Bytes(v) => {
                h.update([3]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v);
            }
            Cell::Float(v) => {
                h.update([4]);
                h.update(v.to_bits().to_be_bytes());
            }
        }
    }
}

fn row_sum(cells: &[Cell]) -> u64 {
    let mut h = Sha256::new();
    for c in cells {
        c.hash(&mut h);
    }
    let d = h.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Converts a SQLite value to what the PostgreSQL column holds. Counters kept in `meta`'s
/// BYTEA values are written as their decimal digits, as `PgStore` keeps them.
fn convert(value: Value, kind: Kind) -> Result<Cell, String> {
    Ok(match (value, kind) {
        (Value::Null, _) => Cell::Null,
        (Value::Integer(v), Kind::Int8) => Cell::Int(v),
        (Value::Integer(v), Kind::Int4) => {
            Cell::Int4(i32::try_from(v).map_err(|_| format!("the integer {v}"))?)
        }
        (Value::Integer(v), Kind::Bytea) => Cell::Bytes(v.to_string().into_bytes()),
        (Value::Integer(v), Kind::Text) => Cell::Text(v.to_string()),
        (Value::Integer(v), Kind::Float8) => Cell::Float(v as f64),
        (Value::Real(v), Kind::Float8) => Cell::Float(v),
        (Value::Text(v), Kind::Text) => Cell::Text(v),
        (Value::Text(v), Kind::Bytea) => Cell::Bytes(v.into_bytes()),
        (Value::Blob(v), Kind::Bytea) => Cell::Bytes(v),
        (Value::Blob(v), Kind::Text) => {
            Cell::Text(String::from_utf8(v).map_err(|_| "a blob that is not UTF-8".to_owned())?)
        }
        (v, _) => return Err(format!("{v:?}")),
    })
}

/// Tables in an order that inserts each after those its foreign keys name.
fn table_order(conn: &rusqlite::Connection) -> Result<Vec<String>, rusqlite::Error> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in &tables {
        let parents: BTreeSet<String> = conn
            .prepare(&format!("PRAGMA foreign_key_list(\"{t}\")"))?
            .query_map([], |r| r.get::<_, String>(2))?
            .collect::<Result<_, _>>()?;
        needs.insert(t.clone(), parents.into_iter().filter(|p| p != t).collect());
    }
    let mut order = Vec::with_capacity(tables.len());
    while !needs.is_empty() {
        let ready: Vec<String> = needs
            .iter()
            .filter(|(_, p)| p.iter().all(|p| !needs.contains_key(p)))
            .map(|(t, _)| t.clone())
            .collect();
        // A cycle cannot happen in this schema; should one appear, take the rest as they come.
        let ready = if ready.is_empty() {
            needs.keys().cloned().collect()
        } else {
            ready
        };
        for t in ready {
            needs.remove(&t);
            order.push(t);
        }
    }
    Ok(order)
}

/// Copies the relay in `data_dir` (SQLite) into the PostgreSQL database at `url`, checks every
/// table, and commits only if all agree. `progress` hears each table and its row count.
pub async fn sqlite_to_postgres(
    data_dir: &Path,
    url: &str,
    mut progress: impl FnMut(&TableCopy),
) -> Result<Vec<TableCopy>, MigrateError> {
    let file = data_dir.join(DB_FILE);
    if !file.is_file() {
        return Err(MigrateError::NoSource(file));
    }
    // Brings the file to the current schema, as `serve` would.
    relay_core::Store::close(&SqliteStore::open(data_dir)?).await;
    // Creates the schema (and the migrations' own rows) in PostgreSQL.
    relay_core::Store::close(&PgStore::connect(url).await?).await;

    let config: tokio_postgres::Config = url.parse()?;
    let (mut client, connection) = config.connect(tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = copy_all(&file, &mut client, &mut progress).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn copy_all(
    file: &Path,
    client: &mut tokio_postgres::Client,
    progress: &mut impl FnMut(&TableCopy),
) -> Result<Vec<TableCopy>, MigrateError> {
    let source = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let order = table_order(&source)?;
    // The highest id each AUTOINCREMENT table ever gave, kept past deletions: ids are never
    // given twice (export change numbers, which clients hold as `since` tokens and RPZ serials
    // follow, must go on rising even where the oldest changes were pruned).
    let has_sequences: bool = source.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    let given: BTreeMap<String, i64> = if has_sequences {
        source
            .prepare("SELECT name, seq FROM sqlite_sequence")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    } else {
        BTreeMap::new()
    };
    drop(source);

    let tx = client.transaction().await?;
    for t in ["users", "collections", "objects", "audit"] {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .await?
            .get(0);
        if n > 0 {
            return Err(MigrateError::NotEmpty(format!("{n} rows in {t}")));
        }
    }
    let columns: Vec<(String, String, String)> = tx
        .query(
            "SELECT table_name::text, column_name::text, data_type::text
               FROM information_schema.columns
              WHERE table_schema = current_schema()
              ORDER BY table_name, ordinal_position",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut pg_tables: BTreeMap<String, BTreeMap<String, Kind>> = BTreeMap::new();
    for (t, c, ty) in columns {
        if let Some(kind) = Kind::of(&ty) {
            pg_tables.entry(t).or_default().insert(c, kind);
        }
    }
    let copied: Vec<&String> = order
        .iter()
        .filter(|t| pg_tables.contains_key(t.as_str()))
        .collect();
    // What the migrations and the connection put there (the operator organisation, a token
    // key) gives way to what is copied. The audit log, append-only even against TRUNCATE, was
    // found empty above.
    let list = copied
        .iter()
        .filter(|t| t.as_str() != "audit")
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    tx.batch_execute(&format!("TRUNCATE {list}")).await?;

    let mut report = Vec::new();
    for table in copied {
        let pg_columns = &pg_tables[table.as_str()];
        let copy = copy_table(file, &tx, table, pg_columns).await?;
        progress(&copy);
        report.push(copy);
    }
    // Identity columns continue after the copied ids, and after any id SQLite gave before.
    let identities: Vec<(String, String)> = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (t, c) in identities {
        let floor = given.get(&t).copied().unwrap_or(0);
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('\"{t}\"', '{c}'),
                               greatest(coalesce((SELECT max(\"{c}\") FROM \"{t}\"), 0), $1) + 1,
                               false)"
            ),
            &[&floor],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

async fn copy_table(
    file: &Path,
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    pg_columns: &BTreeMap<String, Kind>,
) -> Result<TableCopy, MigrateError> {
    // The SQLite columns, each with its PostgreSQL type.
    let names: Vec<String> = {
        let conn = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<Result<_, _>>()?
    };
    let mut kinds = Vec::with_capacity(names.len());
    for n in &names {
        let kind = pg_columns.get(n).ok_or_else(|| MigrateError::Schema {
            table: table.to_owned(),
            column: n.clone(),
        })?;
        kinds.push(*kind);
    }
    let quoted = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");

    // The reader: one blocking thread, batches of converted rows.
    let (tx_rows, mut rx_rows) = mpsc::channel::<Result<Vec<Vec<Cell>>, MigrateError>>(4);
    let reader = {
        let (file, table, names, kinds, quoted) = (
            file.to_owned(),
            table.to_owned(),
            names.clone(),
            kinds.clone(),
            quoted.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let run = || -> Result<(), MigrateError> {
                let conn = rusqlite::Connection::open_with_flags(
                    &file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                let mut stmt = conn.prepare(&format!("SELECT {quoted} FROM \"{table}\""))?;
                let mut rows = stmt.query([])?;
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(row) = rows.next()? {
                    let mut cells = Vec::with_capacity(kinds.len());
                    for (i, kind) in kinds.iter().enumerate() {
                        let v: Value = row.get(i)?;
                        cells.push(convert(v, *kind).map_err(|value| MigrateError::Convert {
                            table: table.clone(),
                            column: names[i].clone(),
                            value,
                            target: format!("{:?}", kind.pg()),
                        })?);
                    }
                    batch.push(cells);
                    if batch.len() == BATCH
                        && tx_rows
                            .blocking_send(Ok(std::mem::take(&mut batch)))
                            .is_err()
                    {
                        return Ok(());
                    }
                }
                if !batch.is_empty() {
                    let _ = tx_rows.blocking_send(Ok(batch));
                }
                Ok(())
            };
            if let Err(e) = run() {
                let _ = tx_rows.blocking_send(Err(e));
            }
        })
    };

    let types: Vec<Type> = kinds.iter().map(|k| k.pg()).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY \"{table}\" ({quoted}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    let (mut rows, mut sum) = (0u64, 0u64);
    while let Some(batch) = rx_rows.recv().await {
        for cells in batch? {
            let values: Vec<&(dyn ToSql + Sync)> = cells
                .iter()
                .zip(&kinds)
                .map(|(c, k)| c.to_sql(*k))
                .collect();
            writer.as_mut().write(&values).await?;
            rows += 1;
            sum = sum.wrapping_add(row_sum(&cells));
        }
    }
    writer.finish().await?;
    reader
        .await
        .map_err(|e| MigrateError::Reader(e.to_string()))?;

    // Read back what PostgreSQL now holds, and compare.
    let out = tx
        .copy_out(&format!(
            "COPY (SELECT {quoted} FROM \"{table}\") TO STDOUT (FORMAT binary)"
        ))
        .await?;
    let stream = BinaryCopyOutStream::new(out, &types);
    pin_mut!(stream);
    let (mut target_rows, mut target_sum) = (0u64, 0u64);
    while let Some(row) = stream.next().await {
        let row = row?;
        let mut cells = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            cells.push(match kind {
                Kind::Int8 => row.try_get::<Option<i64>>(i)?.map_or(Cell::Null, Cell::Int),
                Kind::Int4 => row
                    .try_get::<Option<i32>>(i)?
                    .map_or(Cell::Null, Cell::Int4),
                Kind::Text => row
                    .try_get::<Option<String>>(i)?
                    .map_or(Cell::Null, Cell::Text),
                Kind::Bytea => row
                    .try_get::<Option<Vec<u8>>>(i)?
                    .map_or(Cell::Null, Cell::Bytes),
                Kind::Float8 => row
                    .try_get::<Option<f64>>(i)?
                    .map_or(Cell::Null, Cell::Float),
            });
        }
        target_rows += 1;
        target_sum = target_sum.wrapping_add(row_sum(&cells));
    }
    if (rows, sum) != (target_rows, target_sum) {
        return Err(MigrateError::Mismatch {
            table: table.to_owned(),
            source_rows: rows,
            source_sum: sum,
            target_rows,
            target_sum,
        });
    }
    Ok(TableCopy {
        table: table.to_owned(),
        rows,
        checksum: sum,
    })
}
