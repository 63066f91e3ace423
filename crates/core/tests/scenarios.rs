//! Scenario tests: the contract's delivery rules (CONTRACT.md 3-5) played against a scripted
//! collector with simulated time. Each test is named after the behaviour it pins down.

mod common;

use common::*;
use scantrack_core::json::Value;
use scantrack_core::pii::PiiPolicy;
use scantrack_core::pipeline::{Consent, DropReason, Report, Startup};
use scantrack_core::response::{HttpResponse, Outcome, RetryAfter};
use scantrack_core::validate::{validate_batch, Limits};
use scantrack_core::{Config, Millis};

fn config() -> Config {
    Config::new("site_demo").unwrap()
}

fn http(r: HttpResponse) -> Option<Outcome> {
    Some(Outcome::Http(r))
}

fn assert_valid_body(body: &str) {
    if let Err(e) = validate_batch(body, &Limits::default(), &|_| true) {
        panic!("the collector would refuse {body}: {e:?}");
    }
}

// ---- batching (3.2) -----------------------------------------------------------------------

#[test]
fn a_full_batch_leaves_at_once_and_the_rest_after_the_flush_interval() {
    let mut sim = Sim::new(config());
    let mut store = Store::new();
    for i in 0..120 {
        sim.track(&format!("e{i}"));
    }
    sim.run_for(secs(10), &mut |t, _| store.accept(t));
    let sizes: Vec<usize> = sim
        .sent
        .iter()
        .map(|s| s.transmit.event_ids.len())
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(sim.sent[0].at, T0);
    assert_eq!(
        sim.sent[1].at,
        T0.add(ms(50)),
        "second batch right after the first reply"
    );
    assert_eq!(
        sim.sent[2].at,
        T0.add(ms(2000)),
        "the rest when the oldest has waited 2 s"
    );
    assert_eq!(sim.delivered_ids().len(), 120);
    assert_eq!(sim.p.queued(), 0);
}

#[test]
fn a_single_event_waits_for_the_flush_interval() {
    let mut sim = Sim::new(config());
    sim.track("page_view");
    sim.run_for(secs(1), &mut |_, _| ok());
    assert!(sim.sent.is_empty());
    sim.run_for(secs(5), &mut |_, _| ok());
    assert_eq!(sim.sent.len(), 1);
    assert_eq!(sim.sent[0].at, T0.add(ms(2000)));
}

#[test]
fn batches_stop_below_max_batch_bytes() {
    let mut sim = Sim::new(config());
    let big = "x".repeat(9_000);
    for i in 0..20 {
        let props = Value::Object(vec![("blob".into(), Value::String(big.clone()))]);
        sim.track_input(EventInput::new(&format!("e{i}")).with_properties(props));
    }
    sim.run_for(secs(30), &mut |_, _| ok());
    assert_eq!(sim.delivered_ids().len(), 20);
    for s in &sim.sent {
        assert!(
            s.transmit.body.len() <= 60_000,
            "{} bytes",
            s.transmit.body.len()
        );
        assert_valid_body(&s.transmit.body);
    }
    assert_eq!(
        sim.sent[0].transmit.event_ids.len(),
        6,
        "6 events of ~9.2 KB fit, 7 do not"
    );
    assert_eq!(
        sim.sent[0].at, T0,
        "a batch that reaches the byte limit leaves at once"
    );
}

#[test]
fn flush_sends_at_once_and_settles() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.track("b");
    let ticket = sim.p.flush(sim.now);
    assert!(!sim.p.flush_settled(ticket, sim.now));
    sim.run_for(ms(10), &mut |_, _| ok());
    assert_eq!(sim.sent.len(), 1);
    assert_eq!(sim.sent[0].at, T0);
    assert!(
        !sim.p.flush_settled(ticket, sim.now),
        "in flight is not settled"
    );
    sim.run_for(ms(100), &mut |_, _| ok());
    assert!(sim.p.flush_settled(ticket, sim.now));
}

#[test]
fn flush_settles_while_waiting_for_a_retry_after() {
    let mut sim = Sim::new(config());
    sim.track("a");
    let ticket = sim.p.flush(sim.now);
    sim.run_for(ms(100), &mut |_, _| {
        http(HttpResponse::status(429).with_retry_after(RetryAfter::Seconds(30)))
    });
    assert!(
        sim.p.flush_settled(ticket, sim.now),
        "waiting for a deadline counts as settled"
    );
    assert_eq!(sim.p.queued(), 1);
}

// ---- wire format (2.1) --------------------------------------------------------------------

#[test]
fn the_request_body_has_the_contracts_fields() {
    let mut sim = Sim::new(config());
    sim.p.identify_email("  Ada@Example.COM ", sim.now).unwrap();
    let props = Value::Object(vec![
        ("sku".into(), Value::String("A-1".into())),
        (
            "qty".into(),
            Value::Number(scantrack_core::json::Number::from_i64(2)),
        ),
    ]);
    let id = sim.track_input(
        EventInput::new("purchase")
            .with_properties(props)
            .with_conversion(19.98, "EUR")
            .with_url("https://shop.example/thanks")
            .with_referrer("https://shop.example/cart"),
    );
    sim.p.flush(sim.now);
    sim.run_for(ms(10), &mut |_, _| ok());
    let body = &sim.sent[0].transmit.body;
    assert_valid_body(body);
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["site_id"], "site_demo");
    assert_eq!(v["sent_at"], "2026-11-23T10:00:00.000Z");
    let e = &v["events"][0];
    assert_eq!(e["event_id"], id.as_str());
    assert_eq!(e["scan_session_id"], sim.p.session_id());
    assert_eq!(e["event_name"], "purchase");
    assert_eq!(e["timestamp"], "2026-11-23T10:00:00.000Z");
    assert_eq!(e["url"], "https://shop.example/thanks");
    assert_eq!(e["referrer"], "https://shop.example/cart");
    assert_eq!(e["properties"], serde_json::json!({"sku": "A-1", "qty": 2}));
    assert_eq!(
        e["conversion_value"],
        serde_json::json!({"amount": 19.98, "currency": "EUR"})
    );
    assert_eq!(
        e["user_identifiers"]["email_hash"],
        "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"
    );
    assert!(!body.contains("Ada@") && !body.to_lowercase().contains("ada@example.com"));
    // The exact byte layout: compact, keys in the contract's order.
    assert!(body.starts_with(
        r#"{"site_id":"site_demo","sent_at":"2026-11-23T10:00:00.000Z","events":[{"event_id":""#
    ));
}

