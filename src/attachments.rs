//! 附件: taking files in and handing them out, around the rules of `domain::attachments`.
//!
//! The road of an upload: the multipart body is streamed to a spool file (hashed and counted
//! as it comes, limits checked on every chunk, never whole in memory); the type is judged
//! from its first bytes; an image is checked for its declared size, decoded, turned upright
//! and re-encoded (which drops EXIF, GPS and anything hidden after the pixels) with a
//! thumbnail; the result is streamed to the object store ([`Blobs`]: the local disk or S3);
//! only then is the `attachment_added` event committed. A crash in between leaves an object
//! no event names, which [`Blobs::remove_orphans`] deletes once it is old enough.

use crate::config::Config;
use crate::domain::attachments::{
    self as rules, AttachmentError, FileClass, FileType, Limits, StoredFile, SNIFF_BYTES,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One enum for this layer: what the HTTP layer turns into 400/413/422/503.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Rule(#[from] AttachmentError),
    /// The request body is not what it should be (cut off, not multipart…), naming the field.
    #[error("{message}")]
    Malformed { field: &'static str, message: String },
    /// The object store did not answer or refused: nothing was committed.
    #[error("附件存储暂时不可用，请稍后再试 ({0})")]
    StoreDown(String),
    #[error("{0}")]
    Io(String),
}

impl From<std::io::Error> for UploadError {
    fn from(e: std::io::Error) -> Self {
        UploadError::Io(e.to_string())
    }
}

impl From<object_store::Error> for UploadError {
    fn from(e: object_store::Error) -> Self {
        UploadError::StoreDown(e.to_string())
    }
}

/// Why the attachment store could not be set up (at start-up, or for backup, restore and
/// migrate-store): each names the configuration key to look at and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreSetupError {
    #[error(
        "attachments_dir: the spool folder {} cannot be created ({reason}); make the parent \
         of attachments_dir writable by the server, or point HOTLINE_ATTACHMENTS_DIR elsewhere",
        .path.display()
    )]
    Spool { path: PathBuf, reason: String },
    #[error(
        "attachments_dir: {} cannot be used as the attachment folder ({reason}); create it writable \
         by the server, or point HOTLINE_ATTACHMENTS_DIR at a folder that is",
        .path.display()
    )]
    Folder { path: PathBuf, reason: String },
    #[error(
        "s3_bucket: the S3 client refused the configuration ({0}); check s3_bucket, s3_endpoint, \
         s3_region and the access keys (HOTLINE_S3_BUCKET, HOTLINE_S3_ENDPOINT, HOTLINE_S3_REGION, \
         HOTLINE_S3_ACCESS_KEY_ID, HOTLINE_S3_SECRET_ACCESS_KEY)"
    )]
    S3(String),
}

impl StoreSetupError {
    /// The configuration key at fault.
    pub fn key(&self) -> &'static str {
        match self {
            StoreSetupError::Spool { .. } | StoreSetupError::Folder { .. } => "attachments_dir",
            StoreSetupError::S3(_) => "s3_bucket",
        }
    }
}

/// The object store behind every attachment: the local disk under the data folder, or an
/// S3-compatible bucket. The one interface the rest of the server uses.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where spool files are written while an upload streams in.
    spool: PathBuf,
    /// Image decoding holds the pixels in memory: one at a time keeps 50 concurrent uploads
    /// of large photos from multiplying that.
    images: Arc<tokio::sync::Semaphore>,
    /// Uploads read at the same time. Each one being read holds about a megabyte in the HTTP
    /// and multipart buffers (a heap profile of fifty 5 MB photos at once: 45 MB of them);
    /// one that waits holds nothing, its bytes wait in the kernel's socket buffer.
    receiving: Arc<tokio::sync::Semaphore>,
    /// How much of a file a write holds before it goes out: object_store's writer keeps 10 MiB
    /// by default, so fifty 5 MB photos stored at once were held whole. The local disk takes
    /// any chunk; S3 wants parts of at least 5 MiB.
    write_buffer: usize,
    pub description: String,
}

/// Uploads read at once (more wait their turn; the disk, not the count, sets the pace).
const UPLOADS_AT_ONCE: usize = 8;
/// A local write's buffer.
const LOCAL_WRITE_BUFFER: usize = 256 * 1024;
/// S3's smallest multipart part.
const S3_WRITE_BUFFER: usize = 5 * 1024 * 1024;

