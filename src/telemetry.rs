//! Logging setup. JSON lines in Lambda (CloudWatch parses them) or when `LOG_FORMAT=json`;
//! readable lines locally. `RUST_LOG` filters as usual.

use tracing_subscriber::EnvFilter;

pub fn init(json_by_default: bool) {
    let json = match std::env::var("LOG_FORMAT").ok().as_deref() {
        Some("json") => true,
        Some("text") | Some("human") => false,
        _ => json_by_default,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, or a binary that calls it twice) is harmless, so its error is ignored.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}
