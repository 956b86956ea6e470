//! The REPL's client for a running `shoal serve`: the HTTP API (reqwest) and
//! the `/v1/live` websocket (tokio-tungstenite). Knows the wire shapes; knows
//! nothing about terminals.

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long a statement request may take (a script of many queries rebuilds
/// plans on the server).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long any other request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not usable.
    #[error("bad server address `{0}`: expected http://HOST:PORT")]
    BadUrl(String),
    /// No answer: connection refused, timed out, reset.
    #[error("cannot reach the server at {base}: {reason}")]
    Unreachable {
        /// The server's base URL.
        base: String,
        /// What went wrong.
        reason: String,
    },
    /// A statement was rejected; it points into the text sent.
    #[error("{}", .0.message)]
    Statement(Box<StatementFailure>),
    /// Any other error answer (unknown name, conflict…).
    #[error("{message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// An answer that is not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

/// A rejected statement, as `POST /v1/statements` describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct StatementFailure {
    /// What is wrong.
    pub message: String,
    /// `syntax`, `invalid`, `conflict` or `not_found`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The offending token's text (empty at the end of input).
    #[serde(default)]
    pub token: Option<String>,
    /// Byte offset of the token in the text sent.
    #[serde(default)]
    pub offset: Option<usize>,
    /// What the statements before the failing one did.
    #[serde(skip)]
    pub executed: Vec<Outcome>,
}

/// What one statement did.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// `CREATE STREAM`.
    StreamCreated {
        /// The stream.
        name: String,
    },
    /// `CREATE QUERY`.
    QueryCreated {
        /// The query.
        name: String,
        /// The stream it reads.
        stream: String,
    },
    /// `DROP QUERY`.
    QueryDropped {
        /// The query.
        name: String,
    },
    /// `DROP STREAM`.
    StreamDropped {
        /// The stream.
        name: String,
    },
    /// `EXPLAIN`.
    Explain {
        /// The plan as text.
        text: String,
    },
    /// Something a newer server does that this client does not know.
    #[serde(other)]
    Other,
}

/// Counters of a stream.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamCounters {
    /// Lines taken in.
    pub records_in: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Records too late.
    pub late: u64,
}

/// A stream as `GET /v1/streams` lists it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamInfo {
    /// Its name.
    pub name: String,
    /// Its `CREATE STREAM` statement.
    pub text: String,
    /// The `source` option.
    pub source: Option<String>,
    /// The record format.
    pub format: Value,
    /// Records per second, over the last second.
    pub records_per_sec: f64,
    /// Counters.
    pub stats: StreamCounters,
    /// The queries reading it.
    pub queries: Vec<String>,
}

/// Counters of a query.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueryCounters {
    /// Records its stream took in.
    pub records_in: u64,
    /// Records that passed its filter.
    pub matched: u64,
    /// Results it produced.
    pub results_out: u64,
    /// Groups in its aggregation state.
    pub state_groups: u64,
}

/// A query as `GET /v1/queries` lists it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueryInfo {
    /// Its name.
    pub name: String,
    /// The stream it reads.
    pub stream: String,
    /// Its `CREATE QUERY` statement.
    pub text: String,
    /// `aggregate` or `filter`.
    pub kind: String,
    /// Counters.
    pub counters: QueryCounters,
    /// Live subscribers.
    pub subscribers: u64,
}

/// One query in detail (`GET /v1/queries/{name}`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueryDetail {
    /// What the list shows.
    #[serde(flatten)]
    pub info: QueryInfo,
    /// Its part of the plan: `filter` is its predicate's text.
    pub plan: Value,
    /// The shared plan of its stream, as text.
    pub explain: String,
}

/// One result message of a live feed.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveResult {
    /// The query.
    pub query: String,
    /// True for the current value of a window that is still open.
    pub partial: bool,
    /// What it says.
    pub body: LiveBody,
}

/// The two shapes of result.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveBody {
    /// One group of an aggregate query.
    Aggregate {
        /// `[start, end)` in epoch milliseconds; `None` for running totals.
        window: Option<(i64, i64)>,
        /// The group key by output name.
        group: Map<String, Value>,
        /// The aggregates by output name.
        values: Map<String, Value>,
    },
    /// A record matched by a filter query.
    Row(Map<String, Value>),
}

