//! Access control for the HTTP API and the websockets, as one axum
//! middleware ([`check`]) applied to every route.
//!
//! In order, for each request:
//! 1. **Origin.** A request carrying an `Origin` header (browsers send it on
//!    cross-site requests, on `POST`s and on every websocket handshake) must
//!    come from the server's own origin (the `Origin`'s host and port equal
//!    the `Host` header's) or from one listed with `--allow-origin`
//!    (`*` allows any). Otherwise: 403. Listed origins get CORS headers, and
//!    their preflight `OPTIONS` requests are answered here.
//! 2. **Host**, only without a token. The `Host` header must name an IP
//!    address, `localhost`, or a host listed with `--allow-origin`. A DNS
//!    name could be rebound by a hostile page to this server's address, and
//!    its requests would then look same-origin to the browser (DNS
//!    rebinding). Otherwise: 403. With a token, the token protects.
//! 3. **Token.** With `--token` set, every request except `GET /v1/health`
//!    (a liveness probe that reveals nothing) needs
//!    `Authorization: Bearer TOKEN`. Browsers cannot set headers on
//!    websockets, so websocket handshakes may pass `?token=TOKEN` in the URL
//!    instead. The comparison takes the same time wherever the first
//!    differing byte is (it reveals only the token's length). Otherwise: 401.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;

/// The API token. Its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token: non-empty, printable ASCII without spaces (so it fits an
    /// HTTP header unchanged).
    pub fn new(token: &str) -> Result<Token, String> {
        if token.is_empty() {
            return Err("the token is empty".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token must be printable ASCII without spaces".into());
        }
        Ok(Token(token.to_string()))
    }

    /// Whether `candidate` is the token, in time that does not depend on
    /// where they differ.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

/// Byte-string equality whose time depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

/// An origin: scheme, host and port (the scheme's default when absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `http`, `https`, … (lowercase).
    pub scheme: String,
    /// Host name or address (lowercase; IPv6 in brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

/// The default port of a scheme (80 for anything but https/wss).
fn default_port(scheme: &str) -> u16 {
    match scheme {
        "https" | "wss" => 443,
        _ => 80,
    }
}

/// Splits `host[:port]` (IPv6 in brackets); `None` when the port is not a number.
fn split_authority(auth: &str) -> Option<(String, Option<u16>)> {
    let auth = auth.to_ascii_lowercase();
    let (host, port) = if auth.starts_with('[') {
        let end = auth.find(']')?;
        let rest = &auth[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        (auth[..=end].to_string(), port)
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
            None => (auth, None),
        }
    };
    (!host.is_empty()).then_some((host, port))
}

impl Origin {
    /// Parses `scheme://host[:port]` (a trailing path is ignored).
    pub fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = split_authority(auth)?;
        let port = port.unwrap_or_else(|| default_port(&scheme));
        Some(Origin { scheme, host, port })
    }
}

/// Who may call the API.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// The token every call needs (`None`: no token needed).
    pub token: Option<Token>,
    /// Origins other than the server's own that may call it.
    pub allow_origins: Vec<Origin>,
    /// `--allow-origin '*'`: any origin may call it.
    pub allow_any_origin: bool,
}

impl Access {
    /// Access with an optional token and the `--allow-origin` list (each
    /// `scheme://host[:port]`, or `*`).
    pub fn new(token: Option<Token>, allow_origins: &[String]) -> Result<Access, String> {
        let mut access = Access {
            token,
            ..Access::default()
        };
        for o in allow_origins {
            if o.trim() == "*" {
                access.allow_any_origin = true;
                continue;
            }
            let parsed = Origin::parse(o).ok_or_else(|| {
                format!("invalid origin `{o}`: expected scheme://host[:port], e.g. http://localhost:3000")
            })?;
            access.allow_origins.push(parsed);
        }
        Ok(access)
    }

    fn allowed_origin(&self, origin: &Origin) -> bool {
        self.allow_any_origin || self.allow_origins.contains(origin)
    }

    /// Whether a `Host` name is safe to answer without a token.
    fn safe_host(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().is_ok()
            || host == "localhost"
            || host.ends_with(".localhost")
            || self.allow_origins.iter().any(|o| o.host == host)
    }
}

