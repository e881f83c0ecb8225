//! Discovery (SPEC §2.1, §2.5): finds the repository configuration and every project, validates
//! them, evaluates release triggers and produces the stable discovery output.
//!
//! - The repository is recognised by `.forge/repo.cue` at the root; an invalid `repo.cue` or an
//!   unsupported `forgeVersion` major fails discovery.
//! - A project is a folder holding `.forge/project.cue`; the other `.cue` files of the same
//!   package in that `.forge` folder are unified with it (subfolders of `.forge` are ignored).
//! - A project inside another project's subtree is an error for the inner one. A project at the
//!   root (the root `.forge` holding `project.cue` beside `repo.cue`) counts as enclosing every
//!   other project.
//! - Project names are unique; a second project with a taken name is an error for it.
//! - An invalid project is reported in [`Discovery::errors`] and skipped.
//! - At most [`MAX_PROJECTS`] projects; output at most [`MAX_OUTPUT_BYTES`].
//!
//! `deploymentTriggered` is true when the release is triggered and the project has deployment
//! resources. `releaseEnabled` is true when at least one project's release is triggered;
//! `releaseProjects` lists their names, sorted.

mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

use forge_core::ports::SecretRefValidator;
use serde::Serialize;

pub use walk::bare_walk;

use crate::cache::{ConfigCache, Decoded, content_hash};
use crate::error::{ConfigError, DiscoveryError};
use crate::eval::{evaluate, package_of};
use crate::schema::{ProjectConfig, RepoConfig, Step, decode_project, decode_repo};
use crate::tree::{Document, Source};
use crate::trigger::{GitContext, release_trigger};

/// Most projects a repository may hold.
pub const MAX_PROJECTS: usize = 100;
/// Largest discovery output, in bytes of JSON.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// One project in the discovery output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredProject {
    /// Project name.
    pub name: String,
    /// Folder relative to the repository root, `/`-separated (`.` for the root).
    pub path: String,
    /// Phase → steps, sorted by priority (descending) then name.
    pub phases: BTreeMap<String, Vec<Step>>,
    /// Whether the git context triggers a release.
    pub release_triggered: bool,
    /// Whether the release would also deploy (triggered and has deployment resources).
    pub deployment_triggered: bool,
    /// The decoded configuration.
    #[serde(skip)]
    pub config: Arc<ProjectConfig>,
    /// The evaluated tree (for rendering).
    #[serde(skip)]
    pub document: Arc<Document>,
}

/// A group of phases that run together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseGroup {
    /// Group number (ascending order of execution).
    pub group: u32,
    /// Phase names, sorted.
    pub phases: Vec<String>,
}

/// A project that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectError {
    /// Project folder relative to the root.
    pub path: String,
    /// File relative to the root.
    pub file: String,
    /// 1-based line (1 when unknown).
    pub line: usize,
    /// 1-based column (1 when unknown).
    pub column: usize,
    /// What is wrong (field path, expected/found, hint).
    pub message: String,
}

/// The discovery output (SPEC §2.5).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// The repository configuration.
    pub repository: RepoConfig,
    /// Valid projects, sorted by path.
    pub projects: Vec<DiscoveredProject>,
    /// Phase groups, ascending.
    pub phase_groups: Vec<PhaseGroup>,
    /// Whether any project's release is triggered.
    pub release_enabled: bool,
    /// Names of the projects whose release is triggered, sorted.
    pub release_projects: Vec<String>,
    /// Projects that were skipped, sorted by path, then position.
    pub errors: Vec<ProjectError>,
    /// The full diagnostics behind [`Discovery::errors`] (with source, for rendering).
    #[serde(skip)]
    pub diagnostics: Vec<ConfigError>,
    /// Warnings (a newer minor `forgeVersion`).
    #[serde(skip)]
    pub warnings: Vec<ConfigError>,
    /// The repository root.
    #[serde(skip)]
    pub root: PathBuf,
}

