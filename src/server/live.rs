//! Websocket result feeds.
//!
//! `GET /v1/queries/{name}/live` streams one query's results;
//! `GET /v1/live` takes `{"subscribe": [names]}` and `{"unsubscribe": [names]}`
//! messages and streams several queries on one socket. Each result is one
//! text message, the same JSON that `shoal run` writes (window partials of
//! `EMIT EVERY` queries carry `"partial": true`). A new subscription to an
//! aggregate query first gets the query's current values.
//!
//! Every subscription reads its own bounded place in the query's broadcast
//! channel ([`super::feeds`]), so a slow socket never slows the hub or other
//! subscribers. A subscription that falls behind is sent `{"lagged": N}`
//! (N results skipped); one that lags [`MAX_LAGS`] times within
//! [`LAG_PERIOD`] is closed with a reason. Dropping a query closes its
//! subscriptions with the reason.
//!
//! At most `--max-subscribers` websockets are open at once
//! ([`SubscriberSlots`]); a handshake beyond that is refused with 503.

use super::api::{ApiError, AppState};
use super::feeds::FeedMessage;
use super::hub::HubHandle;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Lag events within [`LAG_PERIOD`] after which a subscriber is closed.
pub const MAX_LAGS: usize = 3;

/// The period over which lag events are counted.
pub const LAG_PERIOD: Duration = Duration::from_secs(10);

/// Websocket close code for a subscriber that cannot keep up (1008: policy).
pub const CLOSE_TOO_SLOW: u16 = 1008;

/// Default for the most websockets open at once.
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 1000;

/// Counts open websockets against a limit.
#[derive(Clone, Debug)]
pub struct SubscriberSlots {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One open websocket's place; freed when dropped.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SubscriberSlots {
    /// At most `max` websockets at once.
    pub fn new(max: usize) -> SubscriberSlots {
        SubscriberSlots {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Websockets open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A place for one more websocket, or a 503 when all are taken.
    pub fn acquire(&self) -> Result<Slot, ApiError> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .map(|_| Slot(self.open.clone()))
            .map_err(|_| {
                ApiError::plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "too many websocket subscribers: {} are open, the limit (--max-subscribers); try again later",
                        self.max
                    ),
                )
            })
    }
}

/// `GET /v1/queries/{name}/live`.
pub async fn query_feed(
    State(st): State<AppState>,
    Path(name): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Some(rx) = st.hub.feeds.subscribe(&name) else {
        return Err(ApiError::plain(
            StatusCode::NOT_FOUND,
            &format!("no query named `{name}`"),
        ));
    };
    let ws = ws.map_err(|e| ApiError::plain(e.status(), &e.body_text()))?;
    let slot = st.subscribers.acquire()?;
    let hub = st.hub.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        run_socket(socket, hub, vec![(name, rx)], false).await;
        drop(slot);
    }))
}

/// `GET /v1/live`.
pub async fn multi_feed(
    State(st): State<AppState>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let slot = st.subscribers.acquire()?;
    let hub = st.hub.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        run_socket(socket, hub, Vec::new(), true).await;
        drop(slot);
    }))
}

/// What the forwarding tasks ask the socket's writer to do.
enum Out {
    Text(String),
    Close(u16, String),
}

/// When a lagging subscriber is given up: after [`MAX_LAGS`] lag events
/// within [`LAG_PERIOD`].
#[derive(Default)]
struct LagPolicy {
    recent: Vec<Instant>,
}

impl LagPolicy {
    /// Records a lag event at `now`; true when the subscriber should be closed.
    fn too_slow(&mut self, now: Instant) -> bool {
        self.recent.retain(|t| now.duration_since(*t) < LAG_PERIOD);
        self.recent.push(now);
        self.recent.len() >= MAX_LAGS
    }
}

/// Control messages of `/v1/live`.
#[derive(serde::Deserialize)]
struct Control {
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    unsubscribe: Vec<String>,
}

