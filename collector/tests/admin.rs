//! Fault injection (`/__admin/faults`), the request log (`/__admin/requests`) and reset.

mod common;

use std::time::{Duration, Instant};

use common::*;
use scantrack_collector::Config;
use serde_json::json;

async fn plan(s: &Server, body: serde_json::Value) {
    let r = s.admin("POST", "/__admin/faults", &body).await;
    assert_eq!(r.status, 200, "{r:?}");
}

fn ok_batch(n: u64) -> serde_json::Value {
    batch("site_demo", vec![event(n)])
}

#[tokio::test]
async fn scripted_statuses_are_served_in_order_then_normal_processing_resumes() {
    let s = Server::start(Config::for_tests()).await;
    plan(
        &s,
        json!({"responses": [
            {"status": 503, "times": 2},
            {"status": 429, "retry_after": 7},
            {"status": 429, "retry_after": "Wed, 21 Oct 2026 07:28:00 GMT"},
            {"status": 500, "body": "<html>upstream exploded</html>"}
        ]}),
    )
    .await;
    let r = s.post_json("/collect/batch", &ok_batch(1)).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json(), json!({"detail": "injected fault: status 503"}));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("x-ratelimit-limit").is_some() && r.header("x-request-id").is_some());
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(1)).await.status,
        503
    );
    let r = s.post_json("/collect/batch", &ok_batch(1)).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    assert_eq!(r.json(), json!({"detail": "rate limit exceeded"}));
    let r = s.post_json("/collect/batch", &ok_batch(1)).await;
    assert_eq!(
        r.header("retry-after"),
        Some("Wed, 21 Oct 2026 07:28:00 GMT")
    );
    let r = s.post_json("/collect/batch", &ok_batch(1)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "<html>upstream exploded</html>")
    );
    assert!(
        s.events("").await.is_empty(),
        "scripted answers store nothing"
    );
    let r = s.post_json("/collect/batch", &ok_batch(1)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header_u64("x-ratelimit-remaining"),
        99,
        "scripted answers took no rate-limit token"
    );
}

#[tokio::test]
async fn scripted_headers_replace_the_rate_limit_headers() {
    let s = Server::start(Config::for_tests()).await;
    plan(&s, json!({"responses": [{"headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1795428030"}}]})).await;
    let r = s.post_json("/collect/batch", &ok_batch(1)).await;
    assert_eq!(r.status, 200, "no status: processed normally");
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-reset"), Some("1795428030"));
    assert_eq!(s.events("").await.len(), 1);
}

#[tokio::test]
async fn a_dropped_connection_gets_no_response_at_all() {
    let s = Server::start(Config::for_tests()).await;
    plan(&s, json!({"responses": [{"drop": true}]})).await;
    let body = ok_batch(1).to_string();
    let got = send(
        s.addr(),
        None,
        "POST",
        "/collect/batch",
        &[],
        body.as_bytes(),
    )
    .await;
    assert!(
        matches!(got, Err(SendError::Closed) | Err(SendError::Io(_))),
        "{got:?}"
    );
    assert!(s.events("").await.is_empty());
    let log = s.get("/__admin/requests").await.json();
    assert_eq!(log["requests"][0]["status"], json!(null));
    assert!(log["requests"][0]["fault"]
        .as_str()
        .unwrap()
        .contains("drop"));
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(1)).await.status,
        200
    );
}

#[tokio::test]
async fn a_delay_holds_the_response() {
    let s = Server::start(Config::for_tests()).await;
    plan(
        &s,
        json!({"responses": [{"delay_ms": 300}, {"delay_ms": 300, "status": 504}]}),
    )
    .await;
    let t = Instant::now();
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(1)).await.status,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(2)).await.status,
        504
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_413_threshold_applies_until_cleared() {
    let s = Server::start(Config::for_tests()).await;
    plan(&s, json!({"max_body_bytes": 600})).await;
    let two = batch("site_demo", vec![event(1), event(2)]);
    assert!(two.to_string().len() > 600 && ok_batch(3).to_string().len() <= 600);
    for _ in 0..2 {
        let r = s.post_json("/collect/batch", &two).await;
        assert_eq!(r.status, 413);
        assert_eq!(r.json(), json!({"detail": "payload too large"}));
    }
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(3)).await.status,
        200
    );
    assert_eq!(
        s.admin("DELETE", "/__admin/faults", &json!({}))
            .await
            .status,
        200
    );
    assert_eq!(s.post_json("/collect/batch", &two).await.status, 200);
}

