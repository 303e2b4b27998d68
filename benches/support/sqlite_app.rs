//! The app as `serve` wires it on the embedded store, for the benches that measure the real
//! path (fsync'd SQLite writes included).

use std::path::Path;
use std::sync::Arc;

use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::app::App;
use webhook_trigger::config::Config;

/// A fresh store in `dir` and the app over it, its queue inside the store.
pub fn sqlite_app(dir: &Path) -> (SqliteStore, App) {
    let store = SqliteStore::open(&dir.join("bench.db")).expect("open");
    let app = webhook_trigger::wiring::app(
        Arc::new(store.clone()),
        Arc::new(store.queue()),
        Config::default(),
    );
    (store, app)
}
