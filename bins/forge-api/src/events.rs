//! Event sinks: [`LogSink`] writes events to the log (the default).

use async_trait::async_trait;
use forge_core::ports::{Event, EventSink};

/// Logs every event as one structured line.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

#[async_trait]
impl EventSink for LogSink {
    async fn emit(&self, event: &Event) -> forge_core::Result<()> {
        let kind = serde_json::to_value(event.kind).unwrap_or_default();
        tracing::info!(target: "forge_api::events", event = %kind, time = %event.time, data = %event.data, "event");
        Ok(())
    }
}
