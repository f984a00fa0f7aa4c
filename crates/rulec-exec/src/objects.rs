//! Inputs and products on object storage (`s3://bucket/key`): the stores, listing an input's
//! data objects, their identities, and a product's manifest, check and publication.
//!
//! Publication on object storage: a new version is built whole in a local staging directory
//! (as for a local product), then its data files are uploaded under names no earlier version
//! used (`part-<nonce>-<n>.parquet`; an upload becomes visible whole or not at all), its
//! plan and errors file next, the manifest (`_rulec/manifest.json`) last, in one PUT; then
//! every object below the product that the new manifest does not name is deleted. So the
//! manifest always describes whole files, and a run killed at any point leaves the published
//! version (the old manifest and its files) intact; what it uploaded but did not publish is
//! deleted by the next run of the product. Object stores cannot swap a directory: a reader
//! that lists `<product>/*.parquet` while a version is being published sees the files of
//! both versions, and one that lists before the old files are deleted may find them gone
//! when it opens them. A reader that wants one whole version reads the files the manifest
//! names (which is what rulec itself does).

use crate::location::ObjectLocation;
use crate::state::{MANIFEST_FILE, Manifest};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{
    ObjectMeta, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, WriteMultipart,
};
use futures::TryStreamExt as _;
use rulec_diagnostics::{Diagnostic, codes};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The object store that holds `location`, as the engine reads it (opened by the runtime's
/// registry, [`crate::store::Stores`], when first used).
pub(crate) fn store(
    runtime: &RuntimeEnv,
    location: &ObjectLocation,
) -> Result<Arc<dyn ObjectStore>, Diagnostic> {
    runtime
        .object_store(location.store_url())
        .map_err(|e| match open(location) {
            Err(d) => d,
            Ok(_) => unavailable(format!("cannot use `{location}`: {e}")),
        })
}

/// A client of the store that holds `location`: credentials and endpoint from the
/// environment, as the AWS SDKs read them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …), listing data names only
/// ([`crate::store::DataOnly`]).
pub(crate) fn open(location: &ObjectLocation) -> Result<Arc<dyn ObjectStore>, Diagnostic> {
    Ok(Arc::new(crate::store::DataOnly(client(location)?)))
}

#[cfg(feature = "s3")]
pub(crate) fn client(location: &ObjectLocation) -> Result<Arc<dyn ObjectStore>, Diagnostic> {
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(&location.bucket)
        .build()
        .map_err(|e| {
            unavailable(format!(
                "cannot reach `{location}`: {e}",
                e = e.to_string().replace('\n', " ")
            ))
            .with_help("set AWS_REGION (and AWS_ENDPOINT_URL for a store other than AWS)")
        })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "s3"))]
pub(crate) fn client(location: &ObjectLocation) -> Result<Arc<dyn ObjectStore>, Diagnostic> {
    Err(unavailable(format!(
        "`{location}` is on object storage, and this rulec was built without the `s3` feature"
    ))
    .with_help("build it with `cargo build --release -p rulec --features s3`"))
}

fn unavailable(message: String) -> Diagnostic {
    Diagnostic::error(codes::STORAGE_UNAVAILABLE, message)
}

/// Whether an object store error says the object is not there.
pub(crate) fn not_found(e: &datafusion::object_store::Error) -> bool {
    matches!(e, datafusion::object_store::Error::NotFound { .. })
}

