//! Validated identifiers of SPEC §1.
//!
//! Every identifier is a newtype whose only constructor is [`FromStr`] (or a `new`/`parse`
//! function that validates). Printing with [`Display`](fmt::Display) and parsing again
//! round-trips, and serde goes through the same validation, so a value of one of these types is
//! always well-formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Error returned when an identifier does not satisfy its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{input}`: {rule}")]
pub struct IdError {
    /// Which identifier was being parsed (for example `project name`).
    pub kind: &'static str,
    /// The offending input, quoted back to the user.
    pub input: String,
    /// The rule that failed, phrased so the user knows what to change.
    pub rule: String,
}

impl IdError {
    fn new(kind: &'static str, input: &str, rule: impl Into<String>) -> Self {
        // Cap the echoed input so a huge value does not flood error output.
        let input = if input.len() > 120 {
            let mut end = 120;
            while !input.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &input[..end])
        } else {
            input.to_owned()
        };
        Self { kind, input, rule: rule.into() }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }
        impl TryFrom<&str> for $t {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                s.parse()
            }
        }
    };
}

/// Defines a DNS-label newtype: `as_str`, a validating `FromStr` with the given error kind and
/// rule, `Display` (padding-aware), `Debug` and the string serde of [`string_serde`].
macro_rules! dns_label_id {
    ($(#[$m:meta])* $name:ident, $kind:literal, $rule:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                if is_dns_label(s) { Ok(Self(s.to_owned())) } else { Err(IdError::new($kind, s, $rule)) }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
        string_serde!($name);
    };
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn check_repo_part(kind: &'static str, whole: &str, part: &str, which: &str) -> Result<(), IdError> {
    if part.is_empty() || part.len() > 100 {
        return Err(IdError::new(kind, whole, format!("the {which} must be 1 to 100 characters")));
    }
    if part == "." || part == ".." {
        return Err(IdError::new(kind, whole, format!("the {which} must not be `.` or `..`")));
    }
    if let Some(c) = part.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(IdError::new(
            kind,
            whole,
            format!("the {which} may contain only A-Z, a-z, 0-9, `.`, `_` and `-` (found {c:?})"),
        ));
    }
    Ok(())
}

/// A GitHub repository `owner/name` (SPEC §1): each part `[A-Za-z0-9._-]{1,100}`, not `.`/`..`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    owner: String,
    name: String,
}

impl Repository {
    /// Builds a repository from its two parts, validating each.
    pub fn new(owner: &str, name: &str) -> Result<Self, IdError> {
        format!("{owner}/{name}").parse()
    }
    /// The owner (organisation or user).
    pub fn owner(&self) -> &str {
        &self.owner
    }
    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for Repository {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        const K: &str = "repository";
        let Some((owner, name)) = s.split_once('/') else {
            return Err(IdError::new(K, s, "expected `owner/name`"));
        };
        if name.contains('/') {
            return Err(IdError::new(K, s, "expected exactly one `/` (`owner/name`)"));
        }
        check_repo_part(K, s, owner, "owner")?;
        check_repo_part(K, s, name, "name")?;
        Ok(Self { owner: owner.to_owned(), name: name.to_owned() })
    }
}
impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}
impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Repository({self})")
    }
}
string_serde!(Repository);

dns_label_id!(
    /// A project name (SPEC §1): `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`.
    ProjectName,
    "project name",
    "must be 1-63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit"
);

dns_label_id!(
    /// An environment name (SPEC §1): a DNS label such as `dev`, `staging`, `production`.
    Environment,
    "environment",
    "must be a DNS label: 1-63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit"
);

/// A full git commit SHA (SPEC §1): 40 hex digits, accepted in any case, stored lowercase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitSha([u8; 40]);

impl CommitSha {
    /// The lowercase hex string.
    pub fn as_str(&self) -> &str {
        // The bytes are validated ASCII hex digits, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    /// The first `n` characters (at most 40), e.g. for short display.
    pub fn short(&self, n: usize) -> &str {
        &self.as_str()[..n.min(40)]
    }
    /// Whether `prefix` (any case) is a prefix of this SHA.
    pub fn starts_with(&self, prefix: &str) -> bool {
        prefix.len() <= 40 && self.as_str().starts_with(&prefix.to_ascii_lowercase())
    }
}
impl FromStr for CommitSha {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 40 {
            return Err(IdError::new(
                "commit SHA",
                s,
                format!("must be exactly 40 hex digits (found {} characters)", s.len()),
            ));
        }
        let mut out = [0u8; 40];
        for (i, c) in s.bytes().enumerate() {
            if !c.is_ascii_hexdigit() {
                return Err(IdError::new(
                    "commit SHA",
                    s,
                    format!("must contain only hex digits (found {:?})", c as char),
                ));
            }
            out[i] = c.to_ascii_lowercase();
        }
        Ok(Self(out))
    }
}
impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
impl fmt::Debug for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommitSha({})", self.as_str())
    }
}
string_serde!(CommitSha);

