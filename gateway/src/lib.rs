//! The HTTP face of a node: pages, feed exports, streaming, webseeding.
