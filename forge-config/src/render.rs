//! Rendering `deployment.resources` (SPEC §2.2, §4.4): `@repo(path=…)` is replaced by a value
//! of the repository configuration, `@artifact(…)` by a value of the artifact output schema,
//! then each resource is checked (apiVersion, kind, metadata.name a DNS label) and written as
//! one YAML stream or one document per resource (`NNNN-<kind>-<name>.yaml`, 1-based).
//!
//! Both attribute forms are accepted: `@artifact("web.uri")` and
//! `@artifact(name="web", field="uri")`. With [`RenderOptions::preview`], an `@artifact` the
//! schema cannot answer yet becomes a visible placeholder `<artifact:web.uri>`; a real render
//! fails on it. Malformed attributes, artifacts the project does not declare and `@repo` paths
//! that do not exist are errors in both modes. Every error names the attribute and its position.

use serde_json::Value as Json;

use crate::error::ConfigError;
use crate::schema::decode::{index, join};
use crate::schema::{ProjectConfig, RepoConfig};
use crate::suggest;
use crate::tree::{Attr, Document, Node, Value};

/// Rendering options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Fill unresolved `@artifact` references with placeholders instead of failing.
    pub preview: bool,
}

/// The rendered resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Resources, in declaration order.
    pub resources: Vec<Json>,
    /// Placeholders left by a preview (`<artifact:web.uri>`), in order of appearance.
    pub placeholders: Vec<String>,
}

impl Rendered {
    /// One YAML stream: documents separated by `---`.
    pub fn to_yaml_stream(&self) -> Result<String, serde_yaml::Error> {
        let mut out = String::new();
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str(&serde_yaml::to_string(r)?);
        }
        Ok(out)
    }

    /// One document per resource: `(NNNN-<kind>-<name>.yaml, yaml)`, numbered from 1.
    pub fn to_files(&self) -> Result<Vec<(String, String)>, serde_yaml::Error> {
        self.resources
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let kind = r.get("kind").and_then(Json::as_str).unwrap_or("resource").to_ascii_lowercase();
                let name = r.pointer("/metadata/name").and_then(Json::as_str).unwrap_or("unnamed");
                Ok((format!("{:04}-{kind}-{name}.yaml", i + 1), serde_yaml::to_string(r)?))
            })
            .collect()
    }
}

/// A parsed `@artifact` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    /// Artifact name.
    pub artifact: String,
    /// Dotted field path inside the artifact's output (`uri`, `publishers.docker.digest`).
    pub field: String,
}

impl ArtifactRef {
    /// Reads either attribute form; `None` when malformed.
    pub fn from_attr(a: &Attr) -> Option<Self> {
        let (artifact, field) = match (a.named("name"), a.named("field"), a.positional()) {
            (Some(n), Some(f), None) => (n.to_owned(), f.to_owned()),
            (None, None, Some(p)) if a.args.len() == 1 => {
                let (n, f) = p.split_once('.')?;
                (n.to_owned(), f.to_owned())
            }
            _ => return None,
        };
        (!artifact.is_empty() && !field.is_empty() && field.split('.').all(|s| !s.is_empty()))
            .then_some(Self { artifact, field })
    }

    /// The preview placeholder, `<artifact:web.uri>`.
    pub fn placeholder(&self) -> String {
        format!("<artifact:{}.{}>", self.artifact, self.field)
    }
}

struct Renderer<'a> {
    doc: &'a Document,
    project: &'a ProjectConfig,
    repo: &'a RepoConfig,
    artifacts: Option<&'a Json>,
    opts: RenderOptions,
    errors: Vec<ConfigError>,
    placeholders: Vec<String>,
}

/// Renders the project's deployment resources. `artifacts` is the artifact output schema
/// (§4.4): a JSON object keyed by artifact name.
pub fn render(
    project: &ProjectConfig,
    doc: &Document,
    repo: &RepoConfig,
    artifacts: Option<&Json>,
    opts: RenderOptions,
) -> Result<Rendered, Vec<ConfigError>> {
    let mut r = Renderer { doc, project, repo, artifacts, opts, errors: Vec::new(), placeholders: Vec::new() };
    let mut resources = Vec::new();
    for (i, node) in project.resources.iter().flatten().enumerate() {
        let path = index("deployment.resources", i);
        if let Some(v) = r.value(node, &path) {
            r.check_resource(node, &path, &v);
            resources.push(v);
        }
    }
    if r.errors.is_empty() { Ok(Rendered { resources, placeholders: r.placeholders }) } else { Err(r.errors) }
}

fn lookup<'j>(v: &'j Json, path: &str) -> Result<&'j Json, String> {
    let mut cur = v;
    let mut walked = String::new();
    for seg in path.split('.') {
        let next = match cur {
            Json::Object(m) => m.get(seg).ok_or_else(|| {
                let hint =
                    suggest::hint(seg, m.keys().map(String::as_str)).map(|h| format!("; {h}")).unwrap_or_default();
                let at = if walked.is_empty() { String::new() } else { format!(" in `{walked}`") };
                format!("no field `{seg}`{at}{hint}")
            })?,
            Json::Array(a) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .ok_or_else(|| format!("no element `{seg}` in `{walked}`"))?,
            _ => return Err(format!("`{walked}` is not a struct")),
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(seg);
        cur = next;
    }
    Ok(cur)
}

