//! Storage guarantees: a restart keeps everything, and concurrent clients never lose or double
//! an event.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use scantrack_collector::{Config, DbPath};
use serde_json::json;

#[tokio::test]
async fn a_restart_keeps_every_event_refusal_and_dedup_key() {
    let dir = TempDb::new("restart");
    let config = || Config::for_tests().db(DbPath::File(dir.db()));

    let s = Server::start(config()).await;
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (0..5).map(event).collect()),
        )
        .await;
    assert_eq!(r.json(), json!({"accepted": 5, "duplicates": 0}));
    assert_eq!(s.post("/collect/batch", "{").await.status, 400);
    s.collector.stop().await;

    let s = Server::start(config()).await;
    let stored = s.events("limit=100").await;
    assert_eq!(stored.len(), 5);
    assert_eq!(
        stored.iter().find(|e| e["event_id"] == uuid(3)).unwrap()["event"],
        event(3)
    );
    assert_eq!(s.refused().await.len(), 1);
    // The dedup key survived too: re-sending after a restart stores nothing twice.
    let r = s
        .post_json(
            "/collect/batch",
            &batch("site_demo", (3..8).map(event).collect()),
        )
        .await;
    assert_eq!(r.json(), json!({"accepted": 3, "duplicates": 2}));
    s.collector.stop().await;
    assert!(dir.db().exists());
}

#[tokio::test]
async fn the_file_database_uses_wal() {
    let dir = TempDb::new("wal");
    let s = Server::start(Config::for_tests().db(DbPath::File(dir.db()))).await;
    s.post_json("/collect/batch", &batch("site_demo", vec![event(1)]))
        .await;
    let mut wal = dir.db().into_os_string();
    wal.push("-wal");
    assert!(
        std::path::Path::new(&wal).exists(),
        "WAL file beside the database"
    );
    s.collector.stop().await;
}

/// 200 clients post at once, each a batch of 5 events; the batches overlap (client i sends
/// events 3i..3i+5), as retries from different tabs would. Every distinct event is stored
/// exactly once and the responses add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_clients_lose_and_double_nothing() {
    const CLIENTS: u64 = 200;
    let dir = TempDb::new("parallel");
    let s = Arc::new(
        Server::start(
            Config::for_tests()
                .db(DbPath::File(dir.db()))
                .rate_per_minute(1_000_000),
        )
        .await,
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(CLIENTS as usize));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let body = batch("site_demo", (3 * i..3 * i + 5).map(event).collect()).to_string();
            barrier.wait().await;
            let r = send(
                s.addr(),
                None,
                "POST",
                "/collect/batch",
                &[],
                body.as_bytes(),
            )
            .await
            .expect("a response");
            assert_eq!(r.status, 200, "{r:?}");
            let v = r.json();
            (
                v["accepted"].as_u64().unwrap(),
                v["duplicates"].as_u64().unwrap(),
            )
        }));
    }
    let (mut accepted, mut duplicates) = (0, 0);
    for t in tasks {
        let (a, d) = t.await.unwrap();
        accepted += a;
        duplicates += d;
    }
    let distinct = 3 * (CLIENTS - 1) + 5;
    assert_eq!(accepted, distinct, "every distinct event accepted once");
    assert_eq!(
        accepted + duplicates,
        CLIENTS * 5,
        "every event counted once"
    );

    let stored = s.events("limit=10000").await;
    assert_eq!(stored.len() as u64, distinct);
    let ids: HashSet<_> = stored
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len() as u64, distinct, "no event stored twice");
    assert!(
        (0..distinct).all(|n| ids.contains(&uuid(n))),
        "no event lost"
    );
}
