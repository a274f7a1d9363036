//! TCP proxies on 127.0.0.1 in front of a node.
//!
//! [`StallProxy`]: one that a test can make hang: while stalled it accepts connections and never
//! answers, as a node that is up but stuck does (the connections it already forwards stop
//! forwarding too). Those connections stay open and silent for good, as with a real hung node: a
//! client without a timeout waits on them forever. After resume, new connections reach the node
//! again.
//!
//! [`CountingProxy`]: a slow node's, counting the connections and requests open through it.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use eyre::{Result, WrapErr};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// A proxy to one node. Stops on drop.
#[derive(Debug)]
pub struct StallProxy {
    port: u16,
    stalled: watch::Sender<bool>,
    closed: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl StallProxy {
    /// Proxies a free port on 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .wrap_err("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let (stalled, rx) = watch::channel(false);
        let (closed, closing) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, target, rx.clone(), closing.clone()));
            }
        });
        Ok(Self {
            port,
            stalled,
            closed,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on nothing is answered.
    pub fn stall(&self) {
        let _ = self.stalled.send(true);
    }

    /// Answers again, on new connections (those held while stalled stay silent).
    pub fn resume(&self) {
        let _ = self.stalled.send(false);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        let _ = self.closed.send(true);
        self.task.abort();
    }
}

async fn serve(
    mut client: TcpStream,
    target: SocketAddr,
    mut stalled: watch::Receiver<bool>,
    mut closed: watch::Receiver<bool>,
) {
    if !*stalled.borrow() {
        let Ok(mut node) = TcpStream::connect(target).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut node) => return,
            _ = stalled.wait_for(|s| *s) => {}
        }
    }
    // Hung: the connection stays open without a word until the proxy goes away.
    let _ = closed.wait_for(|c| *c).await;
    drop(client);
}

/// A TCP proxy on 127.0.0.1 in front of a node that holds each request for `delay` before
/// forwarding it (a slow node) and counts the connections open through it now, and at their peak
/// those carrying a request (from its first byte until the node's answer starts back). HTTP/1.1
/// carries one request at a time on a connection, so the second count is the requests in flight.
/// Stops on drop.
#[derive(Debug)]
pub struct CountingProxy {
    port: u16,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Counts {
    open: AtomicUsize,
    busy: AtomicUsize,
    peak_busy: AtomicUsize,
}

impl CountingProxy {
    /// Proxies a free port on 127.0.0.1 to `target`, each request `delay` late.
    pub async fn start(target: SocketAddr, delay: Duration) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .wrap_err("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(count(client, target, delay, shared.clone()));
            }
        });
        Ok(Self { port, counts, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The connections open through the proxy now.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::SeqCst)
    }

    /// The most requests that were in flight through the proxy at once.
    pub fn peak_busy(&self) -> usize {
        self.counts.peak_busy.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn count(client: TcpStream, target: SocketAddr, delay: Duration, counts: Arc<Counts>) {
    counts.open.fetch_add(1, Ordering::SeqCst);
    let busy = AtomicBool::new(false);
    if let Ok(node) = TcpStream::connect(target).await {
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_node, mut to_node) = node.into_split();
        let requests = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match from_client.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if !busy.swap(true, Ordering::SeqCst) {
                    let n = counts.busy.fetch_add(1, Ordering::SeqCst) + 1;
                    counts.peak_busy.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                }
                if to_node.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        };
        let answers = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match from_node.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if busy.swap(false, Ordering::SeqCst) {
                    counts.busy.fetch_sub(1, Ordering::SeqCst);
                }
                if to_client.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            () = requests => {}
            () = answers => {}
        }
    }
    if busy.load(Ordering::SeqCst) {
        counts.busy.fetch_sub(1, Ordering::SeqCst);
    }
    counts.open.fetch_sub(1, Ordering::SeqCst);
}
