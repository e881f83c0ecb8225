//! `forge secrets check [PATH]`: resolves every secret reference of a repository's
//! configuration (publisher credentials, step secrets) and reports which fail — never values.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use forge_core::ports::SecretRef;

pub(crate) fn run(path: &Path, json: bool) -> anyhow::Result<i32> {
    let root = forge_config::discovery::find_repo_root(path)
        .with_context(|| format!("no `.forge/repo.cue` in {} or its parents", path.display()))?;
    let registry = Arc::new(forge_secrets::ProviderRegistry::with_defaults());
    let discovery = forge_config::discovery::Discoverer::new(registry)
        .discover(&root, &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut refs: Vec<(String, SecretRef)> = Vec::new();
    for (name, p) in &discovery.repository.publishers {
        if let Some(c) = &p.credentials {
            refs.push((format!(".forge/repo.cue: publishers.{name}.credentials"), c.clone()));
        }
    }
    for project in &discovery.projects {
        for (phase, steps) in &project.phases {
            for step in steps {
                for (i, s) in step.secrets.iter().enumerate() {
                    refs.push((format!("{}: ci.phases.{phase}.{}.secrets[{i}]", project.path, step.name), s.clone()));
                }
            }
        }
    }
    super::runtime()?.block_on(super::secrets::run(refs, json))
}
