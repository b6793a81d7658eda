//! `hotline backup`, `hotline restore` and `hotline migrate-store`: one copier
//! ([`crate::store::copy`]) between a database and a portable file, or between two databases.
//!
//! The file is gzip'd JSON lines, readable by either database:
//!
//! ```text
//! {"format":"hotline-backup","format_version":1,"schema":[1,2,…],"source":"sqlite","created_at":"…"}
//! {"table":"events","columns":["seq","ticket_id",…]}
//! [1,1,"received",…]                       one line per row, values in column order
//! …
//! {"end":{"events":1234,"tickets":300,…}}  rows per table: a cut-off file is refused
//! ```
//!
//! The attachment files travel too: a backup carries them (`{"attachment":…}` and `{"data":…}`
//! lines after the tables), a restore writes them into the store its configuration names, and
//! migrate-store either leaves them in the one store both databases name, or, given a second
//! store (`--files-to CONFIG`), copies every object across with its checksum verified.
//!
//! A backup is one consistent snapshot, taken while servers keep running. A restore writes
//! into an empty database in one transaction: all of it or nothing. The schema version (the
//! migrations applied) must be the same on both sides, so a row never meets a column it
//! does not know.

use crate::store::copy::CopyItem;
use crate::store::{Backend, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

pub const FORMAT: &str = "hotline-backup";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    /// The migration versions applied to the database the backup was taken from.
    pub schema: Vec<i64>,
    /// `sqlite` or `postgres`: informative only, a backup restores into either.
    pub source: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: line {line}: {message}")]
    Format { path: PathBuf, line: u64, message: String },
    #[error("{0}")]
    Schema(String),
}

type Result<T, E = BackupError> = std::result::Result<T, E>;

/// Rows copied per table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary(pub BTreeMap<String, u64>);

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows: u64 = self.0.values().sum();
        let detail: Vec<String> = self.0.iter().filter(|(_, n)| **n > 0).map(|(t, n)| format!("{t} {n}")).collect();
        write!(f, "{} tables, {rows} rows ({})", self.0.len(), detail.join(", "))
    }
}

/// What a restore or migrate-store wrote, and the tables it left out because the target
/// (the other dialect) has no such table: indexes it rebuilds itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copied {
    pub written: Summary,
    pub left_out: Vec<String>,
}

impl std::fmt::Display for Copied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.written)?;
        if !self.left_out.is_empty() {
            write!(f, "; left out (the target's kind of database has no such table): {}", self.left_out.join(", "))?;
        }
        Ok(())
    }
}

fn backend_word(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn describe(schema: &[i64]) -> String {
    schema.last().map_or("no schema".to_string(), |v| format!("schema version {v:04}"))
}

/// Opens a database to read from as it is (no migration); a SQLite file that does not
/// exist is an error rather than a new empty database.
pub async fn open_source(url: &str) -> Result<Store> {
    if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let path = rest.split('?').next().unwrap_or_default();
        if path != ":memory:" && !Path::new(path).exists() {
            return Err(BackupError::Schema(format!("there is no database at {path}; check the URL")));
        }
    }
    Ok(Store::open(url, 2, crate::store::system_clock()).await?)
}

