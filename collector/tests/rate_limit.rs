//! The rate limit of contract 2.1 with a controllable clock: 100 per minute per client IP for
//! `/collect/batch` and `/ct` together, a grace of 10, `Retry-After` on 429.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use scantrack_collector::Config;
use serde_json::json;

async fn post_from(s: &Server, from: &str, path: &str, body: &serde_json::Value) -> Resp {
    let ip: IpAddr = from.parse().unwrap();
    send(
        s.addr(),
        Some(ip),
        "POST",
        path,
        &[("Content-Type", "text/plain")],
        body.to_string().as_bytes(),
    )
    .await
    .expect("a response")
}

fn single(n: u64) -> serde_json::Value {
    let mut e = event(n);
    e["site_id"] = json!("site_demo");
    e
}

#[tokio::test]
async fn the_111th_request_in_a_minute_is_429_with_retry_after() {
    let s = Server::start(Config::for_tests()).await;
    let mut remaining = Vec::new();
    for i in 0..110 {
        let r = s
            .post_json("/collect/batch", &batch("site_demo", vec![event(i)]))
            .await;
        assert_eq!(r.status, 200, "request {i}: {r:?}");
        remaining.push(r.header_u64("x-ratelimit-remaining"));
    }
    assert_eq!(remaining[0], 99);
    assert_eq!(remaining[98], 1);
    assert_eq!(
        remaining[99], 0,
        "the 100th request leaves nothing the client may use"
    );
    assert!(
        remaining[100..].iter().all(|&r| r == 0),
        "the grace is never advertised"
    );

    let r = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(999)]))
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.json(), json!({"detail": "rate limit exceeded"}));
    assert_eq!(
        r.header("retry-after"),
        Some("1"),
        "one token is back after 600 ms"
    );
    assert_eq!(r.header_u64("x-ratelimit-limit"), 100);
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 0);
    // Empty bucket at T0: full again 110 * 600 ms = 66 s later.
    assert_eq!(r.header_u64("x-ratelimit-reset"), T0.0 / 1000 + 66);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-expose-headers"), Some(EXPOSE));
    assert!(s
        .events("session=&name=&limit=1000")
        .await
        .iter()
        .all(|e| e["event_id"] != uuid(999)));

    let preflight = s.request("OPTIONS", "/collect/batch", &[], b"").await;
    assert_eq!(preflight.status, 204, "a preflight is never rate limited");
    assert_eq!(preflight.header_u64("x-ratelimit-remaining"), 0);
    assert!(
        preflight.header("retry-after").is_none(),
        "Retry-After only on a 429"
    );

    s.clock.advance(Duration::from_millis(599));
    assert_eq!(
        s.post_json("/collect/batch", &batch("site_demo", vec![event(999)]))
            .await
            .status,
        429
    );
    s.clock.advance(Duration::from_millis(1));
    let r = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(999)]))
        .await;
    assert_eq!(r.status, 200, "a token came back: {r:?}");
}

#[tokio::test]
async fn batch_and_ct_share_one_bucket() {
    let s = Server::start(Config::for_tests().rate_per_minute(5)).await;
    // 5 + grace 10 = 15 requests, alternating endpoints.
    for i in 0..15 {
        let r = if i % 2 == 0 {
            s.post_json("/ct", &single(i)).await
        } else {
            s.post_json("/collect/batch", &batch("site_demo", vec![event(i)]))
                .await
        };
        assert_eq!(r.status, 200, "request {i}");
    }
    assert_eq!(s.post_json("/ct", &single(100)).await.status, 429);
    assert_eq!(
        s.post_json("/collect/batch", &batch("site_demo", vec![event(101)]))
            .await
            .status,
        429
    );
}

#[tokio::test]
async fn retry_after_is_whole_seconds_until_one_token() {
    let s = Server::start(Config::for_tests().rate_per_minute(1)).await;
    for i in 0..11 {
        assert_eq!(s.post_json("/ct", &single(i)).await.status, 200);
    }
    s.clock.advance(Duration::from_millis(1500));
    let r = s.post_json("/ct", &single(50)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("59"), "58.5 s rounds up");
    assert_eq!(r.header_u64("x-ratelimit-limit"), 1);
}

#[tokio::test]
async fn refused_requests_also_take_a_token() {
    // A client that keeps sending garbage is limited like any other.
    let s = Server::start(Config::for_tests().rate_per_minute(1)).await;
    for _ in 0..11 {
        assert_eq!(s.post("/collect/batch", "{").await.status, 400);
    }
    assert_eq!(s.post("/collect/batch", "{").await.status, 429);
}

#[tokio::test]
async fn each_client_ip_has_its_own_bucket() {
    let s = Server::start(Config::for_tests().rate_per_minute(1)).await;
    for i in 0..11 {
        assert_eq!(
            post_from(&s, "127.0.0.1", "/ct", &single(i)).await.status,
            200
        );
    }
    assert_eq!(
        post_from(&s, "127.0.0.1", "/ct", &single(20)).await.status,
        429
    );
    let other = post_from(&s, "127.0.0.2", "/ct", &single(21)).await;
    assert_eq!(other.status, 200, "{other:?}");
    assert_eq!(
        other.header_u64("x-ratelimit-remaining"),
        0,
        "1 + 10 grace - 1 used, minus grace"
    );
}

#[tokio::test]
async fn rate_limited_requests_are_logged_and_recorded_as_refused() {
    let s = Server::start(Config::for_tests().rate_per_minute(1)).await;
    for i in 0..12 {
        s.post_json("/ct", &single(i)).await;
    }
    let refused = s.refused().await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["status"], 429);
    assert!(refused[0]["reason"]
        .as_str()
        .unwrap()
        .contains("rate limit"));
    let log = s.get("/__admin/requests").await.json();
    let statuses: Vec<_> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses.len(), 12);
    assert_eq!(statuses[11], 429);
}

#[tokio::test]
async fn admin_reset_refills_every_bucket() {
    let s = Server::start(Config::for_tests().rate_per_minute(1)).await;
    for i in 0..11 {
        s.post_json("/ct", &single(i)).await;
    }
    assert_eq!(s.post_json("/ct", &single(11)).await.status, 429);
    assert_eq!(
        s.admin("POST", "/__admin/reset", &json!({})).await.status,
        200
    );
    assert_eq!(s.post_json("/ct", &single(12)).await.status, 200);
}
