//! Turning files into torrents, the local keystore, and the publish flow.
