//! Forge OCI: reproducible release (SPEC §5.2) and artifact tracking (SPEC §4.5) images,
//! safe extraction, and the registry and on-disk image layout stores.
