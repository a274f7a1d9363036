//! Fail points (issue 30): places where a crash is forced on purpose, after each store write and
//! before each broadcast, to check that a router killed there loses and doubles nothing.
//!
//! Compiled in only with the `failpoints` feature (`scripts/test` builds the tested binary with
//! it); without it [`hit`] is empty. With it, `XROUTE_FAILPOINT=NAME` (or `NAME:N`) makes the
//! process abort the first (or N-th) time it reaches point `NAME`: nothing after it runs and
//! nothing is flushed, as after a power loss there.

/// Every fail point, by name.
pub const POINTS: &[&str] = &[
    "store.insert",
    "store.move",
    "store.update",
    "store.cursor",
    "store.batch",
    "store.batch_attempt",
    "relay.before_broadcast",
    "batch.before_broadcast",
    "follow_up.before_broadcast",
    "settle.before_broadcast",
];

/// The environment variable that arms a fail point.
pub const ENV: &str = "XROUTE_FAILPOINT";

/// The armed point and the hit it aborts at, if any (always `None` without the feature).
pub fn armed() -> Option<(String, u64)> {
    #[cfg(feature = "failpoints")]
    return armed::armed().clone();
    #[cfg(not(feature = "failpoints"))]
    None
}

/// Point `name` is reached.
#[inline]
pub fn hit(name: &'static str) {
    #[cfg(feature = "failpoints")]
    armed::hit(name);
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    };

    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn armed() -> &'static Option<(String, u64)> {
        ARMED.get_or_init(|| {
            let value = std::env::var(super::ENV).ok()?;
            let (name, n) = match value.split_once(':') {
                Some((name, n)) => (name.to_string(), n.parse().ok()?),
                None => (value, 1),
            };
            Some((name, n))
        })
    }

    pub(super) fn hit(name: &'static str) {
        if let Some((armed, at)) = armed()
            && armed == name
            && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *at
        {
            eprintln!("fail point {name} reached (hit {at}): aborting");
            std::process::abort();
        }
    }
}
