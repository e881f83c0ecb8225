//! Fuzzes ReleasePointer parsing (SPEC §6.2): any `release.yaml` is either rejected with an error
//! or parses into a pointer whose rendering parses back to the same pointer.
#![no_main]

use forge_gitops::ReleasePointer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pointer) = ReleasePointer::parse("release.yaml", data) {
        let yaml = pointer.to_yaml();
        let again = ReleasePointer::parse("release.yaml", yaml.as_bytes()).expect("a rendered pointer parses");
        assert_eq!(pointer, again, "pointer round trip changed the value");
    }
});
