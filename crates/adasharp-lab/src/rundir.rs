//! Run directories that appear whole or not at all.
//!
//! A run writes into a hidden sibling `.<name>.partial-<pid>` and renames it to `<name>` when
//! it ends (completed or diverged), replacing an older run of the same name. A run that fails
//! with an error removes its partial directory.

use std::path::{Path, PathBuf};

use crate::{LabError, Result};

/// A run directory being written.
#[derive(Debug)]
pub struct RunDir {
    partial: PathBuf,
    target: PathBuf,
    finished: bool,
}

impl RunDir {
    /// Creates `parent` (if needed) and the partial directory for run `name`.
    pub fn create(parent: &Path, name: &str) -> Result<Self> {
        std::fs::create_dir_all(parent)
            .map_err(|e| LabError::io("cannot create output directory", parent, e))?;
        let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if partial.exists() {
            let _ = std::fs::remove_dir_all(&partial);
        }
        std::fs::create_dir(&partial)
            .map_err(|e| LabError::io("cannot create run directory in", parent, e))?;
        Ok(Self {
            partial,
            target: parent.join(name),
            finished: false,
        })
    }

    /// Where files go while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Where the run will be when finished.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the partial directory to its final name and returns that path.
    pub fn finish(mut self) -> Result<PathBuf> {
        if self.target.exists() {
            std::fs::remove_dir_all(&self.target)
                .map_err(|e| LabError::io("cannot replace old run directory", &self.target, e))?;
        }
        std::fs::rename(&self.partial, &self.target)
            .map_err(|e| LabError::io("cannot finish run directory", &self.target, e))?;
        self.finished = true;
        Ok(self.target.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}

/// Writes `contents` to `path` with a message naming the file on failure.
pub fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|e| LabError::io("cannot write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_run_leaves_nothing_and_finished_run_has_its_name() {
        let parent = tempfile::tempdir().unwrap();
        {
            let dir = RunDir::create(parent.path(), "a").unwrap();
            write_file(&dir.path().join("x"), "1").unwrap();
        }
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
        let dir = RunDir::create(parent.path(), "a").unwrap();
        write_file(&dir.path().join("x"), "2").unwrap();
        let done = dir.finish().unwrap();
        assert_eq!(std::fs::read_to_string(done.join("x")).unwrap(), "2");
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
    }
}