/// What a live feed says.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveMessage {
    /// A result.
    Result(LiveResult),
    /// The subscription of `query` missed `n` results (it fell behind).
    Lagged {
        /// The query.
        query: String,
        /// Results skipped.
        n: u64,
    },
    /// The feed of `query` ended (the query was dropped).
    Closed {
        /// The query.
        query: String,
        /// Why.
        reason: String,
    },
    /// The socket ended, with the server's reason.
    End(String),
}

impl LiveMessage {
    /// Reads one text message of `/v1/live`; `None` for anything else
    /// (replies to control messages).
    pub fn parse(text: &str) -> Option<LiveMessage> {
        let v: Value = serde_json::from_str(text).ok()?;
        let o = v.as_object()?;
        let query = o.get("query").and_then(Value::as_str).map(str::to_string);
        if let Some(n) = o.get("lagged").and_then(Value::as_u64) {
            return Some(LiveMessage::Lagged {
                query: query.unwrap_or_default(),
                n,
            });
        }
        if let Some(q) = o.get("closed").and_then(Value::as_str) {
            let reason = o.get("reason").and_then(Value::as_str).unwrap_or("closed");
            return Some(LiveMessage::Closed {
                query: q.to_string(),
                reason: reason.to_string(),
            });
        }
        let query = query?;
        let partial = o.get("partial").and_then(Value::as_bool).unwrap_or(false);
        let body = if let Some(row) = o.get("row") {
            match row {
                Value::Object(m) => LiveBody::Row(m.clone()),
                other => {
                    let mut m = Map::new();
                    m.insert("value".into(), other.clone());
                    LiveBody::Row(m)
                }
            }
        } else {
            let obj = |k: &str| match o.get(k) {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let start = o.get("window_start").and_then(Value::as_i64);
            let end = o.get("window_end").and_then(Value::as_i64);
            LiveBody::Aggregate {
                window: start.zip(end),
                group: obj("group"),
                values: obj("values"),
            }
        };
        Some(LiveMessage::Result(LiveResult {
            query,
            partial,
            body,
        }))
    }
}

/// An open `/v1/live` socket subscribed to some queries.
pub struct LiveFeed {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Messages that arrived before the subscription was confirmed.
    early: VecDeque<LiveMessage>,
    ended: bool,
}

impl LiveFeed {
    /// The next message; `None` once the socket has ended (after an
    /// [`LiveMessage::End`]).
    pub async fn next(&mut self) -> Option<LiveMessage> {
        if let Some(m) = self.early.pop_front() {
            return Some(m);
        }
        if self.ended {
            return None;
        }
        loop {
            let msg = match self.socket.next().await {
                None => "the server closed the connection".to_string(),
                Some(Err(e)) => format!("connection lost: {e}"),
                Some(Ok(Message::Text(t))) => match LiveMessage::parse(t.as_str()) {
                    Some(m) => return Some(m),
                    None => continue,
                },
                Some(Ok(Message::Close(f))) => f
                    .map(|f| f.reason.to_string())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "the server closed the connection".to_string()),
                Some(Ok(_)) => continue,
            };
            self.ended = true;
            return Some(LiveMessage::End(msg));
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(None)).await;
    }
}