impl Blobs {
    /// The store the configuration names (validated at start by `Config::validate`).
    pub fn from_config(config: &Config) -> Result<Blobs, StoreSetupError> {
        let spool = config.attachments_dir.with_extension("spool");
        std::fs::create_dir_all(&spool)
            .map_err(|e| StoreSetupError::Spool { path: spool.clone(), reason: e.to_string() })?;
        let (store, description, write_buffer): (Arc<dyn ObjectStore>, String, usize) = match &config.s3_bucket {
            Some(bucket) => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&config.s3_region)
                    .with_retry(object_store::RetryConfig {
                        max_retries: 2,
                        retry_timeout: std::time::Duration::from_secs(10),
                        ..Default::default()
                    })
                    // Client options replace the builder's own: allow_http belongs here.
                    .with_client_options(
                        object_store::ClientOptions::new()
                            .with_allow_http(config.s3_allow_http)
                            .with_connect_timeout(std::time::Duration::from_secs(3))
                            .with_timeout(std::time::Duration::from_secs(60)),
                    );
                if let Some(endpoint) = &config.s3_endpoint {
                    // MinIO, Ceph and moto answer on the path, not a bucket sub-domain.
                    builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
                }
                if let (Some(id), Some(secret)) = (&config.s3_access_key_id, &config.s3_secret_access_key) {
                    builder = builder.with_access_key_id(id).with_secret_access_key(secret);
                }
                let store = builder.build().map_err(|e| StoreSetupError::S3(e.to_string()))?;
                (Arc::new(store), Blobs::describe(config), S3_WRITE_BUFFER)
            }
            None => {
                let folder = |e: &dyn std::fmt::Display| StoreSetupError::Folder {
                    path: config.attachments_dir.clone(),
                    reason: e.to_string(),
                };
                std::fs::create_dir_all(&config.attachments_dir).map_err(|e| folder(&e))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&config.attachments_dir)
                    .map_err(|e| folder(&e))?
                    .with_automatic_cleanup(true);
                (Arc::new(store), Blobs::describe(config), LOCAL_WRITE_BUFFER)
            }
        };
        Ok(Blobs {
            store,
            spool,
            images: Arc::new(tokio::sync::Semaphore::new(1)),
            receiving: Arc::new(tokio::sync::Semaphore::new(UPLOADS_AT_ONCE)),
            write_buffer,
            description,
        })
    }

    /// The store a configuration names, in words (nothing is opened or created).
    pub fn describe(config: &Config) -> String {
        match &config.s3_bucket {
            Some(bucket) => format!("s3://{bucket} at {}", config.s3_endpoint.as_deref().unwrap_or("AWS")),
            None => format!("local folder {}", config.attachments_dir.display()),
        }
    }

    /// Streams a file into the store under `key`, a few MB at a time. On failure nothing is
    /// left under the key (a multipart upload is aborted).
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), UploadError> {
        let mut file = tokio::fs::File::open(path).await?;
        let mut writer = self.writer(key);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.write_all(&buf[..n]).await {
                let _ = writer.abort().await;
                return Err(UploadError::StoreDown(e.to_string()));
            }
        }
        // A failed shutdown has already given up the upload (the writer cannot be aborted
        // after it); a multipart upload left behind expires by the bucket's lifecycle rule.
        writer.shutdown().await.map_err(|e| UploadError::StoreDown(e.to_string()))
    }

    /// A streaming writer for `key` (restoring a backup): finish it with `shutdown`.
    pub fn writer(&self, key: &str) -> object_store::buffered::BufWriter {
        object_store::buffered::BufWriter::with_capacity(self.store.clone(), ObjectPath::from(key), self.write_buffer)
    }

    /// Opens a stored file for streaming out.
    pub async fn get(&self, key: &str) -> Result<object_store::GetResult, object_store::Error> {
        self.store.get(&ObjectPath::from(key)).await
    }

    /// SHA-256 (hex) and size of a stored object, read as a stream.
    pub async fn sha256(&self, key: &str) -> Result<(String, u64), object_store::Error> {
        let mut stream = self.get(key).await?.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every stored object: key, size, last modified.
    pub async fn list(&self) -> Result<Vec<(String, u64, DateTime<Utc>)>, object_store::Error> {
        let mut out = Vec::new();
        let mut stream = self.store.list(Some(&ObjectPath::from("tickets")));
        while let Some(meta) = stream.next().await {
            let meta = meta?;
            out.push((meta.location.to_string(), meta.size, meta.last_modified));
        }
        Ok(out)
    }

    /// Deletes stored objects no event names that are older than `older_than` (uploads whose
    /// request failed between storing and committing). Returns how many were removed.
    pub async fn remove_orphans(
        &self,
        store: &crate::store::Store,
        now: DateTime<Utc>,
        older_than: chrono::Duration,
    ) -> Result<usize, crate::store::StoreError> {
        let unavailable = |e: object_store::Error| crate::store::StoreError::Unavailable(e.to_string());
        let old: Vec<String> = self
            .list()
            .await
            .map_err(unavailable)?
            .into_iter()
            .filter(|(_, _, at)| *at < now - older_than)
            .map(|(k, _, _)| k)
            .collect();
        let known = store.known_attachment_keys(&old).await?;
        let mut removed = 0;
        for key in old.iter().filter(|k| !known.contains(*k)) {
            self.delete(key).await.map_err(unavailable)?;
            tracing::info!(key = %key, "removed an attachment no event names");
            removed += 1;
        }
        Ok(removed)
    }

    pub fn spool_dir(&self) -> &Path {
        &self.spool
    }
}