#[test]
fn raw_emails_never_leave_in_url_referrer_name_or_properties() {
    let mut sim = Sim::new(config());
    let props = Value::Object(vec![
        (
            "contact".into(),
            Value::String("write to ada@example.com".into()),
        ),
        ("bob@example.org".into(), Value::Bool(true)),
    ]);
    sim.track_input(
        EventInput::new("signup ada@example.com")
            .with_properties(props)
            .with_url("https://x.example/?email=ada%40example.com&utm=qr")
            .with_referrer("mailto:ada@example.com"),
    );
    sim.p.flush(sim.now);
    sim.run_for(ms(10), &mut |_, _| ok());
    let body = &sim.sent[0].transmit.body;
    assert_valid_body(body);
    for raw in ["ada@example.com", "ada%40example.com", "bob@example.org"] {
        assert!(!body.contains(raw), "{raw} leaked in {body}");
    }
    assert!(body.contains("[email redacted]"));
    assert!(
        body.contains("utm=qr"),
        "the rest of the URL is kept: {body}"
    );
}

#[test]
fn pii_policy_reject_refuses_the_event_and_others_still_flow() {
    let mut sim = Sim::new(config().with_pii_policy(PiiPolicy::Reject));
    let props = Value::Object(vec![(
        "contact".into(),
        Value::String("ada@example.com".into()),
    )]);
    let err = sim
        .p
        .track(EventInput::new("signup").with_properties(props), sim.now)
        .unwrap_err();
    assert!(err.to_string().contains("properties.contact"), "{err}");
    sim.track("fine");
    sim.run_for(secs(5), &mut |_, _| ok());
    assert_eq!(sim.delivered_ids().len(), 1);
}

#[test]
fn pii_policy_hash_replaces_addresses_with_their_hash() {
    let mut sim = Sim::new(config().with_pii_policy(PiiPolicy::Hash));
    let props = Value::Object(vec![(
        "who".into(),
        Value::String("Ada@Example.com".into()),
    )]);
    sim.track_input(EventInput::new("x").with_properties(props));
    sim.p.flush(sim.now);
    sim.run_for(ms(10), &mut |_, _| ok());
    let e = &events_of(&sim.sent[0].transmit)[0];
    assert_eq!(
        e["properties"]["who"],
        "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"
    );
}

#[test]
fn invalid_events_are_refused_with_actionable_errors_and_not_queued() {
    let mut sim = Sim::new(config());
    let cases: Vec<(EventInput, &str)> = vec![
        (EventInput::new("   "), "event_name"),
        (EventInput::new(&"n".repeat(129)), "event_name"),
        (EventInput::new("buy").with_conversion(1.0, "EURO"), "EUR"),
        (
            EventInput::new("buy").with_conversion(f64::NAN, "EUR"),
            "finite",
        ),
        (
            EventInput::new("x").with_properties(Value::String("no".into())),
            "object",
        ),
        (
            EventInput::new("x").with_properties(Value::Object(vec![(
                "big".into(),
                Value::String("y".repeat(10_300)),
            )])),
            "10240",
        ),
    ];
    for (input, needle) in cases {
        let err = sim.p.track(input, sim.now).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle}");
    }
    assert_eq!(sim.p.queued(), 0);
    let id = sim.track(&"n".repeat(128));
    assert!(!id.is_empty(), "128 characters is allowed");
    assert!(sim
        .p
        .track(EventInput::new("x").with_conversion(5.0, " usd "), sim.now)
        .is_ok());
}

#[test]
fn long_urls_are_shortened_not_refused() {
    let mut sim = Sim::new(config());
    sim.track_input(
        EventInput::new("x").with_url(&format!("https://x.example/?q={}", "a".repeat(5000))),
    );
    sim.p.flush(sim.now);
    sim.run_for(ms(10), &mut |_, _| ok());
    let e = &events_of(&sim.sent[0].transmit)[0];
    assert_eq!(e["url"].as_str().unwrap().chars().count(), 2048);
}

// ---- responses (3.1) ----------------------------------------------------------------------

#[test]
fn rate_limit_429_with_retry_after_seconds_pauses_all_sending() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    let mut first = true;
    sim.run_for(secs(60), &mut |_, _| {
        if std::mem::take(&mut first) {
            http(
                HttpResponse::status(429)
                    .with_retry_after(RetryAfter::Seconds(17))
                    .with_body(r#"{"detail":"rate limit exceeded"}"#),
            )
        } else {
            ok()
        }
    });
    assert_eq!(sim.sent.len(), 2);
    assert_eq!(
        sim.sent[1].at,
        T0.add(ms(50 + 17_000)),
        "exactly when Retry-After allows"
    );
    assert_eq!(sim.delivered_ids().len(), 1);
}

