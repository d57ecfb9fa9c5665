//! The LMTP listeners: TCP and Unix sockets, connection limits, graceful shutdown.
//!
//! Each accepted connection runs [`connection::serve`] in its own task. Beyond
//! `lmtp.max_connections` (or `lmtp.max_connections_per_ip` for one client address) a new
//! connection gets `421 4.7.0` instead of a greeting and is closed. On shutdown the listeners stop
//! accepting, every session finishes its transaction and answers its next command with
//! `421 4.3.2`, and [`LmtpServer::wait`] returns when the last connection has closed.

pub mod connection;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Listen;
use crate::inbound::accept::Acceptor;

/// Bound listeners, ready to serve.
pub struct LmtpServer {
    tcp: Vec<TcpListener>,
    unix: Vec<(UnixListener, PathBuf)>,
    tasks: TaskTracker,
}

/// Counts connections, globally and per client address.
struct Limits {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// A connection slot, released when dropped.
struct Slot {
    limits: Arc<Limits>,
    ip: Option<IpAddr>,
}

impl Limits {
    fn acquire(self: &Arc<Self>, ip: Option<IpAddr>) -> Option<Slot> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 >= self.max_total {
            return None;
        }
        if let Some(ip) = ip {
            let n = state.1.entry(ip).or_insert(0);
            if self.max_per_ip > 0 && *n >= self.max_per_ip {
                return None;
            }
            *n += 1;
        }
        state.0 += 1;
        Some(Slot {
            limits: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.limits.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = state.1.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                state.1.remove(&ip);
            }
        }
    }
}

impl LmtpServer {
    /// Binds every configured address. A stale Unix socket file is replaced.
    pub async fn bind(listen: &[Listen]) -> anyhow::Result<LmtpServer> {
        let mut server = LmtpServer {
            tcp: Vec::new(),
            unix: Vec::new(),
            tasks: TaskTracker::new(),
        };
        for l in listen {
            match l {
                Listen::Tcp(addr) => {
                    let listener = TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen for LMTP on {addr}"))?;
                    server.tcp.push(listener);
                }
                Listen::Unix(path) => {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                    }
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(e)
                                .with_context(|| format!("cannot replace {}", path.display()));
                        }
                    }
                    let listener = UnixListener::bind(path)
                        .with_context(|| format!("cannot listen for LMTP on {}", path.display()))?;
                    server.unix.push((listener, path.clone()));
                }
            }
        }
        Ok(server)
    }

    /// The Unix socket files, for removal at shutdown.
    pub fn unix_paths(&self) -> Vec<PathBuf> {
        self.unix.iter().map(|(_, p)| p.clone()).collect()
    }

    /// The bound TCP addresses (useful when the configuration asked for port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.tcp
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Starts accepting, consuming the listeners. Returns the tracker of every task (accept
    /// loops and connections); it is closed, so `wait()` returns once all of them ended.
    pub fn start(self, acceptor: Arc<Acceptor>, shutdown: CancellationToken) -> TaskTracker {
        let limits = Arc::new(Limits {
            max_total: acceptor.max_connections(),
            max_per_ip: acceptor.max_connections_per_ip(),
            state: Mutex::new((0, HashMap::new())),
        });
        let tasks = self.tasks.clone();
        for listener in self.tcp {
            info!(addr = %listener.local_addr().map_or_else(|_| "?".into(), |a| a.to_string()), "LMTP listening");
            let listener = Arc::new(listener);
            let accept = move || {
                let listener = listener.clone();
                async move {
                    let (stream, peer) = listener.accept().await?;
                    let _ = stream.set_nodelay(true);
                    Ok((stream, Some(peer)))
                }
            };
            spawn_accept_loop(
                &tasks,
                accept,
                acceptor.clone(),
                shutdown.clone(),
                limits.clone(),
            );
        }
        for (listener, path) in self.unix {
            info!(path = %path.display(), "LMTP listening");
            let listener = Arc::new(listener);
            let accept = move || {
                let listener = listener.clone();
                async move { listener.accept().await.map(|(stream, _)| (stream, None)) }
            };
            spawn_accept_loop(
                &tasks,
                accept,
                acceptor.clone(),
                shutdown.clone(),
                limits.clone(),
            );
        }
        tasks.close();
        tasks
    }
}

/// Runs one listener's accept loop until shutdown.
fn spawn_accept_loop<S, F, Fut>(
    tasks: &TaskTracker,
    mut accept: F,
    acceptor: Arc<Acceptor>,
    shutdown: CancellationToken,
    limits: Arc<Limits>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<(S, Option<SocketAddr>)>> + Send,
{
    let connections = tasks.clone();
    tasks.spawn(async move {
        loop {
            let accepted = tokio::select! {
                r = accept() => r,
                () = shutdown.cancelled() => break,
            };
            match accepted {
                Ok((mut stream, peer)) => {
                    let Some(slot) = limits.acquire(peer.map(|p| p.ip())) else {
                        connections.spawn(async move { refuse(&mut stream).await });
                        continue;
                    };
                    let (acceptor, shutdown) = (acceptor.clone(), shutdown.clone());
                    connections.spawn(async move {
                        connection::serve(stream, peer, acceptor, shutdown).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    warn!(error = %e, "LMTP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
}

async fn refuse<S: tokio::io::AsyncWrite + Unpin>(stream: &mut S) {
    let _ = stream
        .write_all(b"421 4.7.0 Too many connections, try again later\r\n")
        .await;
    let _ = stream.shutdown().await;
}
