//! Release creation (SPEC §4, §5.3): producers → publishers → tracking images → `@artifact`
//! resolution and rendering → the release image → the record.
//!
//! [`release_project`] releases one project of a discovery:
//!
//! 1. A release for the triplet that already exists is returned as it is (nothing rebuilt).
//! 2. Every artifact is produced into its own empty staging directory; a producer failure fails
//!    the release, cleans staging, and records nothing.
//! 3. Every publisher of the artifact runs, in declaration order, independently: one failing
//!    leaves the release `partial` with per-destination results recorded on each artifact.
//! 4. A tracking image per artifact (metadata, SPDX SBOM, in-toto/SLSA attestation) goes to the
//!    tracking store at `<owner>/<name>/<project>/<artifact>:sha-<sha>`.
//! 5. The artifact output schema (SPEC §4.4) resolves `@artifact` while rendering the
//!    project's resources; any unresolved reference fails the release.
//! 6. The release image is built with the next release number, pushed under the commit SHA tag,
//!    and only then recorded, with aliases, trigger and artifacts, in one store transaction.
//!
//! Nothing half-done is recorded: every step before the record either succeeds or leaves the
//! store untouched (pushed blobs are content-addressed and harmless).

#[cfg(feature = "github")]
pub mod github;
pub mod producer;
pub mod publisher;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use forge_config::discovery::Discovery;
use forge_config::schema::ArtifactConfig;
use forge_core::model::{
    AliasKind, ArtifactType, CreateRelease, PublishResult, Release, ReleaseArtifact, ReleaseTrigger, TriggerType,
};
use forge_core::ports::{ImageStore, ReleaseRecords};
use forge_core::{
    ArtifactName, CanonicalId, CommitSha, ProjectName, Registry, ReleaseRef, ReleaseStatus, Repository, TrackingRef,
};
use forge_oci::{
    BuildInfo, Digest, ExtractLimits, PublishedLocation, ReleaseInput, Resource, Sbom, SbomFile, SbomInput,
    SpdxDocument, TrackingInput,
};
use serde_json::{Map, Value, json};

use producer::{EarthlyProducer, Producer, ProducerRequest, ProducerResponse, ScriptProducer};
use publisher::{PublishGit, PublishRequest, PublisherSet};

/// Errors of release creation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The project is not in the discovery.
    #[error("project `{0}` was not discovered (is its .forge/project.cue valid?)")]
    UnknownProject(String),
    /// A producer failed; the release is not created.
    #[error("artifact `{artifact}`: {message}")]
    Producer {
        /// Artifact.
        artifact: String,
        /// What failed.
        message: String,
    },
    /// A publisher failed (the release may be `partial`).
    #[error("publisher `{publisher}`: {message}")]
    Publisher {
        /// Publisher.
        publisher: String,
        /// What failed.
        message: String,
    },
    /// Rendering the resources failed (an unresolved or unknown `@artifact`, a bad resource).
    #[error("rendering {project}'s resources failed:\n{message}")]
    Render {
        /// Project.
        project: String,
        /// Every error, one per line, with file:line:column.
        message: String,
    },
    /// Building or pushing an image failed.
    #[error("{what}: {source}")]
    Oci {
        /// Which image.
        what: String,
        /// Cause.
        #[source]
        source: forge_oci::OciError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] forge_core::Error),
    /// A local file operation failed.
    #[error("{action} {path}: {message}")]
    Io {
        /// What.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// An identifier was invalid.
    #[error(transparent)]
    Id(#[from] forge_core::IdError),
}

/// Progress of a release, for live displays.
pub trait ReleaseProgress: Send + Sync {
    /// A stage of one project (`produce web-image`, `publish web-image → docker`, …) started.
    fn started(&self, project: &str, stage: &str);
    /// It finished; `ok` false with a reason when it failed.
    fn finished(&self, project: &str, stage: &str, ok: bool, detail: &str);
}

/// Ignores progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ReleaseProgress for NoProgress {
    fn started(&self, _project: &str, _stage: &str) {}
    fn finished(&self, _project: &str, _stage: &str, _ok: bool, _detail: &str) {}
}