#[test]
fn rate_limit_429_with_retry_after_http_date_is_honoured() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    let mut first = true;
    // T0 is 2026-11-23T10:00:00Z; the date "Mon, 23 Nov 2026 10:01:00 GMT", as the shell's
    // platform reads it (js/host.js), is the instant a minute later.
    sim.run_for(secs(120), &mut |_, _| {
        if std::mem::take(&mut first) {
            http(HttpResponse::status(429).with_retry_after(RetryAfter::At(Millis(T0.0 + 60_000))))
        } else {
            ok()
        }
    });
    assert_eq!(sim.sent[1].at, Millis(T0.0 + 60_000));
}

#[test]
fn rate_limit_429_with_only_reset_waits_for_the_reset() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    let mut first = true;
    let reset = (T0.0 / 1000 + 42).to_string();
    sim.run_for(secs(120), &mut |_, _| {
        if std::mem::take(&mut first) {
            http(HttpResponse::status(429).with_rate_limit(Some("0"), Some(&reset)))
        } else {
            ok()
        }
    });
    assert_eq!(sim.sent[1].at, Millis(T0.0 + 42_000));
}

#[test]
fn rate_limit_429_without_headers_backs_off_exponentially() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    sim.run_for(secs(100), &mut |_, _| status(429));
    let gaps: Vec<u64> = sim
        .sent
        .windows(2)
        .map(|w| w[1].at.0 - w[0].at.0 - 50)
        .collect();
    assert!(gaps.len() >= 4, "{gaps:?}");
    for (i, gap) in gaps.iter().take(6).enumerate() {
        let nominal = 1000u64 << i;
        assert!(
            *gap >= nominal / 2 && *gap <= nominal,
            "gap {i} = {gap} ms, nominal {nominal}"
        );
    }
    assert_eq!(sim.p.queued(), 1, "the event is kept");
}

#[test]
fn x_rate_limit_remaining_zero_holds_the_next_request_until_reset() {
    let mut sim = Sim::new(config());
    let reset = (T0.0 / 1000 + 30).to_string();
    sim.track("a");
    sim.p.flush(sim.now);
    sim.run_for(ms(100), &mut |_, _| {
        http(
            HttpResponse::status(200)
                .with_body("{}")
                .with_rate_limit(Some("0"), Some(&reset)),
        )
    });
    sim.track("b");
    sim.p.flush(sim.now);
    sim.run_for(secs(60), &mut |_, _| ok());
    assert_eq!(sim.sent.len(), 2);
    assert_eq!(sim.sent[1].at, Millis(T0.0 + 30_000));
}

#[test]
fn server_errors_back_off_with_growing_jittered_delays_and_success_resets() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    let mut n = 0;
    sim.run_for(secs(200), &mut |_, _| {
        n += 1;
        match n {
            1..=6 => status([500, 502, 503, 504, 408, 500][n - 1]),
            _ => ok(),
        }
    });
    let gaps: Vec<u64> = sim
        .sent
        .windows(2)
        .map(|w| w[1].at.0 - w[0].at.0 - 50)
        .collect();
    assert_eq!(gaps.len(), 6);
    for (i, gap) in gaps.iter().enumerate() {
        let nominal = 1000u64 << i;
        assert!(*gap >= nominal / 2 && *gap <= nominal, "gap {i} = {gap}");
    }
    assert_eq!(sim.delivered_ids().len(), 1);
    // After the success, the next failure starts again at 1 s.
    sim.track("b");
    sim.p.flush(sim.now);
    let mut fail = true;
    sim.run_for(secs(10), &mut |_, _| {
        if std::mem::take(&mut fail) {
            status(503)
        } else {
            ok()
        }
    });
    let last = sim.sent.len() - 1;
    assert!(sim.sent[last].at.0 - sim.sent[last - 1].at.0 <= 1050);
}

#[test]
fn network_errors_and_timeouts_are_retried_and_nothing_is_lost() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    let mut n = 0;
    sim.run_for(secs(120), &mut |_, _| {
        n += 1;
        match n {
            1 => Some(Outcome::NetworkError("offline".into())),
            2 => None, // never answers: times out after 10 s
            _ => ok(),
        }
    });
    assert_eq!(sim.sent.len(), 3);
    assert!(
        sim.sent[2].at.0 >= sim.sent[1].at.0 + 10_000,
        "the hung request timed out first"
    );
    assert_eq!(sim.delivered_ids().len(), 1);
}

#[test]
fn a_late_success_after_a_timeout_still_acknowledges() {
    let mut sim = Sim::new(config());
    sim.latency = secs(12); // longer than the 10 s timeout
    sim.track("a");
    sim.p.flush(sim.now);
    sim.run_for(secs(11), &mut |_, _| ok());
    assert_eq!(sim.p.queued(), 1);
    sim.run_for(secs(1), &mut |_, _| ok());
    assert_eq!(sim.delivered_ids().len(), 1);
    assert_eq!(sim.p.queued(), 0);
    sim.run_for(secs(60), &mut |_, _| ok());
    assert_eq!(sim.delivered_ids().len(), 1, "reported exactly once");
}

#[test]
fn payload_too_large_413_splits_in_halves_until_it_fits() {
    let mut sim = Sim::new(config());
    let mut store = Store::new();
    for i in 0..50 {
        sim.track(&format!("e{i}"));
    }
    sim.run_for(secs(60), &mut |t, _| {
        if t.event_ids.len() > 10 {
            status(413)
        } else {
            store.accept(t)
        }
    });
    let sizes: Vec<usize> = sim
        .sent
        .iter()
        .map(|s| s.transmit.event_ids.len())
        .collect();
    assert_eq!(&sizes[..4], [50, 25, 13, 7]);
    assert_eq!(store.ids.len(), 50);
    assert_eq!(sim.delivered_ids().len(), 50);
    assert!(sim.dropped().is_empty());
}

