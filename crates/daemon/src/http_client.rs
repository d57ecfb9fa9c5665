//! The daemon's outgoing HTTP client: one request with a deadline, over HTTP or HTTPS (rustls
//! with the ring provider and the Mozilla roots of `webpki-roots`), HTTP/1.1, connections
//! reused. Its callers: the HyperKitty archiver's POSTs ([`crate::archive::hyperkitty`]) and
//! the GET of a template override's `http(s):` URI ([`crate::admin`]). It reports what
//! happened and decides nothing: the callers classify the answer.

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How a request failed before an HTTP status came back, or while its body was read.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request could not be made (a bad header value).
    #[error("cannot make the request: {0}")]
    Request(String),
    /// No connection, a TLS failure, or the connection broke.
    #[error("{0}")]
    Connect(String),
    /// No complete answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// An HTTP answer: its status and the start of its body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// The body, at most the `max_body` the caller gave (longer bodies are cut there).
    pub body: Vec<u8>,
    /// Whether the body was longer than `max_body`.
    pub truncated: bool,
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The process's client (its connection pool).
fn client() -> &'static HttpsClient {
    static CLIENT: OnceLock<HttpsClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = HttpsConnectorBuilder::new()
            // rustls's provider from its crate features: ring, the only one built.
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector)
    })
}

/// POSTs `body` to `url` with `headers`; the whole exchange (connecting, sending, reading at
/// most `max_body` bytes of the answer) must end within `timeout`.
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    timeout: Duration,
    max_body: usize,
) -> Result<Answer, TransportError> {
    send(Request::post(url), headers, body, timeout, max_body).await
}

/// GETs `url` with `headers`, as [`post`] does.
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
    max_body: usize,
) -> Result<Answer, TransportError> {
    send(Request::get(url), headers, Vec::new(), timeout, max_body).await
}

async fn send(
    mut request: hyper::http::request::Builder,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    timeout: Duration,
    max_body: usize,
) -> Result<Answer, TransportError> {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| TransportError::Request(e.to_string()))?;
    let exchange = async {
        let response = client()
            .request(request)
            .await
            .map_err(|e| TransportError::Connect(error_chain(&e)))?;
        let status = response.status();
        // Read up to one byte more than wanted: that tells a body that fits from one cut.
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while body.len() <= max_body {
            match incoming.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        body.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Err(TransportError::Connect(error_chain(&e))),
            }
        }
        let truncated = body.len() > max_body;
        body.truncate(max_body);
        Ok(Answer {
            status,
            body,
            truncated,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| TransportError::Timeout(timeout))?
}

/// An error and its sources on one line (hyper's top-level text says little).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
