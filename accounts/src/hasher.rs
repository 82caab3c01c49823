//! The bounded pool that runs bcrypt. A cost-12 hash takes ~0.3 s of one core: it runs on a
//! blocking thread (never an async executor thread), at most `password_hash_threads` at
//! once, with at most `password_hash_queue` waiting; past that the caller gets
//! [`Error::Busy`] at once, so a flood of sign-ins queues neither memory nor latency and
//! pages keep their cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OnceCell, Semaphore};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::password;

/// Bytes beyond which a typed password is refused unread (4 bytes for each of the
/// [`password::MAX_LEN`] characters a password may have).
const MAX_VERIFY_BYTES: usize = 4 * password::MAX_LEN;

/// Runs password hashes with bounded concurrency and queue.
#[derive(Debug)]
pub(crate) struct Hasher {
    cost: u32,
    pepper: Zeroizing<[u8; 32]>,
    running: Arc<Semaphore>,
    /// Hashes running or waiting, and the most allowed (threads + queue).
    in_flight: AtomicUsize,
    capacity: usize,
    /// A hash of a random password at the same cost, verified for unknown emails so they
    /// take as long as known ones.
    dummy: OnceCell<String>,
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hasher {
    pub(crate) fn new(
        cost: u32,
        pepper: Zeroizing<[u8; 32]>,
        threads: usize,
        queue: usize,
    ) -> Self {
        Hasher {
            cost,
            pepper,
            running: Arc::new(Semaphore::new(threads)),
            in_flight: AtomicUsize::new(0),
            capacity: threads + queue,
            dummy: OnceCell::new(),
        }
    }

    /// The bcrypt cost new hashes get.
    pub(crate) fn cost(&self) -> u32 {
        self.cost
    }

    async fn run<T: Send + 'static>(
        &self,
        password: &str,
        f: impl FnOnce(&str) -> T + Send + 'static,
    ) -> Result<T> {
        let _in_flight = InFlight(&self.in_flight);
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= self.capacity {
            return Err(Error::Busy);
        }
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("hash pool closed".into()))?;
        let prehashed = password::prehash(&self.pepper, password)?;
        tokio::task::spawn_blocking(move || {
            let out = f(&prehashed);
            drop(permit);
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))
    }

    /// A new stored hash of `password`.
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let cost = self.cost;
        self.run(password, move |p| password::hash_blocking(p, cost))
            .await?
    }

    /// Whether `password` matches `stored`; with `None`, the same work against a dummy hash
    /// and always false (an unknown email costs what a known one costs).
    pub(crate) async fn verify(&self, password: &str, stored: Option<String>) -> Result<bool> {
        let (stored, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy().await?, false),
        };
        // A password far longer than any accepted one is not even normalised: it fails
        // after the same bcrypt.
        let oversized = password.len() > MAX_VERIFY_BYTES;
        let input = if oversized { "" } else { password };
        let ok = self
            .run(input, move |p| password::verify_blocking(p, &stored))
            .await?;
        Ok(ok && real && !oversized)
    }

    async fn dummy(&self) -> Result<String> {
        self.dummy
            .get_or_try_init(|| async {
                let random = crate::token::new_token()?;
                self.hash(random.expose()).await
            })
            .await
            .cloned()
    }
}