impl Renderer<'_> {
    fn err(&mut self, node: &Node, attr: Option<&Attr>, path: &str, message: String) -> &mut ConfigError {
        let span = attr.and_then(|a| a.span).or(node.span);
        self.errors.push(ConfigError::new(message).at_field(path).at(self.doc, span));
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn value(&mut self, node: &Node, path: &str) -> Option<Json> {
        if let Some(a) = node.attr("artifact") {
            return self.artifact(node, a, path);
        }
        if let Some(a) = node.attr("repo") {
            return self.repo_value(node, a, path);
        }
        match &node.value {
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, it) in items.iter().enumerate() {
                    match self.value(it, &index(path, i)) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                ok.then_some(Json::Array(out))
            }
            Value::Struct(fields) => {
                let mut out = serde_json::Map::new();
                let mut ok = true;
                for (k, v) in fields {
                    match self.value(v, &join(path, k)) {
                        Some(j) => {
                            out.insert(k.clone(), j);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Json::Object(out))
            }
            Value::Incomplete(t) => {
                let msg = format!("field is not concrete (`{t}`) and has no @artifact or @repo attribute");
                self.err(node, None, path, msg).hint =
                    Some("give it a value or an @artifact(\"<artifact>.<field>\") attribute".into());
                None
            }
            _ => node.to_json(),
        }
    }

    fn artifact(&mut self, node: &Node, a: &Attr, path: &str) -> Option<Json> {
        let Some(r) = ArtifactRef::from_attr(a) else {
            let msg = format!("malformed {a}");
            self.err(node, Some(a), path, msg).hint = Some(
                "write @artifact(\"<artifact>.<field>\") or @artifact(name=\"<artifact>\", field=\"<field>\")".into(),
            );
            return None;
        };
        if !self.project.artifacts.contains_key(&r.artifact) {
            let hint = suggest::hint(&r.artifact, self.project.artifacts.keys().map(String::as_str));
            let known = self.project.artifacts.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
            let msg =
                format!("{a} names artifact `{}`, which the project does not declare (artifacts: {known})", r.artifact);
            let e = self.err(node, Some(a), path, msg);
            e.hint = hint;
            return None;
        }
        let found = self.artifacts.and_then(|s| s.get(&r.artifact)).map(|o| lookup(o, &r.field));
        match found {
            Some(Ok(v)) => Some(v.clone()),
            Some(Err(why)) if !self.opts.preview => {
                let msg = format!("{a} cannot be resolved: artifact `{}` has {why}", r.artifact);
                self.err(node, Some(a), path, msg);
                None
            }
            None if !self.opts.preview => {
                let msg = format!("{a} is unresolved: no output for artifact `{}`", r.artifact);
                self.err(node, Some(a), path, msg).hint =
                    Some("pass the artifact output schema (--artifacts FILE), or use --preview".into());
                None
            }
            _ => {
                let p = r.placeholder();
                self.placeholders.push(p.clone());
                Some(Json::String(p))
            }
        }
    }

    fn repo_value(&mut self, node: &Node, a: &Attr, path: &str) -> Option<Json> {
        let Some(p) = a.named("path").or_else(|| a.positional()).filter(|p| !p.is_empty()) else {
            let msg = format!("malformed {a}");
            self.err(node, Some(a), path, msg).hint = Some("write @repo(path=\"<dotted path into repo.cue>\")".into());
            return None;
        };
        match lookup(&self.repo.raw, p) {
            Ok(v) => Some(v.clone()),
            Err(why) => {
                let msg = format!("{a} cannot be resolved: repo.cue has {why}");
                self.err(node, Some(a), path, msg);
                None
            }
        }
    }

    fn check_resource(&mut self, node: &Node, path: &str, v: &Json) {
        let at = |key: &str| node.get(key).unwrap_or(node);
        for key in ["apiVersion", "kind"] {
            match v.get(key) {
                Some(Json::String(s)) if !s.is_empty() => {}
                other => {
                    let found = other.map_or("nothing".to_owned(), |o| o.to_string());
                    let e = self.err(
                        at(key),
                        None,
                        &join(path, key),
                        format!("resource `{key}` must be a non-empty string"),
                    );
                    e.expected = Some("a non-empty string".into());
                    e.found = Some(found);
                }
            }
        }
        let meta = node.get("metadata");
        let name_node = meta.and_then(|m| m.get("name")).or(meta).unwrap_or(node);
        match v.pointer("/metadata/name") {
            Some(Json::String(s)) if forge_core::id::is_valid_dns_label(s) => {}
            other => {
                let found = other.map_or("nothing".to_owned(), |o| o.to_string());
                let e = self.err(
                    name_node,
                    None,
                    &format!("{path}.metadata.name"),
                    "resource name must be a DNS label".into(),
                );
                e.expected = Some("lowercase letters, digits and `-`, 1 to 63 characters".into());
                e.found = Some(found);
            }
        }
    }
}
