//! Release triggers (SPEC §2.6), property-tested.

use forge_config::schema::{ProjectConfig, ReleaseConfig, ReleaseOn, TaggingStrategy};
use forge_config::trigger::{GitContext, release_trigger};
use forge_core::model::TriggerType;
use proptest::prelude::*;

fn project(name: &str, on: Vec<ReleaseOn>, enabled: bool) -> ProjectConfig {
    ProjectConfig {
        name: name.parse().expect("valid name"),
        phases: Default::default(),
        resources: None,
        release: Some(ReleaseConfig { on, enabled }),
        artifacts: Default::default(),
    }
}

fn branch(pattern: &str) -> ReleaseOn {
    ReleaseOn::Branch { pattern: pattern.into(), regex: regex::Regex::new(&format!("^(?:{pattern})$")).expect("regex") }
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

fn version() -> impl Strategy<Value = String> {
    (0u64..50, 0u64..50, 0u64..50, proptest::option::of("[a-z]{1,5}\\.[1-9][0-9]?")).prop_map(
        |(a, b, c, pre)| match pre {
            Some(p) => format!("{a}.{b}.{c}-{p}"),
            None => format!("{a}.{b}.{c}"),
        },
    )
}

proptest! {
    #[test]
    fn monorepo_tag_of_a_never_triggers_b(a in name(), b in name(), v in version()) {
        prop_assume!(a != b);
        let tag = GitContext::tag(format!("{a}/v{v}"));
        let pb = project(&b, vec![ReleaseOn::Tag, branch(".*")], true);
        prop_assert_eq!(release_trigger(&pb, TaggingStrategy::Monorepo, &tag), None);
        let pa = project(&a, vec![ReleaseOn::Tag], true);
        prop_assert_eq!(release_trigger(&pa, TaggingStrategy::Monorepo, &tag), Some(TriggerType::Tag));
        // The same tag under tag-all releases nobody: it is not `v<semver>`.
        prop_assert_eq!(release_trigger(&pa, TaggingStrategy::TagAll, &tag), None);
    }

    #[test]
    fn tag_all_triggers_every_enabled_project(names in proptest::collection::vec((name(), any::<bool>()), 1..8), v in version()) {
        let tag = GitContext::tag(format!("v{v}"));
        for (n, enabled) in names {
            let p = project(&n, vec![ReleaseOn::Tag], enabled);
            let want = enabled.then_some(TriggerType::Tag);
            prop_assert_eq!(release_trigger(&p, TaggingStrategy::TagAll, &tag), want);
            prop_assert_eq!(release_trigger(&p, TaggingStrategy::Monorepo, &tag), None);
        }
    }

    #[test]
    fn non_semver_tags_never_trigger(a in name(), junk in "[a-zA-Z0-9._-]{0,12}") {
        prop_assume!(semver::Version::parse(&junk).is_err());
        let p = project(&a, vec![ReleaseOn::Tag], true);
        prop_assert_eq!(release_trigger(&p, TaggingStrategy::Monorepo, &GitContext::tag(format!("{a}/v{junk}"))), None);
        prop_assert_eq!(release_trigger(&p, TaggingStrategy::TagAll, &GitContext::tag(format!("v{junk}"))), None);
        prop_assert_eq!(release_trigger(&p, TaggingStrategy::Monorepo, &GitContext::tag(format!("{a}/{junk}"))), None);
    }

    #[test]
    fn branch_patterns_match_whole_names(lit in "[a-z]{1,8}", other in "[a-z/.-]{0,12}") {
        let p = project("x", vec![branch(&regex::escape(&lit))], true);
        let want = (other == lit).then_some(TriggerType::BranchPush);
        prop_assert_eq!(release_trigger(&p, TaggingStrategy::Monorepo, &GitContext::branch(other.clone())), want);
        for around in [format!("{lit}{other}"), format!("{other}{lit}")] {
            let want = (around == lit).then_some(TriggerType::BranchPush);
            prop_assert_eq!(release_trigger(&p, TaggingStrategy::Monorepo, &GitContext::branch(around)), want);
        }
    }

    #[test]
    fn disabled_projects_never_release(a in name(), v in version(), b in "[a-z]{1,8}") {
        let p = project(&a, vec![ReleaseOn::Tag, branch(".*")], false);
        for git in [GitContext::tag(format!("{a}/v{v}")), GitContext::tag(format!("v{v}")), GitContext::branch(b.clone())] {
            prop_assert_eq!(release_trigger(&p, TaggingStrategy::Monorepo, &git), None);
            prop_assert_eq!(release_trigger(&p, TaggingStrategy::TagAll, &git), None);
        }
    }
}

#[test]
fn refs_and_release_branch_patterns() {
    let p = project("api", vec![branch("main"), branch("release/.*")], true);
    let at = |r: &str| {
        release_trigger(&p, TaggingStrategy::Monorepo, &GitContext { git_ref: Some(r.into()), ..GitContext::default() })
    };
    assert_eq!(at("refs/heads/main"), Some(TriggerType::BranchPush));
    assert_eq!(at("refs/heads/release/1.2"), Some(TriggerType::BranchPush));
    assert_eq!(at("refs/heads/main-old"), None);
    assert_eq!(at("refs/heads/x/release/1"), None);
    assert_eq!(at("refs/tags/main"), None);
    let none = ProjectConfig { release: None, ..project("api", vec![], true) };
    assert_eq!(release_trigger(&none, TaggingStrategy::TagAll, &GitContext::tag("v1.0.0")), None);
}
