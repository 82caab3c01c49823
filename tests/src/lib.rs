//! End-to-end tests live in `tests/tests/`; this library holds their shared harness.

pub mod accounts;
pub mod binary;
pub mod browser;
pub mod commands;
pub mod dht;
pub mod fake_node;
pub mod files;
pub mod html_check;
pub mod http;
pub mod inert;
pub mod netns;
pub mod network;
pub mod node;
pub mod poll;
pub mod process;
pub mod raw_http;
pub mod smtp;
pub mod solo;
pub mod tracker;
pub mod web;