/// The canonical triplet `owner/name/project/sha` identifying a release globally (SPEC §1, §5.1).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CanonicalId {
    /// The repository.
    pub repository: Repository,
    /// The project within the repository.
    pub project: ProjectName,
    /// The commit the release was built from.
    pub commit: CommitSha,
}

impl CanonicalId {
    /// Builds a canonical id from its parts.
    pub fn new(repository: Repository, project: ProjectName, commit: CommitSha) -> Self {
        Self { repository, project, commit }
    }
}
impl FromStr for CanonicalId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() != 4 {
            return Err(IdError::new(
                "canonical release id",
                s,
                "expected `owner/name/project/sha` (four `/`-separated parts)",
            ));
        }
        Ok(Self {
            repository: Repository::new(parts[0], parts[1])?,
            project: parts[2].parse()?,
            commit: parts[3].parse()?,
        })
    }
}
impl fmt::Display for CanonicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.repository, self.project, self.commit)
    }
}
string_serde!(CanonicalId);

/// An OCI registry host (with optional port and path prefix), e.g. `registry.example/acme` or
/// `127.0.0.1:5000`. Lowercased, no scheme, no trailing `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Registry(String);

impl Registry {
    /// The registry as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The host part (everything before the first `/`).
    pub fn host(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }
}
impl FromStr for Registry {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        const K: &str = "registry";
        if s.is_empty() {
            return Err(IdError::new(K, s, "must not be empty"));
        }
        if s.contains("://") {
            return Err(IdError::new(K, s, "must not include a scheme (write `host[:port][/prefix]`)"));
        }
        if s.ends_with('/') || s.starts_with('/') || s.contains("//") {
            return Err(IdError::new(K, s, "must not start or end with `/` or contain `//`"));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'))) {
            return Err(IdError::new(K, s, format!("contains an invalid character {c:?}")));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}
impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}
impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Registry({})", self.0)
    }
}
string_serde!(Registry);

/// The OCI reference of a release image (SPEC §1, §5.2):
/// `<release-registry>/<owner>/<name>/<project>:<sha>`, repository path lowercased.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ReleaseRef {
    /// Registry the image lives in.
    pub registry: Registry,
    /// Which release.
    pub id: CanonicalId,
}

impl ReleaseRef {
    /// Builds the reference for a release in a registry.
    pub fn new(registry: Registry, id: CanonicalId) -> Self {
        Self { registry, id }
    }
    /// The OCI repository path below the registry (`owner/name/project`, lowercased).
    pub fn repository_path(&self) -> String {
        format!("{}/{}/{}", self.id.repository.owner(), self.id.repository.name(), self.id.project).to_ascii_lowercase()
    }
    /// The tag: the full commit SHA.
    pub fn tag(&self) -> &str {
        self.id.commit.as_str()
    }
}
impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository_path(), self.tag())
    }
}
impl FromStr for ReleaseRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        const K: &str = "release OCI reference";
        let (path, tag) = s
            .rsplit_once(':')
            .ok_or_else(|| IdError::new(K, s, "expected `<registry>/<owner>/<name>/<project>:<sha>`"))?;
        let parts: Vec<&str> = path.rsplitn(4, '/').collect();
        if parts.len() != 4 {
            return Err(IdError::new(K, s, "expected `<registry>/<owner>/<name>/<project>:<sha>`"));
        }
        let id = CanonicalId {
            repository: Repository::new(parts[2], parts[1])?,
            project: parts[0].parse()?,
            commit: tag.parse()?,
        };
        Ok(Self { registry: parts[3].parse()?, id: lower_repo(id)? })
    }
}
string_serde!(ReleaseRef);

fn lower_repo(id: CanonicalId) -> Result<CanonicalId, IdError> {
    Ok(CanonicalId {
        repository: Repository::new(
            &id.repository.owner().to_ascii_lowercase(),
            &id.repository.name().to_ascii_lowercase(),
        )?,
        ..id
    })
}

dns_label_id!(
    /// An artifact name within a project: a DNS label like the project rule.
    ArtifactName,
    "artifact name",
    "must be 1-63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit"
);

/// The OCI reference of an artifact tracking image (SPEC §1, §4.5):
/// `<tracking-registry>/<owner>/<name>/<project>/<artifact>:sha-<sha>`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TrackingRef {
    /// Registry the image lives in.
    pub registry: Registry,
    /// The release the artifact belongs to.
    pub id: CanonicalId,
    /// The artifact.
    pub artifact: ArtifactName,
}

