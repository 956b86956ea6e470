//! The HTTP API: JSON in and out, every call answered on the hub's thread.
//!
//! | Method and path | What |
//! |---|---|
//! | `POST /v1/statements` | execute statements (text, or `{"sql": …}`) |
//! | `GET /v1/streams`, `DELETE /v1/streams/{name}` | list, drop streams |
//! | `POST /v1/streams/{name}/records` | push records, one per line (`?durable=true`: answer once checkpointed) |
//! | `GET /v1/streams/{name}/rejects` | the stream's last rejected records |
//! | `GET /v1/queries`, `GET`/`DELETE /v1/queries/{name}` | list, show, drop queries |
//! | `GET /v1/queries/{name}/results` | stored final window results (`since`, `until`, `after`, `limit`) |
//! | `GET /v1/queries/{name}/live`, `GET /v1/live` | websocket result feeds |
//! | `GET /v1/explain` | the shared plans, as data and text |
//! | `GET /v1/health`, `GET /metrics` | liveness, Prometheus metrics |
//!
//! Every route passes [`super::guard`] first (origin, host, token).

use super::guard::{self, Access};
use super::hub::{quote_ident, Hub, HubGone, HubHandle};
use super::live;
use super::live::SubscriberSlots;
use crate::exec::{ErrorKind, Outcome, StatementError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// Default largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 << 20;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The hub.
    pub hub: HubHandle,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Open websockets and their limit.
    pub subscribers: SubscriberSlots,
    /// Who may call the API.
    pub access: Arc<Access>,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/statements", post(statements))
        .route("/v1/streams", get(list_streams))
        .route("/v1/streams/{name}", get(show_stream).delete(drop_stream))
        .route("/v1/streams/{name}/records", post(ingest))
        .route("/v1/streams/{name}/rejects", get(rejects))
        .route("/v1/queries", get(list_queries))
        .route("/v1/queries/{name}", get(show_query).delete(drop_query))
        .route("/v1/queries/{name}/results", get(results))
        .route("/v1/queries/{name}/live", get(live::query_feed))
        .route("/v1/live", get(live::multi_feed))
        .route("/v1/explain", get(explain))
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics))
        .merge(super::web::routes())
        .layer(DefaultBodyLimit::max(state.max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.access.clone(),
            guard::check,
        ))
        .with_state(state)
}

/// An API error: a status and a JSON body `{"error": {...}}`.
pub struct ApiError(StatusCode, Value);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<HubGone> for ApiError {
    fn from(e: HubGone) -> ApiError {
        ApiError::plain(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
    }
}

impl ApiError {
    /// An error with only a message.
    pub fn plain(status: StatusCode, message: &str) -> ApiError {
        ApiError(status, json!({"error": {"message": message}}))
    }

    fn not_found(what: &str, name: &str) -> ApiError {
        ApiError::plain(StatusCode::NOT_FOUND, &format!("no {what} named `{name}`"))
    }

    /// A statement error, with where it points in `src`.
    fn statement(e: &StatementError, src: &str, executed: &[Outcome]) -> ApiError {
        let status = match e.kind {
            ErrorKind::Syntax | ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Conflict | ErrorKind::Limit => StatusCode::CONFLICT,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
        };
        let pos = e.diagnostic.position(src);
        ApiError(
            status,
            json!({
                "error": {
                    "message": e.diagnostic.message,
                    "kind": e.kind,
                    "line": pos.line,
                    "column": pos.column,
                    "token": e.diagnostic.token(src),
                    "offset": e.diagnostic.span.start,
                    "rendered": e.render(src),
                },
                "executed": executed,
            }),
        )
    }
}

type ApiResult = Result<Response, ApiError>;

/// The request body, or a JSON error (413 beyond the body limit).
fn body_of(body: Result<Bytes, BytesRejection>, st: &AppState) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "request body larger than the limit of {} bytes (--max-body)",
                st.max_body
            ),
        ),
        status => ApiError::plain(status, &e.body_text()),
    })
}

async fn statements(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = body_of(body, &st)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::plain(StatusCode::BAD_REQUEST, "the body is not UTF-8"))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let sql = if is_json {
        #[derive(serde::Deserialize)]
        struct Req {
            sql: String,
        }
        serde_json::from_str::<Req>(text)
            .map_err(|e| {
                ApiError::plain(
                    StatusCode::BAD_REQUEST,
                    &format!("expected {{\"sql\": \"…\"}}: {e}"),
                )
            })?
            .sql
    } else {
        text.to_string()
    };
    let (done, err) = st.hub.execute(sql.clone()).await?;
    if let Some(e) = err {
        return Err(ApiError::statement(&e, &sql, &done));
    }
    let created = done.iter().any(|o| {
        matches!(
            o,
            Outcome::StreamCreated { .. } | Outcome::QueryCreated { .. }
        )
    });
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "results": done }))).into_response())
}

