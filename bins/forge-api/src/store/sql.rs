//! [`SqlStore`]: the queries.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use forge_core::alias::{aliases_for, branch_alias, is_sha_prefix, tag_alias};
use forge_core::model::{
    AliasKind, Approval, CreateApproval, CreateRelease, CreateRun, Deployment, JobRecord, PhaseExecution, PipelineRun,
    RegisterRepository, Release, ReleaseAlias, ReleaseArtifact, ReleasePage, ReleaseTrigger, StatusUpdate,
    StepExecution, TaskExecution,
};
use forge_core::ports::{Created, StatusChange, Store};
use forge_core::status::{aggregate, run_status_from_phases};
use forge_core::{
    DeploymentStatus, Environment, Error, ExecStatus, ProjectName, ReleaseStatus, Repository, Result, RunStatus,
    StatusMachine,
};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};
use uuid::Uuid;

use super::{Backend, COMPONENT, StoreOptions, connect, db_err, from_ts, get, migrate, opt_ts, parse, parse_opt, ts};

type Tx = Transaction<'static, Any>;

/// The SQL implementation of [`Store`] (PostgreSQL or SQLite).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

fn q(sql: &str) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(sql)
}

fn enc_opt_ts(t: Option<chrono::DateTime<Utc>>) -> Option<i64> {
    t.map(ts)
}

fn not_found(what: String) -> Error {
    Error::NotFound { component: COMPONENT, what }
}

fn conflict(message: String) -> Error {
    Error::Conflict { component: COMPONENT, message }
}

impl SqlStore {
    /// Connects and runs the embedded migrations.
    pub async fn open(opts: &StoreOptions) -> Result<Self> {
        let (pool, backend) = connect(opts).await?;
        migrate(&pool, backend).await?;
        Ok(Self { pool, backend })
    }

    /// Wraps an existing, migrated pool.
    pub fn from_pool(pool: AnyPool, backend: Backend) -> Self {
        Self { pool, backend }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool (for maintenance and tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Counts the audit rows for a target (tests and diagnostics).
    pub async fn audit_count(&self, target: &str) -> Result<i64> {
        let row = q("SELECT COUNT(*) AS n FROM audit_log WHERE target = $1")
            .bind(target.to_owned())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| db_err("counting audit rows", e))?;
        get(&row, "n")
    }

    /// Begins a writing transaction: `BEGIN IMMEDIATE` on SQLite so writers serialise up front.
    async fn begin_write(&self) -> Result<Tx> {
        match self.backend {
            Backend::Postgres => self.pool.begin().await,
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
        }
        .map_err(|e| db_err("beginning a transaction", e))
    }

    /// On PostgreSQL, takes a transaction-scoped advisory lock on `key`; SQLite is already
    /// serialised by `BEGIN IMMEDIATE`.
    async fn lock(&self, tx: &mut Tx, key: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            q("SELECT 1 AS one FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l")
                .bind(key.to_owned())
                .fetch_one(&mut **tx)
                .await
                .map_err(|e| db_err("taking an advisory lock", e))?;
        }
        Ok(())
    }

