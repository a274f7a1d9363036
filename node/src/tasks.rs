//! The router's long-running tasks, each named and critical: the pipeline, the HTTP API, and in a
//! network the p2p swarm, gossip validation and heartbeats. If one ends or panics, the router
//! stops with one line naming it (a router that relays without validating gossip, or validates
//! without relaying, must not keep running quietly).
//!
//! For tests of that path, a debug build makes the task named in `XROUTE_FAIL_TASK` panic a
//! moment after it starts (release builds leave the hook out).

use std::{collections::HashMap, future::Future};

use tokio::task::{Id, JoinSet};

/// How a critical task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It returned without an error (only the pipeline and the API do, on shutdown).
    Returned,
    /// It returned an error.
    Failed(String),
    /// It panicked, with this message.
    Panicked(String),
    /// It was cancelled.
    Cancelled,
}

/// A critical task that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExit {
    /// The task's name.
    pub name: &'static str,
    /// How.
    pub ended: Ended,
}

impl std::fmt::Display for TaskExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name;
        match &self.ended {
            Ended::Returned => write!(f, "critical task `{name}` ended"),
            Ended::Failed(e) => write!(f, "critical task `{name}` failed: {e}"),
            Ended::Panicked(m) => write!(f, "critical task `{name}` panicked: {m}"),
            Ended::Cancelled => write!(f, "critical task `{name}` was cancelled"),
        }
    }
}

impl std::error::Error for TaskExit {}

/// The router's critical tasks.
#[derive(Debug, Default)]
pub struct Tasks {
    set: JoinSet<Result<(), String>>,
    names: HashMap<Id, &'static str>,
}

impl Tasks {
    /// Runs `task` as the critical task `name`.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let handle = if fail_on_purpose(name) {
            self.set.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                // The test hook's whole point is a real panic in a critical task.
                #[allow(clippy::panic)]
                std::panic::panic_any(format!("XROUTE_FAIL_TASK={name}"));
            })
        } else {
            self.set.spawn(task)
        };
        self.names.insert(handle.id(), name);
    }

    /// The next task to end, or `None` when none is left.
    pub async fn next_exit(&mut self) -> Option<TaskExit> {
        let (id, ended) = match self.set.join_next_with_id().await? {
            Ok((id, Ok(()))) => (id, Ended::Returned),
            Ok((id, Err(e))) => (id, Ended::Failed(e)),
            Err(e) => {
                let id = e.id();
                if e.is_panic() {
                    let payload = e.into_panic();
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "(no message)".into());
                    (id, Ended::Panicked(message))
                } else {
                    (id, Ended::Cancelled)
                }
            }
        };
        let name = self.names.remove(&id).unwrap_or("unnamed");
        Some(TaskExit { name, ended })
    }

    /// The names of the tasks still running.
    pub fn running(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.names.values().copied().collect();
        names.sort_unstable();
        names
    }

    /// Stops every task still running.
    pub async fn shutdown(&mut self) {
        self.set.shutdown().await;
        self.names.clear();
    }
}

/// Whether a debug build was asked to make task `name` panic (`XROUTE_FAIL_TASK`).
fn fail_on_purpose(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("XROUTE_FAIL_TASK").is_ok_and(|v| v == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_task_to_end_is_named_with_how_it_ended() {
        let mut tasks = Tasks::default();
        tasks.spawn("forever", std::future::pending());
        tasks.spawn("panics", async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let v: Vec<u8> = Vec::new();
            let _ = v[1]; // an index out of bounds, as a bug would
            Ok(())
        });
        let exit = tasks.next_exit().await.unwrap();
        assert_eq!(exit.name, "panics");
        assert!(
            matches!(&exit.ended, Ended::Panicked(m) if m.contains("index out of bounds")),
            "{exit}"
        );
        assert!(
            exit.to_string()
                .starts_with("critical task `panics` panicked")
        );
        assert_eq!(tasks.running(), ["forever"]);

        tasks.spawn("fails", async { Err("the listener closed".to_string()) });
        let exit = tasks.next_exit().await.unwrap();
        assert_eq!(
            exit.to_string(),
            "critical task `fails` failed: the listener closed"
        );
        tasks.shutdown().await;
        assert!(tasks.running().is_empty());
        assert!(tasks.next_exit().await.is_none());
    }
}
