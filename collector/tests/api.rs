//! CONTRACT.md section 2, rule by rule, over real HTTP: statuses, body shapes and headers.

mod common;

use common::*;
use scantrack_collector::Config;
use serde_json::json;

fn assert_common_headers(r: &Resp) {
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{r:?}");
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some(EXPOSE),
        "{r:?}"
    );
    assert!(
        r.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "{r:?}"
    );
}

fn assert_rate_headers(r: &Resp) {
    assert_eq!(r.header_u64("x-ratelimit-limit"), 100, "{r:?}");
    r.header_u64("x-ratelimit-remaining");
    assert!(r.header_u64("x-ratelimit-reset") >= T0.0 / 1000, "{r:?}");
}

fn assert_json_type(r: &Resp) {
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_valid_batch_is_accepted_with_counts_and_every_header() {
    let s = Server::start(Config::for_tests()).await;
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", vec![event(1), event(2)]),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({"accepted": 2, "duplicates": 0}));
    assert_json_type(&r);
    assert_common_headers(&r);
    assert_rate_headers(&r);
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 99);
    assert!(r.header("retry-after").is_none(), "Retry-After only on 429");
}

#[tokio::test]
async fn request_ids_differ_between_requests() {
    let s = Server::start(Config::for_tests()).await;
    let a = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(1)]))
        .await;
    let b = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(2)]))
        .await;
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[tokio::test]
async fn a_resent_event_is_a_duplicate_not_an_error() {
    let s = Server::start(Config::for_tests()).await;
    let r = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(3)]))
        .await;
    assert_eq!(r.json(), json!({"accepted": 1, "duplicates": 0}));
    // The contract's example: 10 events of which one was stored before.
    let ten: Vec<_> = (1..=10).map(event).collect();
    let r = s
        .post_json("/collect/batch", &batch("site_demo", ten))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"accepted": 9, "duplicates": 1}));
    assert_eq!(s.events("limit=100").await.len(), 10);
}

#[tokio::test]
async fn dedup_is_per_site() {
    let s = Server::start(Config::for_tests()).await;
    s.post_json("/collect/batch", &batch("site_a", vec![event(1)]))
        .await;
    let r = s
        .post_json("/collect/batch", &batch("site_b", vec![event(1)]))
        .await;
    assert_eq!(r.json(), json!({"accepted": 1, "duplicates": 0}));
}

#[tokio::test]
async fn events_without_event_id_are_always_stored() {
    let s = Server::start(Config::for_tests()).await;
    let mut e = event(1);
    e.as_object_mut().unwrap().remove("event_id");
    for _ in 0..2 {
        let r = s
            .post_json("/collect/batch", &batch("site_demo", vec![e.clone()]))
            .await;
        assert_eq!(r.json(), json!({"accepted": 1, "duplicates": 0}), "{r:?}");
    }
    assert_eq!(s.events("").await.len(), 2);
}

#[tokio::test]
async fn text_plain_and_application_json_are_both_accepted() {
    let s = Server::start(Config::for_tests()).await;
    for (i, ct) in ["text/plain;charset=UTF-8", "application/json", "text/plain"]
        .iter()
        .enumerate()
    {
        let body = batch("site_demo", vec![event(i as u64)]).to_string();
        let r = s
            .request(
                "POST",
                "/collect/batch",
                &[("Content-Type", ct)],
                body.as_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{ct}: {r:?}");
    }
}

#[tokio::test]
async fn ct_takes_one_event_with_site_id_at_its_top_level() {
    let s = Server::start(Config::for_tests()).await;
    let mut e = event(7);
    e["site_id"] = json!("site_demo");
    let r = s.post_json("/ct", &e).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({"accepted": 1, "duplicates": 0}));
    assert_common_headers(&r);
    assert_rate_headers(&r);
    let r = s.post_json("/ct", &e).await;
    assert_eq!(r.json(), json!({"accepted": 0, "duplicates": 1}));
    let stored = s.events("").await;
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0]["event"].get("site_id").is_none(),
        "stored without site_id: {stored:?}"
    );
}

