//! The collector's own files under `spool.dir`: segments, the ledger, the
//! lock and dead letters are created 0600 and their directories 0700,
//! whatever the process's umask, and none is opened through a symbolic link
//! (`O_NOFOLLOW`).
//!
//! Owns: the modes, the options every spool file is opened with, the
//! check of a directory at start, and the audit's survey of the spool
//! ([`exposures`]: what of it is not its owner's alone; it changes nothing). A link where the directory or one of its
//! entries should be is refused with its path. A directory others may enter
//! is tightened to 0700, with a warning, when it holds nothing but the
//! collector's files; one that holds anything else is refused rather than
//! tightened (it may be `/var/lib` or `/tmp`, given as `spool.dir` by
//! mistake, and its other users would lose it).
//!
//! Links above `spool.dir` (its parents) are the operator's choice and are
//! not checked.
//! Must never: follow a link inside the spool, widen a mode, or change a
//! directory that holds files other than the collector's.

use std::fs::{self, DirBuilder, Metadata, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{SpoolError, io_error};

/// The mode of every file the collector creates in its spool.
pub const FILE_MODE: u32 = 0o600;
/// The mode of the spool's directories.
pub const DIR_MODE: u32 = 0o700;
/// Permission bits of the group and of others.
const SHARED_BITS: u32 = 0o077;

/// Options that create a file 0600 and refuse to open a symbolic link; add
/// the access wanted (`read`, `write`, `create_new`...).
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE).custom_flags(libc::O_NOFOLLOW);
    options
}

/// Opens an existing spool file for reading, never through a link.
pub fn open_read(path: &Path) -> std::io::Result<fs::File> {
    options().read(true).open(path)
}

/// Makes `dir` a private directory of the collector: creates it (and any
/// missing parent) 0700, or checks the one there. `ours` tells the names
/// the collector puts in it. Refuses a link as `dir` or as any entry;
/// tightens files of the collector's that others may read to 0600, and the
/// directory to 0700 when it holds only such files.
pub fn private_dir(dir: &Path, ours: impl Fn(&str) -> bool) -> Result<(), SpoolError> {
    let metadata = match fs::symlink_metadata(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(io_error(dir));
        }
        Err(error) => return Err(io_error(dir)(error)),
        Ok(metadata) if metadata.file_type().is_symlink() => {
            return Err(SpoolError::Link(dir.to_path_buf()));
        }
        Ok(metadata) => metadata,
    };
    let mut foreign = None;
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        // Not followed: a link's own metadata.
        let entry_metadata = entry.metadata().map_err(io_error(&path))?;
        if entry_metadata.file_type().is_symlink() {
            return Err(SpoolError::Link(path));
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !ours(&name) {
            foreign.get_or_insert(name);
            continue;
        }
        if entry_metadata.is_file() && entry_metadata.permissions().mode() & SHARED_BITS != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(FILE_MODE))
                .map_err(io_error(&path))?;
        }
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & SHARED_BITS == 0 {
        return Ok(());
    }
    if let Some(entry) = foreign {
        return Err(SpoolError::Shared {
            dir: dir.to_path_buf(),
            mode,
            entry,
        });
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE)).map_err(io_error(dir))?;
    tracing::warn!(
        dir = %dir.display(),
        "the spool directory (spool.dir) had mode {mode:04o}, so others could read it; it is now 0700"
    );
    Ok(())
}

/// An entry of the spool (or the spool itself) that is not its owner's
/// alone; its `Display` says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub path: PathBuf,
    pub problem: Problem,
}

/// Why an entry of the spool is not private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A symbolic link, which the collector follows nowhere in its spool.
    Link,
    /// Its group or others may reach it: `mode`, its permission bits.
    Shared { mode: u32, directory: bool },
    /// Owned by `uid`, not by the owner of `spool.dir` (`owner`), the
    /// collector's user.
    Owner { uid: u32, owner: u32 },
}

impl std::fmt::Display for Exposure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match self.problem {
            Problem::Link => write!(
                f,
                "{path} is a symbolic link, and the collector follows no link in its spool: remove it, and check what else writes there"
            ),
            Problem::Shared { mode, directory } => write!(
                f,
                "{path} has mode {mode:04o}, so its group or others may read {}: run `chmod {} {path}` (the collector makes its own {:04o})",
                if directory { "what it holds" } else { "it" },
                if directory { "700" } else { "600" },
                if directory { DIR_MODE } else { FILE_MODE },
            ),
            Problem::Owner { uid, owner } => write!(
                f,
                "{path} belongs to uid {uid}, not to the owner of spool.dir (uid {owner}), the collector's user: run `chown {owner} {path}`, or remove it if the collector did not make it"
            ),
        }
    }
}

/// What is wrong with an entry of the spool whose metadata (not followed)
/// is `metadata`, when the spool is `owner`'s: a link, bits for the group or
/// others, or another owner, in that order.
fn problem(metadata: &Metadata, owner: u32) -> Option<Problem> {
    let mode = metadata.permissions().mode() & 0o7777;
    if metadata.file_type().is_symlink() {
        Some(Problem::Link)
    } else if mode & SHARED_BITS != 0 {
        Some(Problem::Shared {
            mode,
            directory: metadata.is_dir(),
        })
    } else if metadata.uid() != owner {
        Some(Problem::Owner {
            uid: metadata.uid(),
            owner,
        })
    } else {
        None
    }
}

