//! A real `shoal serve` process on 127.0.0.1 and real clients for it.
#![allow(dead_code)] // each test binary uses part of it

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl Server {
    /// Starts `shoal serve --bind 127.0.0.1:0 ARGS` in `cwd` and waits for it to listen.
    pub fn start(args: &[&str], cwd: &Path) -> Server {
        Server::start_with_env(args, cwd, &[])
    }

    /// [`Server::start`] with extra environment variables (`SHOAL_TOKEN` is
    /// set only when given here).
    pub fn start_with_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .current_dir(cwd)
            .env("SHOAL_LOG", "warn")
            .env_remove("SHOAL_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start shoal serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let addr = base.trim_start_matches("http://").to_string();
        Server {
            child,
            base,
            addr,
            http: reqwest::Client::new(),
        }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs statements; returns status and JSON.
    pub async fn sql(&self, sql: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/v1/statements"))
            .body(sql.to_string())
            .send()
            .await
            .expect("POST /v1/statements");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON body"))
    }

    /// POSTs statements that must succeed.
    pub async fn sql_ok(&self, sql: &str) -> Value {
        let (status, v) = self.sql(sql).await;
        assert!(status == 200 || status == 201, "{status}: {v}");
        v
    }

    /// GETs JSON.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GETs text.
    pub async fn get_text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    }

    /// POSTs records to an `http` stream; returns the ingest report.
    pub async fn ingest(&self, stream: &str, lines: &str) -> Value {
        let r = self
            .http
            .post(self.url(&format!("/v1/streams/{stream}/records")))
            .body(lines.to_string())
            .send()
            .await
            .expect("POST records");
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.expect("JSON")
    }

    /// Opens a websocket on `path`.
    pub async fn ws(&self, path: &str) -> Ws {
        let url = format!("ws://{}{path}", self.addr);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        Ws { socket }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A websocket client.
pub struct Ws {
    /// The socket.
    pub socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What a socket said next.
#[derive(Debug)]
pub enum Said {
    /// A JSON text message.
    Json(Value),
    /// A close frame: code and reason.
    Closed(u16, String),
    /// Nothing within the time allowed.
    Nothing,
}

impl Ws {
    /// The next message, waiting at most `wait`.
    pub async fn next(&mut self, wait: Duration) -> Said {
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_) => return Said::Nothing,
                Ok(None) => return Said::Closed(1006, "ended".into()),
                Ok(Some(Err(e))) => return Said::Closed(1006, e.to_string()),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Said::Json(serde_json::from_str(&t).expect("JSON message"))
                }
                Ok(Some(Ok(Message::Close(f)))) => {
                    return match f {
                        Some(f) => Said::Closed(f.code.into(), f.reason.to_string()),
                        None => Said::Closed(1005, String::new()),
                    }
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next JSON message; panics on anything else.
    pub async fn json(&mut self) -> Value {
        match self.next(Duration::from_secs(10)).await {
            Said::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Collects `n` JSON messages.
    pub async fn take(&mut self, n: usize) -> Vec<Value> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.json().await);
        }
        v
    }

    /// Sends a JSON text message.
    pub async fn send(&mut self, v: Value) {
        self.socket
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }
}

/// A temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("shoal-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// A path inside it.
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
