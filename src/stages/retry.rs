//! One retry policy for every network call (catalog GETs, uploads, pack downloads): how an
//! attempt's failure is sorted, how long to wait before the next one, and the loop that applies
//! both. Which HTTP answers and transport errors count as transient is decided in
//! [`crate::stages::http`]; what a stage does between tries (a log line, a bar message) is its callback.

use std::time::Duration;

/// How one attempt ended when it did not succeed.
#[derive(Debug)]
pub enum Attempt {
    /// Worth another try after a backoff: a cut connection, a timeout, a 5xx.
    Retry(anyhow::Error),
    /// Worth another try at once: the attempt already threw away what failed (a download's
    /// `.part` the server would not resume). Counts as a try.
    Restart(anyhow::Error),
    /// No retry will help.
    Fatal(anyhow::Error),
}

impl Attempt {
    /// [`Attempt::Retry`] when `transient`, else [`Attempt::Fatal`].
    pub fn new(err: anyhow::Error, transient: bool) -> Self {
        if transient {
            Attempt::Retry(err)
        } else {
            Attempt::Fatal(err)
        }
    }
}

/// Exponential backoff with a cap: 0.5 s, 1 s, 2 s, 4 s, then 8 s.
pub fn backoff(retry: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << retry.min(4)))
}

/// What the loop tells its caller before another try.
pub struct Retrying<'a> {
    /// Which retry this is, from 1.
    pub number: u32,
    /// Retries allowed in all.
    pub of: u32,
    /// The wait before it; `None` for a [`Attempt::Restart`], which goes at once.
    pub wait: Option<Duration>,
    /// Why the last attempt failed.
    pub error: &'a anyhow::Error,
}

/// The last failure, once no retry is left or none would help.
#[derive(Debug)]
pub struct GaveUp {
    pub error: anyhow::Error,
    /// Retries made before giving up (0: the first attempt's failure was final).
    pub retries: u32,
    /// The failure before the last, as text, when there was one.
    pub earlier: Option<String>,
}

/// Runs `attempt` until it succeeds, fails for good, or `retries` retries are spent, waiting
/// [`backoff`] before each [`Attempt::Retry`]; `on_retry` hears of each retry before it starts.
pub async fn run<T, Try: Future<Output = Result<T, Attempt>>>(
    retries: u32,
    mut attempt: impl FnMut() -> Try,
    mut on_retry: impl FnMut(&Retrying),
) -> Result<T, GaveUp> {
    let mut done = 0;
    let mut earlier: Option<String> = None;
    loop {
        let (error, wait) = match attempt().await {
            Ok(value) => return Ok(value),
            Err(Attempt::Retry(error)) if done < retries => (error, Some(backoff(done))),
            Err(Attempt::Restart(error)) if done < retries => (error, None),
            Err(Attempt::Retry(error) | Attempt::Restart(error) | Attempt::Fatal(error)) => {
                return Err(GaveUp {
                    error,
                    retries: done,
                    earlier,
                });
            }
        };
        on_retry(&Retrying {
            number: done + 1,
            of: retries,
            wait,
            error: &error,
        });
        earlier = Some(format!("{error:#}"));
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
        done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(10), Duration::from_secs(8));
    }

    fn runtime() -> tokio::runtime::Runtime {
        crate::core::runtime::current_thread().unwrap()
    }

    #[test]
    fn retries_until_success_and_reports_each_retry() {
        let tries = std::cell::Cell::new(0);
        let mut heard = Vec::new();
        let result = runtime().block_on(run(
            4,
            || async {
                tries.set(tries.get() + 1);
                match tries.get() {
                    1 => Err(Attempt::Retry(anyhow::anyhow!("reset"))),
                    2 => Err(Attempt::Restart(anyhow::anyhow!("416"))),
                    n => Ok(n),
                }
            },
            |r| heard.push((r.number, r.of, r.wait, r.error.to_string())),
        ));
        assert_eq!(result.unwrap(), 3);
        assert_eq!(
            heard,
            [
                (1, 4, Some(backoff(0)), "reset".to_owned()),
                (2, 4, None, "416".to_owned())
            ]
        );
    }

    #[test]
    fn gives_up_after_the_last_retry_naming_the_one_before() {
        let tries = std::cell::Cell::new(0);
        let gave_up = runtime()
            .block_on(run(
                2,
                || async {
                    tries.set(tries.get() + 1);
                    Err::<(), _>(Attempt::Retry(anyhow::anyhow!("failure {}", tries.get())))
                },
                |_| {},
            ))
            .unwrap_err();
        assert_eq!(tries.get(), 3);
        assert_eq!(gave_up.retries, 2);
        assert_eq!(gave_up.error.to_string(), "failure 3");
        assert_eq!(gave_up.earlier.as_deref(), Some("failure 2"));
    }

    #[test]
    fn a_fatal_failure_is_not_retried() {
        let tries = std::cell::Cell::new(0);
        let gave_up = runtime()
            .block_on(run(
                4,
                || async {
                    tries.set(tries.get() + 1);
                    Err::<(), _>(Attempt::Fatal(anyhow::anyhow!("404")))
                },
                |_| panic!("no retry"),
            ))
            .unwrap_err();
        assert_eq!((tries.get(), gave_up.retries), (1, 0));
        assert!(gave_up.earlier.is_none());
    }
}
