//! The embedded store: every accepted event and every refused request, in SQLite.
//!
//! Invariants:
//! - One connection, behind a mutex: SQLite has one writer at a time anyway, and a single
//!   connection makes "no lost or doubled event under concurrency" a property of the code
//!   rather than of busy-retry loops. Callers on the async side go through `spawn_blocking`.
//! - A request's events are written in one transaction: all of them or none.
//! - `(site_id, event_id)` is UNIQUE, so a retried event is stored once and counted as a
//!   duplicate; event ids are compared in lower case (a UUID is case-insensitive). Events
//!   without an `event_id` (old clients) have NULL there and are always stored (NULLs are
//!   distinct in a SQLite unique index).
//! - File databases use WAL with `synchronous=NORMAL`: a committed request survives a crash or
//!   restart of the collector (only a power cut can lose the last commits).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::value::RawValue;

/// How long a connection waits for a lock held by another process on the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most rows one query returns.
pub const MAX_QUERY_ROWS: usize = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY,
    site_id         TEXT    NOT NULL,
    event_id        TEXT,
    scan_session_id TEXT,
    event_name      TEXT,
    received_at     INTEGER NOT NULL, -- ms since the Unix epoch, collector clock
    sent_at         INTEGER,          -- ms, the request's sent_at (client clock), if any
    request_id      TEXT    NOT NULL,
    json            TEXT    NOT NULL  -- the event object as received, compact JSON
);
CREATE UNIQUE INDEX IF NOT EXISTS events_site_event ON events (site_id, event_id);
CREATE INDEX IF NOT EXISTS events_session ON events (scan_session_id);
CREATE TABLE IF NOT EXISTS refused (
    id            INTEGER PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    request_id    TEXT    NOT NULL,
    client_ip     TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    status        INTEGER NOT NULL,
    reason        TEXT    NOT NULL, -- one line for people
    response_body TEXT    NOT NULL, -- the body that was sent back
    body_bytes    INTEGER NOT NULL,
    body_excerpt  TEXT    NOT NULL  -- the start of the request body (lossy UTF-8)
);
";

/// Where the database lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbPath {
    /// `--db :memory:`: gone when the process ends (tests).
    Memory,
    File(PathBuf),
}

impl DbPath {
    pub fn parse(s: &str) -> DbPath {
        if s == ":memory:" {
            DbPath::Memory
        } else {
            DbPath::File(PathBuf::from(s))
        }
    }
}

impl fmt::Display for DbPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbPath::Memory => f.write_str(":memory:"),
            DbPath::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A storage failure; the request that hit it gets a 500.
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// One event to store.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_id: Option<String>,
    pub scan_session_id: Option<String>,
    pub event_name: Option<String>,
    /// Compact JSON of the event object.
    pub json: String,
}

/// The events of one accepted request.
#[derive(Clone, Debug)]
pub struct NewBatch {
    pub site_id: String,
    pub sent_at: Option<u64>,
    pub received_at: u64,
    pub request_id: String,
    pub events: Vec<NewEvent>,
}

/// A stored event, as the inspector API and the live stream show it.
#[derive(Clone, Debug, Serialize)]
pub struct StoredEvent {
    pub id: i64,
    pub site_id: String,
    pub event_id: Option<String>,
    pub scan_session_id: Option<String>,
    pub event_name: Option<String>,
    pub received_at: u64,
    pub sent_at: Option<u64>,
    pub request_id: String,
    /// The event object as received.
    pub event: Box<RawValue>,
}

/// What storing a batch did.
#[derive(Clone, Debug)]
pub struct Inserted {
    /// The newly stored events, in request order.
    pub accepted: Vec<StoredEvent>,
    /// Events already stored under the same `(site_id, event_id)`.
    pub duplicates: usize,
}

/// A refused request to record.
#[derive(Clone, Debug, Serialize)]
pub struct NewRefused {
    pub received_at: u64,
    pub request_id: String,
    pub client_ip: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub reason: String,
    pub response_body: String,
    pub body_bytes: usize,
    pub body_excerpt: String,
}

