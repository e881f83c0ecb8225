//! The queue conformance suite against the embedded queue and (with feature `sqs`) SQS on moto.

mod common;

use std::time::Duration;

use forge_exec::queue::{EmbeddedQueue, QueueSettings, conformance};

fn embedded(vt: Duration) -> EmbeddedQueue {
    EmbeddedQueue::new(QueueSettings::TASKS.with_visibility(vt))
}

#[tokio::test]
async fn embedded_send_receive_ack() {
    conformance::send_receive_ack(&embedded(Duration::from_secs(1))).await;
}

#[tokio::test]
async fn embedded_at_least_once() {
    conformance::at_least_once(&embedded(Duration::from_secs(1)), 200).await;
}

#[tokio::test]
async fn embedded_visibility_expiry_redelivers() {
    let vt = Duration::from_millis(300);
    conformance::visibility_expiry_redelivers(&embedded(vt), vt).await;
}

#[tokio::test]
async fn embedded_release_redelivers_at_once() {
    conformance::release_redelivers_at_once(&embedded(Duration::from_secs(30))).await;
}

#[tokio::test]
async fn embedded_extension_keeps_job_invisible() {
    let vt = Duration::from_millis(300);
    conformance::extension_keeps_job_invisible(&embedded(vt), vt).await;
}

#[tokio::test]
async fn embedded_dead_letter_after_max_receives() {
    let q = embedded(Duration::from_secs(30));
    let dlq = q.dead_letter().expect("embedded queues have a dead-letter queue");
    conformance::dead_letter_after_max_receives(&q, dlq.as_ref(), QueueSettings::TASKS.max_receives).await;
}

#[tokio::test]
async fn embedded_long_poll_waits_and_wakes() {
    conformance::long_poll_waits_and_wakes(&embedded(Duration::from_secs(30)), Duration::from_millis(400)).await;
}

#[tokio::test(start_paused = true)]
async fn embedded_dead_letter_after_expiries_in_virtual_time() {
    // Expiry (not release) also counts receives: 3 expiries, then the DLQ.
    let q = embedded(Duration::from_secs(1800));
    let job = conformance::sample_job();
    forge_core::ports::JobQueue::send(&q, &job).await.expect("send");
    for n in 1..=3 {
        let got = forge_core::ports::JobQueue::receive(&q, 1, Duration::from_secs(3600)).await.expect("receive");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].receive_count, n);
    }
    let got = forge_core::ports::JobQueue::receive(&q, 1, Duration::from_secs(3600)).await.expect("receive");
    assert!(got.is_empty());
    assert_eq!(q.dead_letter().map(|d| d.len()), Some(1));
}

#[cfg(feature = "sqs")]
mod sqs {
    use std::time::Duration;

    use forge_exec::queue::sqs::{SqsClient, SqsQueue, ensure_queues};
    use forge_exec::queue::{QueueSettings, conformance};

    use super::common::{moto_available, unique_name};

    async fn queue(vt: Duration) -> (SqsQueue, SqsQueue) {
        let client = SqsClient::from_env().await;
        let urls = ensure_queues(&client, &unique_name("conf"), QueueSettings::TASKS.with_visibility(vt))
            .await
            .expect("create queues on moto");
        (SqsQueue::new(client.clone(), urls.queue), SqsQueue::new(client, urls.dead_letter))
    }

    #[tokio::test]
    async fn sqs_send_receive_ack() {
        if !moto_available("sqs_send_receive_ack") {
            return;
        }
        conformance::send_receive_ack(&queue(Duration::from_secs(2)).await.0).await;
    }

    #[tokio::test]
    async fn sqs_at_least_once() {
        if !moto_available("sqs_at_least_once") {
            return;
        }
        conformance::at_least_once(&queue(Duration::from_secs(5)).await.0, 25).await;
    }

    #[tokio::test]
    async fn sqs_visibility_expiry_redelivers() {
        if !moto_available("sqs_visibility_expiry_redelivers") {
            return;
        }
        let vt = Duration::from_secs(1);
        conformance::visibility_expiry_redelivers(&queue(vt).await.0, vt).await;
    }

    #[tokio::test]
    async fn sqs_release_redelivers_at_once() {
        if !moto_available("sqs_release_redelivers_at_once") {
            return;
        }
        conformance::release_redelivers_at_once(&queue(Duration::from_secs(30)).await.0).await;
    }

    #[tokio::test]
    async fn sqs_extension_keeps_job_invisible() {
        if !moto_available("sqs_extension_keeps_job_invisible") {
            return;
        }
        let vt = Duration::from_secs(2);
        conformance::extension_keeps_job_invisible(&queue(vt).await.0, vt).await;
    }

    #[tokio::test]
    async fn sqs_dead_letter_after_max_receives() {
        if !moto_available("sqs_dead_letter_after_max_receives") {
            return;
        }
        let (q, dlq) = queue(Duration::from_secs(30)).await;
        conformance::dead_letter_after_max_receives(&q, &dlq, QueueSettings::TASKS.max_receives).await;
    }

    #[tokio::test]
    async fn sqs_long_poll_waits_and_wakes() {
        if !moto_available("sqs_long_poll_waits_and_wakes") {
            return;
        }
        conformance::long_poll_waits_and_wakes(&queue(Duration::from_secs(30)).await.0, Duration::from_secs(2)).await;
    }

    #[tokio::test]
    async fn ensure_queues_sets_spec_attributes_and_is_idempotent() {
        if !moto_available("ensure_queues_sets_spec_attributes_and_is_idempotent") {
            return;
        }
        let client = SqsClient::from_env().await;
        let name = unique_name("spec");
        let a = ensure_queues(&client, &name, QueueSettings::DISCOVERY).await.expect("create");
        let b = ensure_queues(&client, &name, QueueSettings::DISCOVERY).await.expect("again");
        assert_eq!(a, b);
        assert!(a.dead_letter.ends_with(&format!("{name}-dlq")));
        let c = ensure_queues(&client, &name, QueueSettings::TASKS).await.expect("update");
        assert_eq!(a, c);
    }
}
