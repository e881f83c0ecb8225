//! Release-id resolution (SPEC §5.1) and release-number rules as pure functions.
//!
//! Resolution order for a user-supplied release id: exact alias → numeric release number →
//! unique commit-SHA prefix of at least 7 hex digits (ambiguous → a conflict listing the
//! candidates) → not found.

use crate::id::CommitSha;
use crate::model::{AliasKind, ReleaseAlias};

/// Minimum length of a commit-SHA prefix used as a release id.
pub const MIN_SHA_PREFIX: usize = 7;

/// What the resolver needs to know about one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseKey<'a> {
    /// Release number.
    pub number: u64,
    /// Commit.
    pub commit: &'a CommitSha,
    /// Aliases.
    pub aliases: &'a [ReleaseAlias],
}

/// The outcome of resolving a release id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one release (index into the candidates), and how it matched.
    Found {
        /// Index into the slice given to [`resolve_release_id`].
        index: usize,
        /// Which rule matched.
        by: MatchedBy,
    },
    /// A SHA prefix matching several releases (SPEC §5.1: 409 listing them).
    Ambiguous {
        /// Indices of the candidates.
        candidates: Vec<usize>,
    },
    /// Nothing matched.
    NotFound,
}

/// Which resolution rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// An exact alias.
    Alias,
    /// The release number.
    Number,
    /// A commit-SHA prefix.
    ShaPrefix,
}

/// Resolves `id` against the releases of one project.
pub fn resolve_release_id(id: &str, releases: &[ReleaseKey<'_>]) -> Resolution {
    if let Some(i) = releases.iter().position(|r| r.aliases.iter().any(|a| a.alias == id)) {
        return Resolution::Found { index: i, by: MatchedBy::Alias };
    }
    if !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = id.parse::<u64>()
        && let Some(i) = releases.iter().position(|r| r.number == n)
    {
        return Resolution::Found { index: i, by: MatchedBy::Number };
    }
    if is_sha_prefix(id) {
        let candidates: Vec<usize> =
            releases.iter().enumerate().filter(|(_, r)| r.commit.starts_with(id)).map(|(i, _)| i).collect();
        return match candidates.len() {
            0 => Resolution::NotFound,
            1 => Resolution::Found { index: candidates[0], by: MatchedBy::ShaPrefix },
            _ => Resolution::Ambiguous { candidates },
        };
    }
    Resolution::NotFound
}

/// Whether `s` can be used as a commit-SHA prefix: 7 to 40 hex digits.
pub fn is_sha_prefix(s: &str) -> bool {
    (MIN_SHA_PREFIX..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The next release number given the highest existing one (gapless from 1).
pub fn next_release_number(max_existing: Option<u64>) -> u64 {
    max_existing.map_or(1, |n| n.saturating_add(1))
}

/// Whether a set of release numbers is gapless `1..=n` (the invariant a store must keep).
pub fn is_gapless(numbers: &[u64]) -> bool {
    let mut v = numbers.to_vec();
    v.sort_unstable();
    v.iter().enumerate().all(|(i, n)| *n == i as u64 + 1)
}

/// The branch alias of a release: `<branch>-<number>`, with `/` in the branch replaced by `-`
/// so the alias is usable in a URL path segment.
pub fn branch_alias(branch: &str, number: u64) -> String {
    format!("{}-{number}", branch.replace('/', "-"))
}

/// The tag alias of a release under a tagging strategy: the tag without the `<project>/`
/// prefix for monorepo tagging, the tag itself for tag-all.
pub fn tag_alias(tag: &str, project: &str) -> String {
    tag.strip_prefix(project).and_then(|t| t.strip_prefix('/')).unwrap_or(tag).to_owned()
}

/// Builds the alias set for a new release: numeric, tag (if any), branch (if any).
pub fn aliases_for(number: u64, project: &str, tag: Option<&str>, branch: Option<&str>) -> Vec<ReleaseAlias> {
    let mut out = vec![ReleaseAlias { kind: AliasKind::Numeric, alias: number.to_string() }];
    if let Some(t) = tag {
        out.push(ReleaseAlias { kind: AliasKind::Tag, alias: tag_alias(t, project) });
    }
    if let Some(b) = branch {
        out.push(ReleaseAlias { kind: AliasKind::Branch, alias: branch_alias(b, number) });
    }
    out
}