/// A spool file deleted when dropped, whatever happens to the request.
pub struct SpoolFile {
    pub path: PathBuf,
}

impl SpoolFile {
    pub fn new(dir: &Path) -> SpoolFile {
        SpoolFile { path: dir.join(random_id()) }
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// 128 random bits as 32 hex digits: attachment ids and spool names.
pub fn random_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// One file as it arrived.
pub struct Spooled {
    pub file: SpoolFile,
    pub name: String,
    pub head: Vec<u8>,
    pub size: u64,
}

/// A file being spooled as it arrives: written a chunk at a time and counted, its first
/// bytes kept for [`rules::judge_type`].
pub struct SpoolWriter {
    file: SpoolFile,
    out: tokio::fs::File,
    head: Vec<u8>,
    /// Bytes written so far.
    pub size: u64,
}

impl SpoolWriter {
    pub async fn create(dir: &Path) -> std::io::Result<SpoolWriter> {
        let file = SpoolFile::new(dir);
        let out = tokio::fs::File::create(&file.path).await?;
        Ok(SpoolWriter { file, out, head: Vec::new(), size: 0 })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.out.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// The file, written out, under the name it came with.
    pub async fn finish(mut self, name: String) -> std::io::Result<Spooled> {
        self.out.flush().await?;
        Ok(Spooled { file: self.file, name, head: self.head, size: self.size })
    }
}

/// What an upload request carried: its files (spooled) and its form fields.
#[derive(Default)]
pub struct Upload {
    pub files: Vec<Spooled>,
    pub purpose: Option<String>,
    pub public: Option<String>,
}

/// Reads a multipart body: `file` parts (one or more) are streamed to spool files with the
/// limits checked as bytes arrive; `purpose` and `public` are short text fields.
pub async fn receive(
    mut multipart: axum::extract::Multipart,
    limits: &Limits,
    blobs: &Blobs,
) -> Result<Upload, UploadError> {
    let _turn = blobs.receiving.acquire().await.map_err(|_| UploadError::Io("the server is shutting down".into()))?;
    let spool = blobs.spool_dir();
    let cut = |e: axum::extract::multipart::MultipartError| UploadError::Malformed {
        field: "file",
        message: format!("上传不完整或格式错误，请重新上传 (multipart: {})", e.body_text()),
    };
    let mut upload = Upload::default();
    let mut total: u64 = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(cut)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                let raw_name = field.file_name().unwrap_or("").to_string();
                let mut out = SpoolWriter::create(spool).await?;
                while let Some(chunk) = field.chunk().await.map_err(cut)? {
                    total += chunk.len() as u64;
                    limits.check_file(&raw_name, out.size + chunk.len() as u64)?;
                    limits.check_request(total)?;
                    out.write(&chunk).await?;
                }
                if out.size == 0 {
                    return Err(UploadError::Malformed {
                        field: "file", message: format!("文件「{raw_name}」是空的")
                    });
                }
                upload.files.push(out.finish(raw_name).await?);
            }
            "purpose" | "public" => {
                let text = field.text().await.map_err(cut)?;
                if text.len() > 64 {
                    return Err(UploadError::Malformed { field: "purpose", message: format!("{name} is too long") });
                }
                let value = Some(text.trim().to_string());
                if name == "purpose" {
                    upload.purpose = value;
                } else {
                    upload.public = value;
                }
            }
            other => {
                return Err(UploadError::Malformed {
                    field: "file",
                    message: format!("unknown form field {other:?}: send file (one or more), purpose, public"),
                })
            }
        }
    }
    Ok(upload)
}

