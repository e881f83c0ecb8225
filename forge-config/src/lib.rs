//! Forge configuration: the CUE dialect evaluator, the repository and project schemas,
//! discovery, release triggers and rendering (SPEC §2).
//!
//! The CUE language core lives in [`cue`]; see `CUE_API.md` for a summary.
//!
//! On top of it:
//! - [`schema`]: typed `repo.cue` / `project.cue` with every check of SPEC §2.3–§2.4 and errors
//!   carrying file, line, column, field path, expected/found and a "did you mean" hint
//!   ([`error::ConfigError`], rendered by miette); secret references are checked through the
//!   [`forge_core::ports::SecretRefValidator`] port ([`schema::SchemaValidator`] knows the
//!   built-in providers). The tool implements configuration **v1.0.x**
//!   ([`schema::SUPPORTED_FORGE_VERSION`]).
//! - [`discovery`]: the parallel, `.gitignore`-aware walk and the SPEC §2.5 output;
//!   [`cache::ConfigCache`] makes repeated discovery of an unchanged tree cheap.
//! - [`trigger`]: release triggers for a git context (SPEC §2.6).
//! - [`render`]: `@repo` / `@artifact` resolution and Kubernetes YAML output.
//! - [`init`]: the canonical files `forge init` writes.
//!
//! ```
//! use std::sync::Arc;
//! use forge_config::discovery::Discoverer;
//! use forge_config::render::{render, RenderOptions};
//! use forge_config::schema::SchemaValidator;
//! use forge_config::trigger::GitContext;
//!
//! let root = tempfile::tempdir()?;
//! let write = |p: &str, s: &str| -> std::io::Result<()> {
//!     let p = root.path().join(p);
//!     std::fs::create_dir_all(p.parent().expect("has a parent"))?;
//!     std::fs::write(p, s)
//! };
//! write(".forge/repo.cue", r#"package repo
//! forgeVersion: "v1.0.0"
//! tagging: strategy: "monorepo"
//! phases: build: group: 1
//! "#)?;
//! write("web/.forge/project.cue", r#"package project
//! name: "web"
//! ci: phases: build: bundle: {action: "script", run: "make"}
//! release: on: [{branch: "main"}, {tag: true}]
//! artifacts: image: {type: "container", producer: earthly: target: "+docker", publishers: {}}
//! deployment: resources: [{
//!     apiVersion: "v1", kind: "Pod", metadata: name: "web"
//!     spec: containers: [{name: "web", image: string @artifact("image.uri")}]
//! }]
//! "#)?;
//!
//! let discoverer = Discoverer::new(Arc::new(SchemaValidator::builtin()));
//! let d = discoverer.discover(root.path(), &GitContext::tag("web/v1.2.0"))?;
//! assert_eq!(d.release_projects, ["web"]);
//! assert_eq!(d.projects[0].phases["build"][0].name, "bundle");
//!
//! let web = &d.projects[0];
//! let preview = render(&web.config, &web.document, &d.repository, None, RenderOptions { preview: true })
//!     .map_err(|e| e[0].summary())?;
//! assert!(preview.to_yaml_stream()?.contains("image: <artifact:image.uri>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cue;

pub mod cache;
pub mod discovery;
pub mod error;
pub mod eval;
pub mod init;
pub mod render;
pub mod schema;
mod suggest;
pub mod tree;
pub mod trigger;
