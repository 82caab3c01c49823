//! What the verification benches share: their clock origin, their knobs and the median.

use std::time::Duration;

/// The time of the first bench entry (Unix seconds; any fixed time will do).
pub const T0: u64 = 1_780_000_000;

/// The median of `times` (the upper one of an even count).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// The number in environment variable `name`, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
