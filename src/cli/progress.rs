//! A hashing progress bar on stderr, shown only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of a hashing pass, in bytes; silent when stderr is not a terminal.
pub struct HashingBar(Option<ProgressBar>);

impl HashingBar {
    pub fn new(total: u64) -> HashingBar {
        if !std::io::stderr().is_terminal() {
            return HashingBar(None);
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "hashing {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        HashingBar(Some(bar))
    }

    /// Records `bytes` more hashed (callable from any thread).
    pub fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    /// Records `bytes` hashed in all (as a node reports it).
    pub fn set(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(bytes);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
