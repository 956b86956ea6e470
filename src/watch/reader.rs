//! Byte streams (a TCP connection, stdin) turned into chunks of lines.
//!
//! [`pump`] reads whatever is available, up to the chunk size, and sends it
//! at once: one read when data trickles in, many reads gathered into one
//! chunk while more is already waiting. While the channel is full it does
//! not read, so a socket's producer is held back by TCP itself.

use super::lines::LineAssembler;
use super::{ChunkSender, Origin, Stopped};
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes asked for per read.
const READ_BYTES: usize = 64 << 10;

/// Reads `reader` to its end (or until the source stops), sending its lines
/// as chunks of `origin`: the first with `reset`, the last with `end` (a
/// final line without newline included). Read errors end the origin like
/// an end of input, after a warning.
pub(crate) async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    origin: Origin,
    mut out: ChunkSender,
    max_line: usize,
    chunk_bytes: usize,
) -> Result<(), Stopped> {
    let mut lines = LineAssembler::new(max_line);
    let mut buf = vec![0u8; READ_BYTES];
    let mut first = true;
    let mut stop = out.stop.clone();
    loop {
        let n = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return Err(Stopped),
            r = reader.read(&mut buf) => r,
        };
        let mut data = Vec::new();
        let mut ended = match n {
            Ok(0) => true,
            Ok(n) => {
                lines.push(&buf[..n], &mut data);
                false
            }
            Err(e) => {
                tracing::warn!(source = %origin.name, error = %e, "read failed; closing the source");
                true
            }
        };
        // Gather what is already there, without waiting, up to a chunk.
        while !ended && data.len() < chunk_bytes {
            match reader.read(&mut buf).now_or_never() {
                None => break,
                Some(Ok(0)) => ended = true,
                Some(Ok(n)) => lines.push(&buf[..n], &mut data),
                Some(Err(e)) => {
                    tracing::warn!(source = %origin.name, error = %e, "read failed; closing the source");
                    ended = true;
                }
            }
        }
        if ended {
            lines.finish(&mut data);
        }
        if data.is_empty() && !ended {
            continue;
        }
        let mut chunk = out.chunk(&origin, data);
        chunk.reset = std::mem::take(&mut first);
        chunk.end = ended;
        out.send(chunk).await?;
        if ended {
            return Ok(());
        }
    }
}

/// Starts reading the process's standard input as the origin `stdin`.
pub(crate) fn spawn_stdin(out: ChunkSender, max_line: usize, chunk_bytes: usize) {
    tokio::spawn(async move {
        let _ = pump(
            tokio::io::stdin(),
            Origin::new("stdin"),
            out,
            max_line,
            chunk_bytes,
        )
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::{mpsc, watch};

    /// Through a real pipe, as stdin would be: lines in order, the first
    /// chunk resets, the last (with the unterminated final line) ends.
    #[tokio::test]
    async fn a_pipe_is_read_to_its_end() {
        let (mut w, r) = tokio::net::unix::pipe::pipe().unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let (_stop, stop_rx) = watch::channel(false);
        let out = ChunkSender {
            stream: Arc::from("s"),
            tx,
            stop: stop_rx,
        };
        let task = tokio::spawn(pump(r, Origin::new("stdin"), out, 5, 1 << 20));
        w.write_all(b"one\ntwo\nfar too long\nthr").await.unwrap();
        w.write_all(b"ee").await.unwrap();
        drop(w);
        let mut chunks = Vec::new();
        while let Some(c) = rx.recv().await {
            chunks.push(c);
        }
        assert!(task.await.unwrap().is_ok());
        let data: Vec<u8> = chunks.iter().flat_map(|c| c.data.clone()).collect();
        assert_eq!(data, b"one\ntwo\nfar to\nthree\n");
        assert!(chunks[0].reset && chunks.iter().skip(1).all(|c| !c.reset));
        assert!(chunks.last().unwrap().end && chunks.iter().rev().skip(1).all(|c| !c.end));
        assert!(chunks.iter().all(|c| c.source.as_ref() == "stdin"));
    }
}
