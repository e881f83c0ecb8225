//! The parallel walk of a repository: `.gitignore` and `.git/info/exclude` honoured (also
//! outside a git repository), symbolic links never followed, `.git` and `.forge-local` never
//! entered.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ignore::{WalkBuilder, WalkState};

fn builder(root: &Path) -> WalkBuilder {
    let mut b = WalkBuilder::new(root);
    b.hidden(false)
        .parents(false)
        .ignore(false)
        .git_global(false)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .threads(std::thread::available_parallelism().map_or(2, |n| n.get()).min(8))
        .filter_entry(|e| {
            let name = e.file_name();
            !(e.file_type().is_some_and(|t| t.is_dir()) && (name == ".git" || name == ".forge-local"))
        });
    b
}

/// Calls `on_found` (on the walker's threads, as soon as it is seen) with every directory
/// holding a `.forge` folder; returns the walk errors.
pub(crate) fn forge_dirs<F>(root: &Path, on_found: F) -> Vec<(PathBuf, String)>
where
    F: Fn(PathBuf) + Sync,
{
    let errors = Mutex::new(Vec::new());
    let on_found = &on_found;
    builder(root).build_parallel().run(|| {
        Box::new(|entry| {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_dir()) && e.file_name() == ".forge" && e.depth() > 0 {
                        if let Some(parent) = e.path().parent() {
                            on_found(parent.to_path_buf());
                        }
                        return WalkState::Skip;
                    }
                }
                Err(err) => {
                    // Unreadable folders are reported, not fatal.
                    let path = match &err {
                        ignore::Error::WithPath { path, .. } => path.clone(),
                        _ => PathBuf::new(),
                    };
                    errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((path, err.to_string()));
                }
            }
            WalkState::Continue
        })
    });
    errors.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The bare parallel walk discovery performs, visiting every entry and doing nothing else;
/// returns the number of entries. The baseline of the discovery benchmark.
pub fn bare_walk(root: &Path) -> usize {
    let count = AtomicUsize::new(0);
    builder(root).build_parallel().run(|| {
        Box::new(|_| {
            count.fetch_add(1, Ordering::Relaxed);
            WalkState::Continue
        })
    });
    count.into_inner()
}
