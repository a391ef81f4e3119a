//! The staging folder beside the target, and the independent checker run on it before it
//! is renamed into place.

use crate::anonymize::noise::NoiseKey;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A staging folder beside the target; removed on drop unless published.
pub struct Staging {
    pub dir: PathBuf,
    published: bool,
}

impl Staging {
    pub fn new(out: &Path, version: &str) -> Result<Staging> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        // Staging folders of runs that were killed (their process is gone) are removed.
        let prefix = format!(".staging-{version}-");
        for entry in std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(&prefix) {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = out.join(format!(".staging-{version}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            dir,
            published: false,
        })
    }

    /// Renames the staging folder to the version folder: one atomic step. Fails, touching
    /// nothing, if the version folder exists.
    pub fn publish(mut self, target: &Path) -> Result<()> {
        if target.exists() {
            return Err(Error::Refused(format!(
                "{} exists: a published version is never overwritten",
                target.display()
            )));
        }
        for entry in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let p = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&p, e))?;
        }
        std::fs::rename(&self.dir, target).map_err(|e| Error::io(target, e))?;
        if let Some(parent) = target.parent() {
            let _ = std::fs::File::open(parent).and_then(|f| f.sync_all());
        }
        self.published = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The independent checker (`opentape-verify`) on the staged files: nothing is published
/// unless every guarantee holds.
pub fn check_staged(
    dir: &Path,
    k: usize,
    key: &NoiseKey,
    store_key: Option<&crate::read::decrypt::StoreKey>,
) -> Result<()> {
    let opts = opentape_verify::Options {
        min_k: k,
        key: Some(key.bytes().to_vec()),
        store_key: store_key.map(|s| s.text().to_string()),
        source: None,
    };
    let report =
        opentape_verify::verify(dir, &opts).map_err(|e| Error::input(dir, e.to_string()))?;
    if !report.ok {
        return Err(Error::Refused(format!(
            "the staged release fails verification ({}); nothing was published:\n{report}",
            report.failed().join(", ")
        )));
    }
    Ok(())
}
