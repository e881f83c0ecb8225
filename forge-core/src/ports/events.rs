use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;

/// The event types of SPEC §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// A run was created.
    #[serde(rename = "pipeline.run.created")]
    RunCreated,
    /// A run finished.
    #[serde(rename = "pipeline.run.completed")]
    RunCompleted,
    /// A release was created.
    #[serde(rename = "release.created")]
    ReleaseCreated,
    /// A deployment was created.
    #[serde(rename = "deployment.created")]
    DeploymentCreated,
}

/// An event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When.
    pub time: DateTime<Utc>,
    /// Entity data (no secrets).
    pub data: serde_json::Value,
}

/// Receives events (log locally; webhook in production).
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Emits an event. Delivery failures are the sink's to log; callers do not fail on them.
    async fn emit(&self, event: &Event) -> Result<()>;
}