/// A refusal: status, JSON `{"error": {"message": …}}`.
fn refuse(status: StatusCode, message: String) -> Response {
    let mut r = (
        status,
        axum::Json(json!({ "error": { "message": message } })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"shoal\""),
        );
    }
    r
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// True for a websocket handshake.
fn is_websocket(headers: &HeaderMap) -> bool {
    header_str(headers, header::UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `%XX`-decodes a query-string value (`+` is a space).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The token a request presents: the bearer credentials, or for websocket
/// handshakes also the `token` query parameter.
fn presented_token(req: &Request) -> Option<Vec<u8>> {
    if let Some(auth) = header_str(req.headers(), header::AUTHORIZATION) {
        let (scheme, cred) = auth.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| cred.trim().as_bytes().to_vec());
    }
    if is_websocket(req.headers()) {
        let query = req.uri().query()?;
        return query
            .split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(percent_decode);
    }
    None
}

/// CORS headers for an allowed cross-site origin.
fn add_cors(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// The middleware: see the module documentation.
pub async fn check(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = header_str(headers, header::HOST).and_then(split_authority);
    let mut cors = None;
    if let Some(raw) = headers.get(header::ORIGIN) {
        let text = raw.to_str().unwrap_or("");
        let origin = Origin::parse(text);
        let same = match (&origin, &host) {
            (Some(o), Some((h, p))) => {
                o.host == *h && o.port == p.unwrap_or(default_port(&o.scheme))
            }
            _ => false,
        };
        if !same {
            if !origin.as_ref().is_some_and(|o| access.allowed_origin(o)) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "cross-origin request from `{text}` refused; start the server with --allow-origin {text} to allow it"
                    ),
                );
            }
            cors = Some(raw.clone());
        }
    }
    if let (Some(origin), true) = (&cors, req.method() == Method::OPTIONS) {
        // A preflight from an allowed origin: say what it may send.
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        add_cors(h, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return r;
    }
    match &access.token {
        None => {
            if let Some((h, _)) = &host {
                if !access.safe_host(h) {
                    return refuse(
                        StatusCode::FORBIDDEN,
                        format!(
                            "host `{h}` refused: without a token only IP addresses, localhost and --allow-origin hosts are answered (a DNS name could be rebound by a hostile page); set --token or add --allow-origin http://{h}"
                        ),
                    );
                }
            }
        }
        Some(token) => {
            let open = req.method() == Method::GET && req.uri().path() == "/v1/health";
            if !open {
                match presented_token(&req) {
                    None => {
                        return refuse(
                            StatusCode::UNAUTHORIZED,
                            "this server needs a token: send `Authorization: Bearer TOKEN` (websockets may pass ?token=TOKEN)".into(),
                        )
                    }
                    Some(t) if !token.matches(&t) => {
                        return refuse(StatusCode::UNAUTHORIZED, "wrong token".into())
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let mut response = next.run(req).await;
    if let Some(origin) = &cors {
        add_cors(response.headers_mut(), origin);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_value_and_length() {
        let t = Token::new("s3cret").unwrap();
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3creT"));
        assert!(!t.matches(b"s3cre"));
        assert!(!t.matches(b"s3crett"));
        assert!(!t.matches(b""));
        assert!(Token::new("").is_err());
        assert!(Token::new("a b").is_err());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn origins_parse_with_default_ports() {
        let o = Origin::parse("HTTP://Example.com").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port),
            ("http", "example.com", 80)
        );
        let o = Origin::parse("https://example.com/app/").unwrap();
        assert_eq!(o.port, 443);
        let o = Origin::parse("http://[::1]:7878").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("[::1]", 7878));
        assert_eq!(Origin::parse("null"), None);
        assert_eq!(Origin::parse("http://host:notaport"), None);
        assert_eq!(Origin::parse("http://"), None);
    }

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb%3d+c"), b"a/b= c");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%zz"), b"%zz");
    }

    #[test]
    fn only_addresses_localhost_and_listed_hosts_are_safe_without_a_token() {
        let a = Access::new(None, &["http://dash.example:3000".into()]).unwrap();
        assert!(a.safe_host("127.0.0.1"));
        assert!(a.safe_host("[::1]"));
        assert!(a.safe_host("localhost"));
        assert!(a.safe_host("app.localhost"));
        assert!(a.safe_host("dash.example"));
        assert!(!a.safe_host("evil.example"));
        assert!(Access::new(None, &["nope".into()]).is_err());
    }
}