/// What of `dir` (`spool.dir`: segments, the ledger, the lock, dead letters
/// and anything else there, and `dir` itself) is not private to the owner of
/// `dir`: links, entries its group or others may reach, entries of other
/// owners; and how many entries were looked at. `None` when `dir` does not
/// exist yet (the collector makes it at start). Follows no link, changes
/// nothing.
pub fn exposures(dir: &Path) -> std::io::Result<Option<(Vec<Exposure>, usize)>> {
    let metadata = match fs::symlink_metadata(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other?,
    };
    let owner = metadata.uid();
    let mut found = Vec::new();
    let mut seen = 0;
    survey(dir, &metadata, owner, &mut found, &mut seen)?;
    Ok(Some((found, seen)))
}

fn survey(
    path: &Path,
    metadata: &Metadata,
    owner: u32,
    found: &mut Vec<Exposure>,
    seen: &mut usize,
) -> std::io::Result<()> {
    *seen += 1;
    if let Some(problem) = problem(metadata, owner) {
        found.push(Exposure {
            path: path.to_path_buf(),
            problem,
        });
    }
    if !metadata.is_dir() {
        return Ok(());
    }
    let mut entries = fs::read_dir(path)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        // Not followed: a link's own metadata.
        survey(&entry.path(), &entry.metadata()?, owner, found, seen)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn anything(_: &str) -> bool {
        true
    }

    #[test]
    fn new_directories_and_files_are_private_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        private_dir(&dir, anything).unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
        assert_eq!(mode(&root.path().join("a")), DIR_MODE, "parents too");
        let file = dir.join("f");
        options().write(true).create_new(true).open(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
    }

    #[test]
    fn no_link_is_followed() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        fs::write(&target, "kept").unwrap();
        let link = root.path().join("link");
        symlink(&target, &link).unwrap();
        for open in [
            options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&link),
            options().append(true).create(true).open(&link),
            open_read(&link),
        ] {
            let error = open.unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::ELOOP), "{error}");
        }
        assert_eq!(fs::read_to_string(&target).unwrap(), "kept");
        assert_eq!(
            io_error(&link)(std::io::Error::from_raw_os_error(libc::ELOOP)).to_string(),
            SpoolError::Link(link.clone()).to_string(),
            "an open refused for a link says so"
        );
    }

    #[test]
    fn a_link_as_the_directory_or_an_entry_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = root.path().join("spool");
        symlink(&real, &link).unwrap();
        assert!(matches!(private_dir(&link, anything), Err(SpoolError::Link(p)) if p == link));

        let planted = real.join("ledger");
        symlink(root.path().join("elsewhere"), &planted).unwrap();
        let error = private_dir(&real, anything).unwrap_err();
        assert!(matches!(&error, SpoolError::Link(p) if *p == planted));
        assert!(error.to_string().contains("spool.dir"), "{error}");
    }

    #[test]
    fn an_open_directory_of_the_collectors_files_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o755);
        let ledger = dir.join("ledger");
        fs::write(&ledger, "1 0\n").unwrap();
        set_mode(&ledger, 0o644);
        private_dir(&dir, |name| name == "ledger").unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
        assert_eq!(mode(&ledger), FILE_MODE);
    }

    #[test]
    fn the_survey_names_what_others_may_reach_and_changes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        assert_eq!(exposures(&dir).unwrap(), None, "not made yet");
        private_dir(&dir, anything).unwrap();
        let dead = dir.join("dead-letter");
        private_dir(&dead, anything).unwrap();
        for file in [dir.join("ledger"), dead.join("1.jsonl")] {
            options().write(true).create_new(true).open(&file).unwrap();
        }
        assert_eq!(exposures(&dir).unwrap(), Some((Vec::new(), 4)));

        set_mode(&dead.join("1.jsonl"), 0o644);
        set_mode(&dead, 0o750);
        symlink(root.path(), dir.join("elsewhere")).unwrap();
        let (found, seen) = exposures(&dir).unwrap().unwrap();
        assert_eq!(seen, 5);
        let problems: Vec<(PathBuf, Problem)> =
            found.iter().map(|e| (e.path.clone(), e.problem)).collect();
        assert_eq!(
            problems,
            [
                (
                    dead.clone(),
                    Problem::Shared {
                        mode: 0o750,
                        directory: true
                    }
                ),
                (
                    dead.join("1.jsonl"),
                    Problem::Shared {
                        mode: 0o644,
                        directory: false
                    }
                ),
                (dir.join("elsewhere"), Problem::Link),
            ]
        );
        assert_eq!(mode(&dead), 0o750, "nothing is tightened");
        let said = found[1].to_string();
        assert!(
            said.contains("mode 0644") && said.contains("chmod 600"),
            "{said}"
        );
        assert!(found[0].to_string().contains("chmod 700"));
        let other = Exposure {
            path: dir.join("x"),
            problem: Problem::Owner { uid: 7, owner: 0 },
        };
        assert!(other.to_string().contains("chown 0"), "{other}");
    }

    #[test]
    fn an_open_directory_holding_other_files_is_refused_untouched() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lib");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("someone-elses"), "").unwrap();
        set_mode(&dir, 0o755);
        let error = private_dir(&dir, |name| name == "ledger").unwrap_err();
        assert_eq!(mode(&dir), 0o755);
        let message = error.to_string();
        assert!(message.contains("spool.dir"), "{message}");
        assert!(message.contains("0755"), "{message}");
        assert!(message.contains("someone-elses"), "{message}");
        // A private directory may hold other files: nobody else can reach them.
        set_mode(&dir, 0o700);
        private_dir(&dir, |name| name == "ledger").unwrap();
    }
}
