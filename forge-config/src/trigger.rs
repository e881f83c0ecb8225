//! Release triggers (SPEC §2.6), evaluated against a git context during discovery.
//!
//! - `{branch: re}` matches when `re` matches the **whole** branch name.
//! - `{tag: true}` matches, with `monorepo` tagging, a tag `<project>/v<semver>` of that project
//!   only; with `tag-all`, a tag `v<semver>` for every project whose `release.enabled` is not
//!   false. A tag that is not semver after the prefix never triggers.
//! - `release.enabled: false` disables every trigger of the project; a project without a
//!   `release` block has no triggers.

use forge_core::model::TriggerType;
use serde::{Deserialize, Serialize};

use crate::schema::{ProjectConfig, ReleaseOn, TaggingStrategy};

/// The git context of a run: the branch pushed, or the tag pushed, and the full ref.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitContext {
    /// Branch name (`main`), without `refs/heads/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag name (`web/v1.2.3`), without `refs/tags/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Full ref (`refs/heads/main`, `refs/tags/v1.0.0`); fills `branch`/`tag` when they are unset.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
}

impl GitContext {
    /// A branch push.
    pub fn branch(name: impl Into<String>) -> Self {
        Self { branch: Some(name.into()), ..Self::default() }
    }
    /// A tag push.
    pub fn tag(name: impl Into<String>) -> Self {
        Self { tag: Some(name.into()), ..Self::default() }
    }
    /// The branch: the explicit one, else from a `refs/heads/` ref.
    pub fn effective_branch(&self) -> Option<&str> {
        self.branch.as_deref().or_else(|| self.git_ref.as_deref()?.strip_prefix("refs/heads/"))
    }
    /// The tag: the explicit one, else from a `refs/tags/` ref.
    pub fn effective_tag(&self) -> Option<&str> {
        self.tag.as_deref().or_else(|| self.git_ref.as_deref()?.strip_prefix("refs/tags/"))
    }
}

/// The version in a release tag for `project`, if the tag releases it under `strategy`.
pub fn tag_version(strategy: TaggingStrategy, project: &str, tag: &str) -> Option<semver::Version> {
    let rest = match strategy {
        TaggingStrategy::Monorepo => tag.strip_prefix(project)?.strip_prefix('/')?,
        TaggingStrategy::TagAll => tag,
    };
    semver::Version::parse(rest.strip_prefix('v')?).ok()
}

/// Whether (and how) the git context triggers a release of the project.
pub fn release_trigger(project: &ProjectConfig, strategy: TaggingStrategy, git: &GitContext) -> Option<TriggerType> {
    let release = project.release.as_ref()?;
    if !release.enabled {
        return None;
    }
    let branch = git.effective_branch();
    let tag = git.effective_tag();
    release.on.iter().find_map(|on| match on {
        ReleaseOn::Branch { regex, .. } => branch.filter(|b| regex.is_match(b)).map(|_| TriggerType::BranchPush),
        ReleaseOn::Tag => tag.and_then(|t| tag_version(strategy, project.name.as_str(), t)).map(|_| TriggerType::Tag),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        use TaggingStrategy::*;
        assert!(tag_version(Monorepo, "web", "web/v1.2.3").is_some());
        assert!(tag_version(Monorepo, "web", "web/v1.2.3-rc.1").is_some());
        assert!(tag_version(Monorepo, "web", "web/1.2.3").is_none());
        assert!(tag_version(Monorepo, "web", "web/vnext").is_none());
        assert!(tag_version(Monorepo, "web", "webapp/v1.2.3").is_none());
        assert!(tag_version(Monorepo, "web", "v1.2.3").is_none());
        assert!(tag_version(TagAll, "web", "v1.2.3").is_some());
        assert!(tag_version(TagAll, "web", "web/v1.2.3").is_none());
        assert!(tag_version(TagAll, "web", "v1.2").is_none());
    }

    #[test]
    fn refs() {
        let g = GitContext { git_ref: Some("refs/heads/main".into()), ..Default::default() };
        assert_eq!(g.effective_branch(), Some("main"));
        assert_eq!(g.effective_tag(), None);
        let g = GitContext { git_ref: Some("refs/tags/v1.0.0".into()), ..Default::default() };
        assert_eq!(g.effective_tag(), Some("v1.0.0"));
    }
}
