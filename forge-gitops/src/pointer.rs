//! The ReleasePointer of SPEC §6.2: strict parsing and canonical serialization.
//!
//! Parsing walks the YAML tree by hand instead of deriving `Deserialize`, so that every
//! rejection names the file and the dotted field path (`spec.aliases.numeric`) together with
//! what was found and what is expected. Serialization is hand-written too: keys in the order of
//! the specification, timestamps as quoted RFC 3339 in UTC, strings plain only when that cannot
//! change their meaning — so identical pointers always produce identical bytes.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use forge_core::{CommitSha, Environment, ProjectName};
use serde_yaml::{Mapping, Value};

use crate::error::{GitopsError, Result};

/// `apiVersion` of every pointer.
pub const API_VERSION: &str = "forge.projectcatalyst.io/v1";
/// `kind` of every pointer.
pub const KIND: &str = "ReleasePointer";
/// Pointer files larger than this are rejected before parsing.
pub const MAX_POINTER_BYTES: usize = 64 * 1024;
/// Longest accepted identity, tag or branch string.
const MAX_STRING: usize = 512;

/// The aliases recorded in a pointer (`spec.aliases`); each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PointerAliases {
    /// The release number (≥ 1).
    pub numeric: Option<u64>,
    /// The tag alias (`v1.2.3`).
    pub tag: Option<String>,
    /// The branch alias (`main-42`).
    pub branch: Option<String>,
}

impl PointerAliases {
    /// The most descriptive alias, as in commit messages: tag, else branch, else the number.
    pub fn display_alias(&self) -> Option<String> {
        self.tag.clone().or_else(|| self.branch.clone()).or_else(|| self.numeric.map(|n| n.to_string()))
    }
}

/// A ReleasePointer (SPEC §6.2): which release of a project is deployed to an environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleasePointer {
    /// `metadata.name`: the project.
    pub name: ProjectName,
    /// `metadata.environment`.
    pub environment: Environment,
    /// `spec.release`: the commit SHA of the release.
    pub release: CommitSha,
    /// `spec.aliases`.
    pub aliases: PointerAliases,
    /// `spec.deployedAt`.
    pub deployed_at: DateTime<Utc>,
    /// `spec.deployedBy`: the deploying identity.
    pub deployed_by: String,
    /// `spec.approvedBy`.
    pub approved_by: Option<String>,
    /// `spec.approvedAt`.
    pub approved_at: Option<DateTime<Utc>>,
}

