//! Job queues (SPEC §3.3): the always-on [`embedded`] adapter, the [`sqs`](self) adapter behind
//! the `sqs` feature, and the [`conformance`] suite both must pass.

use std::time::Duration;

pub mod conformance;
pub mod embedded;
#[cfg(feature = "sqs")]
pub mod sqs;

pub use embedded::EmbeddedQueue;

/// Long-poll wait used by workers (SPEC §3.3: 20 s, the SQS maximum).
pub const LONG_POLL: Duration = Duration::from_secs(20);

/// Receives after which a message goes to the dead-letter queue (SPEC §3.3).
pub const MAX_RECEIVES: u32 = 3;

/// The settings of one queue and its dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// How long a received message stays invisible unless extended.
    pub visibility_timeout: Duration,
    /// How long an unreceived message is kept.
    pub retention: Duration,
    /// Receives after which the message moves to the dead-letter queue.
    pub max_receives: u32,
}

impl QueueSettings {
    /// The discovery queue: visibility 300 s, retention 3600 s, DLQ after 3 receives.
    pub const DISCOVERY: Self = Self {
        visibility_timeout: Duration::from_secs(300),
        retention: Duration::from_secs(3600),
        max_receives: MAX_RECEIVES,
    };
    /// The tasks queue: visibility 1800 s, retention 7200 s, DLQ after 3 receives.
    pub const TASKS: Self = Self {
        visibility_timeout: Duration::from_secs(1800),
        retention: Duration::from_secs(7200),
        max_receives: MAX_RECEIVES,
    };

    /// The same settings with another visibility timeout (tests use seconds).
    pub fn with_visibility(mut self, visibility_timeout: Duration) -> Self {
        self.visibility_timeout = visibility_timeout;
        self
    }
}