/// A stream as the API lists it.
fn stream_json(hub: &Hub, name: &str) -> Option<Value> {
    let rt = hub.engine.stream(name)?;
    let def = rt.def();
    let queries: Vec<&str> = rt.queries().map(|q| q.name.as_ref()).collect();
    Some(json!({
        "name": def.name,
        "text": def.text,
        "source": def.source,
        "source_detail": hub.sources.get(name).map(|s| s.description.clone()),
        "format": def.format,
        "event_time": def.event_time,
        "watermark_ms": def.watermark_ms,
        "watermark": rt.watermark(),
        "stats": rt.stats(),
        "records_per_sec": hub.rates.get(name).map_or(0.0, |r| r.per_sec),
        "state_groups": rt.state_groups(),
        "queries": queries,
    }))
}

async fn list_streams(State(st): State<AppState>) -> ApiResult {
    let v = st
        .hub
        .inspect(|hub| {
            let names: Vec<String> = hub.engine.streams().map(|s| s.def().name.clone()).collect();
            names
                .iter()
                .filter_map(|n| stream_json(hub, n))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "streams": v })).into_response())
}

async fn show_stream(State(st): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let n = name.clone();
    match st.hub.inspect(move |hub| stream_json(hub, &n)).await? {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError::not_found("stream", &name)),
    }
}

async fn drop_stream(State(st): State<AppState>, Path(name): Path<String>) -> ApiResult {
    run_drop(&st, format!("DROP STREAM {};", quote_ident(&name))).await
}

async fn drop_query(State(st): State<AppState>, Path(name): Path<String>) -> ApiResult {
    run_drop(&st, format!("DROP QUERY {};", quote_ident(&name))).await
}

async fn run_drop(st: &AppState, sql: String) -> ApiResult {
    let (done, err) = st.hub.execute(sql.clone()).await?;
    match err {
        Some(e) => Err(ApiError::statement(&e, &sql, &done)),
        None => Ok(Json(json!({ "results": done })).into_response()),
    }
}

async fn ingest(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let mut data = body_of(body, &st)?.to_vec();
    if !data.is_empty() && !data.ends_with(b"\n") {
        data.push(b'\n');
    }
    let durable = match params.get("durable").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(other) => {
            return Err(ApiError::plain(
                StatusCode::BAD_REQUEST,
                &format!("durable must be true or false, not `{other}`"),
            ))
        }
    };
    if durable {
        use super::hub::DurableError;
        return match st.hub.ingest_durable(name.clone(), data).await? {
            Ok(report) => Ok(Json(report).into_response()),
            Err(DurableError::NoStream(_)) => Err(ApiError::not_found("stream", &name)),
            Err(e @ DurableError::NoStore) => {
                Err(ApiError::plain(StatusCode::CONFLICT, &e.to_string()))
            }
            Err(e @ DurableError::Commit(_)) => {
                tracing::error!(error = %e, "durable ingest");
                Err(ApiError::plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the records were taken in but could not be made durable",
                ))
            }
        };
    }
    match st.hub.ingest(name.clone(), data).await? {
        Ok(report) => Ok(Json(report).into_response()),
        Err(_) => Err(ApiError::not_found("stream", &name)),
    }
}

/// Default and largest `limit` of the results history.
const HISTORY_LIMIT: (usize, usize) = (1000, 100_000);

async fn results(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> ApiResult {
    let int = |key: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::plain(
                        StatusCode::BAD_REQUEST,
                        &format!("{key} must be an integer (epoch milliseconds), not `{v}`"),
                    )
                })
            })
            .transpose()
    };
    let limit = match int("limit")? {
        None => HISTORY_LIMIT.0,
        Some(n) if n >= 1 => (n as usize).min(HISTORY_LIMIT.1),
        Some(_) => {
            return Err(ApiError::plain(
                StatusCode::BAD_REQUEST,
                "limit must be at least 1",
            ))
        }
    };
    let filter = crate::store::HistoryFilter {
        since: int("since")?,
        until: int("until")?,
        after: int("after")?,
        limit,
    };
    let n = name.clone();
    let windowed = st
        .hub
        .inspect(move |hub| {
            hub.engine
                .query(&n)
                .map(|q| q.aggregate().is_some_and(|a| a.window.is_some()))
        })
        .await?;
    let Some(windowed) = windowed else {
        return Err(ApiError::not_found("query", &name));
    };
    let Some(reader) = st.hub.store.clone() else {
        return Err(ApiError::plain(
            StatusCode::CONFLICT,
            "no result history: this server runs with --no-store",
        ));
    };
    let q = name.clone();
    let rows = tokio::task::spawn_blocking(move || reader.history(&q, &filter))
        .await
        .map_err(|e| ApiError::plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .map_err(|e| {
            tracing::error!(error = %e, "reading the result history");
            ApiError::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the result history cannot be read",
            )
        })?;
    let truncated = rows.len() == limit;
    Ok(Json(json!({
        "query": name,
        "windowed": windowed,
        "results": rows,
        "truncated": truncated,
    }))
    .into_response())
}