#[tokio::test]
async fn one_event_rejected_with_422() {
    let s = Server::start(Config::for_tests()).await;
    plan(&s, json!({"responses": [{"reject_event": {"index": 1, "field": "event_name", "msg": "nope"}}]})).await;
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", vec![event(1), event(2)]),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json(),
        json!({"detail": [{"loc": ["body", "events", 1, "event_name"], "msg": "nope", "type": "value_error.injected"}]})
    );
    assert!(s.events("").await.is_empty());
    let refused = s.refused().await;
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("422 for event 1"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn sticky_reject_event_ids_name_each_offending_index() {
    let s = Server::start(Config::for_tests()).await;
    plan(&s, json!({"reject_event_ids": [uuid(2), uuid(4)]})).await;
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (1..=4).map(event).collect()),
        )
        .await;
    assert_eq!(r.status, 422);
    let locs: Vec<_> = r.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        vec![
            json!(["body", "events", 1, "event_id"]),
            json!(["body", "events", 3, "event_id"])
        ]
    );
    // What a client does next: drop the named events, send the rest.
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", vec![event(1), event(3)]),
        )
        .await;
    assert_eq!(r.json(), json!({"accepted": 2, "duplicates": 0}));
}

#[tokio::test]
async fn the_request_log_has_arrival_times_bodies_and_responses() {
    let s = Server::start(Config::for_tests()).await;
    s.post_json("/collect/batch", &ok_batch(1)).await;
    s.clock.advance(Duration::from_secs(2));
    s.request("OPTIONS", "/ct", &[("Origin", "https://shop.example")], b"")
        .await;
    s.post("/ct", "{").await;
    s.get("/api/stats").await; // not an API path: not logged
    let log = s.get("/__admin/requests").await.json();
    let reqs = log["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 3, "{log}");
    assert_eq!(reqs[0]["seq"], 1);
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["path"], "/collect/batch");
    assert_eq!(reqs[0]["received_at"], T0.0);
    assert_eq!(reqs[0]["status"], 200);
    assert_eq!(reqs[0]["content_type"], "text/plain;charset=UTF-8");
    assert_eq!(reqs[0]["body"], ok_batch(1).to_string());
    assert_eq!(reqs[0]["response_body"], r#"{"accepted":1,"duplicates":0}"#);
    assert!(reqs[0]["response_headers"]["x-request-id"].is_string());
    assert_eq!(
        reqs[0]["response_headers"]["access-control-allow-origin"],
        "*"
    );
    assert_eq!(reqs[1]["method"], "OPTIONS");
    assert_eq!(reqs[1]["status"], 204);
    assert_eq!(reqs[1]["origin"], "https://shop.example");
    assert_eq!(reqs[1]["received_at"], T0.0 + 2000);
    assert_eq!(reqs[2]["status"], 400);
    let since = s.get("/__admin/requests?since=2").await.json();
    assert_eq!(since["requests"].as_array().unwrap().len(), 1);
    let only_ct = s.get("/__admin/requests?path=/ct").await.json();
    assert_eq!(only_ct["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn reset_clears_faults_and_log_and_optionally_the_store() {
    let s = Server::start(Config::for_tests()).await;
    s.post_json("/collect/batch", &ok_batch(1)).await;
    plan(&s, json!({"responses": [{"status": 503}]})).await;
    s.admin("POST", "/__admin/reset", &json!({})).await;
    assert_eq!(
        s.get("/__admin/requests").await.json()["requests"],
        json!([])
    );
    assert_eq!(
        s.get("/__admin/faults").await.json()["responses"],
        json!([])
    );
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(2)).await.status,
        200
    );
    assert_eq!(s.events("").await.len(), 2, "a plain reset keeps the store");
    s.admin("POST", "/__admin/reset?store=true", &json!({}))
        .await;
    assert!(s.events("").await.is_empty());
    assert!(s.refused().await.is_empty());
}

#[tokio::test]
async fn a_bad_fault_plan_is_400_with_a_reason() {
    let s = Server::start(Config::for_tests()).await;
    for body in [
        json!({"responses": [{"stauts": 503}]}),
        json!({"responses": [{"status": 99}]}),
        json!({"responses": [{"headers": {"bad header": "x"}}]}),
        json!({"response": []}),
    ] {
        let r = s.admin("POST", "/__admin/faults", &body).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert!(
            r.json()["detail"].as_str().unwrap().contains("fault plan"),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn append_adds_steps_behind_the_queue() {
    let s = Server::start(Config::for_tests()).await;
    plan(&s, json!({"responses": [{"status": 502}]})).await;
    plan(&s, json!({"append": true, "responses": [{"status": 504}]})).await;
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(1)).await.status,
        502
    );
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(1)).await.status,
        504
    );
    assert_eq!(
        s.post_json("/collect/batch", &ok_batch(1)).await.status,
        200
    );
}

#[tokio::test]
async fn the_admin_api_can_be_disabled() {
    let s = Server::start(Config::for_tests().admin(false)).await;
    assert_eq!(
        s.admin("POST", "/__admin/faults", &json!({})).await.status,
        404
    );
    assert_eq!(s.get("/__admin/requests").await.status, 404);
}
