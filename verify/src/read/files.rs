//! Every file of a release, streamed once: its size, its SHA-256, and whether it holds the
//! noise key in any of the forms asked for (searched across chunk boundaries).

use crate::{rerr, ReadError};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;

pub(crate) struct FileInfo {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    pub has_key: bool,
    /// The contents of small files (manifest, checksums, documents), for the checks
    /// that parse them.
    pub contents: Option<Vec<u8>>,
}

/// Files up to this size keep their contents.
const KEEP: u64 = 16 << 20;

pub(crate) fn read_all(paths: &[PathBuf], forms: &[Vec<u8>]) -> Result<Vec<FileInfo>, ReadError> {
    let finders: Vec<memchr::memmem::Finder> = forms
        .iter()
        .filter(|f| !f.is_empty())
        .map(memchr::memmem::Finder::new)
        .collect();
    let overlap = forms
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(1)
        .saturating_sub(1);
    let mut out = Vec::new();
    for p in paths {
        let mut f = std::fs::File::open(p).map_err(|e| rerr(p, e))?;
        let mut h = Sha256::new();
        let mut bytes = 0u64;
        let mut has_key = false;
        // The last `overlap` bytes of the previous chunk, then the new chunk.
        let mut window: Vec<u8> = Vec::with_capacity((1 << 20) + overlap);
        let mut chunk = vec![0u8; 1 << 20];
        let mut contents = Some(Vec::new());
        loop {
            let n = f.read(&mut chunk).map_err(|e| rerr(p, e))?;
            if n == 0 {
                break;
            }
            h.update(&chunk[..n]);
            bytes += n as u64;
            if bytes > KEEP {
                contents = None;
            } else if let Some(c) = &mut contents {
                c.extend_from_slice(&chunk[..n]);
            }
            if !finders.is_empty() && !has_key {
                let keep = window.len().min(overlap);
                window.drain(..window.len() - keep);
                window.extend_from_slice(&chunk[..n]);
                has_key = finders.iter().any(|fi| fi.find(&window).is_some());
            }
        }
        out.push(FileInfo {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes,
            sha256: hex::encode(h.finalize()),
            has_key,
            contents,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_key_split_across_chunks_and_hashes_like_sha256sum() {
        let d = tempfile::tempdir().unwrap();
        let key = b"0123456789abcdefKEY".to_vec();
        let mut data = vec![b'x'; (1 << 20) - 7];
        data.extend_from_slice(&key);
        data.extend(vec![b'y'; 1000]);
        let p = d.path().join("f");
        std::fs::write(&p, &data).unwrap();
        let clean = d.path().join("g");
        std::fs::write(&clean, b"abc").unwrap();
        let info = read_all(&[p, clean], &[key]).unwrap();
        assert!(info[0].has_key);
        assert_eq!(info[0].bytes, data.len() as u64);
        assert!(!info[1].has_key);
        assert_eq!(
            info[1].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
