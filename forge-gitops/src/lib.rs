//! Forge GitOps: the GitOps repository as the deployment record (SPEC §6) — ReleasePointer
//! files, deploy and rollback commits, environment policies and configuration, and the core of
//! the Argo CD config management plugin.