impl Discovery {
    /// The project with this name.
    pub fn project(&self, name: &str) -> Option<&DiscoveredProject> {
        self.projects.iter().find(|p| p.name == name)
    }
    /// Pretty JSON of the output.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Searches `start` and its ancestors for a folder holding `.forge/repo.cue`.
pub fn find_repo_root(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    start.ancestors().find(|d| d.join(".forge").join("repo.cue").is_file()).map(Path::to_path_buf)
}

/// Runs discovery; configuration is evaluated through the cache when one is given.
#[derive(Clone)]
pub struct Discoverer {
    validator: Arc<dyn SecretRefValidator>,
    cache: Option<Arc<ConfigCache>>,
}

impl std::fmt::Debug for Discoverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discoverer").field("cached", &self.cache.is_some()).finish()
    }
}

struct Candidate {
    dir: PathBuf,
    rel: String,
    result: Decoded,
    project_file: String,
}

impl Discoverer {
    /// A discoverer validating secret references with `validator`, without cache.
    pub fn new(validator: Arc<dyn SecretRefValidator>) -> Self {
        Self { validator, cache: None }
    }

    /// Uses (and fills) `cache`.
    pub fn with_cache(mut self, cache: Arc<ConfigCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    fn eval(&self, sources: Vec<Source>) -> Arc<Result<Document, Vec<ConfigError>>> {
        match &self.cache {
            Some(c) => c.get_or_eval(sources, evaluate),
            None => Arc::new(evaluate(sources)),
        }
    }

    /// Loads and validates the repository configuration at `root`.
    pub fn load_repo(&self, root: &Path) -> Result<(RepoConfig, Vec<ConfigError>), DiscoveryError> {
        self.load_repo_hashed(root).map(|(r, w, _)| (r, w))
    }

    fn load_repo_hashed(&self, root: &Path) -> Result<(RepoConfig, Vec<ConfigError>, [u8; 32]), DiscoveryError> {
        let forge = root.join(".forge");
        if !forge.join("repo.cue").is_file() {
            return Err(DiscoveryError::NotARepository { root: root.to_path_buf() });
        }
        let (repo_sources, _) = read_forge_dir(&forge, "", "repo.cue")?;
        let hash = content_hash(&repo_sources);
        let evaluated = self.eval(repo_sources);
        let doc = match &*evaluated {
            Ok(d) => d,
            Err(errs) => return Err(DiscoveryError::Repository(errs.clone())),
        };
        let decoded = decode_repo(doc, &*self.validator).map_err(DiscoveryError::Repository)?;
        Ok((decoded.config, decoded.warnings, hash))
    }

    /// Evaluates and decodes one project (through the cache when there is one).
    fn load_project(&self, sources: Vec<Source>, repo: &RepoConfig, repo_hash: [u8; 32]) -> Decoded {
        let decode = |sources: Vec<Source>| -> Decoded {
            let evaluated = self.eval(sources);
            Arc::new(match &*evaluated {
                Err(errs) => Err(errs.clone()),
                Ok(doc) => {
                    decode_project(doc, repo, &*self.validator).map(|cfg| (Arc::new(cfg), Arc::new(doc.clone())))
                }
            })
        };
        match &self.cache {
            Some(c) => c.get_or_decode((content_hash(&sources), repo_hash), || decode(sources)),
            None => decode(sources),
        }
    }

    /// Discovers the repository at `root` for the git context.
    ///
    /// Projects are read, evaluated and decoded on the walker's threads as soon as they are
    /// found, so evaluation overlaps the walk.
    pub fn discover(&self, root: &Path, git: &GitContext) -> Result<Discovery, DiscoveryError> {
        let (repository, warnings, repo_hash) = self.load_repo_hashed(root)?;
        let found: Mutex<Vec<Candidate>> = Mutex::new(Vec::new());
        let found_errors: Mutex<Vec<ConfigError>> = Mutex::new(Vec::new());
        let push_err = |e: ConfigError| found_errors.lock().unwrap_or_else(PoisonError::into_inner).push(e);
        let walk_errors = walk::forge_dirs(root, |dir| {
            let rel = relative(root, &dir);
            let forge = dir.join(".forge");
            let is_root = dir == root;
            if !forge.join("project.cue").is_file() {
                if !is_root && forge.join("repo.cue").is_file() {
                    push_err(
                        ConfigError::new("repo.cue is only allowed in the repository root's .forge folder")
                            .at_position(join_rel(&rel, ".forge/repo.cue"), 1, 1),
                    );
                }
                return;
            }
            let prefix = if is_root { String::new() } else { format!("{rel}/") };
            let project_file = join_rel(&rel, ".forge/project.cue");
            match read_forge_dir(&forge, &prefix, "project.cue") {
                Ok((sources, _)) => {
                    let result = self.load_project(sources, &repository, repo_hash);
                    found.lock().unwrap_or_else(PoisonError::into_inner).push(Candidate {
                        project_file,
                        dir,
                        rel,
                        result,
                    });
                }
                Err(e) => push_err(ConfigError::new(e.to_string()).at_position(project_file, 1, 1)),
            }
        });
        let mut candidates = found.into_inner().unwrap_or_else(PoisonError::into_inner);
        candidates.sort_by(|a, b| a.dir.cmp(&b.dir));
        candidates.dedup_by(|a, b| a.dir == b.dir);

        let mut errors: Vec<ConfigError> = found_errors.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (path, message) in walk_errors {
            let rel = relative(root, &path);
            errors.push(ConfigError::new(format!("cannot walk: {message}")).at_position(rel, 1, 1));
        }
        if candidates.len() > MAX_PROJECTS {
            return Err(DiscoveryError::TooManyProjects { count: candidates.len(), limit: MAX_PROJECTS });
        }

        // Nested projects: the inner one is an error. Candidates are sorted, so ancestors come first.
        let mut nested = BTreeSet::new();
        for (i, c) in candidates.iter().enumerate() {
            if let Some(outer) = candidates[..i].iter().find(|o| c.dir.starts_with(&o.dir) && o.dir != c.dir) {
                errors.push(
                    ConfigError::new(format!(
                        "nested project: this folder is inside project folder `{}`; nested projects are forbidden",
                        outer.rel
                    ))
                    .at_position(c.project_file.clone(), 1, 1)
                    .hint("move the project out of the other project's folder, or merge the two"),
                );
                nested.insert(i);
            }
        }
        let candidates: Vec<Candidate> =
            candidates.into_iter().enumerate().filter(|(i, _)| !nested.contains(i)).map(|(_, c)| c).collect();

        let mut projects: Vec<DiscoveredProject> = Vec::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for c in &candidates {
            match &*c.result {
                Ok((config, document)) => {
                    let (config, document) = (config.clone(), document.clone());
                    let name = config.name.as_str().to_owned();
                    if let Some(other) = names.get(&name) {
                        let span = document.root.get("name").and_then(|n| n.span);
                        errors.push(
                            ConfigError::new(format!(
                                "project name `{name}` is already used by the project in `{other}`"
                            ))
                            .at_field("name")
                            .at(&document, span)
                            .hint("project names are unique within a repository"),
                        );
                        continue;
                    }
                    names.insert(name.clone(), c.rel.clone());
                    let triggered = release_trigger(&config, repository.tagging.strategy, git).is_some();
                    let deploys = triggered && config.resources.as_ref().is_some_and(|r| !r.is_empty());
                    projects.push(DiscoveredProject {
                        name,
                        path: c.rel.clone(),
                        phases: config.phases.clone(),
                        release_triggered: triggered,
                        deployment_triggered: deploys,
                        config,
                        document,
                    });
                }
                Err(errs) => errors.extend(errs.iter().cloned()),
            }
        }
        projects.sort_by(|a, b| a.path.cmp(&b.path));

        let mut groups: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for (name, phase) in &repository.phases {
            groups.entry(phase.group).or_default().push(name.clone());
        }
        let phase_groups = groups
            .into_iter()
            .map(|(group, mut phases)| {
                phases.sort();
                PhaseGroup { group, phases }
            })
            .collect();
        let mut release_projects: Vec<String> =
            projects.iter().filter(|p| p.release_triggered).map(|p| p.name.clone()).collect();
        release_projects.sort();

        let cand_dirs: Vec<(&str, &str)> =
            candidates.iter().map(|c| (c.rel.as_str(), c.project_file.as_str())).collect();
        let mut records: Vec<ProjectError> = errors
            .iter()
            .map(|e| {
                let file = e.file.clone().unwrap_or_default();
                let path = cand_dirs
                    .iter()
                    .find(|(_, pf)| file.starts_with(pf.trim_end_matches("project.cue")))
                    .map(|(r, _)| (*r).to_owned())
                    .unwrap_or_else(|| project_dir_of(&file));
                ProjectError {
                    path,
                    file,
                    line: e.line.unwrap_or(1),
                    column: e.column.unwrap_or(1),
                    message: e.summary(),
                }
            })
            .collect();
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&records[a], &records[b]);
            (&x.path, &x.file, x.line, x.column).cmp(&(&y.path, &y.file, y.line, y.column))
        });
        let diagnostics: Vec<ConfigError> = order.iter().map(|&i| errors[i].clone()).collect();
        records = order.into_iter().map(|i| records[i].clone()).collect();

        let discovery = Discovery {
            repository,
            projects,
            phase_groups,
            release_enabled: !release_projects.is_empty(),
            release_projects,
            errors: records,
            diagnostics,
            warnings,
            root: root.to_path_buf(),
        };
        let size = serde_json::to_vec(&discovery).map_or(0, |v| v.len());
        if size > MAX_OUTPUT_BYTES {
            return Err(DiscoveryError::OutputTooLarge { size, limit: MAX_OUTPUT_BYTES });
        }
        Ok(discovery)
    }
}