#[test]
fn an_event_that_is_too_large_alone_is_dropped_and_reported() {
    let mut sim = Sim::new(config());
    let id = sim.track("big");
    sim.p.flush(sim.now);
    sim.run_for(secs(5), &mut |_, _| status(413));
    assert_eq!(
        sim.dropped(),
        vec![(id, "too_large".to_string(), sim.dropped()[0].2.clone())]
    );
    assert_eq!(sim.p.queued(), 0);
}

#[test]
fn unprocessable_422_drops_exactly_the_named_event_and_resends_the_rest() {
    let mut sim = Sim::new(config());
    let ids: Vec<String> = (0..5).map(|i| sim.track(&format!("e{i}"))).collect();
    sim.p.flush(sim.now);
    let mut first = true;
    sim.run_for(secs(10), &mut |_, _| {
        if std::mem::take(&mut first) {
            http(HttpResponse::status(422).with_body(
                r#"{"detail":[{"loc":["body","events",3,"scan_session_id"],"msg":"invalid UUID","type":"value_error.uuid"}]}"#,
            ))
        } else {
            ok()
        }
    });
    let dropped = sim.dropped();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].0, ids[3]);
    assert_eq!(dropped[0].1, "invalid");
    assert!(
        dropped[0].2.contains("scan_session_id: invalid UUID"),
        "{}",
        dropped[0].2
    );
    assert_eq!(
        sim.sent[1].transmit.event_ids,
        [&ids[0], &ids[1], &ids[2], &ids[4]].map(|s| s.clone())
    );
    assert_eq!(sim.delivered_ids().len(), 4);
}

#[test]
fn unprocessable_422_without_a_readable_index_drops_the_batch() {
    let mut sim = Sim::new(config());
    for i in 0..3 {
        sim.track(&format!("e{i}"));
    }
    sim.p.flush(sim.now);
    sim.run_for(secs(10), &mut |_, _| {
        http(HttpResponse::status(422).with_body("<html>nope</html>"))
    });
    assert_eq!(sim.dropped().len(), 3);
    assert!(sim.dropped()[0].2.contains("<html>nope</html>"));
    assert_eq!(sim.sent.len(), 1);
}

#[test]
fn ok_with_errors_drops_the_listed_events_and_delivers_the_rest() {
    let mut sim = Sim::new(config());
    let ids: Vec<String> = (0..3).map(|i| sim.track(&format!("e{i}"))).collect();
    sim.p.flush(sim.now);
    let body = format!(
        r#"{{"accepted":2,"duplicates":0,"errors":[{{"index":1,"event_id":"{}","message":"quota"}}]}}"#,
        ids[1]
    );
    sim.run_for(secs(5), &mut |_, _| {
        http(HttpResponse::status(200).with_body(&body))
    });
    assert_eq!(sim.delivered_ids(), [ids[0].clone(), ids[2].clone()]);
    assert_eq!(sim.dropped()[0].0, ids[1]);
    assert_eq!(sim.dropped()[0].1, "refused");
    assert_eq!(sim.sent.len(), 1, "refused events are never re-sent");
}

