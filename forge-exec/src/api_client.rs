//! Recording releases through the Forge REST API (SPEC §9): [`ApiReleaseRecords`].
