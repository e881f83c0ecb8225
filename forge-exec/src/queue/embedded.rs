//! An in-process [`JobQueue`] with the semantics of SQS standard queues: a received message
//! is invisible for the visibility timeout and then redelivered, the receive count grows with
//! each delivery, a message received `max_receives` times moves to the dead-letter queue on its
//! next receive, and `receive` long-polls.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_core::model::Job;
use forge_core::ports::{Delivery, JobQueue};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::QueueSettings;

struct Message {
    job: Job,
    receive_count: u32,
    generation: u64,
    sent: Instant,
    sent_at: DateTime<Utc>,
    invisible_until: Option<Instant>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<u64>,
    messages: HashMap<u64, Message>,
    in_flight: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    next_id: u64,
}

/// The embedded queue. Cheap to share behind an `Arc`.
pub struct EmbeddedQueue {
    settings: QueueSettings,
    state: Mutex<State>,
    notify: Notify,
    dead_letter: Option<Arc<EmbeddedQueue>>,
}

impl std::fmt::Debug for EmbeddedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedQueue").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn parse_receipt(receipt: &str) -> Option<(u64, u64)> {
    let (id, generation) = receipt.split_once(':')?;
    Some((id.parse().ok()?, generation.parse().ok()?))
}

impl EmbeddedQueue {
    /// A queue with its own dead-letter queue (reachable through [`Self::dead_letter`]).
    pub fn new(settings: QueueSettings) -> Self {
        let dlq = QueueSettings { max_receives: u32::MAX, ..settings };
        Self::with_dead_letter(settings, Some(Arc::new(Self::with_dead_letter(dlq, None))))
    }

    /// A queue that moves messages to `dead_letter` (or drops nothing, when `None`).
    pub fn with_dead_letter(settings: QueueSettings, dead_letter: Option<Arc<EmbeddedQueue>>) -> Self {
        Self { settings, state: Mutex::new(State::default()), notify: Notify::new(), dead_letter }
    }

    /// The dead-letter queue.
    pub fn dead_letter(&self) -> Option<Arc<EmbeddedQueue>> {
        self.dead_letter.clone()
    }

    /// The settings.
    pub fn settings(&self) -> QueueSettings {
        self.settings
    }

    /// Messages stored (visible or in flight).
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether no message is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, job: Job) {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        let msg = Message {
            job,
            receive_count: 0,
            generation: 0,
            sent: Instant::now(),
            sent_at: Utc::now(),
            invisible_until: None,
        };
        st.messages.insert(id, msg);
        st.ready.push_back(id);
        drop(st);
        self.notify.notify_waiters();
    }

    /// Moves expired in-flight messages back to `ready`; drops expired retention. Returns the
    /// next in-flight expiry, if any.
    fn requeue_expired(&self, st: &mut State, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, id, generation))) = st.in_flight.peek().copied() {
            if at > now {
                return Some(at);
            }
            st.in_flight.pop();
            if let Some(m) = st.messages.get_mut(&id)
                && m.generation == generation
                && m.invisible_until == Some(at)
            {
                m.invisible_until = None;
                st.ready.push_back(id);
            }
        }
        None
    }

    fn take(&self, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let now = Instant::now();
        let mut dead = Vec::new();
        let mut out = Vec::new();
        let mut st = self.lock();
        let next_expiry = self.requeue_expired(&mut st, now);
        while out.len() < max {
            let Some(id) = st.ready.pop_front() else { break };
            let Some(m) = st.messages.get_mut(&id) else { continue };
            if m.invisible_until.is_some() {
                continue; // stale entry
            }
            if now.duration_since(m.sent) > self.settings.retention {
                st.messages.remove(&id);
                continue;
            }
            if m.receive_count >= self.settings.max_receives && self.dead_letter.is_some() {
                if let Some(m) = st.messages.remove(&id) {
                    dead.push(m);
                }
                continue;
            }
            m.receive_count += 1;
            m.generation += 1;
            let until = now + self.settings.visibility_timeout;
            m.invisible_until = Some(until);
            let delivery = Delivery {
                job: m.job.clone(),
                receipt: format!("{id}:{}", m.generation),
                receive_count: m.receive_count,
                sent_at: Some(m.sent_at),
            };
            let generation = m.generation;
            st.in_flight.push(Reverse((until, id, generation)));
            out.push(delivery);
        }
        let next_expiry = st.in_flight.peek().map(|Reverse((at, _, _))| *at).or(next_expiry);
        drop(st);
        if let Some(dlq) = &self.dead_letter {
            for m in dead {
                dlq.push_dead(m);
            }
        }
        (out, next_expiry)
    }

    fn push_dead(&self, m: Message) {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        // Keeps the receive count, as SQS reports it on the dead-letter queue.
        st.messages.insert(id, Message { generation: 0, invisible_until: None, ..m });
        st.ready.push_back(id);
        drop(st);
        self.notify.notify_waiters();
    }

    /// Finds the in-flight message of a receipt, if the receipt is current.
    fn with_current<R>(&self, receipt: &str, f: impl FnOnce(&mut State, u64) -> R) -> Option<R> {
        let (id, generation) = parse_receipt(receipt)?;
        let mut st = self.lock();
        let current = st.messages.get(&id).is_some_and(|m| m.generation == generation && m.invisible_until.is_some());
        current.then(|| f(&mut st, id))
    }
}

fn stale(receipt: &str) -> forge_core::Error {
    forge_core::Error::NotFound {
        component: "queue/embedded",
        what: format!("in-flight message for receipt {receipt:?} (its visibility expired or it was deleted)"),
    }
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn send(&self, job: &Job) -> forge_core::Result<()> {
        self.push(job.clone());
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> forge_core::Result<Vec<Delivery>> {
        let max = max.max(1);
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (out, next_expiry) = self.take(max);
            if !out.is_empty() {
                return Ok(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            let wake = next_expiry.map_or(deadline, |e| e.min(deadline));
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> forge_core::Result<()> {
        // Like SQS, deleting with a stale receipt is not an error.
        self.with_current(&delivery.receipt, |st, id| st.messages.remove(&id));
        Ok(())
    }

    async fn release(&self, delivery: &Delivery) -> forge_core::Result<()> {
        let done = self.with_current(&delivery.receipt, |st, id| {
            if let Some(m) = st.messages.get_mut(&id) {
                m.invisible_until = None;
                st.ready.push_back(id);
            }
        });
        done.ok_or_else(|| stale(&delivery.receipt))?;
        self.notify.notify_waiters();
        Ok(())
    }

    async fn extend_visibility(&self, delivery: &Delivery, by: Duration) -> forge_core::Result<()> {
        let done = self.with_current(&delivery.receipt, |st, id| {
            let until = Instant::now() + by;
            if let Some(m) = st.messages.get_mut(&id) {
                m.invisible_until = Some(until);
                let generation = m.generation;
                st.in_flight.push(Reverse((until, id, generation)));
            }
        });
        done.ok_or_else(|| stale(&delivery.receipt))
    }
}