/// A file ready to store: the spool file (re-encoded for images), its thumbnail, and what
/// the event will say about it.
pub struct Prepared {
    pub stored: StoredFile,
    pub body: PathBuf,
    pub thumbnail: Option<PathBuf>,
    // Kept so the spool files live until stored.
    _keep: Vec<SpoolFile>,
}

/// Judges, checks and (images) re-encodes one spooled file. `ticket_id` and the new id
/// make the storage keys.
pub async fn prepare(blobs: &Blobs, file: Spooled, ticket_id: i64, limits: &Limits) -> Result<Prepared, UploadError> {
    let kind = rules::judge_type(&file.name, &file.head)?;
    let id = random_id();
    let name = rules::clean_name(&file.name, kind.extension);
    if kind.class != FileClass::Image {
        let (sha256, size) = hash_file(&file.file.path).await?;
        debug_assert_eq!(size, file.size);
        return Ok(Prepared {
            stored: StoredFile {
                storage_key: rules::storage_key(ticket_id, &id),
                id,
                name,
                content_type: kind.mime.to_string(),
                class: kind.class,
                size,
                sha256,
                thumbnail_key: None,
                width: None,
                height: None,
            },
            body: file.file.path.clone(),
            thumbnail: None,
            _keep: vec![file.file],
        });
    }
    let _permit = blobs.images.acquire().await.map_err(|e| UploadError::Io(e.to_string()))?;
    let out = SpoolFile::new(&blobs.spool);
    let thumb = SpoolFile::new(&blobs.spool);
    let (src, dst, th, limits_copy, raw_name) =
        (file.file.path.clone(), out.path.clone(), thumb.path.clone(), *limits, file.name.clone());
    let (mime, width, height) =
        tokio::task::spawn_blocking(move || reencode(&src, &dst, &th, kind, &limits_copy, &raw_name))
            .await
            .map_err(|e| UploadError::Io(e.to_string()))??;
    drop(_permit);
    let (sha256, size) = hash_file(&out.path).await?;
    let name = if mime == "image/png" && kind.mime != "image/png" { with_extension(&name, "png") } else { name };
    Ok(Prepared {
        stored: StoredFile {
            storage_key: rules::storage_key(ticket_id, &id),
            thumbnail_key: Some(rules::thumbnail_key(ticket_id, &id)),
            id,
            name,
            content_type: mime.to_string(),
            class: FileClass::Image,
            size,
            sha256,
            width: Some(width),
            height: Some(height),
        },
        body: out.path.clone(),
        thumbnail: Some(thumb.path.clone()),
        _keep: vec![file.file, out, thumb],
    })
}

fn with_extension(name: &str, extension: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => format!("{stem}.{extension}"),
        _ => format!("{name}.{extension}"),
    }
}

/// Thumbnails fit in this square.
const THUMBNAIL_EDGE: u32 = 320;

/// Decodes and re-encodes an image: the declared size is checked before decoding, the
/// decoder's memory is bounded, the picture is turned upright by its EXIF orientation, and
/// only the pixels are written out (JPEG stays JPEG; PNG, WebP and GIF become PNG).
fn reencode(
    src: &Path,
    dst: &Path,
    thumb: &Path,
    kind: FileType,
    limits: &Limits,
    name: &str,
) -> Result<(&'static str, u32, u32), UploadError> {
    use image::{ImageDecoder, ImageReader};
    let broken = |e: image::ImageError| {
        UploadError::Rule(AttachmentError::Rejected {
            field: "file",
            message: format!("图片「{name}」无法读取 (文件损坏或不完整): {e}"),
        })
    };
    let open = || -> Result<ImageReader<std::io::BufReader<std::fs::File>>, UploadError> {
        let mut reader = ImageReader::open(src)?.with_guessed_format()?;
        let mut decoder_limits = image::Limits::default();
        decoder_limits.max_alloc = Some(limits.max_image_pixels.saturating_mul(4).min(1 << 30));
        reader.limits(decoder_limits);
        Ok(reader)
    };
    let (width, height) = open()?.into_dimensions().map_err(broken)?;
    limits.check_dimensions(name, width, height)?;
    let mut decoder = open()?.into_decoder().map_err(broken)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture = image::DynamicImage::from_decoder(decoder).map_err(broken)?;
    picture.apply_orientation(orientation);
    let (width, height) = (picture.width(), picture.height());
    let mime = if kind.mime == "image/jpeg" {
        let mut out = std::io::BufWriter::new(std::fs::File::create(dst)?);
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        // A colour JPEG decodes to RGB already: encoded as it is, not copied first.
        match &picture {
            image::DynamicImage::ImageRgb8(rgb) => encoder.encode_image(rgb),
            other => encoder.encode_image(&other.to_rgb8()),
        }
        .map_err(broken)?;
        std::io::Write::flush(&mut out)?;
        "image/jpeg"
    } else {
        let mut out = std::io::BufWriter::new(std::fs::File::create(dst)?);
        picture.write_to(&mut out, image::ImageFormat::Png).map_err(broken)?;
        std::io::Write::flush(&mut out)?;
        "image/png"
    };
    let small = picture.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).to_rgb8();
    let mut out = std::io::BufWriter::new(std::fs::File::create(thumb)?);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&small).map_err(broken)?;
    std::io::Write::flush(&mut out)?;
    Ok((mime, width, height))
}

