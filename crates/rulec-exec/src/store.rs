//! The engine's object stores ([`Stores`]): the local file system and object storage as
//! the engine lists them: files and directories whose names start with `.` or `_` below the
//! listed path are not data (another writer's temporaries, `_SUCCESS` markers, metadata such
//! as a product's `_rulec/`). Reading, checking and input identity
//! ([`crate::inputs::data_files`]) skip the same names, so what is read is what is
//! identified.

use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::execution::object_store::{
    DefaultObjectStoreRegistry, ObjectStoreRegistry, ObjectStoreUrl,
};
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use std::sync::Arc;

/// The object stores of rulec's sessions: the local file system, and each S3 bucket opened
/// when a URL first names it (`s3://bucket/…`; see [`crate::objects::open`]), all listing
/// data names only. So a scheduler or executor started with rulec's session reads what
/// rulec reads.
#[derive(Debug)]
pub struct Stores(DefaultObjectStoreRegistry);

impl Stores {
    pub fn new() -> Self {
        let registry = DefaultObjectStoreRegistry::new();
        let local = ObjectStoreUrl::local_filesystem();
        registry.register_store(
            local.as_ref(),
            Arc::new(DataOnly(Arc::new(
                datafusion::object_store::local::LocalFileSystem::new(),
            ))),
        );
        Stores(registry)
    }
}

impl Default for Stores {
    fn default() -> Self {
        Stores::new()
    }
}

impl ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &url::Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.0.register_store(url, store)
    }

    fn deregister_store(&self, url: &url::Url) -> DataFusionResult<Arc<dyn ObjectStore>> {
        self.0.deregister_store(url)
    }

    fn get_store(&self, url: &url::Url) -> DataFusionResult<Arc<dyn ObjectStore>> {
        let registered = self.0.get_store(url);
        let scheme = url.scheme();
        let (Err(_), Some(bucket)) = (&registered, url.host_str()) else {
            return registered;
        };
        if !crate::location::OBJECT_SCHEMES.contains(&scheme) {
            return registered;
        }
        let location = crate::location::ObjectLocation {
            scheme: scheme.to_owned(),
            bucket: bucket.to_owned(),
            key: String::new(),
        };
        let store = crate::objects::open(&location)
            .map_err(|d| DataFusionError::External(d.message.into()))?;
        self.0.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}

/// An object store that lists only data names.
#[derive(Debug)]
pub struct DataOnly(pub Arc<dyn ObjectStore>);

impl std::fmt::Display for DataOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataOnly({})", self.0)
    }
}

/// Whether `location`, below `prefix`, has a name starting with `.` or `_`.
fn hidden(prefix: Option<&Path>, location: &Path) -> bool {
    let below: Vec<_> = match prefix {
        Some(prefix) => match location.prefix_match(prefix) {
            Some(parts) => parts.collect(),
            None => return false,
        },
        None => location.parts().collect(),
    };
    below
        .iter()
        .any(|part| part.as_ref().starts_with(['.', '_']))
}

#[async_trait]
impl ObjectStore for DataOnly {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.0.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.0.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.0.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.0.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.0.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let owned = prefix.cloned();
        self.0
            .list(prefix)
            .filter(move |meta| {
                let keep = match meta {
                    Ok(meta) => !hidden(owned.as_ref(), &meta.location),
                    Err(_) => true,
                };
                std::future::ready(keep)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut listed = self.0.list_with_delimiter(prefix).await?;
        listed.common_prefixes.retain(|p| !hidden(prefix, p));
        listed.objects.retain(|o| !hidden(prefix, &o.location));
        Ok(listed)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.0.copy_opts(from, to, options).await
    }
}
