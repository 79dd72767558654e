//! # Segment files: where a live broker's log rests
//!
//! Kafka writes each partition's log into *segment files* under `log.dirs`, one directory
//! per partition (`<topic>-<partition>/`), one file per segment named after its base
//! offset with 20 digits (`00000000000000000000.log`). An append is a `write` into the
//! operating system's page cache (Kafka's `FileRecords.append`); a fetch reads the file
//! back by position (`FileRecords.slice`, then `sendfile`). The broker's own memory holds
//! indexes, not records: the page cache holds them, and the page cache is not the
//! process's resident memory.
//!
//! kraftsim's live driver does the same with [`SegmentFile`]: [`Log`](super::Log) keeps
//! the newest batches in memory, writes the older ones to its segment's file in one
//! vectored write, and reads them back by position when a fetch asks for them. The
//! deterministic simulator keeps its logs in memory (a `Log` without a directory): file
//! I/O is a storage choice of the live driver, never part of a decision.
//!
//! Batches are written as a client sees them: the leader's base offset and leader epoch
//! in the header (kraftsim's leader keeps them beside a batch that shares its request's
//! buffer; see [`StoredBatch`](super::StoredBatch)). Only those 16 header bytes are
//! copied; the rest goes from the request's buffer to the kernel.
//!
//! Errors are [`StorageError`]s with the operation and path; the log that meets one goes
//! offline (Kafka's `LogDirFailureChannel`), and its appends and fetches answer
//! `KAFKA_STORAGE_ERROR`.

use bytes::{Bytes, BytesMut};
use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An I/O failure on a log's files: what was being done, on which file, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{op} {path}: {reason}")]
pub struct StorageError {
    pub op: &'static str,
    pub path: PathBuf,
    pub kind: std::io::ErrorKind,
    pub reason: String,
}

impl StorageError {
    fn new(op: &'static str, path: &Path, e: &std::io::Error) -> Self {
        Self {
            op,
            path: path.to_path_buf(),
            kind: e.kind(),
            reason: e.to_string(),
        }
    }
}

/// Kafka's file name for the segment starting at `base_offset` (`LogFileUtils.logFile`).
pub fn segment_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}.log")
}

/// One segment's file, open for appends and positional reads. Dropping it deletes the
/// file: a segment's file lives as long as the segment (retention, truncation and topic
/// deletion all end a segment by dropping it). Its log holds it in an `Arc`: a cloned log
/// shares its files (only the simulator clones logs, and its logs have no files).
#[derive(Debug)]
pub struct SegmentFile {
    path: PathBuf,
    file: File,
    /// Bytes written so far; the next write goes here.
    len_bytes: AtomicU64,
}

/// One batch to write: its bytes, and the base offset and leader epoch its header must
/// carry.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub bytes: &'a [u8],
    pub base_offset: i64,
    pub leader_epoch: i32,
}

/// At most this many slices per `writev` (Linux's `IOV_MAX` is 1024; two per batch).
const MAX_SLICES_PER_WRITE: usize = 1024;