impl From<image::ImageError> for UploadError {
    fn from(e: image::ImageError) -> Self {
        UploadError::Io(e.to_string())
    }
}

/// SHA-256 (hex) and size of a file, read in chunks.
async fn hash_file(path: &Path) -> Result<(String, u64), UploadError> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Stores the prepared files (bodies and thumbnails). On a failure the ones already stored
/// are deleted again; what a crash leaves behind the orphan cleanup removes.
pub async fn store_all(blobs: &Blobs, prepared: &[Prepared]) -> Result<(), UploadError> {
    let mut done: Vec<&str> = Vec::new();
    for p in prepared {
        let mut parts = vec![(p.stored.storage_key.as_str(), p.body.as_path())];
        if let (Some(key), Some(path)) = (&p.stored.thumbnail_key, &p.thumbnail) {
            parts.push((key.as_str(), path.as_path()));
        }
        for (key, path) in parts {
            if let Err(e) = blobs.put_file(key, path).await {
                forget(blobs, &done).await;
                return Err(e);
            }
            done.push(key);
        }
    }
    Ok(())
}

/// Deletes stored objects whose event was not committed (best effort: the cleanup job
/// catches what this misses).
pub async fn forget(blobs: &Blobs, keys: &[&str]) {
    for key in keys {
        if let Err(e) = blobs.delete(key).await {
            tracing::warn!(key = %key, error = %e, "could not delete an uncommitted attachment; the cleanup job will");
        }
    }
}

/// The keys of prepared files, for [`forget`].
pub fn keys_of(prepared: &[Prepared]) -> Vec<&str> {
    prepared
        .iter()
        .flat_map(|p| std::iter::once(p.stored.storage_key.as_str()).chain(p.stored.thumbnail_key.as_deref()))
        .collect()
}

/// Why files could not be added: the upload itself, or the write that names them.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The one road of every file: prepares (judges, re-encodes), stores, then commits the
/// `attachment_added` events naming the files; on a refused or failed commit the stored
/// files are deleted again. The caller publishes the change.
#[allow(clippy::too_many_arguments)]
pub async fn attach(
    store: &crate::store::Store,
    blobs: &Blobs,
    limits: &Limits,
    ticket_id: i64,
    uploader: rules::Uploader<'_>,
    actor: &crate::domain::lifecycle::Actor,
    request: rules::Request,
    files: Vec<Spooled>,
) -> Result<(crate::store::Change, Vec<String>), AddError> {
    let mut prepared = Vec::with_capacity(files.len());
    for file in files {
        prepared.push(prepare(blobs, file, ticket_id, limits).await?);
    }
    store_all(blobs, &prepared).await?;
    let stored: Vec<StoredFile> = prepared.iter().map(|p| p.stored.clone()).collect();
    match store
        .change_ticket(ticket_id, actor, |t, now| rules::decide_add(t, uploader, request, &stored, limits, now))
        .await
    {
        Ok(change) => Ok((change, stored.into_iter().map(|s| s.id).collect())),
        Err(e) => {
            forget(blobs, &keys_of(&prepared)).await;
            Err(e.into())
        }
    }
}

/// Bytes made here (the demo's photos) as a spooled file, as if uploaded.
pub async fn spool_bytes(blobs: &Blobs, name: &str, bytes: &[u8]) -> Result<Spooled, UploadError> {
    let mut out = SpoolWriter::create(&blobs.spool).await?;
    out.write(bytes).await?;
    Ok(out.finish(name.to_string()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_cannot_be_made_names_attachments_dir_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        let config = Config { attachments_dir: file.join("files"), ..Config::default() };
        let Err(e) = Blobs::from_config(&config) else { panic!("a folder inside a file") };
        assert_eq!(e.key(), "attachments_dir");
        let text = e.to_string();
        assert!(text.starts_with("attachments_dir:") && text.contains("HOTLINE_ATTACHMENTS_DIR"), "{text}");
    }
}
