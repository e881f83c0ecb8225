//! The AWS SQS [`JobQueue`] adapter (feature `sqs`): long polling, visibility timeout and
//! extension, delete after the result is recorded, dead-letter queue through a redrive policy,
//! and [`ensure_queues`] to create a queue pair with SPEC §3.3's settings.
//!
//! Configuration comes from the environment the AWS way (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL` for emulators such as moto).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, Utc};
use forge_core::model::Job;
use forge_core::ports::{Delivery, JobQueue};

use super::QueueSettings;
use crate::error::Error;

/// An SQS client built from the environment. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct SqsClient {
    inner: aws_sdk_sqs::Client,
}

impl SqsClient {
    /// Loads the AWS configuration from the environment (region, credentials, endpoint).
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self { inner: aws_sdk_sqs::Client::new(&config) }
    }

    /// The URL of an existing queue.
    pub async fn queue_url(&self, name: &str) -> Result<String, Error> {
        let out =
            self.inner.get_queue_url().queue_name(name).send().await.map_err(|e| sdk_error("get_queue_url", e))?;
        out.queue_url.ok_or_else(|| missing("get_queue_url", "QueueUrl"))
    }
}

/// The URLs of a queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The job queue.
    pub queue: String,
    /// Its dead-letter queue (`<name>-dlq`).
    pub dead_letter: String,
}

fn missing(op: &str, field: &str) -> Error {
    Error::Queue {
        adapter: "sqs",
        message: format!("{op}: the response has no {field}"),
        transient: false,
        source: None,
    }
}

fn sdk_error<E, R>(op: &str, e: SdkError<E, R>) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or_default();
            code.contains("Throttl") || code.contains("ServiceUnavailable") || code.contains("InternalError")
        }
        _ => false,
    };
    let message = format!("{op}: {}", DisplayErrorContext(&e));
    Error::Queue { adapter: "sqs", message, transient, source: Some(Box::new(e)) }
}

/// Creates (or updates) the queue `name` and its dead-letter queue `name-dlq` with `settings`:
/// visibility timeout, retention, long polling of 20 s and a redrive policy after
/// `max_receives` receives. Idempotent.
pub async fn ensure_queues(client: &SqsClient, name: &str, settings: QueueSettings) -> Result<QueueUrls, Error> {
    let sqs = &client.inner;
    let dlq_name = format!("{name}-dlq");
    let dlq = sqs
        .create_queue()
        .queue_name(&dlq_name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| sdk_error("create_queue (dead-letter)", e))?
        .queue_url
        .ok_or_else(|| missing("create_queue", "QueueUrl"))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("get_queue_attributes", e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| missing("get_queue_attributes", "QueueArn"))?;
    let redrive = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": settings.max_receives.to_string()});
    let attributes: HashMap<QueueAttributeName, String> = [
        (QueueAttributeName::VisibilityTimeout, settings.visibility_timeout.as_secs().to_string()),
        (QueueAttributeName::MessageRetentionPeriod, settings.retention.as_secs().to_string()),
        (QueueAttributeName::ReceiveMessageWaitTimeSeconds, super::LONG_POLL.as_secs().to_string()),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ]
    .into_iter()
    .collect();
    let created = sqs.create_queue().queue_name(name).set_attributes(Some(attributes.clone())).send().await;
    let queue = match created {
        Ok(out) => out.queue_url.ok_or_else(|| missing("create_queue", "QueueUrl"))?,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_name_exists()) => {
            // It exists with other attributes: bring them to the SPEC settings.
            let url = client.queue_url(name).await?;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| sdk_error("set_queue_attributes", e))?;
            url
        }
        Err(e) => return Err(sdk_error("create_queue", e)),
    };
    Ok(QueueUrls { queue, dead_letter: dlq })
}

/// A job queue on one SQS queue URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: SqsClient,
    url: String,
}

impl SqsQueue {
    /// Uses the queue at `url`.
    pub fn new(client: SqsClient, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn secs(d: Duration) -> i32 {
    // Round up so that sub-second waits still poll.
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s).unwrap_or(i32::MAX)
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send(&self, job: &Job) -> forge_core::Result<()> {
        let body =
            serde_json::to_string(job).map_err(|source| Error::Json { context: "encoding job".into(), source })?;
        self.client
            .inner
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| sdk_error("send_message", e))?;
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> forge_core::Result<Vec<Delivery>> {
        let max = i32::try_from(max.clamp(1, 10)).unwrap_or(10);
        let out = self
            .client
            .inner
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(secs(wait).min(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| sdk_error("receive_message", e))?;
        let mut deliveries = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let (Some(body), Some(receipt)) = (m.body.as_deref(), m.receipt_handle.clone()) else { continue };
            let job: Job = match serde_json::from_str(body) {
                Ok(job) => job,
                Err(e) => {
                    // Left in flight: it returns after the visibility timeout and reaches the
                    // dead-letter queue after the maximum receives, where it can be inspected.
                    tracing::warn!(queue = %self.url, message_id = ?m.message_id, error = %e, "undecodable job message; leaving it for the dead-letter queue");
                    continue;
                }
            };
            let attrs = m.attributes.unwrap_or_default();
            let receive_count = attrs
                .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let sent_at = attrs
                .get(&MessageSystemAttributeName::SentTimestamp)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(DateTime::<Utc>::from_timestamp_millis);
            deliveries.push(Delivery { job, receipt, receive_count, sent_at });
        }
        Ok(deliveries)
    }

    async fn ack(&self, delivery: &Delivery) -> forge_core::Result<()> {
        self.client
            .inner
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&delivery.receipt)
            .send()
            .await
            .map_err(|e| sdk_error("delete_message", e))?;
        Ok(())
    }

    async fn release(&self, delivery: &Delivery) -> forge_core::Result<()> {
        self.extend_visibility(delivery, Duration::ZERO).await
    }

    async fn extend_visibility(&self, delivery: &Delivery, by: Duration) -> forge_core::Result<()> {
        self.client
            .inner
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&delivery.receipt)
            .visibility_timeout(secs(by).min(43_200))
            .send()
            .await
            .map_err(|e| sdk_error("change_message_visibility", e))?;
        Ok(())
    }
}
