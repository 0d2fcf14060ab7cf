//! SIP transports: UDP sockets and TCP connections, moving bytes between the network and the
//! control task. No SIP logic here: TCP is cut into messages by `sip::message::StreamDecoder`,
//! everything else is the core's business. TLS will plug in as another stream transport.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use sip::transaction::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::config::SipConfig;

/// Receive buffer asked for on SIP UDP sockets. The kernel's default (about 208 KB) was the first
/// thing to overflow under a garbage flood in the load test, taking real requests with it.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;
/// Largest SIP message accepted over UDP (RFC 3261 §18.1.1 allows up to 65,535).
const MAX_UDP: usize = 65_535;
/// Bytes a TCP connection may buffer without completing a message before it is closed.
const MAX_STREAM_BUFFER: usize = 256 * 1024;
/// Messages queued toward one TCP connection before it is considered stuck and closed.
const TCP_QUEUE: usize = 256;

/// Bytes from the network for the control task.
#[derive(Debug)]
pub struct Inbound {
    pub transport: Transport,
    pub source: SocketAddr,
    pub data: Vec<u8>,
}

type Writers = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

pub struct Transports {
    /// Each socket with its local address, known once at bind (no syscall per send).
    udp: Vec<(Arc<UdpSocket>, SocketAddr)>,
    tcp_addrs: Vec<SocketAddr>,
    writers: Writers,
    /// UDP datagrams dropped because the control task's queue was full.
    overflow: Arc<AtomicU64>,
}

impl Transports {
    /// Binds every listen address and starts the readers.
    pub async fn bind(config: &SipConfig, inbound: mpsc::Sender<Inbound>) -> anyhow::Result<Self> {
        let writers: Writers = Arc::default();
        let overflow = Arc::new(AtomicU64::new(0));
        let mut udp = Vec::new();
        for addr in &config.udp {
            let socket = Arc::new(bind_udp(*addr).with_context(|| format!("sip.udp {addr}"))?);
            let local = socket.local_addr()?;
            tokio::spawn(read_udp(Arc::clone(&socket), inbound.clone(), Arc::clone(&overflow)));
            udp.push((socket, local));
        }
        let mut tcp_addrs = Vec::new();
        for addr in &config.tcp {
            let listener = TcpListener::bind(addr).await.with_context(|| format!("sip.tcp {addr}"))?;
            tcp_addrs.push(listener.local_addr()?);
            tokio::spawn(accept_tcp(listener, inbound.clone(), Arc::clone(&writers)));
        }
        Ok(Self { udp, tcp_addrs, writers, overflow })
    }

    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|(_, local)| *local).collect()
    }

    /// Datagrams dropped so far because the control task could not keep up.
    pub fn overflowed(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.tcp_addrs.clone()
    }

    /// Sends `data` to `destination`. Over TCP it goes on the connection from that peer, or a
    /// new one. Failures are returned for the caller to report; they never stop the worker.
    pub async fn send(&self, transport: Transport, destination: SocketAddr, data: Vec<u8>) -> anyhow::Result<()> {
        match transport {
            Transport::Udp => {
                let (socket, _) = self
                    .udp
                    .iter()
                    .find(|(_, local)| local.is_ipv4() == destination.is_ipv4())
                    .or(self.udp.first())
                    .context("no UDP socket")?;
                socket.send_to(&data, destination).await?;
                Ok(())
            }
            _ => {
                let existing = self.writers.lock().unwrap_or_else(|p| p.into_inner()).get(&destination).cloned();
                let writer = match existing {
                    Some(w) => w,
                    None => {
                        let stream = TcpStream::connect(destination).await?;
                        start_connection(stream, destination, None, Arc::clone(&self.writers))
                    }
                };
                writer.try_send(data).map_err(|e| anyhow::anyhow!("tcp {destination}: {e}"))
            }
        }
    }
}

/// A non-blocking UDP socket with a large receive buffer (the kernel may grant less: that is
/// not an error).
fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

async fn read_udp(socket: Arc<UdpSocket>, inbound: mpsc::Sender<Inbound>, overflow: Arc<AtomicU64>) {
    let mut buf = vec![0u8; MAX_UDP];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, source)) => {
                let item = Inbound { transport: Transport::Udp, source, data: buf[..n].to_vec() };
                // A full queue means the control task is overloaded: drop, as UDP would, and
                // count it so the overload is visible.
                if inbound.try_send(item).is_err() {
                    overflow.fetch_add(1, Ordering::Relaxed);
                }
            }
            // ICMP port unreachable from an earlier send shows up here on Linux: not fatal.
            Err(_) => tokio::task::yield_now().await,
        }
    }
}

async fn accept_tcp(listener: TcpListener, inbound: mpsc::Sender<Inbound>, writers: Writers) {
    loop {
        if let Ok((stream, peer)) = listener.accept().await {
            start_connection(stream, peer, Some(inbound.clone()), Arc::clone(&writers));
        }
    }
}

/// Starts the reader (when `inbound` is given) and the writer of one connection, and registers
/// its writer for `peer`.
fn start_connection(stream: TcpStream, peer: SocketAddr, inbound: Option<mpsc::Sender<Inbound>>, writers: Writers) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_QUEUE);
    writers.lock().unwrap_or_else(|p| p.into_inner()).insert(peer, tx.clone());
    let (mut read, mut write) = stream.into_split();
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if write.write_all(&data).await.is_err() {
                break;
            }
        }
    });
    if let Some(inbound) = inbound {
        let pong = tx.clone();
        tokio::spawn(async move {
            let mut decoder = sip::message::StreamDecoder::new();
            let mut buf = vec![0u8; 16 * 1024];
            'conn: loop {
                let n = match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                loop {
                    match decoder.next_item() {
                        Ok(Some(sip::message::StreamItem::Message(data))) => {
                            if inbound.send(Inbound { transport: Transport::Tcp, source: peer, data }).await.is_err() {
                                break 'conn;
                            }
                        }
                        // RFC 5626 §4.4.1: a double-CRLF ping gets a single CRLF pong.
                        Ok(Some(sip::message::StreamItem::Ping)) => {
                            let _ = pong.try_send(b"\r\n".to_vec());
                        }
                        Ok(None) => break,
                        // A stream that cannot be framed (bad Content-Length) cannot be
                        // resynchronized: close it. Other connections are untouched.
                        Err(_) => break 'conn,
                    }
                }
                if decoder.buffered() > MAX_STREAM_BUFFER {
                    break;
                }
            }
            writers.lock().unwrap_or_else(|p| p.into_inner()).remove(&peer);
        });
    }
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When the control task cannot keep up, datagrams are dropped and counted, not queued
    /// without bound.
    #[test]
    fn datagrams_beyond_a_full_queue_are_counted() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let (tx, _rx) = mpsc::channel(1); // held, never read
            let config = SipConfig { udp: vec!["127.0.0.1:0".parse().unwrap()], tcp: Vec::new(), ..SipConfig::default() };
            let transports = Transports::bind(&config, tx).await.expect("bind");
            let target = transports.udp_addrs()[0];
            let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
            for _ in 0..20 {
                client.send_to(b"OPTIONS sip:x SIP/2.0\r\n\r\n", target).await.expect("send");
            }
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            while transports.overflowed() < 19 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            assert_eq!(transports.overflowed(), 19, "one queued, the rest counted");
        });
    }
}