/// The migrations applied to a database being read; a database without them is not a
/// hotline database (a mistyped URL, say), and is said to be so.
async fn source_schema(store: &Store) -> Result<Vec<i64>> {
    match store.applied_migrations().await {
        Ok(schema) if !schema.is_empty() => Ok(schema),
        Ok(_) | Err(StoreError::Database(_)) => Err(BackupError::Schema(
            "the source database has no hotline schema; check its URL (hotline migrate creates the schema)".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// What the writer thread is sent: the tables' rows, then each attachment's bytes.
enum Item {
    Copy(CopyItem),
    File { key: String, size: u64 },
    Chunk(bytes::Bytes),
}

/// An attachment read back from a backup, on its way to the object store.
enum FileItem {
    Start(String),
    Chunk(Vec<u8>),
}

/// Bytes of an attachment per backup line (base64 makes them a third longer).
const FILE_CHUNK: usize = 48 * 1024;

/// Writes a snapshot of `store` to `path` (through a temporary file, renamed when complete).
pub async fn backup(store: &Store, path: &Path) -> Result<Summary> {
    backup_with_files(store, None, path).await
}

/// Like [`backup`], and the attachments the events name are carried in the file too, read
/// from `blobs` (the local folder or the S3 bucket) as a stream.
pub async fn backup_with_files(
    store: &Store,
    blobs: Option<&crate::attachments::Blobs>,
    path: &Path,
) -> Result<Summary> {
    let header = Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema: source_schema(store).await?,
        source: backend_word(store.backend()).into(),
        created_at: Utc::now(),
    };
    let (tx, rx) = mpsc::channel(16);
    let target = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || write_file(&target, &header, rx));
    let (copy_tx, mut copy_rx) = mpsc::channel(16);
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(item) = copy_rx.recv().await {
                if tx.send(Item::Copy(item)).await.is_err() {
                    break;
                }
            }
        })
    };
    let exported = store.export(copy_tx).await;
    let _ = forward.await;
    let files = match (blobs, &exported) {
        (Some(blobs), Ok(_)) => send_files(store, blobs, &tx).await,
        _ => Ok(()),
    };
    drop(tx);
    let written = writer.await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let exported = exported?;
    files?;
    let written = written?;
    debug_assert_eq!(exported, written.0);
    Ok(written)
}

/// Streams every attachment an event names to the writer, a chunk at a time.
async fn send_files(store: &Store, blobs: &crate::attachments::Blobs, tx: &mpsc::Sender<Item>) -> Result<()> {
    use futures::StreamExt;
    let closed = || BackupError::Store(StoreError::Unavailable("the backup writer stopped".into()));
    for key in store.all_attachment_keys().await? {
        let got = blobs.get(&key).await.map_err(|e| {
            BackupError::Schema(format!("attachment {key} could not be read from {}: {e}", blobs.description))
        })?;
        tx.send(Item::File { key: key.clone(), size: got.meta.size }).await.map_err(|_| closed())?;
        let mut stream = got.into_stream();
        let mut pending = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BackupError::Schema(format!("attachment {key}: {e}")))?;
            pending.extend_from_slice(&chunk);
            while pending.len() >= FILE_CHUNK {
                tx.send(Item::Chunk(pending.split_to(FILE_CHUNK).freeze())).await.map_err(|_| closed())?;
            }
        }
        if !pending.is_empty() {
            tx.send(Item::Chunk(pending.freeze())).await.map_err(|_| closed())?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, header: &Header, mut rx: mpsc::Receiver<Item>) -> Result<Summary> {
    let partial = path.with_extension("partial");
    let io = |error| BackupError::Io { path: partial.clone(), error };
    // A backup holds password hashes and callers' phone numbers: readable by its owner only.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&partial).map_err(io)?;
    let mut out = BufWriter::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    put(&mut out, header).map_err(io)?;
    let mut counts = BTreeMap::new();
    let mut current = String::new();
    let mut files = 0u64;
    while let Some(item) = rx.blocking_recv() {
        let item = match item {
            Item::Copy(item) => item,
            Item::File { key, size } => {
                put(&mut out, &serde_json::json!({ "attachment": key, "size": size })).map_err(io)?;
                files += 1;
                continue;
            }
            Item::Chunk(bytes) => {
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
                put(&mut out, &serde_json::json!({ "data": data })).map_err(io)?;
                continue;
            }
        };
        match item {
            CopyItem::Table { name, columns } => {
                put(&mut out, &serde_json::json!({ "table": name, "columns": columns })).map_err(io)?;
                counts.insert(name.clone(), 0u64);
                current = name;
            }
            CopyItem::Rows(rows) => {
                for row in &rows {
                    put(&mut out, row).map_err(io)?;
                }
                *counts.entry(current.clone()).or_default() += rows.len() as u64;
            }
        }
    }
    put(&mut out, &serde_json::json!({ "end": counts, "attachments": files })).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?.finish().map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&partial, path).map_err(|error| BackupError::Io { path: path.to_path_buf(), error })?;
    Ok(Summary(counts))
}