/// Writes a subscription's results to `out` until the feed or socket ends.
async fn forward(
    hub: HubHandle,
    name: String,
    mut rx: broadcast::Receiver<FeedMessage>,
    out: mpsc::Sender<Out>,
    tag_lag_with_query: bool,
) {
    // The current values first, for aggregate queries.
    let n = name.clone();
    if let Ok(msgs) = hub.inspect(move |h| h.snapshot_messages(&n)).await {
        for m in msgs {
            if out.send(Out::Text(m)).await.is_err() {
                return;
            }
        }
    }
    let mut lags = LagPolicy::default();
    loop {
        match rx.recv().await {
            Ok(FeedMessage::Result(json)) => {
                if out.send(Out::Text(json.to_string())).await.is_err() {
                    return;
                }
            }
            Ok(FeedMessage::Closed(reason)) => {
                // On a socket of several feeds only this one ends.
                let msg = if tag_lag_with_query {
                    Out::Text(serde_json::json!({ "closed": name, "reason": &*reason }).to_string())
                } else {
                    Out::Close(1000, format!("{name}: {reason}"))
                };
                let _ = out.send(msg).await;
                return;
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                if lags.too_slow(Instant::now()) {
                    let _ = out
                        .send(Out::Close(
                            CLOSE_TOO_SLOW,
                            format!(
                                "{name}: subscriber too slow, {} results skipped {MAX_LAGS} times",
                                n
                            ),
                        ))
                        .await;
                    return;
                }
                let msg = if tag_lag_with_query {
                    serde_json::json!({ "lagged": n, "query": name })
                } else {
                    serde_json::json!({ "lagged": n })
                };
                if out.send(Out::Text(msg.to_string())).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => {
                let _ = out
                    .send(Out::Close(1000, format!("{name}: feed closed")))
                    .await;
                return;
            }
        }
    }
}

async fn run_socket(
    socket: WebSocket,
    hub: HubHandle,
    initial: Vec<(String, broadcast::Receiver<FeedMessage>)>,
    control: bool,
) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(256);
    let mut subs: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    for (name, rx) in initial {
        let task = tokio::spawn(forward(
            hub.clone(),
            name.clone(),
            rx,
            out_tx.clone(),
            false,
        ));
        subs.insert(name, task);
    }
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            match msg {
                Out::Text(t) => {
                    if sink.send(Message::Text(Utf8Bytes::from(t))).await.is_err() {
                        return;
                    }
                }
                Out::Close(code, reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: Utf8Bytes::from(reason),
                        })))
                        .await;
                    return;
                }
            }
        }
    });
    let mut writer = writer;
    loop {
        tokio::select! {
            _ = &mut writer => break,
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) if control => {
                    let reply = match serde_json::from_str::<Control>(&text) {
                        Ok(c) => {
                            let mut subscribed = Vec::new();
                            let mut unknown = Vec::new();
                            for name in c.subscribe {
                                if subs.contains_key(&name) {
                                    subscribed.push(name);
                                    continue;
                                }
                                match hub.feeds.subscribe(&name) {
                                    Some(rx) => {
                                        let task = tokio::spawn(forward(hub.clone(), name.clone(), rx, out_tx.clone(), true));
                                        subs.insert(name.clone(), task);
                                        subscribed.push(name);
                                    }
                                    None => unknown.push(name),
                                }
                            }
                            let mut unsubscribed = Vec::new();
                            for name in c.unsubscribe {
                                if let Some(task) = subs.remove(&name) {
                                    task.abort();
                                    unsubscribed.push(name);
                                }
                            }
                            let mut r = serde_json::json!({ "subscribed": subscribed, "unsubscribed": unsubscribed });
                            if !unknown.is_empty() {
                                r["error"] = serde_json::json!({ "message": "no such query", "queries": unknown });
                            }
                            r
                        }
                        Err(e) => serde_json::json!({ "error": { "message": format!("expected {{\"subscribe\": [...]}} or {{\"unsubscribe\": [...]}}: {e}") } }),
                    };
                    if out_tx.send(Out::Text(reply.to_string())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // pings are answered by the library
            }
        }
    }
    for (_, task) in subs {
        task.abort();
    }
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_are_closed_after_repeated_lags_within_the_period() {
        let mut p = LagPolicy::default();
        let t0 = Instant::now();
        assert!(!p.too_slow(t0));
        assert!(!p.too_slow(t0 + Duration::from_secs(1)));
        assert!(p.too_slow(t0 + Duration::from_secs(2)));
        let mut p = LagPolicy::default();
        assert!(!p.too_slow(t0));
        assert!(!p.too_slow(t0 + LAG_PERIOD));
        assert!(!p.too_slow(t0 + LAG_PERIOD * 2 + Duration::from_secs(1)));
    }
}
