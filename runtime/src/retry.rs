//! The one retry policy of the runtime: what happens when a task's `start`,
//! `poll`, `put`, `flush` or offset commit fails with a retriable error.
//!
//! Kafka Connect and Debezium name the knobs; Velocity honours both:
//!
//! | key | default | meaning here |
//! | --- | --- | --- |
//! | `errors.max.retries` (Debezium) | `-1` | consecutive retries of a retriable error before the task fails; `-1` unlimited, `0` none |
//! | `errors.retry.timeout` (Kafka Connect) | `0` | total time of consecutive retries, in ms; `-1` or `0` put no time bound (the count above decides) |
//! | `errors.retry.delay.max.ms` (Kafka Connect) | `60000` | the longest wait between two retries |
//!
//! The wait doubles from 300 ms (Kafka Connect's `RetryWithToleranceOperator`
//! minimum) up to `errors.retry.delay.max.ms`. A retry *restarts the task in
//! place*: the task is stopped and started again on the same object and
//! resumes from the last stored offset (source) or committed consumer
//! offset (sink), so nothing is lost and only records after the stored
//! position can be delivered twice. The task's status stays RUNNING while
//! it retries; each retry logs the error at WARN. Once the task makes
//! progress again (a poll or put succeeds) the count and the clock start
//! over. Fatal errors are never retried: the task fails at once with the
//! error's message, which names the fix.
//!
//! Kafka Connect's `errors.retry.timeout` default of 0 means "no retries"
//! for converter and transform failures; those are not retried here at
//! all (they are data errors, handled by `errors.tolerance`), so 0 is read
//! as "no time bound" and Debezium's unlimited default applies.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use velocity_api::config::ConfigExt;
use velocity_api::{ConnectError, RawConfig};

use crate::metrics::TaskMetrics;
use crate::status::TargetState;

/// The first wait (Kafka Connect's `RETRIES_DELAY_MIN_MS`).
pub const MIN_DELAY: Duration = Duration::from_millis(300);

/// The parsed retry keys of one connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `errors.max.retries`; None: unlimited.
    pub max_retries: Option<u64>,
    /// `errors.retry.timeout`; None: no time bound.
    pub timeout: Option<Duration>,
    /// `errors.retry.delay.max.ms`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: None,
            timeout: None,
            max_delay: Duration::from_millis(60_000),
        }
    }
}

impl RetryPolicy {
    /// Reads the keys from a connector config; every bad value is reported
    /// as `(key, message)`.
    pub fn from_config(config: &RawConfig) -> Result<RetryPolicy, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut take =
            |key: &str, default: i64, min: i64| match config.int_or(key, default, min, i64::MAX) {
                Ok(v) => v,
                Err(e) => {
                    errors.push((key.to_owned(), e.to_string()));
                    default
                }
            };
        let retries = take("errors.max.retries", -1, -1);
        let timeout = take("errors.retry.timeout", 0, -1);
        let delay = take("errors.retry.delay.max.ms", 60_000, 0);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RetryPolicy {
            max_retries: (retries >= 0).then_some(retries as u64),
            timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
            max_delay: Duration::from_millis(delay as u64),
        })
    }

    /// Starts counting consecutive failures.
    pub fn start(&self) -> Backoff {
        Backoff {
            policy: *self,
            attempts: 0,
            first_failure: None,
        }
    }
}

/// The state of one run of consecutive retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    attempts: u64,
    first_failure: Option<Instant>,
}

/// What to do after an error.
#[derive(Debug)]
pub enum Decision {
    /// Wait `delay`, then restart the task in place; `error` is what failed.
    Retry {
        /// The wait before the restart.
        delay: Duration,
        /// The retriable error, for the log.
        error: ConnectError,
    },
    /// Fail the task with this error.
    Fail(ConnectError),
}

impl Backoff {
    /// Retries made in the current run.
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// The task made progress: the next error starts a new run.
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.first_failure = None;
    }

    /// Decides what `error` leads to, at `now`.
    pub fn on_error(&mut self, error: ConnectError, now: Instant) -> Decision {
        if !error.is_retriable() {
            return Decision::Fail(error);
        }
        let first = *self.first_failure.get_or_insert(now);
        if let Some(max) = self.policy.max_retries {
            if self.attempts >= max {
                return Decision::Fail(ConnectError::fatal(format!(
                    "{error} (gave up after {} retries: errors.max.retries={max}; raise it, or set -1 to retry without limit)",
                    self.attempts
                )));
            }
        }
        let delay = self.delay();
        if let Some(limit) = self.policy.timeout {
            let spent = now.saturating_duration_since(first);
            if spent + delay > limit {
                return Decision::Fail(ConnectError::fatal(format!(
                    "{error} (gave up after retrying for {} ms: errors.retry.timeout={}; raise it, or set -1 to retry without a time limit)",
                    spent.as_millis(),
                    limit.as_millis()
                )));
            }
        }
        self.attempts += 1;
        Decision::Retry { delay, error }
    }

    /// 300 ms doubled per earlier retry, at most `errors.retry.delay.max.ms`.
    fn delay(&self) -> Duration {
        let shift = self.attempts.min(20) as u32;
        MIN_DELAY
            .saturating_mul(1u32 << shift)
            .min(self.policy.max_delay)
    }
}