#[test]
fn bad_request_400_stops_sending_for_the_page_and_keeps_the_rest_stored() {
    let mut sim = Sim::new(config().with_max_batch_events(2).unwrap());
    for i in 0..5 {
        sim.track(&format!("e{i}"));
    }
    sim.run_for(secs(30), &mut |_, _| {
        http(HttpResponse::status(400).with_body(r#"{"detail":"site_id not found or inactive"}"#))
    });
    assert_eq!(sim.sent.len(), 1, "no retry after a 400");
    assert_eq!(sim.dropped().len(), 2);
    assert!(sim.dropped()[0].2.contains("site_id not found or inactive"));
    assert!(sim.errors()[0].contains("stopped"));
    assert_eq!(sim.p.stopped(), Some("site_id not found or inactive"));
    assert_eq!(
        sim.hide(64 * 1024, &mut |_, _| ok()),
        0,
        "no unload sends either"
    );
    assert_eq!(sim.p.queued(), 3);
    // The next page load (the site fixed) sends what stayed stored.
    sim.reload();
    let mut store = Store::new();
    sim.run_for(secs(30), &mut |t, _| store.accept(t));
    assert_eq!(store.ids.len(), 3);
}

#[test]
fn unlisted_statuses_keep_the_events_and_back_off() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    let mut n = 0;
    sim.run_for(secs(30), &mut |_, _| {
        n += 1;
        if n < 3 {
            status(404)
        } else {
            ok()
        }
    });
    assert_eq!(sim.delivered_ids().len(), 1);
    assert!(sim.dropped().is_empty());
}

// ---- pacing -------------------------------------------------------------------------------

#[test]
fn pacing_never_exceeds_max_requests_per_minute() {
    let mut sim = Sim::new(config().with_max_batch_events(5).unwrap());
    for i in 0..500 {
        sim.track(&format!("e{i}"));
    }
    sim.run_for(secs(300), &mut |_, _| ok());
    assert_eq!(sim.delivered_ids().len(), 500);
    let times: Vec<u64> = sim.sent.iter().map(|s| s.at.0).collect();
    for (i, t) in times.iter().enumerate() {
        let in_window = times[..=i].iter().filter(|s| **s + 60_000 > *t).count();
        assert!(
            in_window <= 30,
            "{in_window} requests in the minute before {t}"
        );
    }
    assert_eq!(sim.sent.len(), 100);
    assert_eq!(
        sim.sent[30].at,
        Millis(T0.0 + 60_000),
        "the 31st waits for the window"
    );
}

// ---- queue bound and persistence (3.3) ----------------------------------------------------

#[test]
fn a_full_queue_evicts_the_oldest_and_reports_each_eviction() {
    let mut sim = Sim::new(config().with_max_queue_bytes(16 * 1024).unwrap());
    let mut ids: Vec<String> = (0..50).map(|i| sim.track(&format!("event{i}"))).collect();
    sim.run_for(ms(1), &mut |_, _| None); // the first batch hangs in flight
    ids.extend((50..200).map(|i| sim.track(&format!("event{i}"))));
    sim.run_for(ms(1), &mut |_, _| None);
    let evicted: Vec<String> = sim
        .dropped()
        .into_iter()
        .filter(|d| d.1 == "evicted")
        .map(|d| d.0)
        .collect();
    assert!(!evicted.is_empty());
    assert!(sim.p.queued_bytes() <= 16 * 1024);
    assert_eq!(evicted.len() + sim.p.queued(), 200);
    // Oldest first, skipping the batch in flight.
    let expected: Vec<String> = ids[50..50 + evicted.len()].to_vec();
    assert_eq!(evicted, expected);
}

#[test]
fn accepted_events_are_stored_within_the_persist_delay() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.run_for(ms(999), &mut |_, _| None);
    assert!(!sim.storage.contains_key("scantrack:site_demo:queue"));
    sim.run_for(ms(1), &mut |_, _| None);
    let stored = &sim.storage["scantrack:site_demo:queue"];
    assert!(
        stored.starts_with(r#"{"v":1,"site_id":"site_demo","events":[{"id":""#),
        "{stored}"
    );
}

#[test]
fn a_reload_while_the_collector_fails_loses_and_doubles_nothing() {
    let mut sim = Sim::new(config());
    let ids: Vec<String> = (0..30).map(|i| sim.track(&format!("e{i}"))).collect();
    sim.run_for(secs(20), &mut |_, _| status(503));
    assert_eq!(sim.p.queued(), 30);
    sim.reload();
    assert_eq!(sim.p.queued(), 30);
    let mut store = Store::new();
    sim.run_for(secs(20), &mut |t, _| store.accept(t));
    let mut delivered = sim.delivered_ids();
    delivered.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(delivered, expected);
    assert_eq!(store.duplicates, 0);
}

#[test]
fn a_crash_loses_at_most_the_events_of_the_last_persist_delay() {
    let mut sim = Sim::new(config());
    let old = sim.track("old");
    sim.run_for(ms(1500), &mut |_, _| None);
    sim.track("recent");
    sim.run_for(ms(500), &mut |_, _| None);
    sim.crash();
    assert_eq!(sim.p.queued(), 1);
    let mut store = Store::new();
    sim.run_for(secs(20), &mut |t, _| store.accept(t));
    assert!(store.ids.contains(&old));
}

#[test]
fn corrupt_or_foreign_storage_is_discarded_with_a_report_never_a_panic() {
    for stored in [
        "not json",
        "[]",
        "{}",
        r#"{"v":2,"site_id":"site_demo","events":[]}"#,
        r#"{"v":1,"site_id":"other_site","events":[]}"#,
        r#"{"v":1,"site_id":"site_demo","events":"nope"}"#,
        "{\"v\":1,\"site_id\":\"site_demo\",\"events\":[{\"id\":\"x\"}",
    ] {
        let p = scantrack_core::Pipeline::new(
            config(),
            Box::new(scantrack_core::entropy::SeededEntropy::new(1)),
            str::to_lowercase,
            Startup {
                stored_queue: Some(stored),
                stored_session: Some(stored),
                ..Default::default()
            },
            T0,
        );
        let mut p = p;
        let mut errors = 0;
        while let Some(r) = p.poll_report() {
            assert!(matches!(r, Report::Error { .. }));
            errors += 1;
        }
        assert_eq!(errors, 2, "queue and session both reported for {stored:?}");
        assert_eq!(p.queued(), 0);
        // The bad value is overwritten with a good one.
        let ops = p.poll_storage(T0.add(secs(2)), &|_| Some(stored.to_string()));
        assert!(ops.iter().any(|o| o.key == "scantrack:site_demo:queue"
            && o.value
                .as_deref()
                .is_some_and(|v| v.contains("\"events\":[]"))));
    }
}

#[test]
fn one_broken_stored_event_does_not_cost_the_others() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.track("b");
    sim.run_for(secs(1), &mut |_, _| None);
    let stored = sim.storage["scantrack:site_demo:queue"].clone();
    let broken = stored.replacen("\"event_name\":\"a\"", "\"event_name\":\"\"", 1);
    sim.storage
        .insert("scantrack:site_demo:queue".into(), broken);
    sim.crash();
    assert_eq!(sim.p.queued(), 1);
    assert!(sim
        .errors()
        .iter()
        .any(|e| e.contains("1 unreadable stored event")));
}

// ---- unload (3.3) -------------------------------------------------------------------------

#[test]
fn hiding_the_page_drains_the_queue_in_keepalive_sized_chunks_exempt_from_pacing() {
    let mut sim = Sim::new(config().with_max_requests_per_minute(1).unwrap());
    let big = "x".repeat(5_000);
    for i in 0..30 {
        let props = Value::Object(vec![("b".into(), Value::String(big.clone()))]);
        sim.track_input(EventInput::new(&format!("e{i}")).with_properties(props));
    }
    // One paced request used the whole minute's allowance and is still in flight.
    sim.run_for(ms(10), &mut |_, _| None);
    assert_eq!(sim.sent.len(), 1);
    let in_flight = sim.p.in_flight_bytes();
    let chunks = sim.hide(64 * 1024 - in_flight, &mut |_, _| ok());
    assert!(chunks >= 1);
    let total: usize = sim.sent.iter().map(|s| s.transmit.body.len()).sum();
    assert!(total <= 64 * 1024, "{total} bytes in flight");
    assert!(sim.sent[1..].iter().all(|s| s.transmit.unload));
    assert!(
        sim.storage.contains_key("scantrack:site_demo:queue"),
        "stored before sending"
    );
}