/// The git facts of the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseGit {
    /// Commit.
    pub commit: CommitSha,
    /// Branch.
    pub branch: Option<String>,
    /// Tag (full, e.g. `web/v1.2.3`).
    pub tag: Option<String>,
    /// Commit time.
    pub committed_at: DateTime<Utc>,
    /// `Name <email>`.
    pub author: String,
    /// Subject.
    pub message: String,
}

/// Everything release creation is wired to.
#[derive(Clone)]
pub struct ReleaseEnv {
    /// Repository identity.
    pub repository: Repository,
    /// Repository root on disk.
    pub repo_root: PathBuf,
    /// Git facts.
    pub git: ReleaseGit,
    /// Identity recorded as the trigger's actor.
    pub actor: String,
    /// Run that triggered the release.
    pub run_id: Option<uuid::Uuid>,
    /// Registry name used in release refs (`oci` for a local layout).
    pub release_registry: Registry,
    /// Where release images go.
    pub release_store: Arc<dyn ImageStore>,
    /// Registry name used in tracking refs.
    pub tracking_registry: Registry,
    /// Where tracking images go.
    pub tracking_store: Arc<dyn ImageStore>,
    /// Publishers by type.
    pub publishers: PublisherSet,
    /// Where releases are recorded: the API store (wrap a [`Store`](forge_core::ports::Store) in
    /// [`StoreReleases`](forge_core::ports::StoreReleases)), or the REST API itself.
    pub store: Arc<dyn ReleaseRecords>,
    /// Root of the staging directories.
    pub staging_root: PathBuf,
    /// Progress observer.
    pub progress: Arc<dyn ReleaseProgress>,
    /// Build everything (artifacts, tracking and release images) but publish, push and record
    /// nothing: publishers report where they would publish.
    pub dry_run: bool,
    /// When set, every tracking image and the release image is signed (cosign format) right
    /// after it is pushed; a signing failure fails the release before anything is recorded.
    pub signer: Option<Arc<dyn forge_oci::sign::Signer>>,
}

async fn sign(
    env: &ReleaseEnv,
    store: &dyn ImageStore,
    registry: &Registry,
    repo: &str,
    digest: &Digest,
) -> Result<(), ReleaseError> {
    let Some(signer) = &env.signer else { return Ok(()) };
    let options =
        forge_oci::sign::SignOptions { docker_reference: Some(format!("{registry}/{repo}")), ..Default::default() };
    forge_oci::sign::sign_image_with(store, repo, digest, signer.as_ref(), &options).await.map(|_| ()).map_err(|e| {
        ReleaseError::Io {
            action: "signing",
            path: PathBuf::from(format!("{registry}/{repo}@{digest}")),
            message: e.to_string(),
        }
    })
}

impl std::fmt::Debug for ReleaseEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseEnv")
            .field("repository", &self.repository)
            .field("commit", &self.git.commit)
            .finish_non_exhaustive()
    }
}

/// One artifact's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactOutcome {
    /// Artifact.
    pub name: String,
    /// Digest.
    pub digest: String,
    /// Tracking image reference and manifest digest.
    pub tracking: (String, String),
    /// Publisher results, declaration order.
    pub publishers: Vec<PublishResult>,
    /// Publishers that skipped the upload (already there).
    pub skipped: Vec<String>,
}

/// The outcome of releasing a project.
#[derive(Debug, Clone)]
pub struct ReleaseOutcome {
    /// The recorded release.
    pub release: Release,
    /// Whether this call created it (false: it existed).
    pub created: bool,
    /// Artifacts (empty when the release existed).
    pub artifacts: Vec<ArtifactOutcome>,
    /// The rendered resources as one YAML stream (empty when the release existed).
    pub manifests: String,
}

fn trigger_of(env: &ReleaseEnv) -> ReleaseTrigger {
    let kind = if env.git.tag.is_some() {
        TriggerType::Tag
    } else if env.git.branch.is_some() {
        TriggerType::BranchPush
    } else {
        TriggerType::Manual
    };
    ReleaseTrigger { kind, branch: env.git.branch.clone(), tag: env.git.tag.clone(), actor: env.actor.clone() }
}