async fn rejects(State(st): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let n = name.clone();
    let v = st
        .hub
        .inspect(move |hub| {
            hub.engine.stream(&n).map(|rt| {
                json!({
                    "stream": n,
                    "rejected": rt.stats().rejected,
                    "recent": rt.rejects().collect::<Vec<_>>(),
                })
            })
        })
        .await?;
    v.map(|v| Json(v).into_response())
        .ok_or_else(|| ApiError::not_found("stream", &name))
}

/// A query as the API shows it; `detail` adds its part of the plan.
fn query_json(hub: &Hub, name: &str, detail: bool) -> Option<Value> {
    let q = hub.engine.query(name)?;
    let rt = hub.engine.stream(&q.stream)?;
    let stats = rt.stats();
    let (matched, groups) = rt.query_state(name)?;
    let results_out = hub.counters.get(name).map_or(0, |c| c.results_out);
    let dropped = rt.groups_dropped(name);
    let kind = if q.aggregate().is_some() {
        "aggregate"
    } else {
        "filter"
    };
    let mut v = json!({
        "name": name,
        "stream": q.stream,
        "text": q.text,
        "kind": kind,
        "counters": {
            "records_in": stats.records_in,
            "matched": matched.unwrap_or(results_out),
            "results_out": results_out,
            "late": stats.late,
            "rejected": stats.rejected,
            "state_groups": groups,
            "groups_dropped": dropped,
        },
        "status": query_status(rt.max_groups(), dropped),
        "subscribers": hub.feeds.subscribers_of(name),
    });
    if detail {
        let plan = hub.engine.describe(Some(&q.stream)).pop();
        let mine = plan.map(|p| {
            let state = p
                .states
                .iter()
                .find(|s| s.queries.iter().any(|x| &**x == name));
            let filter = p.filters.iter().find(|f| &*f.query == name);
            let node = state.map(|s| s.filter).or(filter.map(|f| f.filter));
            json!({
                "state": state,
                "filter_node": node,
                "filter": node.and_then(|n| p.predicates.get(n)).map(|n| n.text.clone()),
            })
        });
        v["plan"] = mine.unwrap_or(Value::Null);
        v["explain"] = Value::String(hub.engine.explain(Some(&q.stream)));
    }
    Some(v)
}

/// `"ok"`, or the error that makes a query's results incomplete.
pub fn query_status(max_groups: usize, groups_dropped: u64) -> String {
    if groups_dropped == 0 {
        "ok".to_string()
    } else {
        format!(
            "error: group limit {max_groups} reached; {groups_dropped} updates needing a new group were dropped, results are incomplete"
        )
    }
}

async fn list_queries(State(st): State<AppState>) -> ApiResult {
    let v = st
        .hub
        .inspect(|hub| {
            let names: Vec<String> = hub.engine.query_names().map(str::to_string).collect();
            names
                .iter()
                .filter_map(|n| query_json(hub, n, false))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "queries": v })).into_response())
}

async fn show_query(State(st): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let n = name.clone();
    match st.hub.inspect(move |hub| query_json(hub, &n, true)).await? {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError::not_found("query", &name)),
    }
}

async fn explain(State(st): State<AppState>) -> ApiResult {
    let v = st
        .hub
        .inspect(|hub| {
            json!({
                "streams": hub.engine.describe(None),
                "text": hub.engine.explain(None),
            })
        })
        .await?;
    Ok(Json(v).into_response())
}

async fn health(State(st): State<AppState>) -> ApiResult {
    let v = st
        .hub
        .inspect(|hub| {
            json!({
                "status": "ok",
                "uptime_seconds": hub.started.elapsed().as_secs_f64(),
                "streams": hub.engine.streams().count(),
                "queries": hub.engine.query_names().count(),
                "batches": hub.batches,
            })
        })
        .await?;
    Ok(Json(v).into_response())
}

async fn metrics(State(st): State<AppState>) -> ApiResult {
    let text = st.hub.inspect(|hub| super::metrics::render(hub)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