fn project_dir_of(file: &str) -> String {
    match file.find(".forge/") {
        Some(0) => ".".into(),
        Some(i) => file[..i].trim_end_matches('/').to_owned(),
        None => file.to_owned(),
    }
}

fn relative(root: &Path, p: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(r) if r.as_os_str().is_empty() => ".".into(),
        Ok(r) => r.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"),
        Err(_) => p.display().to_string(),
    }
}

fn join_rel(rel: &str, file: &str) -> String {
    if rel == "." { file.to_owned() } else { format!("{rel}/{file}") }
}

/// Reads the `.cue` files of a `.forge` folder that belong to the package of `main`
/// (`project.cue` or `repo.cue`), named `<prefix>.forge/<file>`, sorted by name with `main`
/// first. Symbolic links and subfolders are ignored.
pub(crate) fn read_forge_dir(forge: &Path, prefix: &str, main: &str) -> Result<(Vec<Source>, String), DiscoveryError> {
    let io = |path: &Path, source| DiscoveryError::Io { path: path.to_path_buf(), source };
    let main_path = forge.join(main);
    let main_text = std::fs::read_to_string(&main_path).map_err(|e| io(&main_path, e))?;
    let package = package_of(&main_text).unwrap_or("").to_owned();
    let mut sources = vec![Source::new(format!("{prefix}.forge/{main}"), main_text.as_str())];
    let mut others = Vec::new();
    for entry in std::fs::read_dir(forge).map_err(|e| io(forge, e))? {
        let entry = entry.map_err(|e| io(forge, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == main || !name.ends_with(".cue") {
            continue;
        }
        let ft = entry.file_type().map_err(|e| io(&entry.path(), e))?;
        if !ft.is_file() {
            continue;
        }
        others.push(name);
    }
    others.sort();
    for name in others {
        let path = forge.join(&name);
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        if !package.is_empty() && package_of(&text) == Some(package.as_str()) {
            sources.push(Source::new(format!("{prefix}.forge/{name}"), text));
        }
    }
    Ok((sources, package))
}