/// One JSON line.
fn put(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// Reads a backup's header (to check it before anything is written).
pub fn read_header(path: &Path) -> Result<Header> {
    let (header, _) = open_backup(path)?;
    Ok(header)
}

type Lines = std::io::Lines<BufReader<flate2::read::GzDecoder<std::fs::File>>>;

fn open_backup(path: &Path) -> Result<(Header, Lines)> {
    let file = std::fs::File::open(path).map_err(|error| BackupError::Io { path: path.to_path_buf(), error })?;
    let mut lines = BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let bad = |message: String| BackupError::Format { path: path.to_path_buf(), line: 1, message };
    let first = lines
        .next()
        .ok_or_else(|| bad("the file is empty".into()))?
        .map_err(|e| bad(format!("not a gzip'd hotline backup ({e})")))?;
    let header: Header = serde_json::from_str(&first).map_err(|e| bad(format!("not a hotline backup header ({e})")))?;
    if header.format != FORMAT || header.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "format {} version {} is not {FORMAT} version {FORMAT_VERSION}",
            header.format, header.format_version
        )));
    }
    Ok((header, lines))
}

/// Sends a backup's tables and rows; checks the end line's counts, so a cut-off file fails.
fn read_file(
    path: &Path,
    mut lines: Lines,
    tx: mpsc::Sender<CopyItem>,
    files: Option<mpsc::Sender<FileItem>>,
) -> Result<Summary> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut attachments = 0u64;
    let mut current: Option<String> = None;
    let mut batch = Vec::new();
    let mut number = 1u64;
    let closed = || BackupError::Store(StoreError::Unavailable("the restore stopped".into()));
    loop {
        number += 1;
        let bad = |message: String| BackupError::Format { path: path.to_path_buf(), line: number, message };
        let Some(line) = lines.next() else {
            return Err(bad("the file ends before its end line: it is cut off".into()));
        };
        let value: Json =
            serde_json::from_str(&line.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(format!("not JSON ({e})")))?;
        if let Json::Array(row) = value {
            let table = current.as_ref().ok_or_else(|| bad("a row before any table".into()))?;
            *counts.get_mut(table).expect("counted from its table line") += 1;
            batch.push(row);
            if batch.len() >= 500 {
                tx.blocking_send(CopyItem::Rows(std::mem::take(&mut batch))).map_err(|_| closed())?;
            }
            continue;
        }
        if !batch.is_empty() {
            tx.blocking_send(CopyItem::Rows(std::mem::take(&mut batch))).map_err(|_| closed())?;
        }
        if let Some(data) = value.get("data").and_then(Json::as_str) {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| bad(format!("attachment data is not base64 ({e})")))?;
            if let Some(files) = &files {
                files.blocking_send(FileItem::Chunk(bytes)).map_err(|_| closed())?;
            }
            continue;
        }
        if let Some(key) = value.get("attachment").and_then(Json::as_str) {
            attachments += 1;
            if let Some(files) = &files {
                files.blocking_send(FileItem::Start(key.to_string())).map_err(|_| closed())?;
            }
            continue;
        }
        if let Some(end) = value.get("end") {
            let expected_files = value.get("attachments").and_then(Json::as_u64).unwrap_or(0);
            if expected_files != attachments {
                return Err(bad(format!(
                    "the end line counts {expected_files} attachments but the file holds {attachments}"
                )));
            }
            let expected: BTreeMap<String, u64> =
                serde_json::from_value(end.clone()).map_err(|e| bad(format!("a bad end line ({e})")))?;
            if expected != counts {
                return Err(bad(format!("the end line counts {expected:?} but the file holds {counts:?}")));
            }
            return Ok(Summary(counts));
        }
        let name = value.get("table").and_then(Json::as_str).ok_or_else(|| bad("neither a row nor a table".into()))?;
        let columns: Vec<String> = serde_json::from_value(value.get("columns").cloned().unwrap_or_default())
            .map_err(|e| bad(format!("a table line without its columns ({e})")))?;
        counts.insert(name.to_string(), 0);
        current = Some(name.to_string());
        tx.blocking_send(CopyItem::Table { name: name.to_string(), columns }).map_err(|_| closed())?;
    }
}

/// The schema of what is copied must be the target's.
fn same_schema(source: &[i64], target: &[i64], what: &str, fix: &str) -> Result<()> {
    if source == target {
        return Ok(());
    }
    Err(BackupError::Schema(format!(
        "{what} is at {} but the target database is at {}; {fix}",
        describe(source),
        describe(target)
    )))
}

