//! Reading an asset's bytes as they are (downloads), local or remote, within
//! the same href policy as the renderer: files under the data roots, URLs on
//! allow-listed hosts (through GDAL's virtual file systems, so `/vsicurl/`
//! and `/vsis3/` credentials and proxies configured for GDAL apply).

use super::error::{RasterError, Result};
use super::href::HrefPolicy;
use std::ffi::CString;
use std::io::Read;

/// An open asset.
pub struct AssetReader {
    handle: *mut gdal_sys::VSILFILE,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

// The handle is used by one thread at a time (moved, never shared).
unsafe impl Send for AssetReader {}

impl AssetReader {
    /// Opens the asset an href names, if the policy allows it.
    pub fn open(policy: &HrefPolicy, href: &str) -> Result<AssetReader> {
        let path = policy.resolve(href)?;
        let c_path = CString::new(path.clone())
            .map_err(|_| RasterError::Forbidden("asset href has a NUL byte".into()))?;
        let mode = CString::new("rb").map_err(|e| RasterError::Internal(e.to_string()))?;
        // SAFETY: both strings are valid NUL-terminated C strings for the call.
        let handle = unsafe { gdal_sys::VSIFOpenL(c_path.as_ptr(), mode.as_ptr()) };
        if handle.is_null() {
            return Err(RasterError::BadAsset(format!(
                "the asset {href} cannot be opened"
            )));
        }
        // SAFETY: on Linux GDAL's VSIStatBufL is `struct stat64`; the
        // buffer is zeroed, sized and writable.
        let mut stat: libc::stat64 = unsafe { std::mem::zeroed() };
        let status = unsafe {
            gdal_sys::VSIStatL(
                c_path.as_ptr(),
                (&mut stat as *mut libc::stat64).cast::<gdal_sys::VSIStatBufL>(),
            )
        };
        let size = (status == 0).then_some(stat.st_size as u64);
        Ok(AssetReader { handle, size })
    }
}

impl Read for AssetReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: the handle is open (closed only on drop) and `buf` is
        // writable for `buf.len()` bytes.
        let n = unsafe { gdal_sys::VSIFReadL(buf.as_mut_ptr().cast(), 1, buf.len(), self.handle) };
        if n == 0 {
            // SAFETY: the handle is open.
            let failed = unsafe { gdal_sys::VSIFEofL(self.handle) } == 0;
            if failed {
                return Err(std::io::Error::other("reading the asset failed"));
            }
        }
        Ok(n)
    }
}

impl Drop for AssetReader {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by VSIFOpenL and is closed once.
        unsafe {
            gdal_sys::VSIFCloseL(self.handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_under_the_roots_only() {
        let root = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let file = root.path().join("a.bin");
        std::fs::write(&file, &data).unwrap();
        let policy = HrefPolicy::new(&[root.path().to_path_buf()], &[]);
        let mut r = AssetReader::open(&policy, file.to_str().unwrap()).unwrap();
        assert_eq!(r.size, Some(data.len() as u64));
        let mut read = Vec::new();
        r.read_to_end(&mut read).unwrap();
        assert_eq!(read, data);
        assert!(matches!(
            AssetReader::open(&policy, "/etc/passwd"),
            Err(RasterError::Forbidden(_))
        ));
        assert!(matches!(
            AssetReader::open(&policy, "http://127.0.0.1:1/x.tif"),
            Err(RasterError::Forbidden(_))
        ));
    }
}
