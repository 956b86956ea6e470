//! `tcp:HOST:PORT`: a listener; any number of producers connect and send
//! newline-delimited records. Each connection is its own origin, named
//! `tcp LOCAL <- PEER`, read by its own task (see [`super::reader::pump`]).

use super::reader::pump;
use super::{ChunkSender, Origin, SourceError};
use std::net::SocketAddr;
use std::time::Duration;

/// Binds `addr` (`HOST:PORT`, port 0 for any) and starts accepting
/// connections; returns the bound address.
pub(crate) fn spawn(
    addr: &str,
    out: ChunkSender,
    max_line: usize,
    chunk_bytes: usize,
) -> Result<SocketAddr, SourceError> {
    let listen_err = |source| SourceError::Listen {
        addr: addr.to_string(),
        source,
    };
    // Bound synchronously, so that a port in use is reported to the caller.
    let std_listener = std::net::TcpListener::bind(addr).map_err(listen_err)?;
    std_listener.set_nonblocking(true).map_err(listen_err)?;
    let local = std_listener.local_addr().map_err(listen_err)?;
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(listen_err)?;
    tokio::spawn(async move {
        let mut stop = out.stop.clone();
        loop {
            let accepted = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let origin = Origin::new(format!("tcp {local} <- {peer}"));
                    tracing::debug!(source = %origin.name, "connection accepted");
                    let out = out.clone();
                    tokio::spawn(async move {
                        let _ = pump(socket, origin, out, max_line, chunk_bytes).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(listen = %local, error = %e, "accept failed");
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            }
        }
    });
    Ok(local)
}
