//! Roles and the permission table of SPEC §8, as pure data.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A role carried in the identity token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Reads everything, deploys to dev.
    Developer,
    /// Reads, approves.
    Approver,
    /// Everything.
    Operator,
    /// Automation: creates runs, releases, updates statuses, deploys by policy.
    ServiceAccount,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Developer, Role::Approver, Role::Operator, Role::ServiceAccount];
    /// The wire name (`service-account`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Developer => "developer",
            Self::Approver => "approver",
            Self::Operator => "operator",
            Self::ServiceAccount => "service-account",
        }
    }
    /// Parses a role claim value; unknown values are ignored by callers.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action guarded by the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read runs, releases, deployments.
    Read,
    /// Create a run.
    CreateRun,
    /// Update a task or step status.
    UpdateStatus,
    /// Create a release.
    CreateRelease,
    /// Deploy to `dev`.
    DeployDev,
    /// Deploy to any other environment.
    DeployOther,
    /// Create an approval.
    CreateApproval,
    /// Register a repository.
    RegisterRepository,
    /// Cancel a run.
    CancelRun,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 9] = [
        Action::Read,
        Action::CreateRun,
        Action::UpdateStatus,
        Action::CreateRelease,
        Action::DeployDev,
        Action::DeployOther,
        Action::CreateApproval,
        Action::RegisterRepository,
        Action::CancelRun,
    ];

    /// The deploy action for an environment: `dev` is [`Action::DeployDev`].
    pub fn deploy_to(environment: &str) -> Self {
        if environment == "dev" { Self::DeployDev } else { Self::DeployOther }
    }
}

/// Whether `role` may perform `action` (SPEC §8). Service accounts deploy to other
/// environments subject to policy, which is checked separately.
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        Read => true,
        CreateRun | UpdateStatus | CreateRelease => matches!(role, Operator | ServiceAccount),
        DeployDev => matches!(role, Developer | Operator | ServiceAccount),
        DeployOther => matches!(role, Operator | ServiceAccount),
        CreateApproval => matches!(role, Approver | Operator),
        RegisterRepository | CancelRun => matches!(role, Operator),
    }
}

/// Whether any of `roles` allows `action`.
pub fn roles_allow<'a>(roles: impl IntoIterator<Item = &'a Role>, action: Action) -> bool {
    roles.into_iter().any(|r| role_allows(*r, action))
}
