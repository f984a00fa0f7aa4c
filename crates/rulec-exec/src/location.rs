//! Where inputs are read and products written: a local path, or an object in an object
//! store, named by its URL (`s3://bucket/key`, with the `s3` feature). Both are read through
//! the engine's object stores; products are published to each in its own way
//! ([`crate::publish`] for a local directory, [`crate::objects`] for object storage).

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::path::Path as ObjectPath;
use std::path::{Path, PathBuf};

/// A local path or an object-store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Object(ObjectLocation),
}

/// An object (or every object below a prefix) in a bucket: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLocation {
    /// `s3`.
    pub scheme: String,
    pub bucket: String,
    /// The key or key prefix, `/`-separated, without a leading or trailing `/`.
    pub key: String,
}

/// The schemes of object stores rulec reads and writes.
pub const OBJECT_SCHEMES: &[&str] = &["s3"];

impl Location {
    /// `text` as a location: a URL with a scheme in [`OBJECT_SCHEMES`] (`s3a://` is read as
    /// `s3://`), else a local path. A URL with another scheme is an error.
    pub fn parse(text: &str) -> Result<Location, String> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => "s3".to_owned(),
            "file" => return Ok(Location::Local(PathBuf::from(rest))),
            other => {
                return Err(format!(
                    "`{text}`: `{other}://` is not a storage rulec reads or writes (local paths and s3:// URLs are)"
                ));
            }
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("`{text}` names no bucket (s3://BUCKET/KEY)"));
        }
        let key: Vec<&str> = key.split('/').filter(|p| !p.is_empty()).collect();
        if key.iter().any(|p| *p == "." || *p == "..") {
            return Err(format!("`{text}`: `.` and `..` are not keys"));
        }
        Ok(Location::Object(ObjectLocation {
            scheme,
            bucket: bucket.to_owned(),
            key: key.join("/"),
        }))
    }

    /// `declared` (a path or URL from pack.yaml or the command line) as a location; a
    /// relative local path is relative to `base`.
    pub fn resolve(base: &Path, declared: &str) -> Result<Location, String> {
        Ok(match Location::parse(declared)? {
            Location::Local(p) if p.is_relative() => Location::Local(base.join(p)),
            other => other,
        })
    }

    /// The location of `name` (a `/`-separated relative path) below this one.
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::Local(p) => Location::Local(p.join(name)),
            Location::Object(o) => Location::Object(o.join(name)),
        }
    }

    /// The local path, if this is one.
    pub fn as_local(&self) -> Option<&Path> {
        match self {
            Location::Local(p) => Some(p),
            Location::Object(_) => None,
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::Local(path)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Object(o) => write!(f, "{o}"),
        }
    }
}

impl ObjectLocation {
    /// The object store's URL (`s3://bucket`), under which it is registered.
    pub fn store_url(&self) -> ObjectStoreUrl {
        ObjectStoreUrl::parse(format!("{}://{}", self.scheme, self.bucket))
            .unwrap_or_else(|_| ObjectStoreUrl::local_filesystem())
    }

    /// A client of the object store that holds this location (credentials and endpoint from
    /// the environment, as a run reads them), listing every name.
    pub fn open(
        &self,
    ) -> Result<
        std::sync::Arc<dyn datafusion::object_store::ObjectStore>,
        rulec_diagnostics::Diagnostic,
    > {
        crate::objects::client(self)
    }

    /// The key as the object store's path: the key itself (`ObjectPath::from` would
    /// percent-encode characters such as `*` into the key), or, for a key with control
    /// characters, their encoding.
    pub fn path(&self) -> ObjectPath {
        ObjectPath::parse(&self.key).unwrap_or_else(|_| ObjectPath::from(self.key.as_str()))
    }

    pub fn join(&self, name: &str) -> ObjectLocation {
        let mut key = self.key.clone();
        for part in name.split('/').filter(|p| !p.is_empty()) {
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(part);
        }
        ObjectLocation {
            key,
            ..self.clone()
        }
    }

    /// The object at `path` in the same bucket.
    pub fn at(&self, path: &ObjectPath) -> ObjectLocation {
        ObjectLocation {
            key: path.as_ref().to_owned(),
            ..self.clone()
        }
    }

    /// `path` relative to this prefix, `/`-separated.
    pub fn relative(&self, path: &ObjectPath) -> String {
        let full = path.as_ref();
        if self.key.is_empty() {
            return full.to_owned();
        }
        full.strip_prefix(self.key.as_str())
            .map_or(full, |rest| rest.trim_start_matches('/'))
            .to_owned()
    }

    /// The URL the engine lists: every byte of the key outside the unreserved set
    /// percent-encoded (a `*` or `?` would otherwise be a glob), `/` after a directory.
    pub fn table_url(&self, directory: bool) -> datafusion::error::Result<ListingTableUrl> {
        let mut text = format!("{}://{}/", self.scheme, self.bucket);
        percent_encode_into(&self.key, &mut text);
        if directory && !text.ends_with('/') {
            text.push('/');
        }
        ListingTableUrl::parse(text)
    }
}

impl std::fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}/{}", self.scheme, self.bucket, self.key)
    }
}

/// Appends `text` to `out`, each byte outside `A-Za-z0-9-._~/` as `%XX`.
pub(crate) fn percent_encode_into(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}