impl ReleasePointer {
    /// Parses a pointer strictly. `file` names the source in errors (a path or `release.yaml`).
    ///
    /// Unknown fields, missing required fields, wrong kinds, malformed SHAs, identifiers and
    /// timestamps are rejected with the field path.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_POINTER_BYTES {
            return Err(GitopsError::invalid(
                file,
                "",
                format!("file is {} bytes; a pointer is at most {MAX_POINTER_BYTES}", bytes.len()),
            ));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| GitopsError::Yaml { file: file.to_owned(), message: format!("not UTF-8: {e}") })?;
        let root: Value = serde_yaml::from_str(text)
            .map_err(|e| GitopsError::Yaml { file: file.to_owned(), message: e.to_string() })?;
        let p = Walker { file };
        let mut top = p.fields(&root, "", &["apiVersion", "kind", "metadata", "spec"])?;
        let api = p.string(top.req("apiVersion")?, "apiVersion")?;
        if api != API_VERSION {
            return Err(GitopsError::invalid(file, "apiVersion", format!("expected `{API_VERSION}`, found `{api}`")));
        }
        let kind = p.string(top.req("kind")?, "kind")?;
        if kind != KIND {
            return Err(GitopsError::invalid(file, "kind", format!("expected `{KIND}`, found `{kind}`")));
        }
        let mut meta = p.fields(top.req("metadata")?, "metadata", &["name", "environment"])?;
        let name = p.parsed::<ProjectName>(meta.req("name")?, "metadata.name")?;
        let environment = p.parsed::<Environment>(meta.req("environment")?, "metadata.environment")?;
        let mut spec = p.fields(
            top.req("spec")?,
            "spec",
            &["release", "aliases", "deployedAt", "deployedBy", "approvedBy", "approvedAt"],
        )?;
        let release = p.parsed::<CommitSha>(spec.req("release")?, "spec.release")?;
        let aliases = match spec.opt("aliases") {
            None => PointerAliases::default(),
            Some(v) => {
                let mut a = p.fields(v, "spec.aliases", &["numeric", "tag", "branch"])?;
                PointerAliases {
                    numeric: a.opt("numeric").map(|v| p.number(v, "spec.aliases.numeric")).transpose()?,
                    tag: a.opt("tag").map(|v| p.text(v, "spec.aliases.tag")).transpose()?,
                    branch: a.opt("branch").map(|v| p.text(v, "spec.aliases.branch")).transpose()?,
                }
            }
        };
        let deployed_at = p.time(spec.req("deployedAt")?, "spec.deployedAt")?;
        let deployed_by = p.text(spec.req("deployedBy")?, "spec.deployedBy")?;
        let approved_by = spec.opt("approvedBy").map(|v| p.text(v, "spec.approvedBy")).transpose()?;
        let approved_at = spec.opt("approvedAt").map(|v| p.time(v, "spec.approvedAt")).transpose()?;
        Ok(Self { name, environment, release, aliases, deployed_at, deployed_by, approved_by, approved_at })
    }

    /// The canonical YAML form: fixed key order, two-space indentation, timestamps as quoted
    /// RFC 3339 in UTC, a trailing newline. Identical pointers give identical bytes.
    pub fn to_yaml(&self) -> String {
        let mut s = String::with_capacity(512);
        let _ = writeln!(s, "apiVersion: {API_VERSION}");
        let _ = writeln!(s, "kind: {KIND}");
        s.push_str("metadata:\n");
        let _ = writeln!(s, "  name: {}", scalar(self.name.as_str()));
        let _ = writeln!(s, "  environment: {}", scalar(self.environment.as_str()));
        s.push_str("spec:\n");
        let _ = writeln!(s, "  release: {}", scalar(self.release.as_str()));
        let a = &self.aliases;
        if a.numeric.is_none() && a.tag.is_none() && a.branch.is_none() {
            s.push_str("  aliases: {}\n");
        } else {
            s.push_str("  aliases:\n");
            if let Some(n) = a.numeric {
                let _ = writeln!(s, "    numeric: {n}");
            }
            if let Some(t) = &a.tag {
                let _ = writeln!(s, "    tag: {}", scalar(t));
            }
            if let Some(b) = &a.branch {
                let _ = writeln!(s, "    branch: {}", scalar(b));
            }
        }
        let _ = writeln!(s, "  deployedAt: {}", quoted(&timestamp(&self.deployed_at)));
        let _ = writeln!(s, "  deployedBy: {}", scalar(&self.deployed_by));
        if let Some(by) = &self.approved_by {
            let _ = writeln!(s, "  approvedBy: {}", scalar(by));
        }
        if let Some(at) = &self.approved_at {
            let _ = writeln!(s, "  approvedAt: {}", quoted(&timestamp(at)));
        }
        s
    }

    /// A label for messages: `<n> (<alias>)`, falling back to the short SHA.
    pub fn release_label(&self) -> String {
        let n = self.aliases.numeric.map_or_else(|| self.release.short(12).to_owned(), |n| n.to_string());
        let alias = self.aliases.display_alias().unwrap_or_else(|| self.release.short(12).to_owned());
        format!("{n} ({alias})")
    }
}

/// RFC 3339 in UTC with `Z`, fractional seconds only when present.
pub(crate) fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A plain scalar when unambiguous, else a double-quoted one.
fn scalar(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '@' | '+' | '-'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain { s.to_owned() } else { quoted(s) }
}

