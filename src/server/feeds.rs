//! Result feeds: one broadcast channel per query.
//!
//! The hub publishes each result once; every subscriber has its own bounded
//! place in the channel. A subscriber that falls more than [`FEED_CAPACITY`]
//! messages behind loses the oldest ones and is told how many (the channel's
//! lag), so a slow reader costs the hub nothing. Results are turned into JSON
//! only when the query has subscribers.

use dashmap::DashMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Messages a subscriber may fall behind before it lags.
pub const FEED_CAPACITY: usize = 16384;

/// One message on a feed.
#[derive(Clone, Debug)]
pub enum FeedMessage {
    /// A result, as one line of JSON.
    Result(Arc<str>),
    /// The feed ends (the query was dropped), with the reason.
    Closed(Arc<str>),
}

/// The feeds of all queries.
#[derive(Default)]
pub struct Feeds {
    senders: DashMap<Arc<str>, broadcast::Sender<FeedMessage>>,
}

impl Feeds {
    /// Opens the feed of a new query.
    pub fn open(&self, query: &Arc<str>) {
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        self.senders.insert(query.clone(), tx);
    }

    /// Ends the feed of a dropped query; subscribers get `reason`.
    pub fn close(&self, query: &str, reason: &str) {
        if let Some((_, tx)) = self.senders.remove(query) {
            let _ = tx.send(FeedMessage::Closed(Arc::from(reason)));
        }
    }

    /// Sends a result to the query's subscribers; `json` is called only if
    /// there are any.
    pub fn publish(&self, query: &str, json: impl FnOnce() -> String) {
        if let Some(tx) = self.senders.get(query) {
            if tx.receiver_count() > 0 {
                let _ = tx.send(FeedMessage::Result(Arc::from(json())));
            }
        }
    }

    /// Whether anyone listens to `query`.
    pub fn has_subscribers(&self, query: &str) -> bool {
        self.senders
            .get(query)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// A new subscription, or `None` when there is no such query.
    pub fn subscribe(&self, query: &str) -> Option<broadcast::Receiver<FeedMessage>> {
        self.senders.get(query).map(|tx| tx.subscribe())
    }

    /// Subscribers over all queries.
    pub fn subscriber_count(&self) -> usize {
        self.senders
            .iter()
            .map(|e| e.value().receiver_count())
            .sum()
    }

    /// Subscribers of one query.
    pub fn subscribers_of(&self, query: &str) -> usize {
        self.senders.get(query).map_or(0, |tx| tx.receiver_count())
    }
}
