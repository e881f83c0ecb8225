-- Forge API schema (PostgreSQL). Identifiers are TEXT (UUIDs, validated names), times are
-- microseconds since the Unix epoch (BIGINT) so that both backends share one store.
CREATE TABLE repositories (
    repository  TEXT PRIMARY KEY,
    clone_url   TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    repository  TEXT NOT NULL REFERENCES repositories (repository),
    commit_sha  TEXT NOT NULL,
    branch      TEXT,
    tag         TEXT,
    attempt     BIGINT NOT NULL,
    status      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    UNIQUE (repository, commit_sha, attempt)
);
CREATE INDEX runs_created_idx ON runs (created_at);

CREATE TABLE phases (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ord         BIGINT NOT NULL,
    name        TEXT NOT NULL,
    grp         BIGINT NOT NULL,
    status      TEXT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT
);
CREATE INDEX phases_run_idx ON phases (run_id, ord);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    phase_id     TEXT NOT NULL REFERENCES phases (id) ON DELETE CASCADE,
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ord          BIGINT NOT NULL,
    project      TEXT NOT NULL,
    project_path TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX tasks_run_idx ON tasks (run_id);
CREATE INDEX tasks_phase_idx ON tasks (phase_id, ord);

CREATE TABLE steps (
    id          TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ord         BIGINT NOT NULL,
    name        TEXT NOT NULL,
    action      TEXT NOT NULL,
    priority    BIGINT NOT NULL,
    status      TEXT NOT NULL,
    exit_code   BIGINT,
    log_key     TEXT,
    error       TEXT,
    started_at  BIGINT,
    finished_at BIGINT
);
CREATE INDEX steps_run_idx ON steps (run_id);
CREATE INDEX steps_task_idx ON steps (task_id, ord);

CREATE TABLE jobs (
    job_id      TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    result_path TEXT,
    error       TEXT,
    updated_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX jobs_run_idx ON jobs (run_id);
CREATE INDEX jobs_expiry_idx ON jobs (expires_at);

CREATE TABLE release_counters (
    repository  TEXT NOT NULL,
    project     TEXT NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (repository, project)
);

CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    repository     TEXT NOT NULL,
    project        TEXT NOT NULL,
    commit_sha     TEXT NOT NULL,
    release_number BIGINT NOT NULL,
    status         TEXT NOT NULL,
    trigger_type   TEXT NOT NULL,
    trigger_branch TEXT,
    trigger_tag    TEXT,
    trigger_actor  TEXT NOT NULL,
    oci_ref        TEXT NOT NULL,
    oci_digest     TEXT NOT NULL,
    artifacts      TEXT NOT NULL,
    run_id         TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (repository, project, commit_sha),
    UNIQUE (repository, project, release_number)
);
CREATE INDEX releases_sha_idx ON releases (repository, project, commit_sha text_pattern_ops);

CREATE TABLE release_aliases (
    release_id TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    project    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    alias      TEXT NOT NULL,
    UNIQUE (release_id, alias)
);
CREATE INDEX release_aliases_lookup_idx ON release_aliases (repository, project, alias);

CREATE TABLE deployments (
    id             TEXT PRIMARY KEY,
    release_id     TEXT NOT NULL REFERENCES releases (id),
    repository     TEXT NOT NULL,
    project        TEXT NOT NULL,
    environment    TEXT NOT NULL,
    release_number BIGINT NOT NULL,
    status         TEXT NOT NULL,
    deployed_by    TEXT NOT NULL,
    approved_by    TEXT,
    gitops_commit  TEXT,
    rollback       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX deployments_one_active_idx ON deployments (repository, project, environment) WHERE status = 'active';
CREATE INDEX deployments_history_idx ON deployments (repository, project, environment, created_at);

CREATE TABLE approvals (
    id          TEXT PRIMARY KEY,
    release_id  TEXT NOT NULL REFERENCES releases (id),
    environment TEXT NOT NULL,
    approver    TEXT NOT NULL,
    comment     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX approvals_lookup_idx ON approvals (release_id, environment);

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT,
    at      BIGINT NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_target_idx ON audit_log (target);
