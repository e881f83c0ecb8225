//! Fuzz safe tar extraction: no panics, and every accepted entry has a safe relative name
//! within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = forge_oci::ExtractLimits {
        max_entries: 64,
        max_total_bytes: 1 << 20,
        max_file_bytes: 1 << 19,
        max_name_bytes: 256,
    };
    if let Ok(files) = forge_oci::extract_tar(data, &limits) {
        assert!(files.len() <= limits.max_entries);
        let mut total = 0u64;
        for f in &files {
            assert!(!f.name.is_empty() && f.name.len() <= limits.max_name_bytes);
            assert!(!f.name.starts_with('/') && !f.name.contains('\\') && !f.name.contains('\0'));
            assert!(f.name.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
            assert!(f.data.len() as u64 <= limits.max_file_bytes);
            total += f.data.len() as u64;
        }
        assert!(total <= limits.max_total_bytes);
    }
});