#[test]
fn unload_sends_respect_a_rate_limit_pause_and_keep_events_stored() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    sim.run_for(ms(100), &mut |_, _| {
        http(HttpResponse::status(429).with_retry_after(RetryAfter::Seconds(60)))
    });
    assert_eq!(sim.hide(64 * 1024, &mut |_, _| ok()), 0);
    assert!(sim.storage["scantrack:site_demo:queue"].contains("\"event_name\":\"a\""));
}

#[test]
fn unconfirmed_beacons_keep_events_until_acknowledged() {
    let mut sim = Sim::new(config());
    let id = sim.track("a");
    sim.hide(64 * 1024, &mut |_, _| Some(Outcome::Unconfirmed));
    sim.run_for(ms(100), &mut |_, _| None);
    assert_eq!(sim.p.queued(), 1);
    sim.reload();
    let mut store = Store::new();
    sim.run_for(secs(10), &mut |t, _| store.accept(t));
    assert!(store.ids.contains(&id));
}

// ---- session (5) and identity (4) ---------------------------------------------------------

#[test]
fn identity_is_attached_to_later_events_until_reset_and_survives_reload() {
    let mut sim = Sim::new(config());
    sim.track("before");
    sim.p
        .identify_email("john_smith@gmail.com", sim.now)
        .unwrap();
    sim.track("after");
    sim.reload();
    sim.track("next_page");
    let session = sim.p.session_id().to_string();
    sim.p.reset(sim.now);
    sim.track("after_reset");
    sim.run_for(secs(10), &mut |_, _| ok());
    let events: Vec<serde_json::Value> = sim
        .sent
        .iter()
        .flat_map(|s| events_of(&s.transmit))
        .collect();
    let hash = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f";
    let by_name = |n: &str| {
        events
            .iter()
            .find(|e| e["event_name"] == n)
            .unwrap()
            .clone()
    };
    assert!(by_name("before").get("user_identifiers").is_none());
    assert_eq!(by_name("after")["user_identifiers"]["email_hash"], hash);
    assert_eq!(by_name("next_page")["user_identifiers"]["email_hash"], hash);
    assert_eq!(
        by_name("next_page")["scan_session_id"],
        session.as_str(),
        "same visit after reload"
    );
    assert!(by_name("after_reset").get("user_identifiers").is_none());
    assert_ne!(by_name("after_reset")["scan_session_id"], session.as_str());
}

#[test]
fn a_visit_ends_after_thirty_minutes_of_inactivity() {
    let mut sim = Sim::new(config());
    sim.track("a");
    let first = sim.p.session_id().to_string();
    sim.run_for(secs(29 * 60), &mut |_, _| ok());
    sim.track("b");
    assert_eq!(sim.p.session_id(), first);
    sim.run_for(secs(31 * 60), &mut |_, _| ok());
    sim.track("c");
    assert_ne!(sim.p.session_id(), first);
    // Also across a reload: the stored session is too old to continue.
    let second = sim.p.session_id().to_string();
    sim.reload();
    sim.run_for(secs(31 * 60), &mut |_, _| ok());
    sim.reload();
    sim.track("d");
    assert_ne!(sim.p.session_id(), second);
}

#[test]
fn a_scan_session_id_in_the_page_url_is_adopted() {
    let mut sim = Sim::new(config());
    sim.page_url =
        Some("https://l.example/?scan_session_id=7AD26D4F-3181-4EF8-B6CA-B8F59499DD43".into());
    sim.reload();
    assert_eq!(sim.p.session_id(), "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43");
}

#[test]
fn identify_refuses_what_is_not_an_email_or_a_hash() {
    let mut sim = Sim::new(config());
    assert!(sim.p.identify_email("not an email", sim.now).is_err());
    assert!(sim.p.identify_hash("abc", sim.now).is_err());
    assert_eq!(sim.p.email_hash(), None);
    let upper = "B5FC85E55755F9E0D030A10AB4429B6B2944855F9A0D60077FE832BECBC41D72";
    sim.p.identify_hash(upper, sim.now).unwrap();
    assert_eq!(
        sim.p.email_hash(),
        Some(upper.to_ascii_lowercase().as_str())
    );
}

/// The pipeline hashes with the lower-casing it was given (the browser's `toLowerCase` in the
/// wasm), in `identify` and in scrubbed event strings alike; ASCII never reaches it.
#[test]
fn non_ascii_addresses_are_lower_cased_by_the_platforms_lowering() {
    fn platform(s: &str) -> String {
        assert!(!s.is_ascii(), "ASCII text reached the platform: {s:?}");
        format!("platform:{}", s.to_lowercase())
    }
    let sha = |s: &str| scantrack_core::pii::sha256_hex(s);
    let mut p = scantrack_core::Pipeline::new(
        config().with_pii_policy(PiiPolicy::Hash),
        Box::new(scantrack_core::entropy::SeededEntropy::new(1)),
        platform,
        Startup::default(),
        T0,
    );
    p.identify_email("ADA@EXAMPLE.COM", T0).unwrap();
    assert_eq!(p.email_hash(), Some(sha("ada@example.com").as_str()));
    p.identify_email("ÅSA@EXAMPLE.SE", T0).unwrap();
    let identity = sha("platform:åsa@example.se");
    assert_eq!(p.email_hash(), Some(identity.as_str()));
    let props = Value::Object(vec![(
        "contact".into(),
        Value::String("ΟΔΥΣΣΕΥΣ@EXAMPLE.GR".into()),
    )]);
    p.track(EventInput::new("signup").with_properties(props), T0)
        .unwrap();
    p.flush(T0);
    let body = p.poll_transmit(T0).expect("flushed").body;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let e = &v["events"][0];
    assert_eq!(e["user_identifiers"]["email_hash"], identity.as_str());
    assert_eq!(
        e["properties"]["contact"],
        sha("platform:οδυσσευς@example.gr").as_str()
    );
}