impl SegmentFile {
    /// Creates (or empties) the file of the segment starting at `base_offset` in `dir`,
    /// creating `dir` (the partition's directory) if needed. Its parent (the node's
    /// `log.dirs`) must exist: a log never recreates a data directory removed under it.
    pub fn create(dir: &Path, base_offset: i64) -> Result<Self, StorageError> {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(StorageError::new("create dir", dir, &e));
            }
            _ => {}
        }
        let path = dir.join(segment_file_name(base_offset));
        // A file left at this path belongs to a log that is gone or lingers (a deleted
        // topic's): unlink it rather than truncate it, so a lingering owner keeps its bytes.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StorageError::new("remove stale", &path, &e));
            }
            _ => {}
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StorageError::new("create", &path, &e))?;
        Ok(Self {
            path,
            file,
            len_bytes: AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len_bytes(&self) -> u64 {
        self.len_bytes.load(Ordering::Relaxed)
    }

    /// Appends `batches` at the end of the file, each with its header's base offset and
    /// leader epoch written in; returns where each one starts.
    pub fn append(&self, batches: &[Outgoing<'_>]) -> Result<Vec<u64>, StorageError> {
        let mut positions = Vec::with_capacity(batches.len());
        let start = self.len_bytes();
        let mut at = start;
        // The patched first 16 bytes of each header (baseOffset, batchLength,
        // partitionLeaderEpoch); the rest of each batch is written from its own buffer.
        let heads: Vec<[u8; 16]> = batches.iter().map(patched_head).collect();
        for b in batches {
            positions.push(at);
            at += b.bytes.len() as u64;
        }
        (&self.file)
            .seek(SeekFrom::Start(start))
            .map_err(|e| StorageError::new("seek", &self.path, &e))?;
        let per_write = MAX_SLICES_PER_WRITE / 2;
        for (chunk, head_chunk) in batches.chunks(per_write).zip(heads.chunks(per_write)) {
            let mut slices = Vec::with_capacity(chunk.len() * 2);
            for (b, head) in chunk.iter().zip(head_chunk) {
                let split = head.len().min(b.bytes.len());
                slices.push(IoSlice::new(&head[..split]));
                slices.push(IoSlice::new(&b.bytes[split..]));
            }
            write_all_vectored(&self.file, &mut slices)
                .map_err(|e| StorageError::new("write", &self.path, &e))?;
        }
        self.len_bytes.store(at, Ordering::Relaxed);
        Ok(positions)
    }

    /// Reads `len_bytes` from `position` (one `pread`).
    pub fn read_at(&self, position: u64, len_bytes: usize) -> Result<Bytes, StorageError> {
        let mut buf = BytesMut::zeroed(len_bytes);
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(|e| StorageError::new("read", &self.path, &e))?;
        Ok(buf.freeze())
    }

    /// Cuts the file to `len_bytes` (Kafka's `FileRecords.truncateTo`).
    pub fn truncate_to(&self, len_bytes: u64) -> Result<(), StorageError> {
        if len_bytes >= self.len_bytes() {
            return Ok(());
        }
        self.file
            .set_len(len_bytes)
            .map_err(|e| StorageError::new("truncate", &self.path, &e))?;
        self.len_bytes.store(len_bytes, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        // Only the file this segment created: a topic deleted while its log lingers (a
        // node's dormant logs) and created again writes a new file at the same path, which
        // the old segment must not take with it.
        use std::os::unix::fs::MetadataExt;
        let same = match (std::fs::metadata(&self.path), self.file.metadata()) {
            (Ok(at_path), Ok(ours)) => at_path.dev() == ours.dev() && at_path.ino() == ours.ino(),
            _ => false,
        };
        if same {
            // Nothing to report to: a file that cannot be removed stays behind in the
            // node's data directory, which the live cluster removes as a whole.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn patched_head(b: &Outgoing<'_>) -> [u8; 16] {
    let mut head = [0u8; 16];
    let n = b.bytes.len().min(16);
    head[..n].copy_from_slice(&b.bytes[..n]);
    if n == 16 {
        head[0..8].copy_from_slice(&b.base_offset.to_be_bytes());
        head[12..16].copy_from_slice(&b.leader_epoch.to_be_bytes());
    }
    head
}

/// `write_vectored` until every slice is written (std's `write_all_vectored` is unstable).
fn write_all_vectored(mut file: &File, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "kraftsim-segment-file-{}-{name}",
            std::process::id()
        ))
    }

    #[test]
    fn batches_are_written_with_their_offsets_and_read_back_by_position() {
        let dir = scratch("roundtrip");
        let missing = dir.join("no-such-parent").join("t-0");
        assert_eq!(
            SegmentFile::create(&missing, 0)
                .map(|_| ())
                .map_err(|e| e.kind),
            Err(std::io::ErrorKind::NotFound),
            "a typed error, not a panic"
        );
        let f = SegmentFile::create(&dir, 42).expect("create");
        assert!(f.path().ends_with("00000000000000000042.log"));
        let a = vec![0u8; 40];
        let b = vec![7u8; 20];
        let at = f
            .append(&[
                Outgoing {
                    bytes: &a,
                    base_offset: 42,
                    leader_epoch: 3,
                },
                Outgoing {
                    bytes: &b,
                    base_offset: 45,
                    leader_epoch: 3,
                },
            ])
            .expect("append");
        assert_eq!(at, vec![0, 40]);
        let back = f.read_at(0, 40).expect("read");
        assert_eq!(back[0..8], 42i64.to_be_bytes());
        assert_eq!(back[12..16], 3i32.to_be_bytes());
        assert_eq!(back[16..], a[16..]);
        assert_eq!(f.read_at(40, 20).expect("read")[16..], b[16..]);
        f.truncate_to(40).expect("truncate");
        assert!(
            f.read_at(40, 20).is_err(),
            "past the end is an error, not a panic"
        );
        let path = f.path().to_path_buf();
        // A new segment at the same path (the topic created again) replaces the file; the
        // old segment keeps reading its own bytes and, dropped, leaves the new file alone.
        let again = SegmentFile::create(&dir, 42).expect("create again");
        assert_eq!(f.read_at(0, 40).expect("still readable")[16..], a[16..]);
        drop(f);
        assert!(path.exists(), "the new file stays");
        drop(again);
        assert!(!path.exists(), "the file goes with its segment");
        let _ = std::fs::remove_dir_all(dir);
    }
}
