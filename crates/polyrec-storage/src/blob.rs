//! Model artifacts (DESIGN §2, "blob store"): opaque bytes under a tenant-scoped key. The
//! embedded backend is a directory; each tenant has its own subdirectory, and keys are relative
//! paths of plain segments, so no key can reach outside its tenant's directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use polyrec_core::{Error, Result, TenantId};

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key` (replacing what was there) and returns where it is, for
    /// `model_path`. Returns only once the bytes are durable.
    async fn put(&self, tenant: &TenantId, key: &str, bytes: Vec<u8>) -> Result<String>;
    async fn get(&self, tenant: &TenantId, key: &str) -> Result<Option<Vec<u8>>>;
    /// Deletes every blob whose key starts with the segments of `prefix` (a scenario was deleted).
    async fn delete_prefix(&self, tenant: &TenantId, prefix: &str) -> Result<()>;
}

/// Blobs as files under a root directory: `{root}/{tenant}/{key}`.
pub struct DirBlobs {
    root: PathBuf,
}

impl DirBlobs {
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::unavailable(format!("cannot create the blob directory {}: {e}", root.display())))?;
        Ok(Self { root: root.to_owned() })
    }

    fn path(&self, tenant: &TenantId, key: &str) -> Result<PathBuf> {
        let mut path = self.root.join(tenant.as_str());
        for segment in key.split('/') {
            let plain = !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !plain {
                return Err(Error::internal(format!("bad blob key {key:?}")));
            }
            path.push(segment);
        }
        Ok(path)
    }
}

fn io(path: &Path, error: std::io::Error) -> Error {
    Error::unavailable(format!("blob store {}: {error}", path.display()))
}

#[async_trait]
impl BlobStore for DirBlobs {
    async fn put(&self, tenant: &TenantId, key: &str, bytes: Vec<u8>) -> Result<String> {
        let path = self.path(tenant, key)?;
        let written = path.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            use std::io::Write;
            let dir = path.parent().expect("a blob path has a parent");
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            // Written aside and renamed: a reader sees the old blob or the whole new one.
            let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
            file.write_all(&bytes).map_err(|e| io(&path, e))?;
            file.as_file().sync_all().map_err(|e| io(&path, e))?;
            file.persist(&path).map_err(|e| io(&path, e.error))?;
            Ok(())
        })
        .await
        .map_err(Error::internal)??;
        Ok(format!("file://{}", written.display()))
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(tenant, key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    async fn delete_prefix(&self, tenant: &TenantId, prefix: &str) -> Result<()> {
        let path = self.path(tenant, prefix)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                tokio::fs::remove_file(&path).await.map_err(|e| io(&path, e))
            }
            Err(e) => Err(io(&path, e)),
        }
    }
}
