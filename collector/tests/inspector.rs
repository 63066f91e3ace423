//! The inspector page, its live stream, its JSON API, and the static directories.

mod common;

use std::time::Duration;

use common::*;
use scantrack_collector::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn the_inspector_page_is_self_contained_html() {
    let s = Server::start(Config::for_tests()).await;
    let r = s.get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.contains("scantrack inspector"));
    assert!(r.body.contains("new EventSource(\"/__events\")"));
    assert!(
        !r.body.contains("https://"),
        "no external resources (no internet here)"
    );
    assert!(
        !r.body.contains("http://"),
        "no external resources (no internet here)"
    );
}

/// Reads from `stream` until `needle` has been seen (bounded by `IO_TIMEOUT`).
async fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    let deadline = tokio::time::Instant::now() + IO_TIMEOUT;
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; got {seen}"))
            .unwrap();
        assert!(n > 0, "stream closed; got {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[tokio::test]
async fn accepted_and_refused_requests_arrive_live_over_server_sent_events() {
    let s = Server::start(Config::for_tests()).await;
    let mut stream = TcpStream::connect(s.addr()).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /__events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                s.addr()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "\r\n\r\n").await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        seen.to_lowercase()
            .contains("content-type: text/event-stream"),
        "{seen}"
    );
    // The subscription exists once the headers are out; give the server a moment anyway.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut e = event(1);
    e["event_name"] = json!("signup");
    s.post_json("/collect/batch", &batch("site_demo", vec![e]))
        .await;
    read_until(&mut stream, &mut seen, "event: accepted").await;
    read_until(&mut stream, &mut seen, &uuid(1)).await;
    assert!(seen.contains("\"event_name\":\"signup\""), "{seen}");

    s.post("/collect/batch", "{broken").await;
    read_until(&mut stream, &mut seen, "event: refused").await;
    read_until(&mut stream, &mut seen, "\"status\":400").await;
}

#[tokio::test]
async fn stats_report_counts_and_limits() {
    let s = Server::start(Config::for_tests().site("site_demo")).await;
    s.post_json("/collect/batch", &batch("site_demo", vec![event(1)]))
        .await;
    s.post("/ct", "[]").await;
    let stats = s.get("/api/stats").await.json();
    assert_eq!(stats["events"], 1);
    assert_eq!(stats["refused"], 1);
    assert_eq!(stats["sites"], json!(["site_demo"]));
    assert_eq!(stats["rate_per_minute"], 100);
    assert_eq!(stats["max_body_bytes"], 262_144);
    assert_eq!(stats["max_events"], 500);
}

#[tokio::test]
async fn events_page_backwards_with_before() {
    let s = Server::start(Config::for_tests()).await;
    s.post_json(
        "/collect/batch",
        &batch("site_demo", (0..5).map(event).collect()),
    )
    .await;
    let first = s.events("limit=2").await;
    assert_eq!(first.len(), 2);
    let before = first[1]["id"].as_i64().unwrap();
    let next = s.events(&format!("limit=10&before={before}")).await;
    assert_eq!(next.len(), 3);
    assert!(next.iter().all(|e| e["id"].as_i64().unwrap() < before));
}

#[tokio::test]
async fn www_is_served_at_demo_and_dist_at_dist() {
    let dir = TempDb::new("static");
    let (www, dist) = (dir.0.join("www"), dir.0.join("dist"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(www.join("index.html"), "<h1>demo shop</h1>").unwrap();
    std::fs::write(dist.join("scantrack.js"), "window.x = 1;").unwrap();
    std::fs::write(dist.join("scantrack_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let s = Server::start(Config::for_tests().www(&www).dist(&dist)).await;

    let r = s.get("/demo/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "<h1>demo shop</h1>"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let r = s.get("/demo").await;
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/demo/"));
    let r = s.get("/dist/scantrack.js").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").unwrap().contains("javascript"),
        "{r:?}"
    );
    let r = s.get("/dist/scantrack_bg.wasm").await;
    assert_eq!(r.header("content-type"), Some("application/wasm"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("*"),
        "cross-origin wasm fetch"
    );
    assert_eq!(s.get("/dist/missing.js").await.status, 404);
}
