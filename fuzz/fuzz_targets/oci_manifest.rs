//! Fuzz the OCI manifest and index parsers: no panics, and a parsed manifest re-serialises to
//! bytes that parse again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = forge_oci::ImageManifest::parse(data) {
        let bytes = m.to_bytes();
        if bytes.len() <= forge_oci::MAX_MANIFEST_BYTES {
            let again = forge_oci::ImageManifest::parse(&bytes).expect("canonical bytes parse");
            assert_eq!(again, m);
        }
        if let Ok(release) = forge_oci::ReleaseImage::from_image(forge_oci::BuiltImage {
            digest: forge_oci::Digest::of(&bytes),
            manifest_bytes: bytes.into(),
            config: Default::default(),
            layers: m.layers.iter().map(|_| b"{}".to_vec().into()).collect(),
            manifest: m,
        }) {
            let _ = release.extract_resources(&forge_oci::ExtractLimits::default());
        }
    }
    let _ = forge_oci::ImageIndex::parse(data);
    let _ = forge_oci::sniff_media_type(data);
});
