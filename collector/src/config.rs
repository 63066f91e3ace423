//! The collector's configuration and its command line.
//!
//! Every limit is a flag whose default is the contract's (CONTRACT.md 2.1): 256 KiB bodies,
//! 500 events per request, 100 requests per minute per IP (plus a grace of 10).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use scantrack_core::validate::{is_site_id, Limits};

use crate::faults::DEFAULT_REQUEST_LOG_CAPACITY;
use crate::ratelimit::{RatePolicy, MAX_RATE_PER_MINUTE};
use crate::store::DbPath;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_DB: &str = "scantrack.db";
pub const DEFAULT_WWW: &str = "www";
pub const DEFAULT_DIST: &str = "dist";

pub const USAGE: &str = "\
scantrack-collector: the scantrack collector (contract section 2) with an event inspector

USAGE:
    scantrack-collector [OPTIONS]

OPTIONS:
    --listen ADDR             address to bind [default: 127.0.0.1:8787];
                              port 0 picks a free port (the bound address is printed)
    --db PATH                 SQLite file [default: scantrack.db]; `:memory:` keeps nothing
    --site ID                 an active site id (repeatable); with none, every well-formed
                              id is active
    --inactive-site ID        a known but inactive site id (repeatable): 400
    --max-body-bytes N        413 above this body size [default: 262144]
    --max-events N            413 above this many events per request [default: 500]
    --rate-per-minute N       requests per minute per client IP for /collect/batch and /ct
                              together, plus a grace of 10 [default: 100]
    --www DIR                 served at /demo/ [default: www]
    --dist DIR                served at /dist/ [default: dist]
    --no-admin                disable the fault-injection API (/__admin/*)
    --request-log-capacity N  API requests kept for GET /__admin/requests [default: 10000]
    -h, --help                print this help
    -V, --version             print the version

On start, exactly one line goes to stdout once the socket is bound:
    scantrack-collector listening on http://ADDR
";

/// What the collector runs with. Setters are builder-style for tests.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub db: DbPath,
    /// Active sites; empty means every well-formed id is active.
    pub sites: Vec<String>,
    /// Known inactive sites (win over `sites`).
    pub inactive_sites: Vec<String>,
    pub limits: Limits,
    pub rate: RatePolicy,
    pub www: PathBuf,
    pub dist: PathBuf,
    /// Serve `/__admin/*` (to loopback clients only).
    pub admin: bool,
    pub request_log_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            db: DbPath::parse(DEFAULT_DB),
            sites: Vec::new(),
            inactive_sites: Vec::new(),
            limits: Limits::default(),
            rate: RatePolicy::default(),
            www: PathBuf::from(DEFAULT_WWW),
            dist: PathBuf::from(DEFAULT_DIST),
            admin: true,
            request_log_capacity: DEFAULT_REQUEST_LOG_CAPACITY,
        }
    }
}

impl Config {
    /// A configuration for tests: an in-memory database on a free loopback port.
    pub fn for_tests() -> Self {
        Config::default()
            .listen("127.0.0.1:0".parse().expect("valid"))
            .db(DbPath::Memory)
    }
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
    pub fn db(mut self, db: DbPath) -> Self {
        self.db = db;
        self
    }
    pub fn site(mut self, id: &str) -> Self {
        self.sites.push(id.to_owned());
        self
    }
    pub fn inactive_site(mut self, id: &str) -> Self {
        self.inactive_sites.push(id.to_owned());
        self
    }
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.limits.max_body_bytes = n;
        self
    }
    pub fn max_events(mut self, n: usize) -> Self {
        self.limits.max_events = n;
        self
    }
    pub fn rate_per_minute(mut self, n: u64) -> Self {
        self.rate = self.rate.per_minute(n);
        self
    }
    pub fn www(mut self, dir: impl Into<PathBuf>) -> Self {
        self.www = dir.into();
        self
    }
    pub fn dist(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dist = dir.into();
        self
    }
    pub fn admin(mut self, on: bool) -> Self {
        self.admin = on;
        self
    }

    /// Whether a well-formed `site_id` is known and active.
    pub fn site_is_active(&self, id: &str) -> bool {
        !self.inactive_sites.iter().any(|s| s == id)
            && (self.sites.is_empty() || self.sites.iter().any(|s| s == id))
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

/// A command line that cannot be run, with a message that says what to change.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parses the arguments (without the program name). Accepts `--flag value` and `--flag=value`.
pub fn parse_args<I, S>(args: I) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut config = Config::default();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, ConfigError> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| ConfigError(format!("{flag} needs a value (see --help)")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--listen" => config.listen = parse_listen(&value()?)?,
            "--db" => config.db = DbPath::parse(&value()?),
            "--site" => config.sites.push(site_id(&flag, value()?)?),
            "--inactive-site" => config.inactive_sites.push(site_id(&flag, value()?)?),
            "--max-body-bytes" => {
                config.limits.max_body_bytes = positive(&flag, &value()?)? as usize
            }
            "--max-events" => config.limits.max_events = positive(&flag, &value()?)? as usize,
            "--rate-per-minute" => {
                let n = positive(&flag, &value()?)?;
                if n > MAX_RATE_PER_MINUTE {
                    return Err(ConfigError(format!(
                        "--rate-per-minute {n} is too large; the most is {MAX_RATE_PER_MINUTE}"
                    )));
                }
                config.rate = config.rate.per_minute(n);
            }
            "--www" => config.www = PathBuf::from(value()?),
            "--dist" => config.dist = PathBuf::from(value()?),
            "--no-admin" => config.admin = false,
            "--request-log-capacity" => {
                config.request_log_capacity = positive(&flag, &value()?)? as usize
            }
            _ => {
                return Err(ConfigError(format!(
                    "unknown argument '{arg}' (see --help)"
                )))
            }
        }
    }
    Ok(Command::Run(Box::new(config)))
}

fn parse_listen(s: &str) -> Result<SocketAddr, ConfigError> {
    let normalised = match s.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => s.to_owned(),
    };
    normalised.parse().map_err(|_| {
        ConfigError(format!(
            "--listen '{s}' is not an IP:PORT address; use e.g. 127.0.0.1:8787"
        ))
    })
}

fn site_id(flag: &str, id: String) -> Result<String, ConfigError> {
    if is_site_id(&id) {
        Ok(id)
    } else {
        Err(ConfigError(format!(
            "{flag} '{id}' is not a site id: use 1 to 64 of A-Z a-z 0-9 _ -"
        )))
    }
}

fn positive(flag: &str, s: &str) -> Result<u64, ConfigError> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError(format!(
            "{flag} '{s}' must be a whole number above 0"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        match parse_args(args.iter().copied()).unwrap() {
            Command::Run(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_contracts() {
        let c = run(&[]);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(c.db, DbPath::File("scantrack.db".into()));
        assert_eq!(c.limits.max_body_bytes, 256 * 1024);
        assert_eq!(c.limits.max_events, 500);
        assert_eq!(
            c.rate,
            RatePolicy {
                per_minute: 100,
                grace: 10
            }
        );
        assert_eq!(c.www, PathBuf::from("www"));
        assert_eq!(c.dist, PathBuf::from("dist"));
        assert!(c.admin);
    }

    #[test]
    fn flags_take_space_or_equals_values_and_sites_repeat() {
        let c = run(&[
            "--listen=127.0.0.1:0",
            "--db",
            ":memory:",
            "--site",
            "a",
            "--site=b",
            "--inactive-site",
            "c",
            "--max-body-bytes",
            "1000",
            "--max-events=5",
            "--rate-per-minute",
            "7",
            "--www",
            "w",
            "--dist",
            "d",
            "--no-admin",
        ]);
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.db, DbPath::Memory);
        assert_eq!(c.sites, vec!["a", "b"]);
        assert_eq!(c.inactive_sites, vec!["c"]);
        assert_eq!(
            c.limits,
            Limits {
                max_body_bytes: 1000,
                max_events: 5
            }
        );
        assert_eq!(c.rate.per_minute, 7);
        assert_eq!((c.www, c.dist), (PathBuf::from("w"), PathBuf::from("d")));
        assert!(!c.admin);
    }

    #[test]
    fn bad_arguments_say_what_to_change() {
        let err = |args: &[&str]| parse_args(args.iter().copied()).unwrap_err().0;
        assert!(err(&["--listen", "nope"]).contains("use e.g. 127.0.0.1:8787"));
        assert!(err(&["--site", "bad id"]).contains("not a site id"));
        assert!(err(&["--max-events", "0"]).contains("above 0"));
        assert!(err(&["--frobnicate"]).contains("unknown argument"));
        assert!(err(&["--db"]).contains("needs a value"));
    }

    #[test]
    fn sites_active_inactive_and_open_mode() {
        let open = Config::default().inactive_site("old");
        assert!(open.site_is_active("anything"));
        assert!(!open.site_is_active("old"));
        let closed = Config::default().site("site_demo");
        assert!(closed.site_is_active("site_demo"));
        assert!(!closed.site_is_active("other"));
    }
}
