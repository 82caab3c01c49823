//! Time, in whole seconds since the Unix epoch. Expiry tests move a manual clock instead of
//! waiting 24 hours; production uses the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The clock every expiry and rate window reads.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stands still at the current time until [`Clock::advance`] moves it.
    pub fn manual() -> Self {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(system_now()))),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, secs: i64) {
        if let Some(t) = &self.manual {
            t.fetch_add(secs, Ordering::SeqCst);
        }
    }

    /// Seconds since the epoch.
    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => system_now(),
        }
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