    async fn audit(tx: &mut Tx, actor: &str, action: &str, target: &str, details: Option<String>) -> Result<()> {
        q("INSERT INTO audit_log (actor, action, target, details, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(actor.to_owned())
            .bind(action.to_owned())
            .bind(target.to_owned())
            .bind(details)
            .bind(ts(Utc::now()))
            .execute(&mut **tx)
            .await
            .map_err(|e| db_err("writing the audit log", e))?;
        Ok(())
    }

    async fn commit(tx: Tx) -> Result<()> {
        tx.commit().await.map_err(|e| db_err("committing", e))
    }

    fn run_from_row(row: &AnyRow) -> Result<PipelineRun> {
        Ok(PipelineRun {
            id: parse(row, "id")?,
            repository: parse(row, "repository")?,
            commit_sha: parse(row, "commit_sha")?,
            branch: get(row, "branch")?,
            tag: get(row, "tag")?,
            attempt: u32::try_from(get::<i64>(row, "attempt")?)
                .map_err(|_| Error::msg(COMPONENT, "stored attempt is out of range"))?,
            status: parse(row, "status")?,
            actor: get(row, "actor")?,
            created_at: from_ts(get(row, "created_at")?)?,
            started_at: opt_ts(row, "started_at")?,
            finished_at: opt_ts(row, "finished_at")?,
            phases: Vec::new(),
        })
    }

    async fn load_release(&self, id: &str) -> Result<Release> {
        let row = q("SELECT * FROM releases WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_err("reading a release", e))?
            .ok_or_else(|| not_found(format!("release {id}")))?;
        self.with_aliases(release_from_row(&row)?).await
    }

    /// Loads the aliases of a release.
    async fn with_aliases(&self, mut release: Release) -> Result<Release> {
        let aliases = q("SELECT kind, alias FROM release_aliases WHERE release_id = $1")
            .bind(release.id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading release aliases", e))?;
        release.aliases = aliases.iter().map(alias_from_row).collect::<Result<_>>()?;
        release.aliases.sort();
        Ok(release)
    }

    /// Recomputes task (optional), phase and run statuses after a change; returns the effect.
    async fn reaggregate(tx: &mut Tx, run_id: &str, phase_id: &str, task_id: Option<&str>) -> Result<StatusChange> {
        let now = ts(Utc::now());
        if let Some(task_id) = task_id {
            let steps = q("SELECT status FROM steps WHERE task_id = $1")
                .bind(task_id.to_owned())
                .fetch_all(&mut **tx)
                .await
                .map_err(|e| db_err("reading steps", e))?;
            let status = aggregate(steps.iter().map(|r| parse::<ExecStatus>(r, "status")).collect::<Result<Vec<_>>>()?);
            set_exec_status(tx, "tasks", task_id, status, now).await?;
        }
        let before = q("SELECT status FROM phases WHERE id = $1")
            .bind(phase_id.to_owned())
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| db_err("reading a phase", e))?;
        let phase_was_terminal = parse::<ExecStatus>(&before, "status")?.is_terminal();
        let tasks = q("SELECT status FROM tasks WHERE phase_id = $1")
            .bind(phase_id.to_owned())
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| db_err("reading tasks", e))?;
        let status = aggregate(tasks.iter().map(|r| parse::<ExecStatus>(r, "status")).collect::<Result<Vec<_>>>()?);
        let phase_completed = status.is_terminal() && !phase_was_terminal;
        set_exec_status(tx, "phases", phase_id, status, now).await?;
        let phases = q("SELECT status FROM phases WHERE run_id = $1")
            .bind(run_id.to_owned())
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| db_err("reading phases", e))?;
        let phase_statuses = phases.iter().map(|r| parse::<ExecStatus>(r, "status")).collect::<Result<Vec<_>>>()?;
        let phases_done = phase_statuses.iter().filter(|s| s.is_terminal()).count();
        let phases_total = phase_statuses.len();
        let derived = run_status_from_phases(phase_statuses);
        let row = q("SELECT status FROM runs WHERE id = $1")
            .bind(run_id.to_owned())
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| db_err("reading a run", e))?;
        let current: RunStatus = parse(&row, "status")?;
        let run_uuid = Uuid::parse_str(run_id).map_err(|e| Error::other(COMPONENT, "stored run id", e))?;
        let movable =
            current.can_move_to(derived) || (current == RunStatus::Pending && matches!(derived, RunStatus::Success));
        if current == derived || current.is_terminal() || !movable {
            return Ok(StatusChange {
                run_id: run_uuid,
                run_status: current,
                run_completed: false,
                phase_completed,
                phases_done,
                phases_total,
            });
        }
        let finished = derived.is_terminal().then_some(now);
        q("UPDATE runs SET status = $1, started_at = COALESCE(started_at, $2), finished_at = $3 WHERE id = $4")
            .bind(derived.as_str().to_owned())
            .bind(now)
            .bind(finished)
            .bind(run_id.to_owned())
            .execute(&mut **tx)
            .await
            .map_err(|e| db_err("updating a run", e))?;
        Ok(StatusChange {
            run_id: run_uuid,
            run_status: derived,
            run_completed: derived.is_terminal(),
            phase_completed,
            phases_done,
            phases_total,
        })
    }
}

async fn set_exec_status(tx: &mut Tx, table: &'static str, id: &str, status: ExecStatus, now: i64) -> Result<()> {
    let started = (status != ExecStatus::Pending).then_some(now);
    let finished = status.is_terminal().then_some(now);
    let sql = format!(
        "UPDATE {table} SET status = $1, started_at = COALESCE(started_at, $2), \
         finished_at = COALESCE(finished_at, $3) WHERE id = $4"
    );
    sqlx::query(&sql)
        .bind(status.as_str().to_owned())
        .bind(started)
        .bind(finished)
        .bind(id.to_owned())
        .execute(&mut **tx)
        .await
        .map_err(|e| db_err("updating an execution status", e))?;
    Ok(())
}

fn alias_from_row(row: &AnyRow) -> Result<ReleaseAlias> {
    let kind: String = get(row, "kind")?;
    let kind = match kind.as_str() {
        "numeric" => AliasKind::Numeric,
        "tag" => AliasKind::Tag,
        "branch" => AliasKind::Branch,
        _ => AliasKind::Custom,
    };
    Ok(ReleaseAlias { kind, alias: get(row, "alias")? })
}

fn alias_kind_str(kind: AliasKind) -> &'static str {
    match kind {
        AliasKind::Numeric => "numeric",
        AliasKind::Tag => "tag",
        AliasKind::Branch => "branch",
        AliasKind::Custom => "custom",
    }
}

fn u64_col(row: &AnyRow, col: &str) -> Result<u64> {
    u64::try_from(get::<i64>(row, col)?).map_err(|_| Error::msg(COMPONENT, format!("stored `{col}` is negative")))
}

fn release_from_row(row: &AnyRow) -> Result<Release> {
    let trigger_type: String = get(row, "trigger_type")?;
    let kind = serde_json::from_value(serde_json::Value::String(trigger_type))
        .map_err(|e| Error::other(COMPONENT, "stored trigger type is invalid", e))?;
    let artifacts: String = get(row, "artifacts")?;
    Ok(Release {
        id: parse(row, "id")?,
        repository: parse(row, "repository")?,
        project: parse(row, "project")?,
        commit_sha: parse(row, "commit_sha")?,
        release_number: u64_col(row, "release_number")?,
        status: parse(row, "status")?,
        trigger: ReleaseTrigger {
            kind,
            branch: get(row, "trigger_branch")?,
            tag: get(row, "trigger_tag")?,
            actor: get(row, "trigger_actor")?,
        },
        oci_ref: get(row, "oci_ref")?,
        oci_digest: get(row, "oci_digest")?,
        aliases: Vec::new(),
        artifacts: serde_json::from_str(&artifacts)
            .map_err(|e| Error::other(COMPONENT, "stored artifacts are invalid", e))?,
        run_id: parse_opt(row, "run_id")?,
        created_at: from_ts(get(row, "created_at")?)?,
    })
}

