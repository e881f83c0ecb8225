//! Identifier rules (SPEC §1): round-trips and the errors naming the broken rule.
#![cfg(feature = "proptest")]
#![allow(clippy::unwrap_used)]

use forge_core::strategies as s;
use forge_core::*;
use proptest::prelude::*;

fn roundtrip<T>(v: &T)
where
    T: std::fmt::Display
        + std::str::FromStr
        + PartialEq
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
    T::Err: std::fmt::Debug,
{
    let printed = v.to_string();
    assert_eq!(&printed.parse::<T>().unwrap(), v, "Display/FromStr round-trip of {printed}");
    let json = serde_json::to_string(v).unwrap();
    assert_eq!(json, serde_json::to_string(&printed).unwrap(), "serde form is the display string");
    assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), v);
}

proptest! {
    #[test]
    fn repository_roundtrips(v in s::repository()) { roundtrip(&v) }
    #[test]
    fn project_roundtrips(v in s::project_name()) { roundtrip(&v) }
    #[test]
    fn environment_roundtrips(v in s::environment()) { roundtrip(&v) }
    #[test]
    fn commit_roundtrips(v in s::commit_sha()) {
        roundtrip(&v);
        prop_assert_eq!(v.as_str(), v.as_str().to_ascii_lowercase());
    }
    #[test]
    fn canonical_roundtrips(v in s::canonical_id()) { roundtrip(&v) }
    #[test]
    fn registry_roundtrips(v in s::registry()) { roundtrip(&v) }
    #[test]
    fn release_ref_roundtrips(v in s::release_ref()) { roundtrip(&v) }
    #[test]
    fn tracking_ref_roundtrips(v in s::tracking_ref()) { roundtrip(&v) }
    #[test]
    fn pointer_path_roundtrips(v in s::pointer_path()) { roundtrip(&v) }
    #[test]
    fn artifact_roundtrips(v in s::artifact_name()) { roundtrip(&v) }

    #[test]
    fn commit_accepts_any_case(h in "[0-9a-fA-F]{40}") {
        let c: CommitSha = h.parse().unwrap();
        prop_assert_eq!(c.as_str(), h.to_ascii_lowercase());
    }

    #[test]
    fn namespace_is_always_a_dns_label(r in s::repository(), p in s::project_name(), pad in 0usize..80) {
        let long = Repository::new(r.owner(), &format!("{}{}", r.name(), "x".repeat(pad))).unwrap();
        let ns = Namespace::for_project(&long, &p);
        prop_assert!(ns.as_str().len() <= 63);
        prop_assert!(forge_core::id::is_valid_dns_label(ns.as_str()), "{}", ns);
        prop_assert_eq!(ns.as_str().parse::<Namespace>().unwrap(), ns);
    }

    #[test]
    fn random_strings_never_panic(x in ".{0,80}") {
        let _ = x.parse::<Repository>();
        let _ = x.parse::<ProjectName>();
        let _ = x.parse::<CommitSha>();
        let _ = x.parse::<CanonicalId>();
        let _ = x.parse::<ReleaseRef>();
        let _ = x.parse::<TrackingRef>();
        let _ = x.parse::<PointerPath>();
        let _ = x.parse::<Registry>();
    }
}

#[test]
fn namespace_rule_short_and_long() {
    let r: Repository = "acme/shop".parse().unwrap();
    let p: ProjectName = "web".parse().unwrap();
    assert_eq!(Namespace::for_project(&r, &p).as_str(), "shop-web");

    let long_name = "a".repeat(60);
    let r = Repository::new("acme", &long_name).unwrap();
    let ns = Namespace::for_project(&r, &p);
    assert_eq!(ns.as_str().len(), 63);
    let full = format!("{long_name}-web");
    assert_eq!(&ns.as_str()[..54], &full[..54]);
    assert_eq!(&ns.as_str()[54..55], "-");
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(full.as_bytes()));
    assert_eq!(&ns.as_str()[55..], &expected[..8]);
}

#[test]
fn errors_name_the_rule() {
    type Case = (Box<dyn Fn() -> IdError>, &'static str);
    let cases: Vec<Case> = vec![
        (Box::new(|| "acme".parse::<Repository>().unwrap_err()), "expected `owner/name`"),
        (Box::new(|| "acme/..".parse::<Repository>().unwrap_err()), "must not be `.` or `..`"),
        (Box::new(|| "a/b/c".parse::<Repository>().unwrap_err()), "exactly one `/`"),
        (Box::new(|| "ac me/x".parse::<Repository>().unwrap_err()), "may contain only"),
        (Box::new(|| format!("{}/x", "a".repeat(101)).parse::<Repository>().unwrap_err()), "1 to 100"),
        (Box::new(|| "Web".parse::<ProjectName>().unwrap_err()), "a-z, 0-9"),
        (Box::new(|| "-web".parse::<ProjectName>().unwrap_err()), "starting and ending"),
        (Box::new(|| "abc".parse::<CommitSha>().unwrap_err()), "exactly 40 hex digits"),
        (Box::new(|| "g".repeat(40).parse::<CommitSha>().unwrap_err()), "only hex digits"),
        (Box::new(|| "PROD".parse::<Environment>().unwrap_err()), "DNS label"),
        (Box::new(|| "https://r.io".parse::<Registry>().unwrap_err()), "scheme"),
        (Box::new(|| "environments/dev/a/b/release.yaml".parse::<PointerPath>().unwrap_err()), "environments/<env>"),
        (Box::new(|| "r.io/a/b/c:sha-123".parse::<TrackingRef>().unwrap_err()), "expected"),
    ];
    for (f, needle) in cases {
        let e = f();
        assert!(e.to_string().contains(needle), "`{e}` should mention `{needle}`");
    }
}

#[test]
fn oci_refs_lowercase_repository() {
    let id: CanonicalId = "Acme/Shop/web/0123456789abcdef0123456789abcdef01234567".parse().unwrap();
    let r = ReleaseRef::new("127.0.0.1:5000".parse().unwrap(), id.clone());
    assert_eq!(r.to_string(), "127.0.0.1:5000/acme/shop/web:0123456789abcdef0123456789abcdef01234567");
    let t = TrackingRef::new("registry.example/acme".parse().unwrap(), id, "api-bin".parse().unwrap());
    assert_eq!(
        t.to_string(),
        "registry.example/acme/acme/shop/web/api-bin:sha-0123456789abcdef0123456789abcdef01234567"
    );
    let back: TrackingRef = t.to_string().parse().unwrap();
    assert_eq!(back.registry.as_str(), "registry.example/acme");
}

#[test]
fn pointer_path_format() {
    let p = PointerPath::new("dev".parse().unwrap(), "acme/shop".parse().unwrap(), "web".parse().unwrap());
    assert_eq!(p.to_string(), "environments/dev/acme/shop/web/release.yaml");
    assert_eq!(p.dir(), "environments/dev/acme/shop/web");
}
