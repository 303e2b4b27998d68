use rusqlite::Connection;

/// Records are stored whole as JSON; the columns beside them are what queries and conditional
/// writes need.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workflows (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
-- Every saved definition of a workflow, immutable; kept after the workflow is deleted.
CREATE TABLE IF NOT EXISTS workflow_versions (
    workflow_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (workflow_id, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workflow_secrets (
    workflow_id TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_key_usage (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS admin_keys (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS executions (
    workflow_id TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (workflow_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (workflow_id, status, id);
CREATE TABLE IF NOT EXISTS dedup (
    workflow_id TEXT NOT NULL,
    key TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sns_subscriptions (
    workflow_id TEXT NOT NULL,
    topic_arn TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (workflow_id, topic_arn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejection_counts (
    workflow_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    auth INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    signature INTEGER NOT NULL DEFAULT 0,
    duplicate INTEGER NOT NULL DEFAULT 0,
    payload_invalid INTEGER NOT NULL DEFAULT 0,
    other INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, hour)
) WITHOUT ROWID;
-- At most one sample of a refused request per workflow, minute and reason (the first wins).
CREATE TABLE IF NOT EXISTS refusal_samples (
    workflow_id TEXT NOT NULL,
    minute INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (workflow_id, minute, reason)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refusal_samples_by_time ON refusal_samples (workflow_id, at);
CREATE TABLE IF NOT EXISTS items (
    workflow_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    item_index INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (workflow_id, execution_id, step_id, item_index)
) WITHOUT ROWID;
-- Items outnumber executions by the length of their loops, and the hourly purge runs in the
-- writer (every webhook's commit waits behind it): it must find the expired rows, not scan.
CREATE INDEX IF NOT EXISTS items_by_expiry ON items (expires_at);
-- Resume URLs of approval and callback steps, by the SHA-256 of their token (never the token).
CREATE TABLE IF NOT EXISTS callbacks (
    token_hash TEXT PRIMARY KEY,
    decided INTEGER NOT NULL,
    retain_until INTEGER NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS executions_waiting ON executions (status) WHERE status = 'waiting';
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_by_visibility ON queue (visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at INTEGER NOT NULL
);
";

pub fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    configure(conn)?;
    conn.execute_batch(SCHEMA)?;
    add_missing_columns(conn)
}

/// Columns added after a table was first created: `CREATE TABLE IF NOT EXISTS` leaves an
/// older file's table as it was, so each is added when missing (with its default, so the
/// rows already there read as zero).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[(
    "rejection_counts",
    "payload_invalid",
    "INTEGER NOT NULL DEFAULT 0",
)];

fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, decl) in ADDED_COLUMNS {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
        let mut present = false;
        for name in names {
            present |= name? == *column;
        }
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    Ok(())
}

/// What every connection to the file needs (these settings are per connection).
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // WAL lets readers run beside the writer; synchronous=FULL makes every committed webhook
    // survive a power cut, not only a process crash.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Room for every statement the hot paths prepare (rusqlite keeps 16 by default), so none
    // is parsed again after the first time.
    conn.set_prepared_statement_cache_capacity(64);
    conn.busy_timeout(std::time::Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_from_before_a_column_gets_it_with_zeros() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE rejection_counts (workflow_id TEXT NOT NULL, hour INTEGER NOT NULL,
             auth INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0,
             signature INTEGER NOT NULL DEFAULT 0, duplicate INTEGER NOT NULL DEFAULT 0,
             other INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (workflow_id, hour)) WITHOUT ROWID;
             INSERT INTO rejection_counts (workflow_id, hour, auth) VALUES ('wf', 0, 2);",
        )
        .unwrap();
        prepare(&conn).unwrap();
        prepare(&conn).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT payload_invalid FROM rejection_counts WHERE workflow_id = 'wf'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }
}
