//! `scantrack-collector`: parses the command line, starts the collector and prints exactly one
//! line to stdout once the socket is bound (`scantrack-collector listening on http://ADDR`), so
//! that scripts can wait for it and read the port chosen for `--listen 127.0.0.1:0`. Everything
//! else goes to stderr.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use scantrack_collector::config::{parse_args, Command, USAGE};
use scantrack_collector::{start, SystemClock};

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("scantrack-collector {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scantrack-collector: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scantrack-collector: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: scantrack_collector::Config) -> ExitCode {
    for (flag, dir) in [("--www", &config.www), ("--dist", &config.dist)] {
        if !dir.is_dir() {
            eprintln!(
                "scantrack-collector: warning: {flag} {} is not a directory; its URLs will answer 404",
                dir.display()
            );
        }
    }
    let mut collector = match start(config, Arc::new(SystemClock)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scantrack-collector: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = collector.url();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "scantrack-collector listening on {url}");
    let _ = out.flush();
    drop(out);
    let c = &collector.state().config;
    eprintln!(
        "scantrack-collector: inspector {url}/  demo {url}/demo/ ({})  dist {url}/dist/ ({})  db {}",
        c.www.display(),
        c.dist.display(),
        c.db
    );
    tokio::select! {
        _ = collector.wait() => {}
        _ = shutdown_signal() => {}
    }
    // Dropping the collector closes the database (WAL checkpoint) before the process exits.
    collector.stop().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