// ---- consent (4) --------------------------------------------------------------------------

#[test]
fn consent_pending_keeps_events_in_memory_only_until_granted() {
    let mut sim = Sim::new(config());
    sim.p.set_consent(Consent::Pending, sim.now);
    sim.track("a");
    sim.run_for(secs(10), &mut |_, _| ok());
    assert!(sim.sent.is_empty());
    assert!(!sim
        .storage
        .get("scantrack:site_demo:queue")
        .is_some_and(|q| q.contains("\"a\"")));
    sim.p.set_consent(Consent::Granted, sim.now);
    sim.run_for(secs(10), &mut |_, _| ok());
    assert_eq!(sim.delivered_ids().len(), 1);
}

#[test]
fn consent_denied_drops_everything_clears_storage_and_refuses_tracking() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.run_for(secs(1), &mut |_, _| None);
    assert!(sim.storage.contains_key("scantrack:site_demo:queue"));
    sim.p.set_consent(Consent::Denied, sim.now);
    sim.run_for(ms(1), &mut |_, _| ok());
    assert!(sim.storage.is_empty(), "{:?}", sim.storage);
    assert_eq!(sim.dropped()[0].1, DropReason::ConsentDenied.as_str());
    assert!(sim.p.track(EventInput::new("b"), sim.now).is_err());
    sim.run_for(secs(10), &mut |_, _| ok());
    assert!(sim.storage.is_empty());
}

#[test]
fn a_reload_during_a_rate_limit_pause_still_waits_for_retry_after() {
    let mut sim = Sim::new(config());
    sim.track("a");
    sim.p.flush(sim.now);
    sim.run_for(ms(100), &mut |_, _| {
        http(HttpResponse::status(429).with_retry_after(RetryAfter::Seconds(120)))
    });
    sim.reload();
    let mut store = Store::new();
    sim.run_for(secs(300), &mut |t, _| store.accept(t));
    assert_eq!(sim.sent.len(), 2);
    assert_eq!(
        sim.sent[1].at,
        T0.add(ms(50 + 120_000)),
        "the new page honours the stored pause"
    );
}

// ---- several tabs of one site share storage ------------------------------------------------

type Storage = std::collections::BTreeMap<String, String>;

fn write_storage(p: &mut scantrack_core::Pipeline, storage: &mut Storage, now: Millis) {
    let snapshot = storage.clone();
    for op in p.poll_storage(now, &|k| snapshot.get(k).cloned()) {
        match op.value {
            Some(v) => storage.insert(op.key, v),
            None => storage.remove(&op.key),
        };
    }
}

fn tab(seed: u64, storage: &Storage) -> scantrack_core::Pipeline {
    scantrack_core::Pipeline::new(
        config(),
        Box::new(scantrack_core::entropy::SeededEntropy::new(seed)),
        str::to_lowercase,
        Startup {
            stored_queue: storage.get("scantrack:site_demo:queue").map(String::as_str),
            stored_session: storage
                .get("scantrack:site_demo:session")
                .map(String::as_str),
            ..Default::default()
        },
        T0,
    )
}

#[test]
fn two_tabs_of_one_site_never_erase_each_others_stored_events() {
    let mut storage = Storage::new();
    // Both tabs open before anything is stored.
    let mut a = tab(1, &storage);
    let mut b = tab(2, &storage);
    let in_a = a.track(EventInput::new("in_a"), T0).unwrap();
    let in_b = b.track(EventInput::new("in_b"), T0).unwrap();
    write_storage(&mut a, &mut storage, T0.add(secs(1)));
    write_storage(&mut b, &mut storage, T0.add(secs(1)));
    let q = storage["scantrack:site_demo:queue"].clone();
    assert!(q.contains(&in_a) && q.contains(&in_b), "{q}");
    // Tab A delivers its event: its next write removes it and keeps B's.
    a.flush(T0.add(secs(2)));
    let t = a.poll_transmit(T0.add(secs(2))).unwrap();
    a.handle_response(t.id, ok().unwrap(), T0.add(secs(2)));
    write_storage(&mut a, &mut storage, T0.add(secs(4)));
    let q = storage["scantrack:site_demo:queue"].clone();
    assert!(!q.contains(&in_a) && q.contains(&in_b), "{q}");
    // Both tabs close before B delivered: the next page load finds B's event.
    let c = tab(3, &storage);
    assert_eq!(c.queued(), 1);
}

#[test]
fn a_rate_limit_pause_one_tab_stored_holds_the_other_tab_too() {
    let mut storage = Storage::new();
    let mut a = tab(1, &storage);
    let mut b = tab(2, &storage);
    a.track(EventInput::new("a"), T0).unwrap();
    a.flush(T0);
    let t = a.poll_transmit(T0).unwrap();
    let limited = HttpResponse::status(429).with_retry_after(RetryAfter::Seconds(60));
    a.handle_response(t.id, Outcome::Http(limited), T0);
    write_storage(&mut a, &mut storage, T0.add(secs(1)));
    b.track(EventInput::new("b"), T0.add(secs(1))).unwrap();
    write_storage(&mut b, &mut storage, T0.add(secs(2)));
    b.flush(T0.add(secs(2)));
    assert_eq!(
        b.poll_transmit(T0.add(secs(2))),
        None,
        "tab B waits for A's Retry-After"
    );
    assert_eq!(b.paused_until(), T0.add(secs(60)));
    assert!(b.poll_transmit(T0.add(secs(60))).is_some());
}

