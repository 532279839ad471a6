//! The segment being written: a file whose whole size is reserved on disk
//! when it is created, mapped into memory, each row encoded straight into
//! the mapping as one frame.
//!
//! Why a mapping: a copy into the page cache costs a fraction of the `write`
//! call per hit it replaces (issue 24's profile put that call at 4% of the
//! collector's CPU), and the guarantees stay. The mapping is shared, so its
//! pages are the file's pages in the page cache, not the process's: a killed
//! process loses nothing it copied, and `fdatasync` on the file writes them
//! to disk as it does pages written by `write` (Linux tracks a shared
//! mapping's dirty pages for the file).
//!
//! Why the reservation: a copy into a mapped page that has no block behind
//! it on a full disk is a SIGBUS, not an error. `posix_fallocate` reserves
//! every block when the segment is created, so a full disk is an error then,
//! for the hit that needed the new segment, and the collector goes on.
//! (A copy-on-write filesystem such as btrfs or ZFS cannot promise the
//! blocks; see the README's spool section.)
//!
//! Owns: creating, mapping and closing the file of the current segment, and
//! cutting that room off a segment a killed run left ([`cut_unused_room`]).
//! Must never: copy past the reserved size, or close a segment with its
//! unused, zeroed room still in it (the reader reads a closed segment to its
//! length).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use super::{SpoolError, files, frame, io_error};
use crate::row::Record;

pub struct MappedSegment {
    file: File,
    path: PathBuf,
    map: MmapMut,
    /// Bytes of whole frames from the start; the next frame goes here.
    written: usize,
}

impl MappedSegment {
    /// Creates `path` (never an existing file, never through a link) with
    /// `capacity` bytes reserved on disk, and maps it.
    pub fn create(path: &Path, capacity: u64) -> Result<MappedSegment, SpoolError> {
        let file = files::options()
            .create_new(true)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error(path))?;
        let reserved = match libc::off_t::try_from(capacity) {
            // SAFETY: a plain system call on a descriptor this function owns.
            Ok(length) => unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length) },
            Err(_) => libc::EFBIG,
        };
        let mapped = match reserved {
            0 => {
                // SAFETY: the file is this process's own: created here with
                // O_EXCL and no link followed, 0600 in a directory only the
                // collector writes and holds the lock of. Nothing shortens it
                // while it is mapped (`close` unmaps it first), so no access
                // to the mapping can fault past its end.
                unsafe { MmapOptions::new().len(capacity as usize).map_mut(&file) }
            }
            code => Err(std::io::Error::from_raw_os_error(code)),
        };
        match mapped {
            Ok(map) => Ok(MappedSegment {
                file,
                path: path.to_path_buf(),
                map,
                written: 0,
            }),
            Err(cause) => {
                // An empty or partly reserved file would only be replayed as
                // nothing; it is not left behind to take room.
                let _ = std::fs::remove_file(path);
                Err(io_error(path)(cause))
            }
        }
    }

    /// Encodes `record` into the segment as one frame (`row::row_binary`); returns the frame's
    /// length, or `None` when it does not fit in the room left (start a new
    /// segment). Nothing of a frame that did not fit stays behind.
    pub fn append(&mut self, record: &Record) -> Result<Option<u64>, SpoolError> {
        let start = self.written;
        let room = (self.map.len() - start).min(frame::HEADER_BYTES + frame::MAX_PAYLOAD_BYTES);
        let Some(payload_room) = room.checked_sub(frame::HEADER_BYTES) else {
            return Ok(None);
        };
        let payload_start = start + frame::HEADER_BYTES;
        let payload_end = payload_start + payload_room;
        match record.encode_spooled(&mut self.map[payload_start..payload_end]) {
            Some(length) => {
                let end = payload_start + length;
                frame::seal(&mut self.map[start..end]);
                self.written = end;
                Ok(Some((end - start) as u64))
            }
            None => {
                // Zeroed again, so a segment left by a killed process ends
                // in zeros here and replay counts no damage for it.
                self.map[payload_start..payload_end].fill(0);
                if room == frame::HEADER_BYTES + frame::MAX_PAYLOAD_BYTES {
                    return Err(SpoolError::TooLarge);
                }
                Ok(None)
            }
        }
    }

    pub fn written(&self) -> u64 {
        self.written as u64
    }

    /// A second handle on the file, to fsync it without holding the writer.
    pub fn file(&self) -> Result<File, SpoolError> {
        self.file.try_clone().map_err(io_error(&self.path))
    }

    /// Unmaps the segment, cuts the unused room off and fsyncs it: what is
    /// left is exactly its frames.
    pub fn close(self) -> Result<(), SpoolError> {
        let MappedSegment {
            file,
            path,
            map,
            written,
        } = self;
        drop(map);
        cut(&file, &path, written as u64)
    }
}

/// Cuts a segment left by an earlier run to its written part (see
/// [`frame::data_end`]); returns its length. A segment that was closed has
/// nothing to cut; one whose process was killed still has the zeroed room
/// its size was reserved with.
pub fn cut_unused_room(path: &Path) -> Result<u64, SpoolError> {
    let file = files::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    let length = file.metadata().map_err(io_error(path))?.len();
    if length == 0 {
        return Ok(0);
    }
    // SAFETY: the spool's lock is held, so no other collector writes or
    // shortens the file while it is read here.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_error(path))?;
    if map.last() != Some(&0) {
        return Ok(length);
    }
    let end = frame::data_end(&map) as u64;
    drop(map);
    cut(&file, path, end)?;
    Ok(end)
}

/// Shortens the segment `file` to `length` bytes and fsyncs it.
fn cut(file: &File, path: &Path, length: u64) -> Result<(), SpoolError> {
    file.set_len(length)
        .and_then(|()| file.sync_data())
        .map_err(io_error(path))
}