#[tokio::test]
async fn malformed_json_is_400_with_a_string_detail() {
    let s = Server::start(Config::for_tests()).await;
    for body in ["{", "not json", "[1,2]", "", "{\"site_id\": \"a\",}"] {
        let r = s.post("/collect/batch", body).await;
        assert_eq!(r.status, 400, "{body:?}: {r:?}");
        assert!(r.json()["detail"].is_string(), "{r:?}");
        assert_json_type(&r);
        assert_common_headers(&r);
        assert_rate_headers(&r);
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400() {
    let s = Server::start(Config::for_tests()).await;
    let r = s
        .request("POST", "/collect/batch", &[], b"{\"site_id\": \"\xff\"}")
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["detail"].is_string());
}

#[tokio::test]
async fn missing_malformed_unknown_or_inactive_site_is_400() {
    let s = Server::start(
        Config::for_tests()
            .site("site_demo")
            .inactive_site("site_old"),
    )
    .await;
    let detail = json!({"detail": "site_id not found or inactive"});
    let bodies = [
        json!({"events": [event(1)]}),
        batch("", vec![event(1)]),
        batch("bad id!", vec![event(1)]),
        batch(&"x".repeat(65), vec![event(1)]),
        batch("site_unknown", vec![event(1)]),
        batch("site_old", vec![event(1)]),
        json!({"site_id": 42, "events": [event(1)]}),
    ];
    for body in bodies {
        let r = s.post_json("/collect/batch", &body).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.json(), detail, "{body}");
    }
    let mut single = event(1);
    single["site_id"] = json!("site_old");
    let r = s.post_json("/ct", &single).await;
    assert_eq!((r.status, r.json()), (400, detail));
    let r = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(1)]))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn without_site_flags_every_well_formed_site_is_active() {
    let s = Server::start(Config::for_tests().inactive_site("site_old")).await;
    let r = s
        .post_json("/collect/batch", &batch("any_site-1", vec![event(1)]))
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .post_json("/collect/batch", &batch("site_old", vec![event(2)]))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn a_body_above_the_limit_is_413() {
    let s = Server::start(Config::for_tests().max_body_bytes(1000)).await;
    let body = batch("site_demo", (0..10).map(event).collect()).to_string();
    assert!(body.len() > 1000);
    let r = s.post("/collect/batch", &body).await;
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.json(), json!({"detail": "payload too large"}));
    assert_common_headers(&r);
    assert_rate_headers(&r);
    assert!(s.events("").await.is_empty());
}

#[tokio::test]
async fn the_default_body_limit_is_256_kib() {
    let s = Server::start(Config::for_tests()).await;
    let mut e = event(1);
    e["url"] = json!("x".repeat(2048));
    // ~2.6 KB per event: 100 events pass, 110 do not (272 KiB > 256 KiB).
    let small = batch(
        "site_demo",
        (0..90)
            .map(|i| {
                let mut e = e.clone();
                e["event_id"] = json!(uuid(i));
                e
            })
            .collect(),
    );
    let big = batch(
        "site_demo",
        (0..110)
            .map(|i| {
                let mut e = e.clone();
                e["event_id"] = json!(uuid(1000 + i));
                e
            })
            .collect(),
    );
    assert!(small.to_string().len() <= 256 * 1024 && big.to_string().len() > 256 * 1024);
    assert_eq!(s.post_json("/collect/batch", &small).await.status, 200);
    assert_eq!(s.post_json("/collect/batch", &big).await.status, 413);
}

#[tokio::test]
async fn more_events_than_the_limit_is_413() {
    let s = Server::start(Config::for_tests().max_events(3)).await;
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (0..4).map(event).collect()),
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json(), json!({"detail": "payload too large"}));
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (0..3).map(event).collect()),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_default_event_limit_is_500() {
    let s = Server::start(Config::for_tests()).await;
    let small = |n: u64| json!({"scan_session_id": SESSION, "event_name": "e", "timestamp": "2026-11-23T10:00:01.500Z", "event_id": uuid(n)});
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (0..501).map(small).collect()),
        )
        .await;
    assert_eq!(r.status, 413);
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (0..500).map(small).collect()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["accepted"], 500);
}

#[tokio::test]
async fn a_broken_field_is_422_naming_the_event_index_and_nothing_is_stored() {
    let s = Server::start(Config::for_tests()).await;
    let mut bad = event(2);
    bad["scan_session_id"] = json!("not-a-uuid");
    let r = s
        .post_json("/collect/batch", &batch("site_demo", vec![event(1), bad]))
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_json_type(&r);
    assert_common_headers(&r);
    assert_rate_headers(&r);
    let detail = r.json()["detail"].clone();
    let issues = detail.as_array().expect("detail is a list");
    assert_eq!(issues.len(), 1, "{detail}");
    assert_eq!(
        issues[0]["loc"],
        json!(["body", "events", 1, "scan_session_id"])
    );
    assert!(issues[0]["msg"].is_string());
    assert!(issues[0]["type"].is_string());
    assert!(
        s.events("").await.is_empty(),
        "nothing of a 422 request is stored"
    );
}