#[test]
fn four_tabs_of_one_site_together_stay_under_the_site_limit() {
    let mut storage = Storage::new();
    let cfg = config().with_max_batch_events(5).unwrap();
    let mut tabs: Vec<scantrack_core::Pipeline> = (0..4)
        .map(|seed| {
            scantrack_core::Pipeline::new(
                cfg.clone(),
                Box::new(scantrack_core::entropy::SeededEntropy::new(seed)),
                str::to_lowercase,
                Startup::default(),
                T0,
            )
        })
        .collect();
    for (i, t) in tabs.iter_mut().enumerate() {
        for n in 0..200 {
            t.track(EventInput::new(&format!("tab{i}_{n}")), T0)
                .unwrap();
        }
    }
    let mut sends: Vec<(Millis, usize)> = Vec::new();
    let mut delivered = 0;
    let mut now = T0;
    while now < T0.add(secs(300)) {
        for (i, t) in tabs.iter_mut().enumerate() {
            t.observe_site_sends(storage.get("scantrack:site_demo:sends").map(String::as_str));
            while let Some(tx) = t.poll_transmit(now) {
                sends.push((now, i));
                t.handle_response(tx.id, ok().unwrap(), now);
            }
            while let Some(r) = t.poll_report() {
                if let Report::Delivered { event_ids } = r {
                    delivered += event_ids.len();
                }
            }
            write_storage(t, &mut storage, now);
        }
        now = now.add(ms(50));
    }
    assert_eq!(delivered, 800, "everything delivered in the end");
    for (k, (at, _)) in sends.iter().enumerate() {
        let window: Vec<&(Millis, usize)> = sends[..=k]
            .iter()
            .filter(|(t, _)| t.0 + 60_000 > at.0)
            .collect();
        assert!(
            window.len() <= 90,
            "{} requests of the site in the minute before {at:?}",
            window.len()
        );
        for tab in 0..4 {
            let own = window.iter().filter(|(_, i)| *i == tab).count();
            assert!(own <= 30, "tab {tab} sent {own} in a minute");
        }
    }
    // Without the shared limit the four tabs would have sent 120 in the first minute.
    let first_minute = sends.iter().filter(|(t, _)| t.0 < T0.0 + 60_000).count();
    assert_eq!(first_minute, 90);
}

/// A shell that returns the id at the call and builds the event later gives the id with the
/// input: that id is the one sent, a new session (rotation on this very event) draws its own,
/// and a malformed id is refused without queueing anything.
#[test]
fn an_event_id_given_by_the_caller_is_sent_and_a_malformed_one_is_refused() {
    let mut sim = Sim::new(config());
    let first = sim.track("first");
    let id = "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
    sim.now = sim.now.add(ms(31 * 60 * 1000)); // past the 30-minute session timeout
    assert_eq!(
        sim.track_input(EventInput::new("given").with_event_id(id)),
        id
    );
    for bad in ["0B6F1C1E-5F0E-4D55-9A43-3F1F6C1D2A10", "not-a-uuid", ""] {
        let err = sim
            .p
            .track(EventInput::new("bad").with_event_id(bad), sim.now)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("event_id: must be a lower-case UUID"),
            "{err}"
        );
    }
    assert_eq!(sim.p.queued(), 2);
    sim.run_for(secs(5), &mut |_, _| ok());
    let body = scantrack_core::json::parse(&sim.sent[0].transmit.body).unwrap();
    let events = body.get("events").unwrap().as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].get("event_id").unwrap().as_str(),
        Some(first.as_str())
    );
    assert_eq!(events[1].get("event_id").unwrap().as_str(), Some(id));
    let session = |e: &scantrack_core::json::Value| {
        e.get("scan_session_id")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(
        session(&events[1]),
        session(&events[0]),
        "the session rotated"
    );
    assert_ne!(session(&events[1]), id, "the new session has its own id");
}

/// Properties at the depth limit still fit a batch and the stored queue: the collector's
/// validation accepts the body, and a reload reads the stored event back (deeper ones would
/// have made the whole stored queue unreadable, see event::MAX_PROPERTIES_DEPTH).
#[test]
fn properties_at_the_depth_limit_survive_a_reload_and_pass_the_collectors_validation() {
    let mut props = scantrack_core::json::parse("1").unwrap();
    for _ in 0..scantrack_core::event::MAX_PROPERTIES_DEPTH {
        props = scantrack_core::json::Value::Object(vec![("a".into(), props)]);
    }
    let mut too_deep = props.clone();
    for _ in 0..28 {
        too_deep = scantrack_core::json::Value::Object(vec![("a".into(), too_deep)]);
    }
    let mut sim = Sim::new(config());
    let id = sim.track_input(EventInput::new("deep").with_properties(props));
    // 60 levels: the parser would read it alone, but not inside the stored queue.
    assert!(sim
        .p
        .track(
            EventInput::new("too_deep").with_properties(too_deep),
            sim.now
        )
        .is_err());
    sim.reload();
    assert_eq!(sim.p.queued(), 1, "the stored queue was read back");
    sim.run_for(secs(5), &mut |_, _| ok());
    assert_eq!(sim.sent.len(), 1);
    assert_valid_body(&sim.sent[0].transmit.body);
    assert_eq!(ids_of(&sim.sent[0].transmit), vec![id]);
}
