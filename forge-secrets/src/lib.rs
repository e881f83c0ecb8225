//! Forge secrets (SPEC §7): secret references, the provider registry and the `aws`, `env` and
//! `file` providers. Values are resolved at the point of use only and never logged.
