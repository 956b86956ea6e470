//! Live sources, measured: how soon an appended line or a line written to a
//! socket reaches the channel (one line at a time, waiting for each), and
//! how many lines per second a source delivers to a consumer that keeps up.
//!
//! `cargo bench --bench sources` (the bench profile is the release one).

use shoal::planner::StreamDef;
use shoal::watch::{spawn_source, Chunk};
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

fn stream(options: &str) -> StreamDef {
    let sql = format!("CREATE STREAM s WITH ({options});");
    let stmts = shoal::parser::parse_statements(&sql).expect("parses");
    match &stmts[0].statement {
        shoal::parser::Statement::CreateStream(cs) => StreamDef::from_ast(cs, &sql).expect("valid"),
        _ => unreachable!(),
    }
}

fn percentiles(name: &str, mut us: Vec<f64>) {
    us.sort_by(f64::total_cmp);
    let at = |p: f64| us[((us.len() as f64 * p) as usize).min(us.len() - 1)];
    println!(
        "{name}: n={} p50={:.0}us p99={:.0}us max={:.0}us",
        us.len(),
        at(0.5),
        at(0.99),
        us[us.len() - 1]
    );
}

/// Receives until `lines` newlines have arrived; returns them counted.
async fn drain(rx: &mut mpsc::Receiver<Chunk>, lines: usize) -> (usize, usize) {
    let (mut n, mut chunks) = (0, 0);
    while n < lines {
        let c = rx.recv().await.expect("open");
        n += memchr::memchr_iter(b'\n', &c.data).count();
        chunks += 1;
    }
    (n, chunks)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("shoal-bench-sources-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        // File append → chunk, one line at a time.
        let (tx, mut rx) = mpsc::channel(64);
        let h = spawn_source(&stream(&format!("source = 'dir:{}'", dir.display())), tx, &[]).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("lat.log"))
            .unwrap();
        let mut us = Vec::new();
        for i in 0..2000 {
            let t = Instant::now();
            writeln!(f, "{{\"i\":{i}}}").unwrap();
            rx.recv().await.unwrap();
            us.push(t.elapsed().as_secs_f64() * 1e6);
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        percentiles("dir append -> chunk", us);

        // A big file appended in one go: lines per second to the channel.
        let line = format!("{{\"user\":\"someone\",\"text\":\"{}\"}}\n", "x".repeat(80));
        let lines = 1_000_000;
        let text = line.repeat(lines);
        let t = Instant::now();
        f.write_all(text.as_bytes()).unwrap();
        let (n, chunks) = drain(&mut rx, lines).await;
        let s = t.elapsed().as_secs_f64();
        println!(
            "dir flood: {n} lines of {} bytes in {chunks} chunks, {:.2} s, {:.0} lines/s, {:.0} MB/s",
            line.len(),
            s,
            n as f64 / s,
            (n * line.len()) as f64 / s / 1e6
        );
        drop(h);

        // Socket write → chunk, one line at a time.
        let (tx, mut rx) = mpsc::channel(64);
        let h = spawn_source(&stream("source = 'tcp:127.0.0.1:0'"), tx, &[]).unwrap();
        let mut sock = tokio::net::TcpStream::connect(h.local_addr().unwrap()).await.unwrap();
        sock.set_nodelay(true).unwrap();
        let mut us = Vec::new();
        for i in 0..2000 {
            let t = Instant::now();
            sock.write_all(format!("{{\"i\":{i}}}\n").as_bytes()).await.unwrap();
            rx.recv().await.unwrap();
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        percentiles("tcp write -> chunk", us);

        // Producers flooding: lines per second to the channel.
        for producers in [1usize, 20] {
            let per = 2_000_000 / producers;
            let addr = h.local_addr().unwrap();
            let t = Instant::now();
            for _ in 0..producers {
                let block = line.repeat(1000);
                tokio::spawn(async move {
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    for _ in 0..per / 1000 {
                        s.write_all(block.as_bytes()).await.unwrap();
                    }
                });
            }
            let (n, chunks) = drain(&mut rx, per / 1000 * 1000 * producers).await;
            let s = t.elapsed().as_secs_f64();
            println!(
                "tcp flood, {producers} producers: {n} lines in {chunks} chunks, {:.2} s, {:.0} lines/s, {:.0} MB/s",
                s,
                n as f64 / s,
                (n * line.len()) as f64 / s / 1e6
            );
        }
        drop(sock);
        drop(h);
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
