//! Writing a package durably, at the disk's pace.
//!
//! A seal is reported only once its package is on disk. Writing through the page cache and
//! syncing at the end (what `dd conv=fsync` does) costs a kernel copy of every byte (a third of
//! the seal's CPU in `perf`) and then waits for the whole flush after the work is done. On Linux
//! a [`DurableFile`] writes with `O_DIRECT` instead: aligned 4 MiB blocks go from this buffer to
//! the device while the pipeline keeps encrypting, and the final `fsync` has only the file's size
//! and the device cache left to flush. Where `O_DIRECT` is refused (tmpfs, some network file
//! systems) it writes through the page cache and calls `sync_data` every 32 MiB, so the flush
//! still overlaps the work. Figures: docs/PERFORMANCE.md, "Sealing, format v2".

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Bytes per write to the device.
const BLOCK: usize = 4 << 20;
/// `O_DIRECT` needs buffers, offsets and lengths aligned to the logical block size; 4096 covers
/// every device in use.
const ALIGN: usize = 4096;
/// In the page-cache fallback, how much is written between two `sync_data` calls.
const SYNC_EVERY: u64 = 32 << 20;

/// A new file written with flat memory (one 4 MiB buffer) and made durable by [`finish`].
///
/// [`finish`]: DurableFile::finish
#[derive(Debug)]
pub struct DurableFile {
    path: PathBuf,
    file: File,
    direct: bool,
    /// `BLOCK + ALIGN` bytes; the block used starts at `start`, aligned to `ALIGN`.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    written: u64,
    unsynced: u64,
}

impl DurableFile {
    /// Creates `path`, which must not exist.
    pub fn create_new(path: &Path) -> io::Result<DurableFile> {
        DurableFile::create(path, true)
    }

    fn create(path: &Path, try_direct: bool) -> io::Result<DurableFile> {
        let (file, direct) = match try_direct.then(|| open_direct(path)) {
            Some(Ok(f)) => (f, true),
            // Some file systems (older tmpfs, some network ones) refuse O_DIRECT with EINVAL.
            Some(Err(e)) if e.raw_os_error() != Some(libc::EINVAL) => return Err(e),
            _ => (open_new(path, false)?, false),
        };
        let buf = vec![0u8; BLOCK + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        Ok(DurableFile {
            path: path.to_owned(),
            file,
            direct,
            buf,
            start,
            filled: 0,
            written: 0,
            unsynced: 0,
        })
    }

    /// Whether the bytes bypass the page cache (`O_DIRECT`).
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes what is buffered, gives the file its exact length and syncs it (data and size).
    /// The caller still syncs the directory if it renames the file.
    pub fn finish(mut self) -> io::Result<File> {
        let len = self.written + self.filled as u64;
        if self.direct && !self.filled.is_multiple_of(ALIGN) {
            // The last block is padded to the alignment, then cut back to the real length.
            let padded = self.filled.next_multiple_of(ALIGN);
            self.buf[self.start + self.filled..self.start + padded].fill(0);
            self.filled = padded;
        }
        self.write_block()?;
        if self.direct {
            self.file.set_len(len)?;
        }
        self.file.sync_all()?;
        Ok(self.file)
    }

    fn write_block(&mut self) -> io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let block = &self.buf[self.start..self.start + self.filled];
        match self.file.write_all(block) {
            Ok(()) => {}
            // A file system may accept O_DIRECT at open and refuse the writes: start again through
            // the page cache, which is possible only before anything was written.
            Err(e)
                if self.direct && self.written == 0 && e.raw_os_error() == Some(libc::EINVAL) =>
            {
                self.file = open_new(&self.path, true)?;
                self.direct = false;
                self.file.write_all(block)?;
            }
            Err(e) => return Err(e),
        }
        self.written += self.filled as u64;
        if !self.direct {
            self.unsynced += self.filled as u64;
            if self.unsynced >= SYNC_EVERY {
                self.file.sync_data()?;
                self.unsynced = 0;
            }
        }
        self.filled = 0;
        Ok(())
    }
}

impl Write for DurableFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = bytes.len().min(BLOCK - self.filled);
        let at = self.start + self.filled;
        self.buf[at..at + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        if self.filled == BLOCK {
            self.write_block()?;
        }
        Ok(n)
    }

    /// Does nothing: partial blocks cannot be written with `O_DIRECT`; [`DurableFile::finish`]
    /// writes the rest.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

/// Opens `path` for writing without `O_DIRECT`: a new file, or (`existing`) the one just created,
/// emptied.
fn open_new(path: &Path, existing: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true);
    if existing {
        o.truncate(true);
    } else {
        o.create_new(true);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(dir: &Path, len: usize, try_direct: bool) -> bool {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4093) as u8).collect();
        let path = dir.join(format!("out-{len}-{try_direct}"));
        let mut f = DurableFile::create(&path, try_direct).expect("create");
        let direct = f.is_direct();
        // Uneven pieces, so blocks fill across writes.
        for piece in data.chunks(1_000_003) {
            f.write_all(piece).expect("write");
        }
        f.finish().expect("finish");
        assert_eq!(
            std::fs::read(&path).expect("read back"),
            data,
            "length {len}"
        );
        direct
    }

    #[test]
    fn writes_exactly_the_bytes_given_at_any_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK + 12_345,
        ] {
            for try_direct in [true, false] {
                round_trip(dir.path(), len, try_direct);
            }
        }
    }

    #[test]
    fn refuses_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("there");
        std::fs::write(&path, b"x").expect("write");
        let e = DurableFile::create_new(&path).expect_err("exists");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).expect("read"), b"x");
    }

    /// The page-cache path syncs as it goes: more than `SYNC_EVERY` bytes, same bytes out.
    #[test]
    fn the_page_cache_path_writes_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!round_trip(dir.path(), 9 * BLOCK + 7, false));
    }
}