/// What a publisher retry may change (see [`Store::update_release_publishing`]): publisher
/// results only, failed → succeeded, on a `partial` release, with a status that matches them.
fn check_publishing_update(current: &Release, artifacts: &[ReleaseArtifact], status: ReleaseStatus) -> Result<()> {
    if current.status != ReleaseStatus::Partial {
        return Err(conflict(format!(
            "release {} of {} is {}: only a partial release can be retried",
            current.release_number, current.project, current.status
        )));
    }
    let same_shape = current.artifacts.len() == artifacts.len()
        && current.artifacts.iter().zip(artifacts).all(|(a, b)| {
            a.name == b.name
                && a.kind == b.kind
                && a.digest == b.digest
                && a.tracking_ref == b.tracking_ref
                && a.primary_uri == b.primary_uri
                && a.publishers.len() == b.publishers.len()
                && a.publishers
                    .iter()
                    .zip(&b.publishers)
                    .all(|(p, q)| p.publisher == q.publisher && (!p.success || (q.success && p.uri == q.uri)))
        });
    if !same_shape {
        return Err(conflict(format!(
            "release {} of {}: a retry may only turn failed publisher results into new results; \
             artifacts, digests and successful publishers are immutable",
            current.release_number, current.project
        )));
    }
    let all_ok = artifacts.iter().flat_map(|a| &a.publishers).all(|p| p.success);
    let expected = if all_ok { ReleaseStatus::Complete } else { ReleaseStatus::Partial };
    if status != expected {
        return Err(conflict(format!(
            "release {} of {}: status `{status}` does not match the publisher results (expected `{expected}`)",
            current.release_number, current.project
        )));
    }
    Ok(())
}

fn deployment_from_row(row: &AnyRow) -> Result<Deployment> {
    Ok(Deployment {
        id: parse(row, "id")?,
        release_id: parse(row, "release_id")?,
        repository: parse(row, "repository")?,
        project: parse(row, "project")?,
        environment: parse(row, "environment")?,
        release_number: u64_col(row, "release_number")?,
        status: parse(row, "status")?,
        deployed_by: get(row, "deployed_by")?,
        approved_by: get(row, "approved_by")?,
        gitops_commit: get(row, "gitops_commit")?,
        rollback: get::<i64>(row, "rollback")? != 0,
        created_at: from_ts(get(row, "created_at")?)?,
    })
}

fn approval_from_row(row: &AnyRow) -> Result<Approval> {
    Ok(Approval {
        id: parse(row, "id")?,
        release_id: parse(row, "release_id")?,
        environment: parse(row, "environment")?,
        approver: get(row, "approver")?,
        comment: get(row, "comment")?,
        created_at: from_ts(get(row, "created_at")?)?,
        expires_at: from_ts(get(row, "expires_at")?)?,
    })
}

fn job_from_row(row: &AnyRow) -> Result<JobRecord> {
    let kind: String = get(row, "kind")?;
    Ok(JobRecord {
        job_id: parse(row, "job_id")?,
        run_id: parse(row, "run_id")?,
        kind: serde_json::from_value(serde_json::Value::String(kind))
            .map_err(|e| Error::other(COMPONENT, "stored job kind is invalid", e))?,
        status: parse(row, "status")?,
        result_path: get(row, "result_path")?,
        error: get(row, "error")?,
        updated_at: from_ts(get(row, "updated_at")?)?,
        expires_at: from_ts(get(row, "expires_at")?)?,
    })
}