/// A YAML double-quoted scalar; everything outside printable ASCII is escaped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The fields of one mapping, checked against the allowed names.
pub(crate) struct Fields<'v> {
    file: String,
    path: String,
    entries: Vec<(String, &'v Value)>,
}

impl<'v> Fields<'v> {
    /// A present, non-null field, removed from the set.
    pub(crate) fn opt(&mut self, key: &str) -> Option<&'v Value> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        let (_, v) = self.entries.swap_remove(i);
        if v.is_null() { None } else { Some(v) }
    }
    /// A required field.
    pub(crate) fn req(&mut self, key: &str) -> Result<&'v Value> {
        self.opt(key)
            .ok_or_else(|| GitopsError::invalid(&self.file, &join(&self.path, key), "required field is missing"))
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Walks a YAML tree producing errors with file and field path.
pub(crate) struct Walker<'a> {
    pub(crate) file: &'a str,
}

impl Walker<'_> {
    pub(crate) fn mapping<'v>(&self, v: &'v Value, path: &str) -> Result<&'v Mapping> {
        v.as_mapping()
            .ok_or_else(|| GitopsError::invalid(self.file, path, format!("expected a mapping, found {}", kind_of(v))))
    }

    /// Checks that `v` is a mapping whose keys are all in `allowed`.
    pub(crate) fn fields<'v>(&self, v: &'v Value, path: &str, allowed: &[&str]) -> Result<Fields<'v>> {
        let m = self.mapping(v, path)?;
        let mut entries = Vec::with_capacity(m.len());
        for (k, val) in m {
            let key = match k {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other).unwrap_or_default().trim().to_owned(),
            };
            if !allowed.contains(&key.as_str()) {
                return Err(GitopsError::invalid(
                    self.file,
                    &join(path, &key),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                ));
            }
            entries.push((key, val));
        }
        Ok(Fields { file: self.file.to_owned(), path: path.to_owned(), entries })
    }

    pub(crate) fn string<'v>(&self, v: &'v Value, path: &str) -> Result<&'v str> {
        v.as_str().ok_or_else(|| {
            let hint = if matches!(v, Value::Number(_) | Value::Bool(_)) { " (quote the value)" } else { "" };
            GitopsError::invalid(self.file, path, format!("expected a string, found {}{hint}", kind_of(v)))
        })
    }

    /// A non-empty single-line string.
    pub(crate) fn text(&self, v: &Value, path: &str) -> Result<String> {
        let s = self.string(v, path)?;
        if s.is_empty() {
            return Err(GitopsError::invalid(self.file, path, "must not be empty"));
        }
        if s.len() > MAX_STRING {
            return Err(GitopsError::invalid(self.file, path, format!("longer than {MAX_STRING} bytes")));
        }
        if s.chars().any(char::is_control) {
            return Err(GitopsError::invalid(self.file, path, "must not contain control characters or newlines"));
        }
        Ok(s.to_owned())
    }

    pub(crate) fn parsed<T>(&self, v: &Value, path: &str) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        self.string(v, path)?.parse().map_err(|e: T::Err| GitopsError::invalid(self.file, path, e.to_string()))
    }

    fn number(&self, v: &Value, path: &str) -> Result<u64> {
        match v.as_u64() {
            Some(n) if n >= 1 => Ok(n),
            Some(_) => Err(GitopsError::invalid(self.file, path, "release numbers start at 1")),
            None => {
                Err(GitopsError::invalid(self.file, path, format!("expected a positive integer, found {}", kind_of(v))))
            }
        }
    }

    fn time(&self, v: &Value, path: &str) -> Result<DateTime<Utc>> {
        let s = self.string(v, path)?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| GitopsError::invalid(self.file, path, format!("`{s}` is not an RFC 3339 timestamp ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"apiVersion: forge.projectcatalyst.io/v1
kind: ReleasePointer
metadata: {name: web, environment: dev}
spec:
  release: 0123456789ABCDEF0123456789abcdef01234567
  aliases: {numeric: 42, tag: v1.2.3, branch: main-42}
  deployedAt: "2026-11-28T13:55:00+01:00"
  deployedBy: alice@example.com
  approvedBy: bob
  approvedAt: 2026-11-28T12:00:00.5Z
"#;

    fn err(text: &str) -> String {
        match ReleasePointer::parse("release.yaml", text.as_bytes()) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_and_canonicalizes() -> Result<()> {
        let p = ReleasePointer::parse("release.yaml", GOOD.as_bytes())?;
        assert_eq!(p.release.as_str(), "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(p.release_label(), "42 (v1.2.3)");
        insta::assert_snapshot!(p.to_yaml());
        let again = ReleasePointer::parse("release.yaml", p.to_yaml().as_bytes())?;
        assert_eq!(again, p);
        assert_eq!(again.to_yaml(), p.to_yaml());
        Ok(())
    }

    #[test]
    fn minimal_pointer() -> Result<()> {
        let text = "apiVersion: forge.projectcatalyst.io/v1\nkind: ReleasePointer\nmetadata: {name: a, environment: production}\nspec: {release: \"1111111111111111111111111111111111111111\", deployedAt: \"2026-01-01T00:00:00Z\", deployedBy: \"yes\"}\n";
        let p = ReleasePointer::parse("x", text.as_bytes())?;
        insta::assert_snapshot!(p.to_yaml());
        assert_eq!(p.release_label(), "111111111111 (111111111111)");
        Ok(())
    }

    #[test]
    fn rejections_name_file_and_field() {
        let cases: Vec<(String, &str)> = vec![
            (GOOD.replace("  approvedBy: bob\n", "  approvedBy: bob\n  extra: 1\n"), "spec.extra"),
            (GOOD.replace("numeric: 42", "numeric: \"42\""), "spec.aliases.numeric"),
            (GOOD.replace("numeric: 42", "numeric: 0"), "spec.aliases.numeric"),
            (GOOD.replace("tag: v1.2.3", "tag: 1.2"), "spec.aliases.tag"),
            (GOOD.replace("tag: v1.2.3", "tag: v1, colour: red"), "spec.aliases.colour"),
            (GOOD.replace("0123456789ABCDEF0123456789abcdef01234567", "abc"), "spec.release"),
            (GOOD.replace("\"2026-11-28T13:55:00+01:00\"", "yesterday"), "spec.deployedAt"),
            (GOOD.replace("deployedBy: alice@example.com", "deployedBy: \"a\\nb\""), "spec.deployedBy"),
            (GOOD.replace("  deployedBy: alice@example.com\n", ""), "spec.deployedBy"),
            (GOOD.replace("name: web", "name: Web"), "metadata.name"),
            (GOOD.replace("environment: dev", "environment: [dev]"), "metadata.environment"),
            (GOOD.replace("kind: ReleasePointer", "kind: Release"), "kind"),
            (GOOD.replace("forge.projectcatalyst.io/v1", "v2"), "apiVersion"),
            (format!("{GOOD}status: {{}}\n"), "status"),
            ("- a\n".to_owned(), "<root>"),
        ];
        let mut out = String::new();
        for (text, field) in cases {
            let e = err(&text);
            assert!(e.starts_with(&format!("release.yaml: {field}: ")), "{e}");
            out.push_str(&e);
            out.push('\n');
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn syntax_errors() {
        assert!(err("a: [").starts_with("release.yaml: not valid YAML"));
        assert!(err("a: 1\na: 2\n").starts_with("release.yaml: not valid YAML"));
        assert!(err("---\na: 1\n---\nb: 2\n").starts_with("release.yaml: not valid YAML"));
        let big = "#".repeat(MAX_POINTER_BYTES + 1);
        assert!(err(&big).contains("at most"));
    }

    #[test]
    fn quoting() {
        assert_eq!(scalar("main-42"), "main-42");
        assert_eq!(scalar("1.2"), "\"1.2\"");
        assert_eq!(scalar("No"), "\"No\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(quoted("é\"\\\u{1F600}"), "\"\\u00E9\\\"\\\\\\U0001F600\"");
    }
}
