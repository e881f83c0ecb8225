//! `project.cue` (SPEC §2.4).

use std::collections::BTreeMap;

use forge_core::ProjectName;
use forge_core::model::ArtifactType;
use forge_core::ports::{SecretRef, SecretRefValidator};
use indexmap::IndexMap;
use regex::Regex;
use serde::Serialize;
use serde_json::Value as Json;

use super::decode::{Decoder, index, join};
use super::repo::RepoConfig;
use super::secret::secret_ref;
use crate::error::ConfigError;
use crate::suggest;
use crate::tree::{Document, Node, Value};

/// What a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepAction {
    /// An Earthly target.
    Earthly,
    /// Shell text.
    Script,
}

/// One step of a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Step name, unique within its phase.
    pub name: String,
    /// Action.
    pub action: StepAction,
    /// Earthly target (`+build`), required for `earthly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Shell text, required for `script`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Shell (default `sh`).
    pub shell: String,
    /// Higher runs first within the phase (default 0).
    pub priority: i64,
    /// Arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Timeout as written; never longer than the phase's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Secrets exposed as environment variables (`env` field of each reference).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
}

/// One entry of `release.on`.
#[derive(Debug, Clone)]
pub enum ReleaseOn {
    /// A push to a branch whose whole name matches the pattern.
    Branch {
        /// The pattern as written.
        pattern: String,
        /// The anchored regular expression.
        regex: Regex,
    },
    /// A semver tag (see [`crate::trigger`]).
    Tag,
}

/// `release`.
#[derive(Debug, Clone)]
pub struct ReleaseConfig {
    /// Triggers.
    pub on: Vec<ReleaseOn>,
    /// Whether the project releases at all (default true).
    pub enabled: bool,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self { on: Vec::new(), enabled: true }
    }
}

/// The producer of an artifact: exactly one of `earthly` or `script`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Producer {
    /// `earthly: {target, args?}`.
    Earthly {
        /// Earthly target.
        target: String,
        /// Arguments.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
    },
    /// `script: {run, shell?, ...}` — a platform extension for local use: the command writes
    /// the artifact into `$FORGE_STAGING`. Other fields are passed to the producer as they are.
    Script {
        /// Shell text.
        run: String,
        /// Shell (default `sh`).
        shell: String,
        /// Other fields.
        #[serde(flatten)]
        fields: serde_json::Map<String, Json>,
    },
}

/// An artifact of the project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtifactConfig {
    /// Type.
    #[serde(rename = "type")]
    pub kind: ArtifactType,
    /// The producer.
    pub producer: Producer,
    /// Publisher name → project-level publisher configuration, in declaration order (the first
    /// one gives the artifact's `uri`).
    pub publishers: IndexMap<String, Json>,
}

/// A decoded, validated `project.cue`.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// Project name.
    pub name: ProjectName,
    /// Phase → steps, sorted by priority (descending) then name.
    pub phases: BTreeMap<String, Vec<Step>>,
    /// `deployment.resources` (kept as tree nodes: they carry `@artifact`/`@repo` attributes
    /// and spans; see [`crate::render`]). `None` without a `deployment`.
    pub resources: Option<Vec<Node>>,
    /// Release configuration; `None` without a `release` block.
    pub release: Option<ReleaseConfig>,
    /// Artifacts in declaration order.
    pub artifacts: IndexMap<String, ArtifactConfig>,
}

impl ProjectConfig {
    /// Whether the project may release (no `release.enabled: false`).
    pub fn release_enabled(&self) -> bool {
        self.release.as_ref().is_none_or(|r| r.enabled)
    }
}

