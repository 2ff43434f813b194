//! Content-addressed blob files: `blobs/<algorithm>/<hex>`, as in an OCI image layout. A file appears under its
//! name only whole and only after its bytes were verified against that digest.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use oci::Digest;

use super::StoreError;

pub struct BlobStore {
    root: PathBuf,
    trash: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the blob directories under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<BlobStore, StoreError> {
        let root = data_dir.join("blobs");
        let trash = data_dir.join("trash");
        let mut dirs = vec![trash.clone()];
        dirs.extend(
            [oci::Algorithm::Sha256, oci::Algorithm::Sha512].map(|a| root.join(a.as_str())),
        );
        let mut created = false;
        for dir in &dirs {
            if !dir.is_dir() {
                fs::create_dir_all(dir).map_err(StoreError::io("create", dir))?;
                created = true;
            }
        }
        if created {
            sync_dir(&root)?;
            sync_dir(data_dir)?;
        }
        Ok(BlobStore { root, trash })
    }

    /// `blobs/<algorithm>/<hex>`: the blobs directory of an OCI image layout. One flat
    /// directory per algorithm (ext4 and XFS index large directories), so storing a blob never
    /// creates a directory.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    pub fn open_blob(&self, digest: &Digest) -> io::Result<File> {
        File::open(self.path(digest))
    }

    /// Makes `temp` (already fsynced, already verified to hash to `digest`) the blob `digest`.
    /// If the blob exists the temporary file is removed: content-addressed files are identical.
    pub fn install(&self, temp: &Path, digest: &Digest) -> Result<(), StoreError> {
        let dest = self.path(digest);
        if dest.is_file() {
            fs::remove_file(temp).map_err(StoreError::io("remove", temp))?;
            return Ok(());
        }
        let dir = dest.parent().unwrap_or(&self.root);
        fs::rename(temp, &dest).map_err(StoreError::io("rename", &dest))?;
        sync_dir(dir)
    }

    /// Writes a small blob the registry makes itself (a counter-signature) into a fsynced
    /// temporary file beside the blob directories, for [`BlobStore::install`]: returns its
    /// path and digest. A crash leaves at most a stray temporary file, never a partial blob.
    pub fn write_temp(&self, bytes: &[u8]) -> Result<(PathBuf, Digest), StoreError> {
        use std::io::Write as _;
        let digest = Digest::compute(oci::Algorithm::Sha256, bytes);
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temp = self
            .root
            .join(format!(".own-{}-{}-{n}", std::process::id(), digest.hex()));
        let mut file = File::create(&temp).map_err(StoreError::io("create", &temp))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(StoreError::io("write", &temp))?;
        Ok((temp, digest))
    }

    /// Moves a blob to the trash (inside the transaction that deletes its row). Returns the
    /// trash path, or `None` if the file was already gone.
    pub fn move_to_trash(&self, digest: &Digest) -> Result<Option<PathBuf>, StoreError> {
        let src = self.path(digest);
        let dest = self
            .trash
            .join(format!("{}-{}", digest.algorithm(), digest.hex()));
        match fs::rename(&src, &dest) {
            Ok(()) => Ok(Some(dest)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("rename", src)(e)),
        }
    }

    /// Files in the trash, with the digest each was. A crash between moving a blob to the
    /// trash and committing its deletion leaves one here whose row still exists.
    pub fn trash_entries(&self) -> Result<Vec<(PathBuf, Option<Digest>)>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.trash).map_err(StoreError::io("read", &self.trash))? {
            let entry = entry.map_err(StoreError::io("read", &self.trash))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let digest = name
                .split_once('-')
                .and_then(|(alg, hex)| Digest::parse(&format!("{alg}:{hex}")).ok());
            out.push((entry.path(), digest));
        }
        Ok(out)
    }

    /// Puts a trashed blob back under its name.
    pub fn restore(&self, trashed: &Path, digest: &Digest) -> Result<(), StoreError> {
        let dest = self.path(digest);
        fs::rename(trashed, &dest).map_err(StoreError::io("rename", &dest))
    }

    /// Every blob file on disk with its size and modification time (for garbage collection).
    pub fn list(&self) -> Result<Vec<(Digest, u64, std::time::SystemTime)>, StoreError> {
        let mut out = Vec::new();
        for alg in [oci::Algorithm::Sha256, oci::Algorithm::Sha512] {
            let alg_dir = self.root.join(alg.as_str());
            let files = fs::read_dir(&alg_dir).map_err(StoreError::io("read", &alg_dir))?;
            for file in files {
                let file = file.map_err(StoreError::io("read", &alg_dir))?;
                let name = file.file_name().to_string_lossy().into_owned();
                let Ok(digest) = Digest::parse(&format!("{alg}:{name}")) else {
                    continue;
                };
                let meta = file
                    .metadata()
                    .map_err(StoreError::io("stat", file.path()))?;
                out.push((
                    digest,
                    meta.len(),
                    meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                ));
            }
        }
        Ok(out)
    }

    pub fn remove_file(path: &Path) -> Result<(), StoreError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("remove", path)(e)),
        }
    }
}

/// fsyncs a directory so that entries created or renamed in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("fsync", dir))
}