/// A refused request as stored: its row id and what was recorded (one JSON object).
#[derive(Clone, Debug, Serialize)]
pub struct StoredRefused {
    pub id: i64,
    #[serde(flatten)]
    pub refused: NewRefused,
}

/// Which events a query returns; `None` fields match everything. `session` and `name` match
/// as case-insensitive substrings (what a person types into a filter box).
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub site_id: Option<String>,
    pub session: Option<String>,
    pub name: Option<String>,
    /// Only rows with an id below this (paging backwards).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
    path: DbPath,
}

impl Store {
    pub fn open(path: &DbPath) -> Result<Store, StoreError> {
        let conn = match path {
            DbPath::Memory => Connection::open_in_memory()?,
            DbPath::File(p) => open_file(p)?,
        };
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.clone(),
        })
    }

    pub fn path(&self) -> &DbPath {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written transaction behind
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a request's events in one transaction; repeats of a stored `(site_id, event_id)`
    /// are counted, not stored.
    pub fn insert_batch(&self, batch: &NewBatch) -> Result<Inserted, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut accepted = Vec::with_capacity(batch.events.len());
        let mut duplicates = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO events
                 (site_id, event_id, scan_session_id, event_name, received_at, sent_at, request_id, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for e in &batch.events {
                let event_id = e.event_id.as_ref().map(|id| id.to_ascii_lowercase());
                let changed = stmt.execute(params![
                    batch.site_id,
                    event_id,
                    e.scan_session_id,
                    e.event_name,
                    batch.received_at as i64,
                    batch.sent_at.map(|t| t as i64),
                    batch.request_id,
                    e.json,
                ])?;
                if changed == 0 {
                    duplicates += 1;
                    continue;
                }
                accepted.push(StoredEvent {
                    id: tx.last_insert_rowid(),
                    site_id: batch.site_id.clone(),
                    event_id,
                    scan_session_id: e.scan_session_id.clone(),
                    event_name: e.event_name.clone(),
                    received_at: batch.received_at,
                    sent_at: batch.sent_at,
                    request_id: batch.request_id.clone(),
                    event: raw_json(e.json.clone()),
                });
            }
        }
        tx.commit()?;
        Ok(Inserted {
            accepted,
            duplicates,
        })
    }

    pub fn insert_refused(&self, r: &NewRefused) -> Result<StoredRefused, StoreError> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO refused
             (received_at, request_id, client_ip, method, path, status, reason, response_body,
              body_bytes, body_excerpt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            r.received_at as i64,
            r.request_id,
            r.client_ip,
            r.method,
            r.path,
            r.status,
            r.reason,
            r.response_body,
            r.body_bytes as i64,
            r.body_excerpt,
        ])?;
        Ok(StoredRefused {
            id: conn.last_insert_rowid(),
            refused: r.clone(),
        })
    }

    /// Events matching `filter`, newest first.
    pub fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, site_id, event_id, scan_session_id, event_name, received_at, sent_at,
                    request_id, json
             FROM events
             WHERE (?1 IS NULL OR site_id = ?1)
               AND (?2 IS NULL OR instr(lower(scan_session_id), lower(?2)) > 0)
               AND (?3 IS NULL OR instr(lower(event_name), lower(?3)) > 0)
               AND (?4 IS NULL OR id < ?4)
             ORDER BY id DESC LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                filter.site_id,
                filter.session,
                filter.name,
                filter.before_id,
                filter.limit.min(MAX_QUERY_ROWS) as i64
            ],
            |row| {
                Ok(StoredEvent {
                    id: row.get(0)?,
                    site_id: row.get(1)?,
                    event_id: row.get(2)?,
                    scan_session_id: row.get(3)?,
                    event_name: row.get(4)?,
                    received_at: row.get::<_, i64>(5)? as u64,
                    sent_at: row.get::<_, Option<i64>>(6)?.map(|t| t as u64),
                    request_id: row.get(7)?,
                    event: raw_json(row.get(8)?),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Refused requests, newest first.
    pub fn refused(&self, limit: usize) -> Result<Vec<StoredRefused>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, received_at, request_id, client_ip, method, path, status, reason,
                    response_body, body_bytes, body_excerpt
             FROM refused ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit.min(MAX_QUERY_ROWS) as i64], |row| {
            Ok(StoredRefused {
                id: row.get(0)?,
                refused: NewRefused {
                    received_at: row.get::<_, i64>(1)? as u64,
                    request_id: row.get(2)?,
                    client_ip: row.get(3)?,
                    method: row.get(4)?,
                    path: row.get(5)?,
                    status: row.get(6)?,
                    reason: row.get(7)?,
                    response_body: row.get(8)?,
                    body_bytes: row.get::<_, i64>(9)? as usize,
                    body_excerpt: row.get(10)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `(stored events, refused requests)`.
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        let conn = self.lock();
        let events: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
        let refused: i64 = conn.query_row("SELECT count(*) FROM refused", [], |r| r.get(0))?;
        Ok((events as u64, refused as u64))
    }

    /// Deletes every event and refusal (admin reset with `?store=true`).
    pub fn clear(&self) -> Result<(), StoreError> {
        self.lock()
            .execute_batch("DELETE FROM events; DELETE FROM refused;")?;
        Ok(())
    }

    /// The stored JSON of one event, if any.
    pub fn event_json(&self, site_id: &str, event_id: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT json FROM events WHERE site_id = ?1 AND event_id = ?2",
                params![site_id, event_id.to_ascii_lowercase()],
                |r| r.get(0),
            )
            .optional()?)
    }
}

fn open_file(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
    Ok(conn)
}

/// Stored JSON came from `Value::to_json`, so it is valid; `null` guards against a row
/// written by hand.
fn raw_json(json: String) -> Box<RawValue> {
    RawValue::from_string(json)
        .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).expect("null is JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, name: &str) -> NewEvent {
        NewEvent {
            event_id: id.map(str::to_owned),
            scan_session_id: Some("7ad26d4f-3181-4ef8-b6ca-b8f59499dd43".into()),
            event_name: Some(name.into()),
            json: format!(r#"{{"event_name":"{name}"}}"#),
        }
    }

    fn batch(site: &str, events: Vec<NewEvent>) -> NewBatch {
        NewBatch {
            site_id: site.into(),
            sent_at: None,
            received_at: 1,
            request_id: "r".into(),
            events,
        }
    }

    #[test]
    fn a_repeated_event_id_is_a_duplicate_per_site() {
        let s = Store::open(&DbPath::Memory).unwrap();
        let a = "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
        let r = s
            .insert_batch(&batch("s1", vec![event(Some(a), "x"), event(Some(a), "x")]))
            .unwrap();
        assert_eq!((r.accepted.len(), r.duplicates), (1, 1));
        let upper = a.to_ascii_uppercase();
        let r = s
            .insert_batch(&batch("s1", vec![event(Some(&upper), "x")]))
            .unwrap();
        assert_eq!(
            (r.accepted.len(), r.duplicates),
            (0, 1),
            "UUIDs compare case-insensitively"
        );
        let r = s
            .insert_batch(&batch("s2", vec![event(Some(a), "x")]))
            .unwrap();
        assert_eq!(
            (r.accepted.len(), r.duplicates),
            (1, 0),
            "another site is another key"
        );
    }

    #[test]
    fn events_without_an_id_are_always_stored() {
        let s = Store::open(&DbPath::Memory).unwrap();
        let r = s
            .insert_batch(&batch("s1", vec![event(None, "x"), event(None, "x")]))
            .unwrap();
        assert_eq!((r.accepted.len(), r.duplicates), (2, 0));
        assert_eq!(s.counts().unwrap(), (2, 0));
    }

    #[test]
    fn filters_match_substrings_case_insensitively() {
        let s = Store::open(&DbPath::Memory).unwrap();
        s.insert_batch(&batch(
            "s1",
            vec![event(None, "page_view"), event(None, "Purchase")],
        ))
        .unwrap();
        let f = EventFilter {
            name: Some("purch".into()),
            limit: 10,
            ..Default::default()
        };
        let got = s.events(&f).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event_name.as_deref(), Some("Purchase"));
        let f = EventFilter {
            session: Some("7AD26D4F".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(s.events(&f).unwrap().len(), 2);
    }
}