impl TrackingRef {
    /// Builds the reference.
    pub fn new(registry: Registry, id: CanonicalId, artifact: ArtifactName) -> Self {
        Self { registry, id, artifact }
    }
    /// The OCI repository path below the registry, lowercased.
    pub fn repository_path(&self) -> String {
        format!("{}/{}/{}/{}", self.id.repository.owner(), self.id.repository.name(), self.id.project, self.artifact)
            .to_ascii_lowercase()
    }
    /// The tag: `sha-<sha>`.
    pub fn tag(&self) -> String {
        format!("sha-{}", self.id.commit)
    }
}
impl fmt::Display for TrackingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository_path(), self.tag())
    }
}
impl FromStr for TrackingRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        const K: &str = "tracking OCI reference";
        const FORM: &str = "expected `<registry>/<owner>/<name>/<project>/<artifact>:sha-<sha>`";
        let (path, tag) = s.rsplit_once(':').ok_or_else(|| IdError::new(K, s, FORM))?;
        let sha = tag.strip_prefix("sha-").ok_or_else(|| IdError::new(K, s, "the tag must be `sha-<40 hex>`"))?;
        let parts: Vec<&str> = path.rsplitn(5, '/').collect();
        if parts.len() != 5 {
            return Err(IdError::new(K, s, FORM));
        }
        let id = CanonicalId {
            repository: Repository::new(parts[3], parts[2])?,
            project: parts[1].parse()?,
            commit: sha.parse()?,
        };
        Ok(Self { registry: parts[4].parse()?, id: lower_repo(id)?, artifact: parts[0].parse()? })
    }
}
string_serde!(TrackingRef);

/// The path of a ReleasePointer in the GitOps repository (SPEC §1, §6.1):
/// `environments/<env>/<owner>/<name>/<project>/release.yaml`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PointerPath {
    /// Environment the pointer deploys to.
    pub environment: Environment,
    /// Repository of the project.
    pub repository: Repository,
    /// The project.
    pub project: ProjectName,
}

impl PointerPath {
    /// Builds the pointer path.
    pub fn new(environment: Environment, repository: Repository, project: ProjectName) -> Self {
        Self { environment, repository, project }
    }
    /// The directory holding the pointer (and the per-project `env.yml`).
    pub fn dir(&self) -> String {
        format!(
            "environments/{}/{}/{}/{}",
            self.environment,
            self.repository.owner(),
            self.repository.name(),
            self.project
        )
    }
}
impl fmt::Display for PointerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/release.yaml", self.dir())
    }
}
impl FromStr for PointerPath {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        const K: &str = "pointer path";
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() != 6 || parts[0] != "environments" || parts[5] != "release.yaml" {
            return Err(IdError::new(K, s, "expected `environments/<env>/<owner>/<name>/<project>/release.yaml`"));
        }
        Ok(Self {
            environment: parts[1].parse()?,
            repository: Repository::new(parts[2], parts[3])?,
            project: parts[4].parse()?,
        })
    }
}
string_serde!(PointerPath);

dns_label_id!(
    /// A Kubernetes namespace derived by the rule of SPEC §1: `<name>-<project>`, lowercased; if
    /// longer than 63 characters, the first 54 characters, `-`, and 8 hex digits of the SHA-256 of
    /// the full name. Decision where the spec is silent: `.` and `_` of the repository name become
    /// `-` and leading `-` are dropped, so the result is always a DNS label.
    Namespace,
    "namespace",
    "must be a DNS label of at most 63 characters"
);

impl Namespace {
    /// Derives the namespace of a project of a repository.
    pub fn for_project(repository: &Repository, project: &ProjectName) -> Self {
        let full = format!("{}-{}", repository.name(), project).to_ascii_lowercase();
        // Repository names may hold `.` and `_`, which are not allowed in DNS labels: they
        // become `-`, and a leading `-` is dropped (the project part always ends the name with
        // a letter or digit).
        let full: String = full.chars().map(|c| if c == '.' || c == '_' { '-' } else { c }).collect();
        let full = full.trim_start_matches('-').to_owned();
        if full.len() <= 63 {
            return Self(full);
        }
        let digest = Sha256::digest(full.as_bytes());
        let mut head = full[..54].to_owned();
        head.push('-');
        head.push_str(&hex::encode(digest)[..8]);
        Self(head)
    }
}

/// Whether `s` is a DNS label (RFC 1123): 1-63 of `a-z0-9-`, alphanumeric at both ends.
pub fn is_valid_dns_label(s: &str) -> bool {
    is_dns_label(s)
}
