//! Deterministic tar writing and safe tar extraction.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use crate::error::OciError;

/// Limits applied when extracting a tar layer. Anything over a limit rejects the whole layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Most entries (files) accepted.
    pub max_entries: usize,
    /// Most bytes in all files together.
    pub max_total_bytes: u64,
    /// Most bytes in one file.
    pub max_file_bytes: u64,
    /// Longest entry name, in bytes.
    pub max_name_bytes: usize,
}

impl Default for ExtractLimits {
    /// 10,000 entries, 256 MiB in total, 16 MiB per file, 1,024-byte names.
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_total_bytes: 256 * 1024 * 1024,
            max_file_bytes: 16 * 1024 * 1024,
            max_name_bytes: 1024,
        }
    }
}

/// One regular file read from a tar layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedFile {
    /// The entry name: relative, `/`-separated, no `.` or `..` components.
    pub name: String,
    /// The file content.
    pub data: Vec<u8>,
}

/// Writes an uncompressed tar deterministically: entries in the given order, mode 0644, uid
/// and gid 0, empty owner names, `mtime` for every entry, GNU long names when needed.
pub fn write_deterministic_tar<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    mtime: u64,
) -> Result<Vec<u8>, OciError> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        check_name(name.as_bytes(), usize::MAX)?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_size(data.len() as u64);
        header
            .set_username("")
            .and_then(|()| header.set_groupname(""))
            .map_err(|e| OciError::invalid("tar entry", e.to_string()))?;
        builder
            .append_data(&mut header, name, data)
            .map_err(|e| OciError::invalid(format!("tar entry `{name}`"), e.to_string()))?;
    }
    builder.into_inner().map_err(|e| OciError::invalid("tar", e.to_string()))
}

/// Reads every entry of a tar into memory, refusing anything unsafe: entries that are not
/// regular files (links, directories, devices), absolute names, `..` or `.` components,
/// backslashes or NUL, duplicate names, and anything over `limits`. On error nothing is
/// returned.
pub fn extract_tar(tar_bytes: &[u8], limits: &ExtractLimits) -> Result<Vec<ExtractedFile>, OciError> {
    let mut archive = tar::Archive::new(tar_bytes);
    let entries = archive.entries().map_err(|e| OciError::unsafe_entry("<archive>", format!("unreadable tar: {e}")))?;
    let mut out: Vec<ExtractedFile> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut total: u64 = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| OciError::unsafe_entry("<archive>", format!("unreadable tar entry: {e}")))?;
        if out.len() >= limits.max_entries {
            return Err(OciError::LimitExceeded {
                what: "tar entry count".into(),
                limit: limits.max_entries as u64,
                actual: out.len() as u64 + 1,
            });
        }
        let raw_name = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(OciError::unsafe_entry(&raw_name, format!("not a regular file (entry type {:?})", kind)));
        }
        let name = check_name(&raw_name, limits.max_name_bytes)?;
        // The size after PAX extensions, which is what the entry reader yields.
        let size = entry.size();
        if size > limits.max_file_bytes {
            return Err(OciError::LimitExceeded {
                what: format!("size of `{name}`"),
                limit: limits.max_file_bytes,
                actual: size,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(OciError::LimitExceeded {
                what: "total extracted size".into(),
                limit: limits.max_total_bytes,
                actual: total,
            });
        }
        if !seen.insert(name.clone()) {
            return Err(OciError::unsafe_entry(&raw_name, "duplicate entry name"));
        }
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry)
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| OciError::unsafe_entry(&raw_name, format!("truncated content: {e}")))?;
        if data.len() as u64 != size {
            return Err(OciError::unsafe_entry(
                &raw_name,
                format!("truncated content: {} of {size} bytes", data.len()),
            ));
        }
        out.push(ExtractedFile { name, data });
    }
    Ok(out)
}

/// Extracts a tar into `dir` safely: the whole layer is checked in memory first (see
/// [`extract_tar`]), so a malicious layer writes nothing; `dir` must be empty or absent; files
/// are created with `create_new` (never following an existing link) and parent directories
/// only below `dir`. Returns the names written, in archive order.
pub fn extract_tar_to_dir(tar_bytes: &[u8], dir: &Path, limits: &ExtractLimits) -> Result<Vec<String>, OciError> {
    let files = extract_tar(tar_bytes, limits)?;
    write_files_to_dir(&files, dir)?;
    Ok(files.into_iter().map(|f| f.name).collect())
}

/// Writes already-checked files into an empty or absent `dir`.
pub(crate) fn write_files_to_dir(files: &[ExtractedFile], dir: &Path) -> Result<(), OciError> {
    match std::fs::read_dir(dir) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(OciError::invalid(
                    "extraction target",
                    format!("{} is not empty; extract into an empty directory", dir.display()),
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| OciError::io("create directory", dir, e))?;
        }
        Err(e) => return Err(OciError::io("read directory", dir, e)),
    }
    for f in files {
        // Names were validated: relative, normal components only.
        let path = dir.join(&f.name);
        if let Some(parent) = path.parent()
            && parent != dir
        {
            std::fs::create_dir_all(parent).map_err(|e| OciError::io("create directory", parent, e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| OciError::io("create file", &path, e))?;
        std::io::Write::write_all(&mut file, &f.data).map_err(|e| OciError::io("write file", &path, e))?;
    }
    Ok(())
}

/// Validates an entry name; returns it as a `String`.
fn check_name(raw: &[u8], max: usize) -> Result<String, OciError> {
    if raw.is_empty() {
        return Err(OciError::unsafe_entry(raw, "empty name"));
    }
    if raw.len() > max {
        return Err(OciError::unsafe_entry(raw, format!("name longer than {max} bytes")));
    }
    let name = std::str::from_utf8(raw).map_err(|_| OciError::unsafe_entry(raw, "name is not UTF-8"))?;
    if name.starts_with('/') {
        return Err(OciError::unsafe_entry(raw, "absolute path"));
    }
    if name.contains('\\') || name.contains('\0') {
        return Err(OciError::unsafe_entry(raw, "backslash or NUL in name"));
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err(OciError::unsafe_entry(raw, "drive-letter path"));
    }
    for comp in name.split('/') {
        match comp {
            ".." => return Err(OciError::unsafe_entry(raw, "`..` component")),
            "." | "" => return Err(OciError::unsafe_entry(raw, "empty or `.` component")),
            _ => {}
        }
        if comp.chars().any(char::is_control) {
            return Err(OciError::unsafe_entry(raw, "control character in name"));
        }
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_long_names() {
        let long = format!("0001-Deployment-{}.yaml", "a".repeat(200));
        let entries = [("0000-a.yaml", &b"x: 1\n"[..]), (long.as_str(), &b"y: 2\n"[..])];
        let t = write_deterministic_tar(entries, 1_700_000_000).expect("tar");
        assert_eq!(t.len() % 512, 0);
        let files = extract_tar(&t, &ExtractLimits::default()).expect("extract");
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].name, long);
        assert_eq!(files[1].data, b"y: 2\n");
    }

    #[test]
    fn names_rejected() {
        for bad in ["/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b", "C:x", ""] {
            assert!(check_name(bad.as_bytes(), 1024).is_err(), "{bad}");
        }
        assert!(check_name(b"a/b.yaml", 1024).is_ok());
    }
}