/// Decodes and validates a project against its repository; every error is reported.
pub fn decode_project(
    doc: &Document,
    repo: &RepoConfig,
    validator: &dyn SecretRefValidator,
) -> Result<ProjectConfig, Vec<ConfigError>> {
    let mut d = Decoder::new(doc);
    let root = &doc.root;
    d.fields(root, "");
    d.closed(root, "", &["name", "ci", "deployment", "release", "artifacts"]);

    let name = match root.get("name") {
        None => {
            d.missing(root, "", "name", "a project name");
            None
        }
        Some(n) => d.string(n, "name").and_then(|s| match s.parse::<ProjectName>() {
            Ok(p) => Some(p),
            Err(e) => {
                d.errors.push(
                    ConfigError::new(format!("invalid project name: {}", e.rule))
                        .expected_found("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", format!("{s:?}"))
                        .at_field("name")
                        .at(doc, n.span),
                );
                None
            }
        }),
    };

    let phases = decode_ci(&mut d, root, repo, validator);
    let resources = root.get("deployment").and_then(|n| decode_deployment(&mut d, n));
    let release = root.get("release").and_then(|n| decode_release(&mut d, n));
    let artifacts = match root.get("artifacts") {
        Some(n) => decode_artifacts(&mut d, n, repo),
        None => IndexMap::new(),
    };

    match name {
        Some(name) if d.errors.is_empty() => Ok(ProjectConfig { name, phases, resources, release, artifacts }),
        _ => Err(d.errors),
    }
}

fn decode_ci(
    d: &mut Decoder<'_>,
    root: &Node,
    repo: &RepoConfig,
    validator: &dyn SecretRefValidator,
) -> BTreeMap<String, Vec<Step>> {
    let mut out = BTreeMap::new();
    // Phases with at least one step written, decoded or not (a broken step is its own error).
    let mut declared: Vec<String> = Vec::new();
    let ci = root.get("ci");
    let phases = ci.and_then(|ci| {
        d.fields(ci, "ci")?;
        d.closed(ci, "ci", &["phases"]);
        ci.get("phases")
    });
    if let Some(phases) = phases
        && let Some(fields) = d.fields(phases, "ci.phases")
    {
        for (phase, steps_node) in fields {
            let ppath = join("ci.phases", phase);
            let Some(phase_cfg) = repo.phases.get(phase) else {
                let hint = suggest::hint(phase, repo.phases.keys().map(String::as_str));
                let known = repo.phases.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
                let e = ConfigError::new(format!("phase `{phase}` is not defined by the repository"))
                    .expected_found(format!("one of the phases of repo.cue ({known})"), format!("`{phase}`"))
                    .at_field(&ppath)
                    .at(d.doc, steps_node.span)
                    .maybe_hint(hint);
                d.errors.push(e);
                continue;
            };
            let Some(step_fields) = d.fields(steps_node, &ppath) else {
                continue;
            };
            if !step_fields.is_empty() {
                declared.push(phase.clone());
            }
            let mut steps = Vec::new();
            for (name, step) in step_fields {
                if let Some(s) = decode_step(d, step, name, &join(&ppath, name), phase_cfg, validator) {
                    steps.push(s);
                }
            }
            steps.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.name.cmp(&b.name)));
            out.insert(phase.clone(), steps);
        }
    }
    for (phase, cfg) in &repo.phases {
        if cfg.required && !declared.contains(phase) {
            let at = phases.or(ci).unwrap_or(root);
            let e = ConfigError::new(format!(
                "the repository requires phase `{phase}`, and this project has no step for it"
            ))
            .at_field(join("ci.phases", phase))
            .at(d.doc, at.span.or(root.get("name").and_then(|n| n.span)))
            .hint(format!("add a step under `ci: phases: {phase}:`"));
            d.errors.push(e);
        }
    }
    out
}

