//! Sliding-window rate limits (SPEC §9): 100 run creations per minute per repository and 10
//! deployments per minute per environment by default.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimits;
use crate::error::ApiError;

/// Counts requests per key in a sliding one-minute window.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// A limiter with the given limits per minute.
    pub fn new(limits: RateLimits) -> Self {
        Self { limits, window: Duration::from_secs(60), hits: Mutex::new(HashMap::new()) }
    }

    /// Counts a run creation for `repository`.
    pub fn run_created(&self, repository: &str) -> Result<(), ApiError> {
        self.hit(&format!("runs:{repository}"), self.limits.runs_per_minute)
    }

    /// Counts a deployment to `environment`.
    pub fn deployment(&self, environment: &str) -> Result<(), ApiError> {
        self.hit(&format!("deployments:{environment}"), self.limits.deployments_per_minute)
    }

    fn hit(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let q = hits.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(ApiError::RateLimited { scope: key.to_owned(), retry_after: wait.as_secs().max(1) });
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let rl = RateLimiter::new(RateLimits { runs_per_minute: 2, deployments_per_minute: 1 });
        assert!(rl.run_created("a/b").is_ok());
        assert!(rl.run_created("a/b").is_ok());
        assert!(matches!(rl.run_created("a/b"), Err(ApiError::RateLimited { retry_after: 1..=60, .. })));
        assert!(rl.run_created("a/c").is_ok());
        assert!(rl.deployment("dev").is_ok());
        assert!(rl.deployment("dev").is_err());
        assert!(rl.deployment("prod").is_ok());
    }
}
