//! The node's error type.

use std::net::SocketAddr;

/// What can stop the node or one of its operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Dht(#[from] engine::dht::DhtError),
    #[error(transparent)]
    Data(#[from] publisher::Error),
    #[error(transparent)]
    DataDir(#[from] data_dir::Error),
    #[error(transparent)]
    Feed(#[from] feeds::Error),
    #[error("accounts: {0}")]
    Accounts(#[from] accounts::Error),
    #[error(transparent)]
    Outbound(#[from] super::OutboundError),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("{0}")]
    Fetch(String),
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