/// A client of one server.
#[derive(Clone)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base` (`http://HOST:PORT`; `HOST:PORT`
    /// alone means http).
    pub fn new(base: &str) -> Result<Client, ClientError> {
        let with_scheme = if base.contains("://") {
            base.to_string()
        } else {
            format!("http://{base}")
        };
        let url = Url::parse(&with_scheme).map_err(|_| ClientError::BadUrl(base.to_string()))?;
        if url.scheme() != "http" || url.host_str().is_none() {
            return Err(ClientError::BadUrl(base.to_string()));
        }
        // The server is usually on loopback: a proxy from the environment
        // would only get in the way.
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Client { base: url, http })
    }

    /// The server's base URL, as given.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        let reason = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "connection refused".to_string()
        } else {
            e.to_string()
        };
        ClientError::Unreachable {
            base: self.base().to_string(),
            reason,
        }
    }

    /// Sends a request; returns the status and the JSON body.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<String>,
        timeout: Duration,
    ) -> Result<(StatusCode, Value), ClientError> {
        let mut req = self
            .http
            .request(method, self.url(segments))
            .timeout(timeout);
        if let Some(b) = body {
            req = req.header("content-type", "text/plain").body(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.unreachable(&e))?;
        let v = serde_json::from_str(&text).map_err(|_| {
            ClientError::Protocol(format!(
                "{status}: {}",
                text.chars().take(200).collect::<String>()
            ))
        })?;
        Ok((status, v))
    }

    /// Like [`Client::call`], turning error statuses into [`ClientError::Api`].
    async fn ok(
        &self,
        method: Method,
        segments: &[&str],
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let (status, v) = self.call(method, segments, None, timeout).await?;
        if status.is_success() {
            Ok(v)
        } else {
            Err(api_error(status, &v))
        }
    }

    /// Executes statement text; on an error, what ran before it is in the
    /// failure's `executed`.
    pub async fn statements(&self, sql: &str) -> Result<Vec<Outcome>, ClientError> {
        let (status, v) = self
            .call(
                Method::POST,
                &["v1", "statements"],
                Some(sql.to_string()),
                STATEMENT_TIMEOUT,
            )
            .await?;
        if status.is_success() {
            return serde_json::from_value(v.get("results").cloned().unwrap_or(json!([])))
                .map_err(|e| ClientError::Protocol(e.to_string()));
        }
        let Some(err) = v.get("error") else {
            return Err(api_error(status, &v));
        };
        let mut failure: StatementFailure =
            serde_json::from_value(err.clone()).map_err(|_| api_error(status, &v))?;
        failure.executed = v
            .get("executed")
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .unwrap_or_default();
        Err(ClientError::Statement(Box::new(failure)))
    }

    /// The streams, waiting at most `timeout`.
    pub async fn streams(&self, timeout: Duration) -> Result<Vec<StreamInfo>, ClientError> {
        let v = self.ok(Method::GET, &["v1", "streams"], timeout).await?;
        serde_json::from_value(v.get("streams").cloned().unwrap_or(json!([])))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// The queries, waiting at most `timeout`.
    pub async fn queries(&self, timeout: Duration) -> Result<Vec<QueryInfo>, ClientError> {
        let v = self.ok(Method::GET, &["v1", "queries"], timeout).await?;
        serde_json::from_value(v.get("queries").cloned().unwrap_or(json!([])))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// One query in detail; `None` when there is no such query.
    pub async fn query(&self, name: &str) -> Result<Option<QueryDetail>, ClientError> {
        match self
            .ok(Method::GET, &["v1", "queries", name], REQUEST_TIMEOUT)
            .await
        {
            Ok(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| ClientError::Protocol(e.to_string())),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The shared plans of all streams, as text.
    pub async fn explain(&self) -> Result<String, ClientError> {
        let v = self
            .ok(Method::GET, &["v1", "explain"], REQUEST_TIMEOUT)
            .await?;
        Ok(v.get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// Drops a query (`what` = `queries`) or a stream (`streams`).
    pub async fn drop(&self, what: &str, name: &str) -> Result<Vec<Outcome>, ClientError> {
        let v = self
            .ok(Method::DELETE, &["v1", what, name], REQUEST_TIMEOUT)
            .await?;
        serde_json::from_value(v.get("results").cloned().unwrap_or(json!([])))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Whether the server answers its health check.
    pub async fn health(&self) -> Result<Value, ClientError> {
        self.ok(Method::GET, &["v1", "health"], Duration::from_secs(5))
            .await
    }

    /// Opens `/v1/live` and subscribes to `queries`. Fails when one of them
    /// does not exist.
    pub async fn live(&self, queries: &[String]) -> Result<LiveFeed, ClientError> {
        let mut url = self.url(&["v1", "live"]);
        let _ = url.set_scheme("ws");
        let (mut socket, _) = tokio::time::timeout(
            REQUEST_TIMEOUT,
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .map_err(|_| ClientError::Unreachable {
            base: self.base().to_string(),
            reason: "timed out opening the websocket".to_string(),
        })?
        .map_err(|e| ClientError::Unreachable {
            base: self.base().to_string(),
            reason: e.to_string(),
        })?;
        let lost = |e: &dyn std::fmt::Display| ClientError::Unreachable {
            base: self.base().to_string(),
            reason: format!("websocket: {e}"),
        };
        socket
            .send(Message::Text(
                json!({ "subscribe": queries }).to_string().into(),
            ))
            .await
            .map_err(|e| lost(&e))?;
        // Results may come before the reply: keep them.
        let mut early = VecDeque::new();
        loop {
            let next = tokio::time::timeout(REQUEST_TIMEOUT, socket.next())
                .await
                .map_err(|_| lost(&"no answer to the subscription"))?;
            let text = match next {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(f))) => {
                    return Err(lost(&f.map_or(String::new(), |f| f.reason.to_string())))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(lost(&e)),
                None => return Err(lost(&"closed")),
            };
            let v: Value = serde_json::from_str(text.as_str())
                .map_err(|_| ClientError::Protocol(text.to_string()))?;
            if v.get("subscribed").is_some() || v.get("error").is_some() {
                if let Some(err) = v.get("error") {
                    let names: Vec<String> = err
                        .get("queries")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(|s| format!("`{s}`"))
                                .collect()
                        })
                        .unwrap_or_default();
                    let message = if names.is_empty() {
                        err.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("subscription refused")
                            .to_string()
                    } else {
                        format!("no query named {}", names.join(", "))
                    };
                    let _ = socket.close(None).await;
                    return Err(ClientError::Api {
                        status: 404,
                        message,
                    });
                }
                break;
            }
            if let Some(m) = LiveMessage::parse(text.as_str()) {
                early.push_back(m);
            }
        }
        Ok(LiveFeed {
            socket,
            early,
            ended: false,
        })
    }
}

/// An error answer as [`ClientError::Api`].
fn api_error(status: StatusCode, v: &Value) -> ClientError {
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{status}"));
    ClientError::Api {
        status: status.as_u16(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_messages_parse() {
        let m = LiveMessage::parse(
            r#"{"partial":true,"query":"q","window_start":0,"window_end":10,"group":{"c":"US"},"values":{"n":3}}"#,
        )
        .unwrap();
        let LiveMessage::Result(r) = m else {
            panic!("{m:?}")
        };
        assert!(r.partial);
        assert_eq!(r.query, "q");
        let LiveBody::Aggregate {
            window,
            group,
            values,
        } = r.body
        else {
            panic!()
        };
        assert_eq!(window, Some((0, 10)));
        assert_eq!(group["c"], "US");
        assert_eq!(values["n"], 3);
        assert_eq!(
            LiveMessage::parse(r#"{"lagged":5,"query":"q"}"#),
            Some(LiveMessage::Lagged {
                query: "q".into(),
                n: 5
            })
        );
        assert_eq!(
            LiveMessage::parse(r#"{"closed":"q","reason":"query dropped"}"#),
            Some(LiveMessage::Closed {
                query: "q".into(),
                reason: "query dropped".into()
            })
        );
        assert!(LiveMessage::parse(r#"{"subscribed":["q"],"unsubscribed":[]}"#).is_none());
        assert!(LiveMessage::parse("not json").is_none());
        let r = LiveMessage::parse(r#"{"query":"f","row":{"a":1}}"#).unwrap();
        assert!(matches!(
            r,
            LiveMessage::Result(LiveResult {
                body: LiveBody::Row(_),
                ..
            })
        ));
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            Client::new("127.0.0.1:7878").unwrap().base(),
            "http://127.0.0.1:7878"
        );
        let c = Client::new("http://h:1/").unwrap();
        assert_eq!(
            c.url(&["v1", "queries", "a b/c"]).as_str(),
            "http://h:1/v1/queries/a%20b%2Fc"
        );
        assert!(Client::new("ftp://h").is_err());
        assert!(Client::new("http://").is_err());
    }

    #[test]
    fn outcomes_parse_including_unknown_kinds() {
        let v: Vec<Outcome> = serde_json::from_str(
            r#"[{"kind":"query_created","name":"q","stream":"t"},{"kind":"future_thing","x":1}]"#,
        )
        .unwrap();
        assert_eq!(
            v,
            [
                Outcome::QueryCreated {
                    name: "q".into(),
                    stream: "t".into()
                },
                Outcome::Other
            ]
        );
    }
}
