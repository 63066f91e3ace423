//! Test harness: an in-process collector on a free loopback port with a manual clock, and a
//! minimal HTTP/1.1 client over a raw socket (so tests see exactly what went over the wire,
//! including a connection dropped without a response, and can pick their source address to
//! act as different client IPs).
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use scantrack_collector::{start, Collector, Config, ManualClock};
use scantrack_core::Millis;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// 2026-11-23T10:00:00Z: a whole second, so `X-RateLimit-Reset` arithmetic is easy to read.
pub const T0: Millis = Millis(1_795_428_000_000);
/// Every request and read in these tests finishes well within this.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

pub const SESSION: &str = "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43";
pub const EXPOSE: &str =
    "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id";

pub struct Server {
    pub collector: Collector,
    pub clock: ManualClock,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let clock = ManualClock::new(T0);
        let collector = start(config, Arc::new(clock.clone()))
            .await
            .expect("collector starts");
        Server { collector, clock }
    }
    pub fn addr(&self) -> SocketAddr {
        self.collector.addr()
    }
    pub async fn post(&self, path: &str, body: &str) -> Resp {
        self.request(
            "POST",
            path,
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body.as_bytes(),
        )
        .await
    }
    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.post(path, &body.to_string()).await
    }
    pub async fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], b"").await
    }
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        send(self.addr(), None, method, path, headers, body)
            .await
            .expect("a response")
    }
    /// Stored events matching a query string such as `session=...&limit=1000`.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/events?{query}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["events"].as_array().unwrap().clone()
    }
    pub async fn refused(&self) -> Vec<Value> {
        let r = self.get("/api/refused?limit=1000").await;
        r.json()["refused"].as_array().unwrap().clone()
    }
    pub async fn admin(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.request(
            method,
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn header_u64(&self, name: &str) -> u64 {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} header in {self:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number in {self:?}"))
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Why a request got no response.
#[derive(Debug)]
pub enum SendError {
    Io(std::io::Error),
    /// The server closed the connection without sending a byte.
    Closed,
    Timeout,
}

/// One request on a fresh connection (`Connection: close`), optionally from a given loopback
/// source address.
pub async fn send(
    addr: SocketAddr,
    from: Option<IpAddr>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, SendError> {
    tokio::time::timeout(
        IO_TIMEOUT,
        send_inner(addr, from, method, path, headers, body),
    )
    .await
    .map_err(|_| SendError::Timeout)?
}

async fn send_inner(
    addr: SocketAddr,
    from: Option<IpAddr>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, SendError> {
    let socket = TcpSocket::new_v4().map_err(SendError::Io)?;
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0)).map_err(SendError::Io)?;
    }
    let mut stream = socket.connect(addr).await.map_err(SendError::Io)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(SendError::Io)?;
    stream.write_all(body).await.map_err(SendError::Io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.map_err(SendError::Io)?;
    if raw.is_empty() {
        return Err(SendError::Closed);
    }
    Ok(parse_response(&raw))
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&data[..eol]).unwrap_or("0");
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// A UUID v4-shaped id from a number (deterministic, lower case).
pub fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A valid event.
pub fn event(n: u64) -> Value {
    json!({
        "event_id": uuid(n),
        "scan_session_id": SESSION,
        "event_name": "purchase",
        "timestamp": "2026-11-23T10:00:01.500Z",
        "url": "https://shop.example/thanks",
        "referrer": "https://shop.example/cart",
        "properties": {"sku": "A-1", "qty": 2},
        "conversion_value": {"amount": 19.98, "currency": "EUR"},
        "user_identifiers": {"email_hash": "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"}
    })
}

pub fn batch(site: &str, events: Vec<Value>) -> Value {
    json!({"site_id": site, "sent_at": "2026-11-23T10:00:02.123Z", "events": events})
}

/// A fresh file path in the system temp directory (removed with its WAL files on drop).
pub struct TempDb(pub std::path::PathBuf);

impl TempDb {
    pub fn new(tag: &str) -> TempDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "scantrack-collector-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDb(dir)
    }
    pub fn db(&self) -> std::path::PathBuf {
        self.0.join("scantrack.db")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