/// The data objects of an input: the object itself if `location` names a `.parquet`
/// object, else every `.parquet` object below it (names starting with `.` or `_` below it
/// are not data), sorted by key.
pub(crate) async fn data_objects(
    store: &dyn ObjectStore,
    location: &ObjectLocation,
) -> datafusion::object_store::Result<Vec<ObjectMeta>> {
    if location.key.ends_with(".parquet") {
        match store.head(&location.path()).await {
            Ok(meta) => return Ok(vec![meta]),
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let prefix = location.path();
    let mut objects: Vec<ObjectMeta> = store
        .list(Some(&prefix))
        .try_filter(|meta| {
            std::future::ready(meta.location.extension().is_some_and(|e| e == "parquet"))
        })
        .try_collect()
        .await?;
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(objects)
}

/// The Parquet footer of an object (its metadata and the 8 bytes after it), or the whole
/// object if it is too short to have one.
pub(crate) async fn footer(
    store: &dyn ObjectStore,
    meta: &ObjectMeta,
) -> datafusion::object_store::Result<bytes::Bytes> {
    if meta.size < 12 {
        return store.get(&meta.location).await?.bytes().await;
    }
    let tail = store
        .get_range(&meta.location, meta.size - 8..meta.size)
        .await?;
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    let start = meta.size.saturating_sub(8 + footer_len);
    store.get_range(&meta.location, start..meta.size).await
}

/// A product's manifest on object storage, if there is a readable one.
pub(crate) async fn read_manifest(
    store: &dyn ObjectStore,
    product: &ObjectLocation,
) -> Option<Manifest> {
    let bytes = store
        .get(&product.join(MANIFEST_FILE).path())
        .await
        .ok()?
        .bytes()
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether the objects a manifest names are there with their recorded sizes and a Parquet
/// trailer (`verify`: and their recorded SHA-256).
pub(crate) async fn files_intact(
    store: &dyn ObjectStore,
    product: &ObjectLocation,
    manifest: &Manifest,
    verify: bool,
) -> bool {
    for file in manifest.all_files() {
        let path = product.join(&file.name).path();
        let Ok(meta) = store.head(&path).await else {
            return false;
        };
        if meta.size != file.bytes {
            return false;
        }
        if file.name.ends_with(".parquet") && meta.size >= 4 {
            let trailer = store.get_range(&path, meta.size - 4..meta.size).await;
            if !trailer.is_ok_and(|t| t.as_ref() == b"PAR1") {
                return false;
            }
        }
        if verify && sha256(store, &path).await.ok().as_ref() != Some(&file.sha256) {
            return false;
        }
    }
    true
}

/// SHA-256 of an object, streamed.
async fn sha256(
    store: &dyn ObjectStore,
    path: &ObjectPath,
) -> datafusion::object_store::Result<String> {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    let mut stream = store.get(path).await?.into_stream();
    while let Some(chunk) = stream.try_next().await? {
        hasher.update(&chunk);
    }
    let mut out = String::from("sha256:");
    for byte in hasher.finalize() {
        out.push_str(&format!("{byte:02x}"));
    }
    Ok(out)
}

/// Uploads below 8 MiB go in one PUT, larger ones in parts of this size.
const PART_BYTES: usize = 8 << 20;

/// Publishes the version staged in `staged` (a local directory holding the files `manifest`
/// names that are not already below `product`, and the manifest) as `product`: files first,
/// manifest last, then the objects the manifest does not name deleted (see the module's
/// doc). On an error before the manifest is written, what was uploaded is deleted and the
/// published version is untouched.
pub(crate) async fn publish(
    store: &dyn ObjectStore,
    staged: &std::path::Path,
    product: &ObjectLocation,
    manifest: &Manifest,
) -> std::io::Result<()> {
    let mut uploaded = Vec::new();
    let result = async {
        for file in manifest.all_files() {
            let local = staged.join(&file.name);
            let path = product.join(&file.name).path();
            // Parts an append carries over are already there, under their own names.
            if !local.exists() {
                store.head(&path).await.map_err(|e| {
                    std::io::Error::other(format!(
                        "`{}` is neither staged nor published: {e}",
                        file.name
                    ))
                })?;
                continue;
            }
            upload(store, &local, &path).await?;
            uploaded.push(path);
        }
        let text = std::fs::read(staged.join(MANIFEST_FILE))?;
        store
            .put(&product.join(MANIFEST_FILE).path(), PutPayload::from(text))
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(())
    }
    .await;
    if let Err(e) = result {
        for path in uploaded {
            let _ = store.delete(&path).await;
        }
        return Err(e);
    }
    delete_stale(store, product, manifest).await;
    Ok(())
}

/// Deletes the objects below `product` (data files at any depth, and `_rulec/`) that
/// `manifest` does not name: earlier versions, and uploads of runs that did not publish
/// (also when a product is reused, so that a glob reader does not see them).
pub(crate) async fn delete_stale(
    store: &dyn ObjectStore,
    product: &ObjectLocation,
    manifest: &Manifest,
) {
    let keep: BTreeSet<String> = manifest
        .all_files()
        .map(|f| f.name.clone())
        .chain([MANIFEST_FILE.to_owned()])
        .collect();
    delete_where(store, product, |name| !keep.contains(name)).await;
}

/// Deletes the objects below `product` that the version `nonce` wrote (its file names carry
/// the nonce): what executors uploaded for a version that failed before it was published.
#[cfg_attr(
    not(feature = "ballista"),
    expect(
        dead_code,
        reason = "only executors upload a version's files before rulec publishes it"
    )
)]
pub(crate) async fn delete_version(store: &dyn ObjectStore, product: &ObjectLocation, nonce: &str) {
    let marker = format!("-{nonce}-");
    delete_where(store, product, |name| {
        name.rsplit('/')
            .next()
            .is_some_and(|file| file.contains(&marker))
    })
    .await;
}

/// Deletes the objects below `product` (data files at any depth, and `_rulec/`) whose names
/// relative to it `doomed` picks.
async fn delete_where(
    store: &dyn ObjectStore,
    product: &ObjectLocation,
    doomed: impl Fn(&str) -> bool,
) {
    // The store lists data names only; `_rulec/` is listed on its own.
    for prefix in [product.clone(), product.join(crate::state::META_DIR)] {
        let Ok(objects) = store
            .list(Some(&prefix.path()))
            .try_collect::<Vec<_>>()
            .await
        else {
            continue;
        };
        for meta in objects {
            if doomed(&product.relative(&meta.location)) {
                let _ = store.delete(&meta.location).await;
            }
        }
    }
}

/// Uploads the local file `from` as `to`: one PUT, or a multipart upload for a large file
/// (aborted on an error, so no part is left behind).
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    from: &std::path::Path,
    to: &ObjectPath,
) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(from)?;
    let size = file.metadata()?.len();
    if size <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        store
            .put(to, PutPayload::from(bytes))
            .await
            .map_err(std::io::Error::other)?;
        return Ok(());
    }
    let upload = store
        .put_multipart(to)
        .await
        .map_err(std::io::Error::other)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut buffer = vec![0u8; PART_BYTES];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        if let Err(e) = writer.wait_for_capacity(4).await {
            let _ = writer.abort().await;
            return Err(std::io::Error::other(e));
        }
        writer.write(&buffer[..n]);
    }
    writer.finish().await.map_err(std::io::Error::other)?;
    Ok(())
}