/// The alias set of a new release: numeric, tag and branch from the trigger, then the extra
/// aliases of the request (branch aliases get the number appended), deduplicated.
fn release_aliases(req: &CreateRelease, number: u64) -> Vec<ReleaseAlias> {
    let project = req.project.as_str();
    let mut out = aliases_for(number, project, req.trigger.tag.as_deref(), req.trigger.branch.as_deref());
    for a in &req.aliases {
        let alias = match a.kind {
            AliasKind::Branch => branch_alias(&a.alias, number),
            AliasKind::Tag => tag_alias(&a.alias, project),
            AliasKind::Numeric => number.to_string(),
            AliasKind::Custom => a.alias.clone(),
        };
        if !out.iter().any(|o| o.alias == alias) {
            out.push(ReleaseAlias { kind: a.kind, alias });
        }
    }
    out
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        q("SELECT 1 AS one").fetch_one(&self.pool).await.map_err(|e| db_err("pinging the database", e))?;
        Ok(())
    }

    async fn register_repository(&self, req: &RegisterRepository, actor: &str) -> Result<Created<Repository>> {
        let mut tx = self.begin_write().await?;
        let res =
            q("INSERT INTO repositories (repository, clone_url, created_by, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (repository) DO NOTHING")
            .bind(req.repository.to_string())
            .bind(req.clone_url.clone())
            .bind(actor.to_owned())
            .bind(ts(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("registering a repository", e))?;
        let created = res.rows_affected() == 1;
        if created {
            Self::audit(&mut tx, actor, "repository.register", &format!("repository:{}", req.repository), None).await?;
        }
        Self::commit(tx).await?;
        Ok(Created { value: req.repository.clone(), created })
    }

    async fn repository_exists(&self, repo: &Repository) -> Result<bool> {
        let row = q("SELECT COUNT(*) AS n FROM repositories WHERE repository = $1")
            .bind(repo.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| db_err("reading repositories", e))?;
        Ok(get::<i64>(&row, "n")? > 0)
    }

    async fn create_run(&self, req: &CreateRun, actor: &str) -> Result<Created<PipelineRun>> {
        let repo = req.repository.to_string();
        let sha = req.commit_sha.to_string();
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, &format!("run:{repo}@{sha}")).await?;
        let registered = q("SELECT COUNT(*) AS n FROM repositories WHERE repository = $1")
            .bind(repo.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db_err("reading repositories", e))?;
        if get::<i64>(&registered, "n")? == 0 {
            return Err(Error::Validation {
                component: "api",
                field: "repository".into(),
                message: format!(
                    "repository `{repo}` is not registered; an operator registers it with POST /v1/repositories"
                ),
            });
        }
        let latest = q("SELECT * FROM runs WHERE repository = $1 AND commit_sha = $2 ORDER BY attempt DESC LIMIT 1")
            .bind(repo.clone())
            .bind(sha.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_err("reading runs", e))?;
        let attempt = match &latest {
            Some(row) if !req.rerun => {
                let run = Self::run_from_row(row)?;
                drop(tx);
                let run = self.get_run(run.id).await?;
                return Ok(Created { value: run, created: false });
            }
            Some(row) => get::<i64>(row, "attempt")? + 1,
            None => 1,
        };
        let now = Utc::now();
        let run = PipelineRun {
            id: Uuid::new_v4(),
            repository: req.repository.clone(),
            commit_sha: req.commit_sha,
            branch: req.branch.clone(),
            tag: req.tag.clone(),
            attempt: u32::try_from(attempt).map_err(|_| conflict("too many attempts".into()))?,
            status: RunStatus::Pending,
            actor: actor.to_owned(),
            created_at: DateTime::from_timestamp_micros(ts(now)).unwrap_or(now),
            started_at: None,
            finished_at: None,
            phases: Vec::new(),
        };
        q("INSERT INTO runs (id, repository, commit_sha, branch, tag, attempt, status, actor, created_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(run.id.to_string())
        .bind(repo)
        .bind(sha)
        .bind(run.branch.clone())
        .bind(run.tag.clone())
        .bind(attempt)
        .bind(run.status.as_str().to_owned())
        .bind(actor.to_owned())
        .bind(ts(run.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("creating a run", e))?;
        Self::audit(&mut tx, actor, "run.create", &format!("run:{}", run.id), Some(format!("attempt {attempt}")))
            .await?;
        Self::commit(tx).await?;
        Ok(Created { value: run, created: true })
    }

    async fn get_run(&self, id: Uuid) -> Result<PipelineRun> {
        let rid = id.to_string();
        let row = q("SELECT * FROM runs WHERE id = $1")
            .bind(rid.clone())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_err("reading a run", e))?
            .ok_or_else(|| not_found(format!("run {id}")))?;
        let mut run = Self::run_from_row(&row)?;
        let phases = q("SELECT * FROM phases WHERE run_id = $1 ORDER BY ord")
            .bind(rid.clone())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading phases", e))?;
        let tasks = q("SELECT * FROM tasks WHERE run_id = $1 ORDER BY ord")
            .bind(rid.clone())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading tasks", e))?;
        let steps = q("SELECT * FROM steps WHERE run_id = $1 ORDER BY ord")
            .bind(rid)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading steps", e))?;
        let mut steps_by_task: HashMap<String, Vec<StepExecution>> = HashMap::new();
        for s in &steps {
            let task_id: String = get(s, "task_id")?;
            let action: String = get(s, "action")?;
            steps_by_task.entry(task_id).or_default().push(StepExecution {
                id: parse(s, "id")?,
                name: get(s, "name")?,
                action: serde_json::from_value(serde_json::Value::String(action))
                    .map_err(|e| Error::other(COMPONENT, "stored step action is invalid", e))?,
                priority: get(s, "priority")?,
                status: parse(s, "status")?,
                exit_code: get::<Option<i64>>(s, "exit_code")?.and_then(|c| i32::try_from(c).ok()),
                log_key: get(s, "log_key")?,
                error: get(s, "error")?,
                started_at: opt_ts(s, "started_at")?,
                finished_at: opt_ts(s, "finished_at")?,
            });
        }
        let mut tasks_by_phase: HashMap<String, Vec<TaskExecution>> = HashMap::new();
        for t in &tasks {
            let phase_id: String = get(t, "phase_id")?;
            let id: String = get(t, "id")?;
            tasks_by_phase.entry(phase_id).or_default().push(TaskExecution {
                id: parse(t, "id")?,
                project: parse(t, "project")?,
                project_path: get(t, "project_path")?,
                status: parse(t, "status")?,
                started_at: opt_ts(t, "started_at")?,
                finished_at: opt_ts(t, "finished_at")?,
                steps: steps_by_task.remove(&id).unwrap_or_default(),
            });
        }
        for p in &phases {
            let id: String = get(p, "id")?;
            run.phases.push(PhaseExecution {
                id: parse(p, "id")?,
                name: get(p, "name")?,
                group: u32::try_from(get::<i64>(p, "grp")?).unwrap_or(u32::MAX),
                status: parse(p, "status")?,
                started_at: opt_ts(p, "started_at")?,
                finished_at: opt_ts(p, "finished_at")?,
                tasks: tasks_by_phase.remove(&id).unwrap_or_default(),
            });
        }
        Ok(run)
    }

    async fn save_run(&self, run: &PipelineRun) -> Result<()> {
        let rid = run.id.to_string();
        let mut tx = self.begin_write().await?;
        let exists = q("SELECT COUNT(*) AS n FROM runs WHERE id = $1")
            .bind(rid.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db_err("reading a run", e))?;
        if get::<i64>(&exists, "n")? == 0 {
            return Err(not_found(format!("run {}", run.id)));
        }
        for table in ["steps", "tasks", "phases"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE run_id = $1"))
                .bind(rid.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| db_err("replacing a run plan", e))?;
        }
        for (pi, phase) in run.phases.iter().enumerate() {
            let pid = phase.id.to_string();
            q("INSERT INTO phases (id, run_id, ord, name, grp, status, started_at, finished_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(pid.clone())
            .bind(rid.clone())
            .bind(pi as i64)
            .bind(phase.name.clone())
            .bind(i64::from(phase.group))
            .bind(phase.status.as_str().to_owned())
            .bind(enc_opt_ts(phase.started_at))
            .bind(enc_opt_ts(phase.finished_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("saving a phase", e))?;
            for (ti, task) in phase.tasks.iter().enumerate() {
                let tid = task.id.to_string();
                q("INSERT INTO tasks (id, phase_id, run_id, ord, project, project_path, status, started_at, finished_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(tid.clone())
                .bind(pid.clone())
                .bind(rid.clone())
                .bind(ti as i64)
                .bind(task.project.to_string())
                .bind(task.project_path.clone())
                .bind(task.status.as_str().to_owned())
                .bind(enc_opt_ts(task.started_at))
                .bind(enc_opt_ts(task.finished_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| db_err("saving a task", e))?;
                for (si, step) in task.steps.iter().enumerate() {
                    let action = serde_json::to_value(step.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    q("INSERT INTO steps (id, task_id, run_id, ord, name, action, priority, status, exit_code, log_key, \
                       error, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
                    .bind(step.id.to_string())
                    .bind(tid.clone())
                    .bind(rid.clone())
                    .bind(si as i64)
                    .bind(step.name.clone())
                    .bind(action)
                    .bind(step.priority)
                    .bind(step.status.as_str().to_owned())
                    .bind(step.exit_code.map(i64::from))
                    .bind(step.log_key.clone())
                    .bind(step.error.clone())
                    .bind(enc_opt_ts(step.started_at))
                    .bind(enc_opt_ts(step.finished_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_err("saving a step", e))?;
                }
            }
        }
        q("UPDATE runs SET status = $1, started_at = $2, finished_at = $3 WHERE id = $4")
            .bind(run.status.as_str().to_owned())
            .bind(enc_opt_ts(run.started_at))
            .bind(enc_opt_ts(run.finished_at))
            .bind(rid.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("saving a run", e))?;
        Self::audit(&mut tx, &run.actor, "run.plan", &format!("run:{rid}"), Some(format!("status {}", run.status)))
            .await?;
        Self::commit(tx).await
    }

    async fn cancel_run(&self, id: Uuid, actor: &str) -> Result<PipelineRun> {
        let rid = id.to_string();
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, &format!("runid:{rid}")).await?;
        let row = q("SELECT status FROM runs WHERE id = $1")
            .bind(rid.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_err("reading a run", e))?
            .ok_or_else(|| not_found(format!("run {id}")))?;
        let current: RunStatus = parse(&row, "status")?;
        current.transition(RunStatus::Cancelled).map_err(|e| conflict(e.to_string()))?;
        let now = ts(Utc::now());
        q("UPDATE runs SET status = 'cancelled', finished_at = $1 WHERE id = $2")
            .bind(now)
            .bind(rid.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("cancelling a run", e))?;
        for (table, from, to) in [
            ("steps", "running", "cancelled"),
            ("steps", "pending", "skipped"),
            ("tasks", "running", "failed"),
            ("tasks", "pending", "skipped"),
            ("phases", "running", "failed"),
            ("phases", "pending", "skipped"),
        ] {
            sqlx::query(&format!("UPDATE {table} SET status = $1, finished_at = $2 WHERE run_id = $3 AND status = $4"))
                .bind(to.to_owned())
                .bind(now)
                .bind(rid.clone())
                .bind(from.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(|e| db_err("cancelling run executions", e))?;
        }
        Self::audit(&mut tx, actor, "run.cancel", &format!("run:{rid}"), None).await?;
        Self::commit(tx).await?;
        self.get_run(id).await
    }

    async fn update_task_status(&self, id: Uuid, update: &StatusUpdate, actor: &str) -> Result<StatusChange> {
        let tid = id.to_string();
        let mut tx = self.begin_write().await?;
        let row = q("SELECT status, run_id, phase_id FROM tasks WHERE id = $1")
            .bind(tid.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_err("reading a task", e))?
            .ok_or_else(|| not_found(format!("task {id}")))?;
        let run_id: String = get(&row, "run_id")?;
        self.lock(&mut tx, &format!("runid:{run_id}")).await?;
        let current: ExecStatus = parse(&row, "status")?;
        current.transition(update.status).map_err(|e| conflict(e.to_string()))?;
        let phase_id: String = get(&row, "phase_id")?;
        set_exec_status(&mut tx, "tasks", &tid, update.status, ts(Utc::now())).await?;
        let change = Self::reaggregate(&mut tx, &run_id, &phase_id, None).await?;
        Self::audit(
            &mut tx,
            actor,
            "task.status",
            &format!("task:{tid}"),
            Some(format!("{current} -> {}", update.status)),
        )
        .await?;
        Self::commit(tx).await?;
        Ok(change)
    }

    async fn update_step_status(&self, id: Uuid, update: &StatusUpdate, actor: &str) -> Result<StatusChange> {
        let sid = id.to_string();
        let mut tx = self.begin_write().await?;
        let row = q("SELECT s.status AS status, s.run_id AS run_id, s.task_id AS task_id, t.phase_id AS phase_id \
                     FROM steps s JOIN tasks t ON t.id = s.task_id WHERE s.id = $1")
        .bind(sid.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db_err("reading a step", e))?
        .ok_or_else(|| not_found(format!("step {id}")))?;
        let run_id: String = get(&row, "run_id")?;
        self.lock(&mut tx, &format!("runid:{run_id}")).await?;
        let current: ExecStatus = parse(&row, "status")?;
        current.transition(update.status).map_err(|e| conflict(e.to_string()))?;
        let (task_id, phase_id): (String, String) = (get(&row, "task_id")?, get(&row, "phase_id")?);
        let now = ts(Utc::now());
        set_exec_status(&mut tx, "steps", &sid, update.status, now).await?;
        q("UPDATE steps SET exit_code = COALESCE($1, exit_code), log_key = COALESCE($2, log_key), \
           error = COALESCE($3, error) WHERE id = $4")
        .bind(update.exit_code.map(i64::from))
        .bind(update.log_key.clone())
        .bind(update.error.clone())
        .bind(sid.clone())
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("updating a step", e))?;
        let change = Self::reaggregate(&mut tx, &run_id, &phase_id, Some(&task_id)).await?;
        Self::audit(
            &mut tx,
            actor,
            "step.status",
            &format!("step:{sid}"),
            Some(format!("{current} -> {}", update.status)),
        )
        .await?;
        Self::commit(tx).await?;
        Ok(change)
    }

    async fn upsert_job(&self, job: &JobRecord) -> Result<()> {
        let kind = serde_json::to_value(job.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let mut tx = self.begin_write().await?;
        q("INSERT INTO jobs (job_id, run_id, kind, status, result_path, error, updated_at, expires_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, \
           result_path = excluded.result_path, error = excluded.error, updated_at = excluded.updated_at, \
           expires_at = excluded.expires_at")
        .bind(job.job_id.to_string())
        .bind(job.run_id.to_string())
        .bind(kind)
        .bind(job.status.as_str().to_owned())
        .bind(job.result_path.clone())
        .bind(job.error.clone())
        .bind(ts(job.updated_at))
        .bind(ts(job.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("recording a job", e))?;
        Self::audit(&mut tx, "forge", "job.status", &format!("job:{}", job.job_id), Some(job.status.to_string()))
            .await?;
        Self::commit(tx).await
    }

    async fn jobs_for_run(&self, run_id: Uuid) -> Result<Vec<JobRecord>> {
        let rows = q("SELECT * FROM jobs WHERE run_id = $1 AND expires_at > $2 ORDER BY updated_at")
            .bind(run_id.to_string())
            .bind(ts(Utc::now()))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading jobs", e))?;
        rows.iter().map(job_from_row).collect()
    }

    async fn create_release(&self, req: &CreateRelease, actor: &str) -> Result<Created<Release>> {
        let repo = req.repository.to_string();
        let project = req.project.to_string();
        let sha = req.commit_sha.to_string();
        let mut tx = self.begin_write().await?;
        // Serialise creators of one project on its counter row (created on first use).
        q("INSERT INTO release_counters (repository, project, last_number) VALUES ($1, $2, 0) \
           ON CONFLICT (repository, project) DO NOTHING")
        .bind(repo.clone())
        .bind(project.clone())
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("creating a release counter", e))?;
        let lock_sql = match self.backend {
            Backend::Postgres => {
                "SELECT last_number FROM release_counters WHERE repository = $1 AND project = $2 FOR UPDATE"
            }
            Backend::Sqlite => "SELECT last_number FROM release_counters WHERE repository = $1 AND project = $2",
        };
        let counter = q(lock_sql)
            .bind(repo.clone())
            .bind(project.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db_err("locking the release counter", e))?;
        let last: i64 = get(&counter, "last_number")?;
        let existing = q("SELECT id FROM releases WHERE repository = $1 AND project = $2 AND commit_sha = $3")
            .bind(repo.clone())
            .bind(project.clone())
            .bind(sha.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_err("reading releases", e))?;
        if let Some(row) = existing {
            let id: String = get(&row, "id")?;
            drop(tx);
            return Ok(Created { value: self.load_release(&id).await?, created: false });
        }
        let number = last + 1;
        let number_u = u64::try_from(number).map_err(|_| conflict("release counter is corrupt".into()))?;
        if let Some(expected) = req.expected_number
            && expected != number_u
        {
            drop(tx);
            return Err(conflict(format!(
                "release number {expected} of {repo}/{project} is taken: the next one is {number_u} \
                 (rebuild the release image with that number)"
            )));
        }
        q("UPDATE release_counters SET last_number = $1 WHERE repository = $2 AND project = $3")
            .bind(number)
            .bind(repo.clone())
            .bind(project.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("advancing the release counter", e))?;
        let now = Utc::now();
        let created_at = DateTime::from_timestamp_micros(ts(now)).unwrap_or(now);
        let id = Uuid::new_v4();
        let artifacts = serde_json::to_string(&req.artifacts)
            .map_err(|e| Error::other(COMPONENT, "encoding release artifacts", e))?;
        q("INSERT INTO releases (id, repository, project, commit_sha, release_number, status, trigger_type, \
           trigger_branch, trigger_tag, trigger_actor, oci_ref, oci_digest, artifacts, run_id, created_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(id.to_string())
        .bind(repo.clone())
        .bind(project.clone())
        .bind(sha)
        .bind(number)
        .bind(req.status.as_str().to_owned())
        .bind(req.trigger.kind.as_str().to_owned())
        .bind(req.trigger.branch.clone())
        .bind(req.trigger.tag.clone())
        .bind(req.trigger.actor.clone())
        .bind(req.oci_ref.clone())
        .bind(req.oci_digest.clone())
        .bind(artifacts)
        .bind(req.run_id.map(|r| r.to_string()))
        .bind(ts(created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("creating a release", e))?;
        let mut aliases = release_aliases(req, number_u);
        for a in &aliases {
            q("INSERT INTO release_aliases (release_id, repository, project, kind, alias) VALUES ($1, $2, $3, $4, $5)")
                .bind(id.to_string())
                .bind(repo.clone())
                .bind(project.clone())
                .bind(alias_kind_str(a.kind).to_owned())
                .bind(a.alias.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| db_err("creating a release alias", e))?;
        }
        Self::audit(
            &mut tx,
            actor,
            "release.create",
            &format!("release:{id}"),
            Some(format!("{repo}/{project} #{number}")),
        )
        .await?;
        Self::commit(tx).await?;
        aliases.sort();
        Ok(Created {
            value: Release {
                id,
                repository: req.repository.clone(),
                project: req.project.clone(),
                commit_sha: req.commit_sha,
                release_number: number_u,
                status: req.status,
                trigger: req.trigger.clone(),
                oci_ref: req.oci_ref.clone(),
                oci_digest: req.oci_digest.clone(),
                aliases,
                artifacts: req.artifacts.clone(),
                run_id: req.run_id,
                created_at,
            },
            created: true,
        })
    }

    async fn update_release_publishing(
        &self,
        release_id: Uuid,
        artifacts: &[ReleaseArtifact],
        status: ReleaseStatus,
        actor: &str,
    ) -> Result<Release> {
        let id = release_id.to_string();
        let mut tx = self.begin_write().await?;
        let sql = match self.backend {
            Backend::Postgres => "SELECT * FROM releases WHERE id = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT * FROM releases WHERE id = $1",
        };
        let row = q(sql)
            .bind(id.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_err("reading a release", e))?
            .ok_or_else(|| not_found(format!("release {id}")))?;
        let current = release_from_row(&row)?;
        check_publishing_update(&current, artifacts, status)?;
        let encoded =
            serde_json::to_string(artifacts).map_err(|e| Error::other(COMPONENT, "encoding release artifacts", e))?;
        q("UPDATE releases SET artifacts = $1, status = $2 WHERE id = $3")
            .bind(encoded)
            .bind(status.as_str().to_owned())
            .bind(id.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("updating a release", e))?;
        let ok = |list: &[ReleaseArtifact]| list.iter().flat_map(|a| &a.publishers).filter(|p| p.success).count();
        let retried = ok(artifacts).saturating_sub(ok(&current.artifacts));
        Self::audit(
            &mut tx,
            actor,
            "release.retry",
            &format!("release:{id}"),
            Some(format!("{} → {status}, {retried} publisher(s) recovered", current.status)),
        )
        .await?;
        Self::commit(tx).await?;
        self.load_release(&id).await
    }

    async fn get_release(&self, repo: &Repository, project: &ProjectName, id: &str) -> Result<Release> {
        let (r, p) = (repo.to_string(), project.to_string());
        // 1. exact alias
        let by_alias = q("SELECT r.* FROM release_aliases a JOIN releases r ON r.id = a.release_id \
                          WHERE a.repository = $1 AND a.project = $2 AND a.alias = $3 ORDER BY r.release_number LIMIT 1")
        .bind(r.clone())
        .bind(p.clone())
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_err("resolving a release alias", e))?;
        if let Some(row) = by_alias {
            return self.with_aliases(release_from_row(&row)?).await;
        }
        // 2. release number
        if !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = id.parse::<i64>()
        {
            let row = q("SELECT * FROM releases WHERE repository = $1 AND project = $2 AND release_number = $3")
                .bind(r.clone())
                .bind(p.clone())
                .bind(n)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| db_err("resolving a release number", e))?;
            if let Some(row) = row {
                return self.with_aliases(release_from_row(&row)?).await;
            }
        }
        // 3. unique commit-SHA prefix
        if is_sha_prefix(id) {
            let prefix = id.to_ascii_lowercase();
            let rows = q("SELECT id, release_number, commit_sha FROM releases WHERE repository = $1 AND project = $2 \
                          AND commit_sha LIKE $3 ORDER BY release_number LIMIT 20")
            .bind(r)
            .bind(p)
            .bind(format!("{prefix}%"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("resolving a commit prefix", e))?;
            match rows.len() {
                0 => {}
                1 => return self.load_release(&get::<String>(&rows[0], "id")?).await,
                _ => {
                    let mut candidates = Vec::new();
                    for row in &rows {
                        candidates.push(format!(
                            "{} ({})",
                            get::<i64>(row, "release_number")?,
                            get::<String>(row, "commit_sha")?
                        ));
                    }
                    return Err(conflict(format!(
                        "release id `{id}` is an ambiguous commit prefix; candidates: {}; use a longer prefix",
                        candidates.join(", ")
                    )));
                }
            }
        }
        Err(not_found(format!("release `{id}` of {repo}/{project}")))
    }

    async fn list_releases(
        &self,
        repo: &Repository,
        project: &ProjectName,
        limit: u32,
        offset: u64,
    ) -> Result<ReleasePage> {
        let (r, p) = (repo.to_string(), project.to_string());
        let total = q("SELECT COUNT(*) AS n FROM releases WHERE repository = $1 AND project = $2")
            .bind(r.clone())
            .bind(p.clone())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| db_err("counting releases", e))?;
        let total = u64_col(&total, "n")?;
        let rows = q("SELECT * FROM releases WHERE repository = $1 AND project = $2 \
                      ORDER BY release_number DESC LIMIT $3 OFFSET $4")
        .bind(r.clone())
        .bind(p.clone())
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_err("listing releases", e))?;
        let mut releases = rows.iter().map(release_from_row).collect::<Result<Vec<_>>>()?;
        if let (Some(max), Some(min)) = (releases.first(), releases.last()) {
            let alias_rows = q("SELECT a.release_id AS release_id, a.kind AS kind, a.alias AS alias \
                                FROM release_aliases a JOIN releases r ON r.id = a.release_id \
                                WHERE r.repository = $1 AND r.project = $2 AND r.release_number BETWEEN $3 AND $4")
            .bind(r)
            .bind(p)
            .bind(i64::try_from(min.release_number).unwrap_or(i64::MAX))
            .bind(i64::try_from(max.release_number).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading release aliases", e))?;
            let mut by_release: BTreeMap<String, Vec<ReleaseAlias>> = BTreeMap::new();
            for row in &alias_rows {
                by_release.entry(get(row, "release_id")?).or_default().push(alias_from_row(row)?);
            }
            for rel in &mut releases {
                rel.aliases = by_release.remove(&rel.id.to_string()).unwrap_or_default();
                rel.aliases.sort();
            }
        }
        Ok(ReleasePage { releases, total, limit, offset })
    }

    async fn record_deployment(&self, d: &Deployment) -> Result<Deployment> {
        let (repo, project, env) = (d.repository.to_string(), d.project.to_string(), d.environment.to_string());
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, &format!("deploy:{repo}/{project}@{env}")).await?;
        let superseded = q("UPDATE deployments SET status = 'superseded' \
                            WHERE repository = $1 AND project = $2 AND environment = $3 AND status = 'active'")
        .bind(repo.clone())
        .bind(project.clone())
        .bind(env.clone())
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("superseding the active deployment", e))?;
        let mut out = d.clone();
        out.status = DeploymentStatus::Active;
        out.created_at = DateTime::from_timestamp_micros(ts(d.created_at)).unwrap_or(d.created_at);
        q("INSERT INTO deployments (id, release_id, repository, project, environment, release_number, status, \
           deployed_by, approved_by, gitops_commit, rollback, created_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
        .bind(out.id.to_string())
        .bind(out.release_id.to_string())
        .bind(repo.clone())
        .bind(project.clone())
        .bind(env.clone())
        .bind(i64::try_from(out.release_number).unwrap_or(i64::MAX))
        .bind(out.status.as_str().to_owned())
        .bind(out.deployed_by.clone())
        .bind(out.approved_by.clone())
        .bind(out.gitops_commit.clone())
        .bind(i64::from(out.rollback))
        .bind(ts(out.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("recording a deployment", e))?;
        Self::audit(
            &mut tx,
            &out.deployed_by,
            if out.rollback { "deployment.rollback" } else { "deployment.create" },
            &format!("deployment:{}", out.id),
            Some(format!(
                "{repo}/{project} release {} to {env} (superseded {})",
                out.release_number,
                superseded.rows_affected()
            )),
        )
        .await?;
        Self::commit(tx).await?;
        Ok(out)
    }

    async fn purge_expired_jobs(&self) -> Result<u64> {
        let res = q("DELETE FROM jobs WHERE expires_at <= $1")
            .bind(ts(Utc::now()))
            .execute(&self.pool)
            .await
            .map_err(|e| db_err("purging expired jobs", e))?;
        Ok(res.rows_affected())
    }

    async fn list_deployments(
        &self,
        repo: &Repository,
        project: &ProjectName,
        env: &Environment,
    ) -> Result<Vec<Deployment>> {
        let rows = q("SELECT * FROM deployments WHERE repository = $1 AND project = $2 AND environment = $3 \
                      ORDER BY created_at DESC, id DESC")
        .bind(repo.to_string())
        .bind(project.to_string())
        .bind(env.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_err("listing deployments", e))?;
        rows.iter().map(deployment_from_row).collect()
    }

    async fn create_approval(&self, req: &CreateApproval, release: &Release, approver: &str) -> Result<Approval> {
        let now = Utc::now();
        let now = DateTime::from_timestamp_micros(ts(now)).unwrap_or(now);
        let approval = Approval {
            id: Uuid::new_v4(),
            release_id: release.id,
            environment: req.environment.clone(),
            approver: approver.to_owned(),
            comment: req.comment.clone(),
            created_at: now,
            expires_at: now + Duration::hours(forge_core::model::DEFAULT_APPROVAL_TTL_HOURS),
        };
        let mut tx = self.begin_write().await?;
        q("INSERT INTO approvals (id, release_id, environment, approver, comment, created_at, expires_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(approval.id.to_string())
        .bind(release.id.to_string())
        .bind(approval.environment.to_string())
        .bind(approver.to_owned())
        .bind(approval.comment.clone())
        .bind(ts(approval.created_at))
        .bind(ts(approval.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("recording an approval", e))?;
        Self::audit(
            &mut tx,
            approver,
            "approval.create",
            &format!("approval:{}", approval.id),
            Some(format!("release {} for {}", release.release_number, approval.environment)),
        )
        .await?;
        Self::commit(tx).await?;
        Ok(approval)
    }

    async fn approvals(&self, release_id: Uuid, env: &Environment) -> Result<Vec<Approval>> {
        let rows = q("SELECT * FROM approvals WHERE release_id = $1 AND environment = $2 ORDER BY created_at DESC")
            .bind(release_id.to_string())
            .bind(env.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_err("reading approvals", e))?;
        rows.iter().map(approval_from_row).collect()
    }
}

use chrono::DateTime;
