//! Requests written on a raw socket, for tests about how a server treats its clients (stalled
//! heads and bodies, huge heads, clients that stop reading): the answer as it came on the
//! wire, head and body apart.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// An answer as read off the socket.
pub struct RawAnswer {
    pub status: u16,
    /// The status line and headers, without the blank line.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection to `addr` whose reads give up after `limit`.
pub fn connect(addr: impl ToSocketAddrs, limit: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server under test");
    stream
        .set_read_timeout(Some(limit))
        .expect("set a read timeout");
    stream
}

/// A connection to `addr` leaving from `source` (any of 127.0.0.0/8 on Linux), so a server
/// counting clients by address sees another client.
pub fn connect_from(addr: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect(&addr.into())?;
    Ok(socket.into())
}

/// Writes one `Connection: close` request; `body` of `Some` comes with its `Content-Length`,
/// `None` sends neither.
pub fn send(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<()> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(body) = body {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes())?;
    stream.write_all(body.unwrap_or_default())
}

/// Reads an answer until the server closes (a reset after the answer counts as closing);
/// `None` on a timeout or when no HTTP head came.
pub fn read_answer(stream: &mut TcpStream) -> Option<RawAnswer> {
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw)
        && e.kind() != ErrorKind::ConnectionReset
    {
        return None;
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(RawAnswer {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
}