fn decode_step(
    d: &mut Decoder<'_>,
    node: &Node,
    name: &str,
    path: &str,
    phase: &super::repo::PhaseConfig,
    validator: &dyn SecretRefValidator,
) -> Option<Step> {
    d.fields(node, path)?;
    d.closed(node, path, &["action", "target", "run", "shell", "priority", "args", "timeout", "secrets"]);
    let action = match node.get("action") {
        None => {
            d.missing(node, path, "action", "\"earthly\" | \"script\"");
            None
        }
        Some(a) => d
            .one_of(a, &join(path, "action"), &["earthly", "script"])
            .map(|a| if a == "earthly" { StepAction::Earthly } else { StepAction::Script }),
    };
    let target = node.get("target").and_then(|n| d.string(n, &join(path, "target")));
    let run = node.get("run").and_then(|n| d.string(n, &join(path, "run")));
    let shell = node.get("shell").and_then(|n| d.string(n, &join(path, "shell"))).unwrap_or_else(|| "sh".into());
    let priority = node.get("priority").and_then(|n| d.int(n, &join(path, "priority"))).unwrap_or(0);
    let args = node.get("args").and_then(|n| d.strings(n, &join(path, "args"))).unwrap_or_default();
    let timeout = node.get("timeout").and_then(|n| {
        let tp = join(path, "timeout");
        let (s, t) = d.duration(n, &tp)?;
        if let (Some(max), Some(max_s)) = (phase.timeout_duration, &phase.timeout)
            && t > max
        {
            d.errors.push(
                ConfigError::new(format!("step timeout {s} is longer than the phase timeout {max_s}"))
                    .expected_found(format!("a duration ≤ {max_s}"), format!("{s:?}"))
                    .at_field(tp)
                    .at(d.doc, n.span),
            );
            return None;
        }
        Some(s)
    });
    let mut secrets = Vec::new();
    if let Some(list) = node.get("secrets") {
        let sp = join(path, "secrets");
        if let Some(items) = d.list(list, &sp) {
            for (i, item) in items.iter().enumerate() {
                if let Some(r) = secret_ref(d, item, &index(&sp, i), validator, true) {
                    secrets.push(r);
                }
            }
        }
    }
    let action = action?;
    match action {
        StepAction::Earthly => match &target {
            None => d.missing(node, path, "target", "an Earthly target such as \"+build\" (required for earthly)"),
            Some(t) if !t.contains('+') => {
                if let Some(n) = node.get("target") {
                    let e = ConfigError::new(format!("`{t}` is not an Earthly target"))
                        .expected_found("\"+target\" or \"./dir+target\"", format!("{t:?}"))
                        .at_field(join(path, "target"))
                        .at(d.doc, n.span)
                        .hint(format!("did you mean `+{t}`?"));
                    d.errors.push(e);
                }
            }
            Some(_) => {}
        },
        StepAction::Script => {
            if run.is_none() {
                d.missing(node, path, "run", "shell text (required for script)");
            }
        }
    }
    Some(Step { name: name.to_owned(), action, target, run, shell, priority, args, timeout, secrets })
}