fn clean_dir(p: &Path) -> Result<(), ReleaseError> {
    if p.exists() {
        std::fs::remove_dir_all(p).map_err(|e| ReleaseError::Io {
            action: "cleaning",
            path: p.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    std::fs::create_dir_all(p).map_err(|e| ReleaseError::Io {
        action: "creating",
        path: p.to_path_buf(),
        message: e.to_string(),
    })
}

fn sbom_for(p: &ProducerResponse, namespace: &str, created: DateTime<Utc>, version: &str) -> Sbom {
    let mut files = Vec::new();
    match p.kind {
        ArtifactType::Binary => {
            if let Ok(data) = std::fs::read(&p.location) {
                let name =
                    p.location.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.name.clone());
                files.push(SbomFile::from_bytes(name, &data));
            }
        }
        ArtifactType::Archive => {
            if let Ok(data) = std::fs::read(&p.location) {
                files = forge_oci::sbom_files_from_tar_gz(&data, &ExtractLimits::default()).unwrap_or_default();
            }
        }
        ArtifactType::Container => {
            // The image's blobs are its content: list them by digest.
            let blobs = p.location.join("blobs/sha256");
            if let Ok(rd) = std::fs::read_dir(&blobs) {
                let mut names: Vec<String> =
                    rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                for n in names {
                    if let Ok(data) = std::fs::read(blobs.join(&n)) {
                        files.push(SbomFile::from_bytes(format!("blobs/sha256/{n}"), &data));
                    }
                }
            }
        }
    }
    Sbom::Spdx(Box::new(SpdxDocument::generate(&SbomInput {
        name: p.name.clone(),
        version: version.to_owned(),
        namespace: namespace.to_owned(),
        created,
        artifact_digest: p.digest.parse().unwrap_or_else(|_| Digest::of(p.digest.as_bytes())),
        files,
    })))
}

fn publish_git(env: &ReleaseEnv, project: &str) -> PublishGit {
    let tag = env.git.tag.as_deref().map(|t| forge_core::alias::tag_alias(t, project));
    PublishGit { commit_sha: env.git.commit.to_string(), tag, branch: env.git.branch.clone() }
}

fn producer_kind(cfg: &ArtifactConfig) -> &'static str {
    match &cfg.producer {
        forge_config::schema::Producer::Earthly { .. } => "earthly",
        forge_config::schema::Producer::Script { .. } => "script",
    }
}

/// Produces one artifact into a fresh staging directory under `staging` (progress reported).
async fn produce(
    env: &ReleaseEnv,
    dp: &forge_config::discovery::DiscoveredProject,
    project: &str,
    id: &CanonicalId,
    name: &str,
    cfg: &ArtifactConfig,
    staging: &Path,
) -> Result<ProducerResponse, ReleaseError> {
    let dir = staging.join(name);
    clean_dir(&dir)?;
    let stage = format!("produce {name}");
    env.progress.started(project, &stage);
    let kind = producer_kind(cfg);
    let producer: Arc<dyn Producer> = match kind {
        "earthly" => Arc::new(EarthlyProducer::default()),
        _ => Arc::new(ScriptProducer),
    };
    let req = ProducerRequest {
        project: project.to_owned(),
        project_path: dp.path.clone(),
        repository: env.repository.to_string(),
        repository_path: env.repo_root.clone(),
        commit_sha: env.git.commit.to_string(),
        release_id: id.to_string(),
        artifact: name.to_owned(),
        kind: cfg.kind,
        config: cfg.producer.clone(),
        staging_path: dir,
    };
    let started = std::time::Instant::now();
    match producer.produce(&req).await {
        Ok(p) => {
            tracing::debug!(artifact = %name, producer = kind, took = ?started.elapsed(), "artifact built");
            env.progress.finished(project, &stage, true, &p.digest);
            Ok(p)
        }
        Err(e) => {
            env.progress.finished(project, &stage, false, &e.to_string());
            Err(e)
        }
    }
}

/// What the publishers of one artifact did.
struct Published {
    /// Per publisher, in the order run.
    results: Vec<PublishResult>,
    /// `publishers` of the output schema (SPEC §4.4), successful ones only.
    metadata: Map<String, Value>,
    /// Publishers that found the artifact already there.
    skipped: Vec<String>,
    /// URI of the first successful publisher.
    first_uri: Option<String>,
}

/// Runs the publishers `names` of one artifact, in declaration order, independently: a failure
/// is a result, never an early return.
#[allow(clippy::too_many_arguments)]
async fn publish(
    env: &ReleaseEnv,
    discovery: &Discovery,
    project: &str,
    id: &CanonicalId,
    git: &PublishGit,
    name: &str,
    cfg: &ArtifactConfig,
    produced: &ProducerResponse,
    names: &[&str],
) -> Published {
    let mut out = Published { results: Vec::new(), metadata: Map::new(), skipped: Vec::new(), first_uri: None };
    for (pname, pcfg) in cfg.publishers.iter().filter(|(p, _)| names.contains(&p.as_str())) {
        let stage = format!("publish {name} → {pname}");
        env.progress.started(project, &stage);
        if env.dry_run {
            let uri = format!("dry-run://{pname}/{name}");
            env.progress.finished(project, &stage, true, "dry run: not published");
            out.first_uri.get_or_insert_with(|| uri.clone());
            out.metadata.insert(pname.clone(), json!({"uri": uri}));
            out.results.push(PublishResult { publisher: pname.clone(), success: true, uri: Some(uri), error: None });
            continue;
        }
        let result = match discovery.repository.publishers.get(pname) {
            None => {
                Err(ReleaseError::Publisher { publisher: pname.clone(), message: "not defined in repo.cue".into() })
            }
            Some(rcfg) => match env.publishers.get(&rcfg.kind) {
                None => Err(ReleaseError::Publisher {
                    publisher: pname.clone(),
                    message: format!("no publisher implementation for type `{}`", rcfg.kind),
                }),
                Some(p) => {
                    let preq = PublishRequest {
                        project,
                        repo_root: &env.repo_root,
                        git,
                        release_id: &id.to_string(),
                        produced,
                        publisher: pname,
                        repo_config: rcfg,
                        project_config: pcfg,
                    };
                    p.publish(&preq).await
                }
            },
        };
        match result {
            Ok(r) => {
                env.progress.finished(project, &stage, true, if r.skipped { "already published" } else { &r.uri });
                if r.skipped {
                    out.skipped.push(pname.clone());
                }
                out.first_uri.get_or_insert_with(|| r.uri.clone());
                let mut m = r.metadata.clone();
                m.insert("uri".into(), json!(r.uri));
                out.metadata.insert(pname.clone(), Value::Object(m));
                out.results.push(PublishResult {
                    publisher: pname.clone(),
                    success: true,
                    uri: Some(r.uri),
                    error: None,
                });
            }
            Err(e) => {
                env.progress.finished(project, &stage, false, &e.to_string());
                tracing::warn!(artifact = %name, publisher = %pname, error = %e, "publisher failed; the release will be partial");
                out.results.push(PublishResult {
                    publisher: pname.clone(),
                    success: false,
                    uri: None,
                    error: Some(e.to_string()),
                });
            }
        }
    }
    out
}

/// Releases `project` of `discovery` (see the module docs for the steps and failure rules).
pub async fn release_project(
    env: &ReleaseEnv,
    discovery: &Discovery,
    project: &str,
) -> Result<ReleaseOutcome, ReleaseError> {
    let dp = discovery.project(project).ok_or_else(|| ReleaseError::UnknownProject(project.to_owned()))?;
    let project_name: ProjectName = project.parse()?;
    let id = CanonicalId::new(env.repository.clone(), project_name.clone(), env.git.commit);

    // 1. Idempotency: the triplet exists → return it.
    if let Ok(existing) = env.store.get_release(&env.repository, &project_name, env.git.commit.as_str()).await
        && existing.commit_sha == env.git.commit
    {
        return Ok(ReleaseOutcome {
            release: existing,
            created: false,
            artifacts: Vec::new(),
            manifests: String::new(),
        });
    }

    let trigger = trigger_of(env);
    let publish_git = publish_git(env, project);
    // 2-4. Artifacts.
    let staging = env.staging_root.join(project);
    let mut outputs = Map::new();
    let mut artifacts = Vec::new();
    let mut release_artifacts = Vec::new();
    let mut partial = false;
    for (name, cfg) in &dp.config.artifacts {
        let produced = match produce(env, dp, project, &id, name, cfg, &staging).await {
            Ok(p) => p,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        let producer_kind = producer_kind(cfg);
        let names: Vec<&str> = cfg.publishers.keys().map(String::as_str).collect();
        let Published { results: pubs, metadata: pub_meta, skipped, first_uri } =
            publish(env, discovery, project, &id, &publish_git, name, cfg, &produced, &names).await;
        partial |= pubs.iter().any(|p| !p.success);

        // Tracking image.
        let artifact_name: ArtifactName = name.parse()?;
        let tref = TrackingRef::new(env.tracking_registry.clone(), id.clone(), artifact_name.clone());
        let stage = format!("track {name}");
        env.progress.started(project, &stage);
        let digest: Digest =
            produced.digest.parse().map_err(|e| ReleaseError::Oci { what: format!("digest of {name}"), source: e })?;
        let tracking = forge_oci::build_tracking_image(&TrackingInput {
            tracking_ref: tref.clone(),
            kind: cfg.kind,
            digest,
            published: pubs
                .iter()
                .filter_map(|r| r.uri.clone().map(|uri| PublishedLocation { publisher: r.publisher.clone(), uri }))
                .collect(),
            build: BuildInfo {
                run_id: env.run_id.map(|r| r.to_string()),
                producer: producer_kind.to_owned(),
                target: match &cfg.producer {
                    forge_config::schema::Producer::Earthly { target, .. } => Some(target.clone()),
                    forge_config::schema::Producer::Script { .. } => None,
                },
                args: Vec::new(),
                // The commit time keeps tracking images reproducible; wall-clock build times
                // go to the logs.
                started_at: env.git.committed_at,
                finished_at: env.git.committed_at,
            },
            sources: Vec::new(),
            committed_at: env.git.committed_at,
            sbom: sbom_for(&produced, &tref.to_string(), env.git.committed_at, env.git.commit.as_str()),
        })
        .map_err(|e| ReleaseError::Oci { what: format!("tracking image of {name}"), source: e })?;
        let tag = tref.tag();
        let tdigest = if env.dry_run {
            tracking.digest.clone()
        } else {
            let d = forge_oci::push_image(&*env.tracking_store, &tref.repository_path(), &tracking, &[tag.as_str()])
                .await
                .map_err(|e| ReleaseError::Oci { what: format!("pushing the tracking image {tref}"), source: e })?;
            sign(env, &*env.tracking_store, &env.tracking_registry, &tref.repository_path(), &d).await?;
            d
        };
        env.progress.finished(project, &stage, true, tdigest.as_str());

        let mut out = produced.public_output();
        out.insert("uri".into(), json!(first_uri.clone().unwrap_or_default()));
        out.insert("tracking".into(), json!(tref.to_string()));
        out.insert("publishers".into(), Value::Object(pub_meta));
        outputs.insert(name.clone(), Value::Object(out));
        release_artifacts.push(ReleaseArtifact {
            name: artifact_name,
            kind: cfg.kind,
            digest: produced.digest.clone(),
            tracking_ref: tref.to_string(),
            primary_uri: first_uri,
            publishers: pubs.clone(),
        });
        artifacts.push(ArtifactOutcome {
            name: name.clone(),
            digest: produced.digest.clone(),
            tracking: (tref.to_string(), tdigest.to_string()),
            publishers: pubs,
            skipped,
        });
    }

    // 5. Render with the artifact outputs.
    env.progress.started(project, "render");
    let outputs = Value::Object(outputs);
    let rendered = forge_config::render::render(
        &dp.config,
        &dp.document,
        &discovery.repository,
        Some(&outputs),
        Default::default(),
    )
    .map_err(|errs| {
        let message = errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
        env.progress.finished(project, "render", false, "unresolved references");
        ReleaseError::Render { project: project.to_owned(), message }
    })?;
    let manifests = rendered
        .to_yaml_stream()
        .map_err(|e| ReleaseError::Render { project: project.to_owned(), message: e.to_string() })?;
    let mut resources = Vec::new();
    for r in &rendered.resources {
        let yaml = serde_yaml::to_string(r)
            .map_err(|e| ReleaseError::Render { project: project.to_owned(), message: e.to_string() })?;
        resources
            .push(Resource::from_yaml(yaml).map_err(|e| ReleaseError::Oci { what: "resource".into(), source: e })?);
    }
    env.progress.finished(project, "render", true, &format!("{} resources", resources.len()));

    // 6. Release image, then the record.
    env.progress.started(project, "release image");
    let rref = ReleaseRef::new(env.release_registry.clone(), id.clone());
    let mut attempt = 0;
    loop {
        let number = forge_core::alias::next_release_number(
            env.store.latest_release_number(&env.repository, &project_name).await?,
        );
        let aliases =
            forge_core::alias::aliases_for(number, project, env.git.tag.as_deref(), env.git.branch.as_deref());
        let image = forge_oci::build_release_image(&ReleaseInput {
            id: id.clone(),
            number,
            aliases: aliases.clone(),
            trigger: trigger.clone(),
            author: env.git.author.clone(),
            message: env.git.message.clone(),
            committed_at: env.git.committed_at,
            artifacts: release_artifacts.iter().map(Into::into).collect(),
            resources: resources.clone(),
        })
        .map_err(|e| ReleaseError::Oci { what: "release image".into(), source: e })?;
        if env.dry_run {
            env.progress.finished(project, "release image", true, &format!("{} (dry run: not pushed)", image.digest));
            let _ = std::fs::remove_dir_all(&staging);
            let release = Release {
                id: uuid::Uuid::nil(),
                repository: env.repository.clone(),
                project: project_name.clone(),
                commit_sha: env.git.commit,
                release_number: number,
                status: if partial { ReleaseStatus::Partial } else { ReleaseStatus::Complete },
                trigger: trigger.clone(),
                oci_ref: rref.to_string(),
                oci_digest: image.digest.to_string(),
                aliases,
                artifacts: release_artifacts.clone(),
                run_id: env.run_id,
                created_at: env.git.committed_at,
            };
            return Ok(ReleaseOutcome { release, created: false, artifacts, manifests });
        }
        let digest = forge_oci::push_image(&*env.release_store, &rref.repository_path(), &image, &[rref.tag()])
            .await
            .map_err(|e| ReleaseError::Oci { what: format!("pushing {rref}"), source: e })?;
        sign(env, &*env.release_store, &env.release_registry, &rref.repository_path(), &digest).await?;
        let req = CreateRelease {
            repository: env.repository.clone(),
            project: project_name.clone(),
            commit_sha: env.git.commit,
            trigger: trigger.clone(),
            oci_ref: rref.to_string(),
            oci_digest: digest.to_string(),
            // The store numbers the release and appends the number to the branch alias, so it
            // gets the branch itself (the image carries the final `<branch>-<n>` form).
            aliases: aliases
                .into_iter()
                .filter(|a| a.kind != AliasKind::Numeric)
                .map(|a| match a.kind {
                    AliasKind::Branch => forge_core::model::ReleaseAlias {
                        kind: AliasKind::Branch,
                        alias: env.git.branch.clone().unwrap_or(a.alias),
                    },
                    _ => a,
                })
                .collect(),
            artifacts: release_artifacts.clone(),
            status: if partial { ReleaseStatus::Partial } else { ReleaseStatus::Complete },
            run_id: env.run_id,
            expected_number: Some(number),
        };
        let created = match env.store.create_release(&req, &env.actor).await {
            Err(forge_core::Error::Conflict { message, .. }) if attempt < 5 => {
                // Another release of the project took the number baked into the image; the
                // store recorded nothing. Rebuild with the next number (numbers stay gapless).
                attempt += 1;
                tracing::warn!(number, %message, "release number moved; rebuilding the release image");
                continue;
            }
            other => other?,
        };
        env.progress.finished(project, "release image", true, digest.as_str());
        let _ = std::fs::remove_dir_all(&staging);
        return Ok(ReleaseOutcome { release: created.value, created: created.created, artifacts, manifests });
    }
}

/// The outcome of [`retry_release`].
#[derive(Debug, Clone)]
pub struct RetryOutcome {
    /// The release as recorded after the retry.
    pub release: Release,
    /// `(artifact, publisher, result)` of every publisher that was retried, in order.
    pub retried: Vec<(String, PublishResult)>,
}

/// Retries the failed publishers of a `partial` release (SPEC §4.3): `forge release retry`.
///
/// Only the artifacts with a failed publisher are produced again — from the release's own
/// commit, which must be the one checked out (`env.git.commit`) — and each must come out with the
/// digest that was recorded; then only the failed publishers run. The release image, its
/// number, aliases and tracking images never change (they are immutable and content-addressed:
/// a URI that a recovered publisher reports is recorded in the release's publisher results, not
/// baked into the image after the fact). The release becomes `complete` once every publisher has
/// succeeded. A release that is not `partial` is returned unchanged with nothing retried.
pub async fn retry_release(
    env: &ReleaseEnv,
    discovery: &Discovery,
    project: &str,
    release_id: &str,
) -> Result<RetryOutcome, ReleaseError> {
    let dp = discovery.project(project).ok_or_else(|| ReleaseError::UnknownProject(project.to_owned()))?;
    let project_name: ProjectName = project.parse()?;
    let release = env.store.get_release(&env.repository, &project_name, release_id).await?;
    if release.status != ReleaseStatus::Partial {
        return Ok(RetryOutcome { release, retried: Vec::new() });
    }
    if release.commit_sha != env.git.commit {
        return Err(ReleaseError::Producer {
            artifact: "*".into(),
            message: format!(
                "release {} was built from commit {}, but {} is checked out: check out {} to retry it",
                release.release_number, release.commit_sha, env.git.commit, release.commit_sha
            ),
        });
    }
    let id = CanonicalId::new(env.repository.clone(), project_name, env.git.commit);
    let git = publish_git(env, project);
    let staging = env.staging_root.join(project);
    let mut artifacts = release.artifacts.clone();
    let mut retried = Vec::new();
    for recorded in &mut artifacts {
        let failed: Vec<String> =
            recorded.publishers.iter().filter(|p| !p.success).map(|p| p.publisher.clone()).collect();
        if failed.is_empty() {
            continue;
        }
        let name = recorded.name.to_string();
        let cfg = dp.config.artifacts.get(&name).ok_or_else(|| ReleaseError::Producer {
            artifact: name.clone(),
            message: format!("release {} has it, but project.cue no longer declares it", release.release_number),
        })?;
        let produced = match produce(env, dp, project, &id, &name, cfg, &staging).await {
            Ok(p) if p.digest == recorded.digest => p,
            Ok(p) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(ReleaseError::Producer {
                    artifact: name,
                    message: format!(
                        "rebuilt with digest {}, but the release recorded {}: the producer is not reproducible, \
                         so the recorded artifact cannot be republished (create a new release instead)",
                        p.digest, recorded.digest
                    ),
                });
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        let names: Vec<&str> = failed.iter().map(String::as_str).collect();
        let published = publish(env, discovery, project, &id, &git, &name, cfg, &produced, &names).await;
        for result in published.results {
            if let Some(slot) = recorded.publishers.iter_mut().find(|p| p.publisher == result.publisher) {
                *slot = result.clone();
            }
            retried.push((name.clone(), result));
        }
    }
    let _ = std::fs::remove_dir_all(&staging);
    if env.dry_run {
        return Ok(RetryOutcome { release, retried });
    }
    let all_ok = artifacts.iter().flat_map(|a| &a.publishers).all(|p| p.success);
    let status = if all_ok { ReleaseStatus::Complete } else { ReleaseStatus::Partial };
    let release = env.store.update_release_publishing(release.id, &artifacts, status, &env.actor).await?;
    Ok(RetryOutcome { release, retried })
}
