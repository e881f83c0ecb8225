//! `forge init`: a new project's `.forge/project.cue` in canonical style (attribute after the
//! value), and, when asked, the repository's `.forge/repo.cue`.

use std::path::{Path, PathBuf};

use forge_core::ProjectName;

/// Why `init` could not create the files.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InitError {
    /// The project name breaks the rule of SPEC §1.
    #[error(transparent)]
    #[diagnostic(code(forge::init::name))]
    Name(#[from] forge_core::IdError),
    /// The folder already holds a project.
    #[error("{} already exists", path.display())]
    #[diagnostic(code(forge::init::exists), help("edit the existing file, or choose another folder"))]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// No repository configuration above the folder, and `--repo` was not given.
    #[error("no .forge/repo.cue in {} or its parents", dir.display())]
    #[diagnostic(code(forge::init::no_repo), help("run again with --repo to create the repository configuration at {}", root.display()))]
    NoRepository {
        /// The project folder.
        dir: PathBuf,
        /// Where `--repo` would create it (the enclosing git work tree, else the folder).
        root: PathBuf,
    },
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    #[diagnostic(code(forge::init::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The canonical `project.cue` of a new project.
pub fn project_template(name: &ProjectName) -> String {
    format!(
        r#"package project

name: "{name}"

ci: phases: {{
	check: {{
		lint: {{
			action: "script"
			run:    "echo 'add your checks here'"
		}}
	}}
	build: {{
		compile: {{
			action: "earthly"
			target: "+build"
		}}
	}}
}}

release: on: [{{branch: "main"}}, {{tag: true}}]

artifacts: {{
	image: {{
		type: "container"
		producer: earthly: target: "+docker"
		publishers: docker: {{}}
	}}
}}

deployment: resources: [{{
	apiVersion: "apps/v1"
	kind:       "Deployment"
	metadata: name: "{name}"
	spec: {{
		selector: matchLabels: app: "{name}"
		template: {{
			metadata: labels: app: "{name}"
			spec: containers: [{{
				name:  "{name}"
				image: string @artifact("image.uri")
			}}]
		}}
	}}
}}]
"#
    )
}

/// The `repo.cue` created by `forge init --repo`.
pub fn repo_template() -> String {
    format!(
        r#"package repo

forgeVersion: "v{}"

tagging: strategy: "monorepo"

phases: {{
	check: {{group: 1, required: true, timeout: "10m"}}
	build: {{group: 2, timeout: "30m"}}
	test: {{group: 2, timeout: "30m"}}
}}

publishers: {{
	docker: {{
		type:      "docker"
		registry:  "localhost:5000"
		namespace: "example"
	}}
}}
"#,
        crate::schema::SUPPORTED_FORGE_VERSION
    )
}

/// What `init` created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InitOutcome {
    /// The project file.
    pub project_file: PathBuf,
    /// The repository file, when it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_file: Option<PathBuf>,
    /// The repository root.
    pub root: PathBuf,
}

/// Creates `<dir>/.forge/project.cue`; with `create_repo`, also `.forge/repo.cue` at the
/// enclosing git work tree (else at `dir`) when no repository configuration exists.
pub fn init_project(dir: &Path, name: &str, create_repo: bool) -> Result<InitOutcome, InitError> {
    let name: ProjectName = name.parse()?;
    let io = |path: &Path, source| InitError::Io { path: path.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| io(dir, e))?;
    let project_file = dir.join(".forge").join("project.cue");
    if project_file.exists() {
        return Err(InitError::Exists { path: project_file });
    }
    let (root, repo_file) = match crate::discovery::find_repo_root(&dir) {
        Some(root) => (root, None),
        None => {
            let root = dir.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&dir).to_path_buf();
            if !create_repo {
                return Err(InitError::NoRepository { dir, root });
            }
            let forge = root.join(".forge");
            std::fs::create_dir_all(&forge).map_err(|e| io(&forge, e))?;
            let file = forge.join("repo.cue");
            std::fs::write(&file, repo_template()).map_err(|e| io(&file, e))?;
            (root, Some(file))
        }
    };
    let forge = dir.join(".forge");
    std::fs::create_dir_all(&forge).map_err(|e| io(&forge, e))?;
    std::fs::write(&project_file, project_template(&name)).map_err(|e| io(&project_file, e))?;
    Ok(InitOutcome { project_file, repo_file, root })
}