fn decode_deployment(d: &mut Decoder<'_>, node: &Node) -> Option<Vec<Node>> {
    d.fields(node, "deployment")?;
    d.closed(node, "deployment", &["resources"]);
    let Some(res) = node.get("resources") else {
        d.missing(node, "deployment", "resources", "a list of Kubernetes resources");
        return None;
    };
    let items = d.list(res, "deployment.resources")?;
    for (i, r) in items.iter().enumerate() {
        let p = index("deployment.resources", i);
        if d.fields(r, &p).is_none() {
            continue;
        }
        for key in ["apiVersion", "kind"] {
            match r.get(key) {
                None => d.missing(r, &p, key, "a string"),
                Some(v) if attributed(v) => {}
                Some(v) => {
                    d.string(v, &join(&p, key));
                }
            }
        }
        match r.get("metadata") {
            None => d.missing(r, &p, "metadata", "{name: string, ...}"),
            Some(m) => {
                let mp = join(&p, "metadata");
                if d.fields(m, &mp).is_some() {
                    match m.get("name") {
                        None => d.missing(m, &mp, "name", "a DNS label"),
                        Some(v) if attributed(v) => {}
                        Some(v) => {
                            let np = join(&mp, "name");
                            if let Some(name) = d.string(v, &np)
                                && !forge_core::id::is_valid_dns_label(&name)
                            {
                                d.errors.push(
                                    ConfigError::new(format!("`{name}` is not a valid resource name"))
                                        .expected_found(
                                            "a DNS label (lowercase letters, digits and `-`, at most 63)",
                                            format!("{name:?}"),
                                        )
                                        .at_field(np)
                                        .at(d.doc, v.span),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    Some(items.to_vec())
}

fn attributed(n: &Node) -> bool {
    n.attrs.iter().any(|a| a.name == "artifact" || a.name == "repo")
}

fn decode_release(d: &mut Decoder<'_>, node: &Node) -> Option<ReleaseConfig> {
    d.fields(node, "release")?;
    d.closed(node, "release", &["on", "enabled"]);
    let enabled = node.get("enabled").and_then(|n| d.boolean(n, "release.enabled")).unwrap_or(true);
    let mut on = Vec::new();
    if let Some(list) = node.get("on")
        && let Some(items) = d.list(list, "release.on")
    {
        for (i, item) in items.iter().enumerate() {
            let p = index("release.on", i);
            let Some(fields) = d.fields(item, &p) else {
                continue;
            };
            match fields {
                [(k, v)] if k == "branch" => {
                    let bp = join(&p, "branch");
                    if let Some(pattern) = d.string(v, &bp) {
                        match compile_branch_regex(&pattern) {
                            Ok(regex) => on.push(ReleaseOn::Branch { pattern, regex }),
                            Err(e) => {
                                let msg = e.to_string();
                                let first =
                                    msg.lines().last().unwrap_or("invalid regular expression").trim().to_owned();
                                d.errors.push(
                                    ConfigError::new(format!("invalid branch regular expression: {first}"))
                                        .at_field(bp)
                                        .at(d.doc, v.span),
                                );
                            }
                        }
                    }
                }
                [(k, v)] if k == "tag" => match &v.value {
                    Value::Bool(true) => on.push(ReleaseOn::Tag),
                    _ => d.mismatch(v, &join(&p, "tag"), "true"),
                },
                _ => {
                    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
                    let hint = keys
                        .iter()
                        .filter(|k| !matches!(**k, "branch" | "tag"))
                        .find_map(|k| suggest::hint(k, ["branch", "tag"]));
                    let e = ConfigError::new("a release trigger is either {branch: \"<regex>\"} or {tag: true}")
                        .expected_found("{branch: string} | {tag: true}", format!("{{{}}}", keys.join(", ")))
                        .at_field(p)
                        .at(d.doc, item.span)
                        .maybe_hint(hint);
                    d.errors.push(e);
                }
            }
        }
    }
    Some(ReleaseConfig { on, enabled })
}

fn decode_artifacts(d: &mut Decoder<'_>, node: &Node, repo: &RepoConfig) -> IndexMap<String, ArtifactConfig> {
    let mut out = IndexMap::new();
    let Some(fields) = d.fields(node, "artifacts") else {
        return out;
    };
    for (name, art) in fields {
        let p = join("artifacts", name);
        if let Err(e) = name.parse::<forge_core::ArtifactName>() {
            d.error(art, &p, format!("invalid artifact name: {}", e.rule));
            continue;
        }
        if d.fields(art, &p).is_none() {
            continue;
        }
        d.closed(art, &p, &["type", "producer", "publishers"]);
        let kind = match art.get("type") {
            None => {
                d.missing(art, &p, "type", "\"container\" | \"binary\" | \"archive\"");
                None
            }
            Some(t) => d.one_of(t, &join(&p, "type"), &["container", "binary", "archive"]).map(|t| match t.as_str() {
                "container" => ArtifactType::Container,
                "binary" => ArtifactType::Binary,
                _ => ArtifactType::Archive,
            }),
        };
        let producer = match art.get("producer") {
            None => {
                d.missing(art, &p, "producer", "{earthly: {target: string}} | {script: {run: string}}");
                None
            }
            Some(pr) => decode_producer(d, pr, &join(&p, "producer")),
        };
        let mut publishers = IndexMap::new();
        match art.get("publishers") {
            None => d.missing(art, &p, "publishers", "a struct of publisher names from repo.cue"),
            Some(pubs) => {
                let pp = join(&p, "publishers");
                if let Some(pf) = d.fields(pubs, &pp) {
                    for (pname, pcfg) in pf {
                        let ppath = join(&pp, pname);
                        if !repo.publishers.contains_key(pname) {
                            let hint = suggest::hint(pname, repo.publishers.keys().map(String::as_str));
                            let known = repo.publishers.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
                            d.errors.push(
                                ConfigError::new(format!("publisher `{pname}` is not defined by the repository"))
                                    .expected_found(
                                        format!("one of the publishers of repo.cue ({known})"),
                                        format!("`{pname}`"),
                                    )
                                    .at_field(ppath)
                                    .at(d.doc, pcfg.span.or(pubs.span))
                                    .maybe_hint(hint),
                            );
                            continue;
                        }
                        if d.fields(pcfg, &ppath).is_none() {
                            continue;
                        }
                        match pcfg.to_json() {
                            Some(j) => {
                                publishers.insert(pname.clone(), j);
                            }
                            None => d.mismatch(pcfg, &ppath, "a concrete struct"),
                        }
                    }
                }
            }
        }
        if let (Some(kind), Some(producer)) = (kind, producer) {
            out.insert(name.clone(), ArtifactConfig { kind, producer, publishers });
        }
    }
    out
}

fn decode_producer(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Producer> {
    const EXPECTED: &str = "{earthly: {...}} | {script: {...}}";
    let fields = d.fields(node, path)?;
    match fields {
        [(k, e)] if k == "earthly" => {
            let ep = join(path, "earthly");
            d.fields(e, &ep)?;
            d.closed(e, &ep, &["target", "args"]);
            let target = match e.get("target") {
                None => {
                    d.missing(e, &ep, "target", "an Earthly target such as \"+docker\"");
                    None
                }
                Some(t) => d.string(t, &join(&ep, "target")),
            };
            let args = e.get("args").and_then(|a| d.strings(a, &join(&ep, "args"))).unwrap_or_default();
            Some(Producer::Earthly { target: target?, args })
        }
        [(k, e)] if k == "script" => {
            let sp = join(path, "script");
            let sf = d.fields(e, &sp)?;
            let run = match e.get("run") {
                None => {
                    d.missing(e, &sp, "run", "shell text");
                    None
                }
                Some(t) => d.string(t, &join(&sp, "run")),
            };
            let shell = e.get("shell").and_then(|n| d.string(n, &join(&sp, "shell"))).unwrap_or_else(|| "sh".into());
            let mut rest = serde_json::Map::new();
            for (k, v) in sf {
                if k == "run" || k == "shell" {
                    continue;
                }
                match v.to_json() {
                    Some(j) => {
                        rest.insert(k.clone(), j);
                    }
                    None => d.mismatch(v, &join(&sp, k), "a concrete value"),
                }
            }
            Some(Producer::Script { run: run?, shell, fields: rest })
        }
        [] => {
            d.error(node, path, "an artifact needs exactly one producer").expected = Some(EXPECTED.into());
            None
        }
        [(k, v)] => {
            let hint = suggest::hint(k, ["earthly", "script"])
                .unwrap_or_else(|| "the supported producers are `earthly` and `script`".into());
            let e = d.error(v, &join(path, k), format!("unknown producer `{k}`"));
            e.hint = Some(hint);
            e.expected = Some(EXPECTED.into());
            None
        }
        _ => {
            d.error(node, path, "an artifact has exactly one producer").expected = Some(EXPECTED.into());
            None
        }
    }
}

/// Compiles an anchored branch pattern, memoised process-wide (patterns repeat across projects
/// and discoveries; compiling is the most expensive part of decoding).
fn compile_branch_regex(pattern: &str) -> Result<Regex, regex::Error> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let lock = || cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = lock().get(pattern) {
        return Ok(r.clone());
    }
    let r = Regex::new(&format!("^(?:{pattern})$"))?;
    let mut map = lock();
    if map.len() >= 1024 {
        map.clear();
    }
    map.insert(pattern.to_owned(), r.clone());
    Ok(r)
}
