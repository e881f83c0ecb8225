//! Property tests: canonical pointer serialization round-trips and is byte-stable.

use chrono::{DateTime, TimeZone, Utc};
use forge_gitops::{PointerAliases, ReleasePointer};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Printable strings, including quotes, backslashes, YAML indicators and non-ASCII.
    "[a-zA-Z0-9 :#@'\"\\\\{}\\[\\],&*!|>%.é中😀-]{1,24}"
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000, prop_oneof![Just(0u32), 0u32..1_000_000_000])
        .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).single().unwrap_or_default())
}

prop_compose! {
    fn pointer()(
        name in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        env in "[a-z]([a-z0-9-]{0,10}[a-z0-9])?",
        sha in "[0-9a-fA-F]{40}",
        numeric in proptest::option::of(1u64..u64::MAX),
        tag in proptest::option::of(text()),
        branch in proptest::option::of(text()),
        deployed_at in time(),
        deployed_by in text(),
        approved_by in proptest::option::of(text()),
        approved_at in proptest::option::of(time()),
    ) -> Option<ReleasePointer> {
        Some(ReleasePointer {
            name: name.parse().ok()?,
            environment: env.parse().ok()?,
            release: sha.parse().ok()?,
            aliases: PointerAliases { numeric, tag, branch },
            deployed_at,
            deployed_by,
            approved_by,
            approved_at,
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn round_trip(p in pointer()) {
        let Some(p) = p else { return Ok(()) };
        let yaml = p.to_yaml();
        let back = ReleasePointer::parse("release.yaml", yaml.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.to_yaml(), yaml);
    }
}