/// Handles a failed attempt of task `label`: a fatal error (or a retriable
/// one past the policy's bounds) comes back as `Err`; otherwise the task is
/// stopped by awaiting `stop` (not polled otherwise), the error is logged at WARN and counted in
/// `total-retries`, the backoff is waited out and `Ok(true)` asks the caller
/// to start the task again in place (`Ok(false)`: the task was stopped while
/// waiting).
pub async fn after_failure(
    backoff: &mut Backoff,
    error: ConnectError,
    label: &str,
    control: &mut watch::Receiver<TargetState>,
    metrics: &TaskMetrics,
    stop: impl std::future::Future<Output = Result<(), ConnectError>>,
) -> Result<bool, ConnectError> {
    metrics.error_now();
    match backoff.on_error(error, Instant::now()) {
        Decision::Fail(e) => Err(e),
        Decision::Retry { delay, error } => {
            metrics.total_retries.inc();
            if let Err(e) = stop.await {
                tracing::warn!(task = %label, error = %e, "task stop before the retry failed");
            }
            tracing::warn!(
                task = %label,
                error = %error,
                retry = backoff.attempts(),
                delay_ms = delay.as_millis() as u64,
                "retriable error; restarting the task in place after the backoff (errors.max.retries, errors.retry.timeout, errors.retry.delay.max.ms)"
            );
            Ok(wait_unless_stopped(delay, control).await)
        }
    }
}

/// Waits `delay` unless the task is stopped meanwhile; false when stopped.
pub async fn wait_unless_stopped(
    delay: Duration,
    control: &mut watch::Receiver<TargetState>,
) -> bool {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        if *control.borrow_and_update() == TargetState::Stopped {
            return false;
        }
        tokio::select! {
            _ = &mut sleep => return true,
            r = control.changed() => if r.is_err() { return false },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use velocity_api::config::raw_config as cfg;

    fn delays(b: &mut Backoff, n: usize, now: Instant) -> Vec<u128> {
        (0..n)
            .map(|_| match b.on_error(ConnectError::retriable("down"), now) {
                Decision::Retry { delay, .. } => delay.as_millis(),
                Decision::Fail(e) => panic!("failed: {e}"),
            })
            .collect()
    }

    #[test]
    fn defaults_retry_forever_with_capped_exponential_backoff() {
        let p = RetryPolicy::from_config(&cfg(&[])).unwrap();
        assert_eq!(p, RetryPolicy::default());
        let mut b = p.start();
        let d = delays(&mut b, 12, Instant::now());
        assert_eq!(&d[..5], &[300, 600, 1200, 2400, 4800]);
        assert_eq!(d[8], 60_000);
        assert_eq!(d[11], 60_000);
        assert_eq!(b.attempts(), 12);
    }

    #[test]
    fn fatal_errors_fail_at_once() {
        let mut b = RetryPolicy::default().start();
        match b.on_error(
            ConnectError::fatal("bad password: check database.password"),
            Instant::now(),
        ) {
            Decision::Fail(e) => assert!(e.to_string().contains("database.password")),
            Decision::Retry { .. } => panic!("a fatal error was retried"),
        }
        match b.on_error(ConnectError::config("a.b", "bad"), Instant::now()) {
            Decision::Fail(e) => assert!(e.to_string().contains("a.b")),
            Decision::Retry { .. } => panic!("a config error was retried"),
        }
    }

    #[test]
    fn max_retries_bounds_the_count_and_progress_resets_it() {
        let p = RetryPolicy::from_config(&cfg(&[
            ("errors.max.retries", "2"),
            ("errors.retry.delay.max.ms", "1000"),
        ]))
        .unwrap();
        let mut b = p.start();
        let now = Instant::now();
        assert_eq!(delays(&mut b, 2, now), [300, 600]);
        match b.on_error(ConnectError::retriable("down"), now) {
            Decision::Fail(e) => {
                let m = e.to_string();
                assert!(
                    m.starts_with("down") && m.contains("errors.max.retries=2"),
                    "{m}"
                );
                assert!(!e.is_retriable());
            }
            Decision::Retry { .. } => panic!("retried past errors.max.retries"),
        }
        b.reset();
        assert_eq!(delays(&mut b, 2, now), [300, 600]);
        let none = RetryPolicy::from_config(&cfg(&[("errors.max.retries", "0")])).unwrap();
        assert!(matches!(
            none.start().on_error(ConnectError::retriable("x"), now),
            Decision::Fail(_)
        ));
    }

    #[test]
    fn retry_timeout_bounds_the_total_time() {
        let p = RetryPolicy::from_config(&cfg(&[("errors.retry.timeout", "2000")])).unwrap();
        let mut b = p.start();
        let t0 = Instant::now();
        // 300 + 600 fit in 2 s from the first failure; at 1.5 s a 1.2 s wait does not
        assert_eq!(delays(&mut b, 2, t0), [300, 600]);
        match b.on_error(
            ConnectError::retriable("down"),
            t0 + Duration::from_millis(1500),
        ) {
            Decision::Fail(e) => assert!(e.to_string().contains("errors.retry.timeout=2000")),
            Decision::Retry { delay, .. } => panic!("retried for {delay:?} past the timeout"),
        }
        // -1 and 0 put no bound on time
        for v in ["-1", "0"] {
            let p = RetryPolicy::from_config(&cfg(&[("errors.retry.timeout", v)])).unwrap();
            assert_eq!(p.timeout, None);
        }
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait() {
        let (tx, mut rx) = watch::channel(TargetState::Started);
        let waiter =
            tokio::spawn(
                async move { wait_unless_stopped(Duration::from_secs(3600), &mut rx).await },
            );
        tokio::task::yield_now().await;
        tx.send(TargetState::Stopped).unwrap();
        assert!(!waiter.await.unwrap());
        let (_tx, mut rx) = watch::channel(TargetState::Paused);
        assert!(wait_unless_stopped(Duration::from_millis(5), &mut rx).await);
    }

    #[test]
    fn bad_values_name_their_keys() {
        let errs = RetryPolicy::from_config(&cfg(&[
            ("errors.max.retries", "-2"),
            ("errors.retry.delay.max.ms", "soon"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["errors.max.retries", "errors.retry.delay.max.ms"]);
    }
}