#[tokio::test]
async fn every_problem_gets_its_own_422_entry() {
    let s = Server::start(Config::for_tests()).await;
    let mut a = event(1);
    a["event_name"] = json!("   ");
    let mut b = event(2);
    b["timestamp"] = json!("yesterday");
    b["conversion_value"] = json!({"amount": 1, "currency": "EURO"});
    let r = s
        .post_json("/collect/batch", &batch("site_demo", vec![a, b]))
        .await;
    assert_eq!(r.status, 422);
    let locs: Vec<_> = r.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["loc"].clone())
        .collect();
    assert!(
        locs.contains(&json!(["body", "events", 0, "event_name"])),
        "{locs:?}"
    );
    assert!(
        locs.contains(&json!(["body", "events", 1, "timestamp"])),
        "{locs:?}"
    );
    assert!(
        locs.contains(&json!([
            "body",
            "events",
            1,
            "conversion_value",
            "currency"
        ])),
        "{locs:?}"
    );
}

/// One broken field per case: the 422's `loc[2]` is the event index and `loc[3]` the field.
#[tokio::test]
async fn each_field_rule_of_the_contract_is_enforced() {
    let s = Server::start(Config::for_tests()).await;
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("event_id", json!("nope")),
        ("scan_session_id", json!("7ad26d4f31814ef8b6cab8f59499dd43")),
        ("event_name", json!("x".repeat(129))),
        ("event_name", json!("")),
        ("timestamp", json!("2026-11-23 10:00:01")),
        ("url", json!("x".repeat(2049))),
        ("referrer", json!(42)),
        ("properties", json!([1, 2])),
        ("properties", json!({"contact": "ada@example.com"})),
        ("properties", json!({"ada@example.com": 1})),
        ("properties", json!({"blob": "x".repeat(10_300)})),
        ("conversion_value", json!({"amount": 1, "currency": "eur"})),
        ("conversion_value", json!({"amount": 1, "currency": "HRK"})),
        (
            "conversion_value",
            json!({"amount": "1", "currency": "EUR"}),
        ),
        ("user_identifiers", json!({"email_hash": "ABC"})),
    ];
    for (field, value) in cases {
        let mut e = event(1);
        e[field] = value.clone();
        let r = s
            .post_json("/collect/batch", &batch("site_demo", vec![event(0), e]))
            .await;
        assert_eq!(r.status, 422, "{field} = {value}: {r:?}");
        let detail = r.json()["detail"].clone();
        let first = &detail[0];
        assert_eq!(first["loc"][0], "body", "{detail}");
        assert_eq!(first["loc"][1], "events", "{detail}");
        assert_eq!(first["loc"][2], 1, "{field}: {detail}");
        assert_eq!(first["loc"][3], field, "{detail}");
    }
    for field in ["scan_session_id", "event_name", "timestamp"] {
        let mut e = event(1);
        e.as_object_mut().unwrap().remove(field);
        let r = s
            .post_json("/collect/batch", &batch("site_demo", vec![e]))
            .await;
        assert_eq!(r.status, 422, "missing {field}");
        assert_eq!(
            r.json()["detail"][0]["loc"],
            json!(["body", "events", 0, field])
        );
    }
    // Every current ISO 4217 code from the core's list is accepted, so the collector and the
    // snippet agree by construction.
    let events: Vec<_> = scantrack_core::iso4217::codes()
        .enumerate()
        .map(|(i, code)| {
            let mut e = event(10_000 + i as u64);
            e["conversion_value"] = json!({"amount": 1.5, "currency": code});
            e
        })
        .collect();
    let r = s
        .post_json("/collect/batch", &batch("site_demo", events))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(s.events("limit=1000").await.len() >= scantrack_core::iso4217::codes().count());
}

#[tokio::test]
async fn an_empty_or_missing_events_list_is_422() {
    let s = Server::start(Config::for_tests()).await;
    for body in [
        json!({"site_id": "site_demo", "events": []}),
        json!({"site_id": "site_demo"}),
    ] {
        let r = s.post_json("/collect/batch", &body).await;
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert_eq!(r.json()["detail"][0]["loc"], json!(["body", "events"]));
    }
}

#[tokio::test]
async fn ct_issues_are_located_without_an_index() {
    let s = Server::start(Config::for_tests()).await;
    let mut e = event(1);
    e["site_id"] = json!("site_demo");
    e["scan_session_id"] = json!("nope");
    let r = s.post_json("/ct", &e).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["detail"][0]["loc"],
        json!(["body", "scan_session_id"])
    );
}

