//! The real binary: its one stdout line, flags and exit codes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_scantrack-collector");

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn port_zero_prints_the_bound_address_on_one_line_and_serves() {
    let child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--site",
            "site_demo",
        ])
        .args(["--www", "/nonexistent-www", "--dist", "/nonexistent-dist"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = line
        .strip_prefix("scantrack-collector listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end();
    let addr: std::net::SocketAddr = url.parse().unwrap();
    assert_ne!(addr.port(), 0);
    let body = batch("site_demo", vec![event(1)]).to_string();
    let r = send(addr, None, "POST", "/collect/batch", &[], body.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({"accepted": 1, "duplicates": 0}));
    let body = batch("other_site", vec![event(2)]).to_string();
    let r = send(addr, None, "POST", "/collect/batch", &[], body.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 400, "--site restricts the active sites");
}

#[test]
fn help_lists_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--db",
        "--site",
        "--inactive-site",
        "--max-body-bytes",
        "--max-events",
        "--rate-per-minute",
        "--www",
        "--dist",
        "--no-admin",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_bad_flag_exits_2_with_a_message() {
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument"));
    assert!(out.stdout.is_empty());
}