/// Restores a backup into `store`, which must be empty (see [`Store::begin_import`]).
pub async fn restore(store: &Store, path: &Path) -> Result<Copied> {
    restore_with_files(store, None, path).await
}

/// Like [`restore`], and the attachments in the file are written to `blobs` before the
/// database is committed (a failed restore leaves only files no event names, which the
/// cleanup job removes).
pub async fn restore_with_files(
    store: &Store,
    blobs: Option<&crate::attachments::Blobs>,
    path: &Path,
) -> Result<Copied> {
    let file = path.to_path_buf();
    let (header, lines) = tokio::task::spawn_blocking(move || open_backup(&file))
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
    same_schema(
        &header.schema,
        &store.applied_migrations().await?,
        "the backup",
        "restore it with the hotline release that made it, then start the newer release to upgrade",
    )?;
    let (tx, rx) = mpsc::channel(16);
    let file = path.to_path_buf();
    let (files_tx, files) = match blobs {
        Some(blobs) => {
            let (files_tx, files_rx) = mpsc::channel(16);
            (Some(files_tx), Some(tokio::spawn(write_files(blobs.clone(), files_rx))))
        }
        None => (None, None),
    };
    let reader = tokio::task::spawn_blocking(move || read_file(&file, lines, tx, files_tx));
    Ok(copy_into(store, rx, reader, files).await?.0)
}

/// Writes the attachments a backup carries into the object store, each streamed.
async fn write_files(blobs: crate::attachments::Blobs, mut rx: mpsc::Receiver<FileItem>) -> Result<FilesCopied> {
    use tokio::io::AsyncWriteExt;
    let failed = |key: &str, e: std::io::Error| BackupError::Schema(format!("attachment {key}: {e}"));
    let mut current: Option<(String, object_store::buffered::BufWriter)> = None;
    let mut written = FilesCopied::default();
    while let Some(item) = rx.recv().await {
        match item {
            FileItem::Start(key) => {
                if let Some((done, mut writer)) = current.take() {
                    writer.shutdown().await.map_err(|e| failed(&done, e))?;
                }
                let writer = blobs.writer(&key);
                current = Some((key, writer));
                written.objects += 1;
            }
            FileItem::Chunk(bytes) => {
                let Some((key, writer)) = current.as_mut() else {
                    return Err(BackupError::Schema("attachment data before its attachment line".into()));
                };
                writer.write_all(&bytes).await.map_err(|e| failed(key, e))?;
                written.bytes += bytes.len() as u64;
            }
        }
    }
    if let Some((done, mut writer)) = current.take() {
        writer.shutdown().await.map_err(|e| failed(&done, e))?;
    }
    Ok(written)
}

/// Writes what `reader` sends into `target` in one transaction, committed only when the
/// reader finished well and both sides counted the same rows.
async fn copy_into(
    target: &Store,
    rx: mpsc::Receiver<CopyItem>,
    reader: tokio::task::JoinHandle<Result<Summary>>,
    files: Option<tokio::task::JoinHandle<Result<FilesCopied>>>,
) -> Result<(Copied, Option<FilesCopied>)> {
    let import = match target.begin_import().await {
        Ok(import) => import,
        Err(refused) => {
            reader.abort();
            if let Some(files) = files {
                files.abort();
            }
            return Err(refused.into());
        }
    };
    let written = drain_into(import, rx).await;
    // A reader's error (a cut-off file) explains a failed write better than the write does.
    let read = reader.await.map_err(|e| StoreError::Unavailable(e.to_string()))??;
    let (import, written) = written?;
    // The files are stored before the rows naming them are committed.
    let files = match files {
        Some(files) => Some(files.await.map_err(|e| StoreError::Unavailable(e.to_string()))??),
        None => None,
    };
    if read != written {
        return Err(BackupError::Schema(format!("read {read} but wrote {written}")));
    }
    let imported = import.finish().await?;
    Ok((Copied { written: Summary(imported.rows), left_out: imported.left_out }, files))
}