/// The lock object of an output on object storage, beside its products (hidden from
/// readers by its `.`).
pub const LOCK_OBJECT: &str = ".rulec.lock";

/// Takes the lock of an output on object storage: creates its lock object, if no other
/// run's is there (a conditional PUT, `If-None-Match: *`). A run that dies holding it
/// leaves it: the error names the run that took it and how to remove it.
pub(crate) async fn lock(
    store: Arc<dyn ObjectStore>,
    out: &ObjectLocation,
) -> Result<ObjectLock, Diagnostic> {
    let path = out.join(LOCK_OBJECT).path();
    let holder = format!(
        "{{\"host\": {:?}, \"pid\": {}, \"since\": {}}}\n",
        std::env::var("HOSTNAME").unwrap_or_default(),
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    let put = store
        .put_opts(
            &path,
            PutPayload::from(holder.into_bytes()),
            PutOptions::from(PutMode::Create),
        )
        .await;
    match put {
        Ok(_) => Ok(ObjectLock { store, path }),
        Err(datafusion::object_store::Error::AlreadyExists { .. }) => {
            let held_by = match store.get(&path).await {
                Ok(found) => found
                    .bytes()
                    .await
                    .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            Err(Diagnostic::error(
                codes::OUTPUT_LOCKED,
                format!("another rulec run is writing to `{out}` (its lock: {held_by})"),
            )
            .with_help(format!(
                "if that run is no longer running, delete `{}` and run again",
                out.join(LOCK_OBJECT)
            )))
        }
        Err(e) => Err(Diagnostic::error(
            codes::WRITE_FAILED,
            format!("cannot lock `{out}`: {}", e.to_string().replace('\n', " ")),
        )),
    }
}

/// A held lock of an output on object storage; [`ObjectLock::release`] deletes it.
#[derive(Debug)]
pub struct ObjectLock {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
}

impl ObjectLock {
    pub async fn release(self) {
        let _ = self.store.delete(&self.path).await;
    }
}