#[tokio::test]
async fn preflights_are_204_with_cors_and_rate_headers_and_take_no_token() {
    let s = Server::start(Config::for_tests()).await;
    for path in ["/collect/batch", "/ct"] {
        let r = s
            .request(
                "OPTIONS",
                path,
                &[
                    ("Origin", "https://shop.example"),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type"),
                ],
                b"",
            )
            .await;
        assert_eq!(r.status, 204, "{r:?}");
        assert_eq!(r.body, "");
        assert_common_headers(&r);
        assert_rate_headers(&r);
        assert_eq!(
            r.header_u64("x-ratelimit-remaining"),
            100,
            "a preflight takes no token"
        );
        let methods = r.header("access-control-allow-methods").unwrap();
        assert!(methods.contains("POST") && methods.contains("OPTIONS"));
        assert!(r
            .header("access-control-allow-headers")
            .unwrap()
            .to_lowercase()
            .contains("content-type"));
        assert!(r.header_u64("access-control-max-age") > 0);
    }
}

#[tokio::test]
async fn other_methods_are_405_with_the_same_headers() {
    let s = Server::start(Config::for_tests()).await;
    let r = s.get("/collect/batch").await;
    assert_eq!(r.status, 405);
    assert!(r.json()["detail"].is_string());
    assert_common_headers(&r);
    assert_rate_headers(&r);
    assert!(r.header("allow").unwrap().contains("POST"));
}

#[tokio::test]
async fn unknown_paths_are_404_json_and_every_path_has_the_headers() {
    let s = Server::start(Config::for_tests()).await;
    let r = s.get("/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"detail": "not found"}));
    assert_common_headers(&r);
    assert_rate_headers(&r);
    let r = s.get("/").await;
    assert_common_headers(&r);
    assert_rate_headers(&r);
}

#[tokio::test]
async fn accepted_events_are_stored_with_their_columns_and_json() {
    let s = Server::start(Config::for_tests()).await;
    let mut other = event(2);
    other["scan_session_id"] = json!("11111111-2222-4333-8444-555555555555");
    other["event_name"] = json!("page_view");
    s.post_json("/collect/batch", &batch("site_demo", vec![event(1), other]))
        .await;
    let all = s.events("").await;
    assert_eq!(all.len(), 2);
    let purchase = all.iter().find(|e| e["event_name"] == "purchase").unwrap();
    assert_eq!(purchase["site_id"], "site_demo");
    assert_eq!(purchase["event_id"], uuid(1));
    assert_eq!(purchase["scan_session_id"], SESSION);
    assert_eq!(purchase["received_at"], T0.0);
    assert_eq!(purchase["sent_at"], 1_795_428_002_123u64);
    assert_eq!(purchase["event"], event(1), "the event as received");
    assert_eq!(s.events("session=11111111").await.len(), 1);
    assert_eq!(s.events("name=page").await.len(), 1);
    assert_eq!(
        s.events(&format!("session={SESSION}&name=purchase"))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_stored_event_json_keeps_the_clients_key_order() {
    let s = Server::start(Config::for_tests()).await;
    let raw = format!(
        r#"{{"timestamp":"2026-11-23T10:00:01.500Z","event_name":"zeta","scan_session_id":"{SESSION}","properties":{{"z":1,"a":2}}}}"#
    );
    let r = s
        .post(
            "/collect/batch",
            &format!(r#"{{"site_id":"site_demo","events":[{raw}]}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let listing = s.get("/api/events").await;
    assert!(listing.body.contains(&raw), "{}", listing.body);
}

#[tokio::test]
async fn refused_requests_are_stored_with_status_reason_and_body_excerpt() {
    let s = Server::start(Config::for_tests()).await;
    let mut bad = event(1);
    bad["scan_session_id"] = json!("nope");
    s.post_json("/collect/batch", &batch("site_demo", vec![bad]))
        .await;
    s.post("/collect/batch", "{oops").await;
    let refused = s.refused().await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    let (latest, first) = (&refused[0], &refused[1]);
    assert_eq!(first["status"], 422);
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("events[0].scan_session_id"),
        "{first}"
    );
    assert!(first["body_excerpt"].as_str().unwrap().contains("\"nope\""));
    assert_eq!(first["path"], "/collect/batch");
    assert_eq!(latest["status"], 400);
    assert_eq!(latest["body_excerpt"], "{oops");
    assert!(latest["request_id"].is_string());
}
