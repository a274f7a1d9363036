//! A TCP proxy on 127.0.0.1 in front of a node, that a test can make hang: while stalled it
//! accepts connections and never answers, as a node that is up but stuck does (the connections it
//! already forwards stop forwarding too). Those connections stay open and silent for good, as
//! with a real hung node: a client without a timeout waits on them forever. After resume, new
//! connections reach the node again.

use std::net::SocketAddr;

use eyre::{Result, WrapErr};
use tokio::{
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