/// Writes every item into the import; returns it unfinished, so the caller commits only
/// when the reading side also succeeded.
async fn drain_into(
    mut import: crate::store::copy::Import,
    mut rx: mpsc::Receiver<CopyItem>,
) -> Result<(crate::store::copy::Import, Summary)> {
    let mut counts = BTreeMap::new();
    let mut current = String::new();
    while let Some(item) = rx.recv().await {
        match &item {
            CopyItem::Table { name, .. } => {
                counts.insert(name.clone(), 0u64);
                current = name.clone();
            }
            CopyItem::Rows(rows) => *counts.entry(current.clone()).or_default() += rows.len() as u64,
        }
        import.write(item).await?;
    }
    Ok((import, Summary(counts)))
}

/// Copies every table of `from` into `to`, which must be empty and at the same schema. The
/// attachment files stay where they are: both databases name the same store.
pub async fn migrate_store(from: &Store, to: &Store) -> Result<Copied> {
    Ok(migrate_store_with_files(from, to, None).await?.0)
}

/// Attachment objects migrate-store copied from one store to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilesCopied {
    pub objects: u64,
    pub bytes: u64,
}

/// Like [`migrate_store`], and when `files` names two stores (`from`, `to`: the folder and the
/// bucket of two configurations) every object the events name is copied across first, each
/// streamed and its SHA-256 checked twice: against what its event recorded while reading the
/// source, and against the copy read back from the target. The rows are committed only when
/// every file is across (a failed run leaves files no event names, which the cleanup job
/// removes; run it again into the still empty database).
pub async fn migrate_store_with_files(
    from: &Store,
    to: &Store,
    files: Option<(&crate::attachments::Blobs, &crate::attachments::Blobs)>,
) -> Result<(Copied, Option<FilesCopied>)> {
    same_schema(
        &source_schema(from).await?,
        &to.applied_migrations().await?,
        "the source database",
        "run `hotline migrate` against the source first (with this release)",
    )?;
    if let Some((source, target)) = files {
        if source.description == target.description {
            return Err(BackupError::Schema(format!(
                "the attachments would be copied onto themselves ({}): name another store, or leave the files where they are",
                source.description
            )));
        }
    }
    let (tx, rx) = mpsc::channel(16);
    let source = from.clone();
    let copying = files.map(|(source_blobs, target_blobs)| {
        tokio::spawn(copy_files(from.clone(), source_blobs.clone(), target_blobs.clone()))
    });
    copy_into(to, rx, tokio::spawn(async move { Ok(Summary(source.export(tx).await?)) }), copying).await
}

impl std::fmt::Display for FilesCopied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} attachment objects, {} bytes", self.objects, self.bytes)
    }
}

/// Copies every attachment object from one store to the other (see [`migrate_store_with_files`]).
async fn copy_files(
    source_db: Store,
    from: crate::attachments::Blobs,
    to: crate::attachments::Blobs,
) -> Result<FilesCopied> {
    use futures::StreamExt;
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    let mut copied = FilesCopied::default();
    for (key, recorded) in source_db.attachment_objects().await? {
        let failed = |what: String| BackupError::Schema(format!("attachment {key}: {what}"));
        let got = from.get(&key).await.map_err(|e| failed(format!("cannot be read from {}: {e}", from.description)))?;
        let mut writer = to.writer(&key);
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let written = match chunk {
                Ok(chunk) => {
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    writer.write_all(&chunk).await.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = written {
                let _ = writer.abort().await;
                return Err(failed(format!("copying from {} to {}: {e}", from.description, to.description)));
            }
        }
        let sha256 = hex::encode(hasher.finalize());
        if let Some((recorded_size, recorded_sha)) = &recorded {
            if (*recorded_size, recorded_sha) != (size, &sha256) {
                let _ = writer.abort().await;
                return Err(failed(format!(
                    "in {} it is {size} bytes with SHA-256 {sha256}, but its event recorded {recorded_size} bytes \
                     with {recorded_sha}: the stored file was changed or damaged; nothing was committed",
                    from.description
                )));
            }
        }
        writer.shutdown().await.map_err(|e| failed(format!("writing to {}: {e}", to.description)))?;
        let (copy_sha, _) =
            to.sha256(&key).await.map_err(|e| failed(format!("reading the copy back from {}: {e}", to.description)))?;
        if copy_sha != sha256 {
            return Err(failed(format!(
                "the copy in {} reads back as SHA-256 {copy_sha}, not {sha256}",
                to.description
            )));
        }
        copied.objects += 1;
        copied.bytes += size;
    }
    Ok(copied)
}
