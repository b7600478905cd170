//! Where a check's audit entry waits, on SQLite, before it takes its place in the chain.
//!
//! Committing a group of checks' entries to `audit_log` (the table, its indexes and the
//! journal frames of every page they touch) was the whole of what the trail cost a check: the
//! writer's commit took about 6 µs per check, and every check waited for it. Here the writer
//! appends the entries of a group of checks to a file of its own, one line of JSON each, and
//! answers the checks once the file has them: a crash of the process loses nothing that was
//! answered, as with a WAL commit without a sync. Once the oldest has waited 100 ms, or 4,096
//! wait, the writer moves them into `audit_log`, chained, 32 at a time between groups of checks
//! (or while no check waits), into one transaction that stays open across the groups: the
//! groups' reads run inside it, and it commits once it holds 1,024 entries or has been open
//! 10 ms; the next move begins 10 ms after, at the earliest. A move thus never holds up the
//! checks for long, the commit is paid once for many entries, and the writer's page cache stays
//! warm (another connection's commit would empty it). The transaction also records in `settings` the last line moved. Once all are moved the
//! writer empties the file. A crash with a move open loses only the move: its entries are still
//! in the file.
//!
//! Each process writes its own file, `<database>.audit-stage.<name>`, and holds a lock on it
//! while it runs. Opening the store moves what a process that ended without moving its lines
//! left behind (files nobody holds); a line torn by a crash in mid-write was never answered,
//! and is left out. Whatever reads the trail in this process first has the writer move what
//! waits, so `GET /audit` shows every check already answered; another process (the command
//! line's `audit verify`) sees them within about 120 ms. While a move is open, other writers (a
//! record's change, a sign-in, an import) wait for it, 10 ms at most, and the 10 ms between
//! moves keep the lock free for them.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::audit::{GENESIS, Unchained};
use crate::{StoreError, StoreResult};

/// Entries waiting that make the writer move them at once.
const MOVE_AT: usize = 4096;

/// Most entries moved between two groups of checks: a slice holds up the checks behind it for
/// about 2.5 µs an entry.
pub(super) const SLICE: usize = 32;

/// A move's transaction stays open across groups of checks (which read inside it) until it has
/// taken this many entries, or has been open [`COMMIT_AFTER`]; nothing else can write meanwhile.
const COMMIT_AT: usize = 1024;

/// See [`COMMIT_AT`]; `ARMSTRACE_AUDIT_COMMIT_MS` changes it (for tests that need a move to be
/// still open).
const COMMIT_AFTER: Duration = Duration::from_millis(10);

/// After a move commits, the next waits at least this long, so that the other writers (a
/// record's change, an import, in this process or another) find the write lock free: SQLite's
/// busy handler retries at growing intervals, and a lock that was free only for moments between
/// two moves could keep one waiting until it gives up. `ARMSTRACE_AUDIT_REST_MS` changes it
/// (for tests).
const REST_AFTER: Duration = Duration::from_millis(10);

/// How long the first entry waits at most before it is moved; `ARMSTRACE_AUDIT_MOVE_MS`
/// changes it (for tests that need entries to be still waiting).
const MOVE_AFTER: Duration = Duration::from_millis(100);

/// One line of the file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    /// Counts the file's lines from 1, across emptyings.
    seq: u64,
    /// When the check was made, as the trail writes it.
    at: String,
    entry: Unchained,
}

/// The writer's file and the entries in it not yet moved.
pub(super) struct Stage {
    file: File,
    path: PathBuf,
    key: String,
    next_seq: u64,
    /// (line number, time, entry), oldest first.
    waiting: std::collections::VecDeque<(u64, String, Unchained)>,
    since: Option<Instant>,
    move_after: Duration,
    line: Vec<u8>,
    /// The move open, if one is.
    open: Option<OpenMove>,
    commit_after: Duration,
    /// When the last move committed (or was rolled back).
    moved: Option<Instant>,
    rest_after: Duration,
}

/// A move's transaction, open on the writer's connection.
#[derive(Debug, Clone, Copy)]
struct OpenMove {
    /// How many of the oldest waiting entries it has inserted; they leave `waiting` when it
    /// commits.
    taken: usize,
    began: Instant,
}

/// What the stage files of the database at `db` are called, up to the process's part.
fn prefix(db: &Path) -> String {
    let name = db.file_name().map_or_else(
        || "armstrace.db".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!("{name}.audit-stage.")
}

/// The key in `settings` of the last line of `file` moved into the trail.
fn key(file: &str) -> String {
    format!("audit_stage:{file}")
}

impl Stage {
    /// Creates this process's file beside the database at `db`, and locks it.
    pub(super) fn create(db: &Path) -> std::io::Result<Self> {
        let dir = db.parent().unwrap_or(Path::new("."));
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("{}{}-{started:x}", prefix(db), std::process::id());
        // Made and locked under another name first, so that a store opening meanwhile never
        // takes the new file for one left behind.
        let making = dir.join(format!(".{name}.new"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&making)?;
        file.lock()?;
        let path = dir.join(&name);
        std::fs::rename(&making, &path)?;
        let millis = |name: &str, default: Duration| {
            std::env::var(name)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map_or(default, Duration::from_millis)
        };
        Ok(Stage {
            file,
            path,
            key: key(&name),
            next_seq: 1,
            waiting: std::collections::VecDeque::new(),
            since: None,
            move_after: millis("ARMSTRACE_AUDIT_MOVE_MS", MOVE_AFTER),
            line: Vec::new(),
            open: None,
            commit_after: millis("ARMSTRACE_AUDIT_COMMIT_MS", COMMIT_AFTER),
            moved: None,
            rest_after: millis("ARMSTRACE_AUDIT_REST_MS", REST_AFTER),
        })
    }

    /// How long until the waiting entries are due to move; `None` when none wait.
    pub(super) fn due_in(&self) -> Option<Duration> {
        self.since
            .map(|since| self.move_after.saturating_sub(since.elapsed()))
    }

    /// Whether a step of entries should move even while checks queue: the oldest has waited
    /// its time, or many wait.
    pub(super) fn due(&self) -> bool {
        self.waiting.len() >= MOVE_AT || self.due_in() == Some(Duration::ZERO)
    }

    /// Writes `entries`, made at `at`, to the file, each as `written` holds it in JSON; once
    /// this returns, they are answered for. On an error they are not taken, and the file may
    /// end in a torn line: the caller stops using the stage.
    pub(super) fn append(
        &mut self,
        at: &str,
        entries: &mut Vec<Unchained>,
        written: &[String],
    ) -> std::io::Result<()> {
        use std::io::Write as _;
        if written.len() != entries.len() {
            return Err(std::io::Error::other("an entry came without its JSON"));
        }
        self.line.clear();
        // As `Line` reads them back: the time has nothing JSON would escape.
        for (n, json) in written.iter().enumerate() {
            let seq = self.next_seq + n as u64;
            writeln!(self.line, r#"{{"seq":{seq},"at":"{at}","entry":{json}}}"#)?;
        }
        self.file.write_all(&self.line)?;
        for entry in entries.drain(..) {
            self.waiting
                .push_back((self.next_seq, at.to_string(), entry));
            self.next_seq += 1;
        }
        self.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Whether entries wait that no open move has taken yet, and they are due.
    pub(super) fn movable(&self) -> bool {
        self.taken() < self.waiting.len()
            && self.due()
            && (self.moving() || self.rest_in() == Duration::ZERO)
    }

    /// How long until the write lock has been left free long enough since the last move.
    fn rest_in(&self) -> Duration {
        self.moved.map_or(Duration::ZERO, |moved| {
            self.rest_after.saturating_sub(moved.elapsed())
        })
    }

    /// How long until entries waiting and not in a move may move (due, and the last move
    /// rested); `None` when none waits.
    pub(super) fn movable_in(&self) -> Option<Duration> {
        let due = self.due_in()?;
        let due = if self.waiting.len() >= MOVE_AT {
            Duration::ZERO
        } else {
            due
        };
        Some(due.max(self.rest_in()))
    }

    /// Whether a move is open.
    pub(super) fn moving(&self) -> bool {
        self.open.is_some()
    }

    /// How many of the oldest waiting entries the open move has inserted.
    fn taken(&self) -> usize {
        self.open.map_or(0, |open| open.taken)
    }

    /// How long until the open move should commit.
    pub(super) fn commit_in(&self) -> Duration {
        self.open.map_or(Duration::ZERO, |open| {
            self.commit_after.saturating_sub(open.began.elapsed())
        })
    }

    /// Whether the open move has taken enough, or been open long enough, to commit.
    pub(super) fn commit_due(&self) -> bool {
        self.moving() && (self.taken() >= COMMIT_AT || self.commit_in() == Duration::ZERO)
    }

    /// Inserts the next `most` waiting entries into the trail, chained, in the open move (one
    /// begins if none is open), with the last one's line number in `settings`. On an error the
    /// move is rolled back: every entry it took waits again.
    pub(super) fn slice(
        &mut self,
        conn: &mut rusqlite::Connection,
        most: usize,
    ) -> rusqlite::Result<()> {
        let taken = self.taken();
        let end = (taken + most).min(self.waiting.len());
        let Some(&(last, _, _)) = self.waiting.get(end.wrapping_sub(1)) else {
            return Ok(());
        };
        if end == taken {
            return Ok(());
        }
        let began = match self.open {
            Some(open) => open.began,
            None => {
                conn.execute_batch("BEGIN IMMEDIATE")?;
                Instant::now()
            }
        };
        let inserted = chain_in(
            conn,
            self.waiting
                .range(taken..end)
                .map(|(_, at, entry)| (at.as_str(), entry)),
        )
        .and_then(|()| set_moved(conn, &self.key, last));
        match inserted {
            Ok(()) => {
                self.open = Some(OpenMove { taken: end, began });
                Ok(())
            }
            Err(error) => {
                self.roll_back(conn);
                Err(error)
            }
        }
    }

    /// Commits the open move, if one is; once none waits, empties the file.
    pub(super) fn commit(&mut self, conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
        if !self.moving() {
            return Ok(());
        }
        if let Err(error) = conn.execute_batch("COMMIT") {
            self.roll_back(conn);
            return Err(error);
        }
        self.waiting.drain(..self.taken());
        self.open = None;
        self.moved = Some(Instant::now());
        if self.waiting.is_empty() {
            self.since = None;
            // What is moved may stay in the file (its number says so); emptying it only
            // keeps it small.
            if let Err(error) = self.file.set_len(0) {
                tracing::warn!(%error, file = %self.path.display(), "emptying the audit stage failed");
            }
        }
        Ok(())
    }

    fn roll_back(&mut self, conn: &mut rusqlite::Connection) {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.open = None;
        self.moved = Some(Instant::now());
    }

    /// Moves every waiting entry, committing every [`COMMIT_AT`].
    pub(super) fn move_all(&mut self, conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
        while self.taken() < self.waiting.len() || self.moving() {
            self.slice(conn, COMMIT_AT.saturating_sub(self.taken()))?;
            self.commit(conn)?;
        }
        Ok(())
    }

    /// Moves what waits, then removes the file and its record: the process is done with it.
    /// On an error the file stays, for the next opening to move.
    pub(super) fn finish(mut self, conn: &mut rusqlite::Connection) {
        let finished = self
            .move_all(conn)
            .map_err(StoreError::from)
            .and_then(|()| forget(conn, &self.path, &self.key));
        if let Err(error) = finished {
            tracing::error!(%error, file = %self.path.display(),
                "the audit stage was left for the next opening to move");
        }
    }
}

/// Appends `entries` (each with its time) to the chain, after its current end, in `tx`.
pub(super) fn chain_in<'a>(
    tx: &rusqlite::Connection,
    entries: impl IntoIterator<Item = (&'a str, &'a Unchained)>,
) -> rusqlite::Result<()> {
    let mut entries = entries.into_iter().peekable();
    if entries.peek().is_none() {
        return Ok(());
    }
    let (mut id, mut prev): (i64, String) = tx
        .prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_string())),
            other => Err(other),
        })?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit_log (id, at, user_id, username, org_id, organisation, country, \
         on_behalf_of, action, target, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for (at, event) in entries {
        id += 1;
        let hash = event.hash_at(id, at, &prev);
        let c = event.columns();
        insert.execute(rusqlite::params![
            id,
            at,
            c.user_id,
            c.username,
            c.org_id,
            c.organisation,
            c.country,
            c.on_behalf_of,
            c.action,
            c.target,
            c.detail,
            prev,
            hash,
        ])?;
        prev = hash;
    }
    Ok(())
}

/// Removes a stage file whose entries are all in the trail, then its record (`key`); a record
/// left without its file is harmless.
fn forget(conn: &rusqlite::Connection, path: &Path, key: &str) -> StoreResult<()> {
    std::fs::remove_file(path).map_err(io_error(path))?;
    conn.execute("DELETE FROM settings WHERE key = ?1", [key])?;
    Ok(())
}

fn set_moved(tx: &rusqlite::Connection, key: &str, seq: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(rusqlite::params![key, seq.to_string()])
    .map(drop)
}

/// The complete lines of a file's `bytes`, and how many bytes of a torn last line follow them.
fn lines(bytes: &[u8], path: &Path) -> StoreResult<(Vec<Line>, usize)> {
    let complete = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    let mut lines = Vec::new();
    for (number, text) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if text.is_empty() {
            continue;
        }
        lines.push(serde_json::from_slice(text).map_err(|e| {
            StoreError::Corrupt(format!(
                "line {} of the audit stage {}: {e}; the checks it holds are not in the trail. \
                 Move the file aside (and keep it) to open the database without it",
                number + 1,
                path.display()
            ))
        })?);
    }
    Ok((lines, bytes.len() - complete))
}

/// Moves into the trail what every stage file beside the database at `db` that no running
/// process holds has not moved yet, and removes those files; returns the entries moved.
pub(super) fn recover(db: &Path) -> StoreResult<u64> {
    let dir = match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let prefix = prefix(db);
    let mut left = Vec::new();
    for found in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let found = found.map_err(io_error(dir))?;
        if found.file_name().to_string_lossy().starts_with(&prefix) {
            left.push(found.path());
        }
    }
    if left.is_empty() {
        return Ok(0);
    }
    left.sort();
    let mut conn = super::plain_connection(db, false)?;
    let mut moved = 0;
    for path in left {
        moved += recover_one(&mut conn, &path)?;
    }
    Ok(moved)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("{}: {e}", path.display()))
}

fn recover_one(conn: &mut rusqlite::Connection, path: &Path) -> StoreResult<u64> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        // Removed meanwhile by its process, at its end.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error(path)(e)),
    };
    match file.try_lock() {
        Ok(()) => {}
        // Its process runs, and moves its entries itself.
        Err(std::fs::TryLockError::WouldBlock) => return Ok(0),
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(path)(e)),
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_error(path))?;
    let (lines, torn) = lines(&bytes, path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = key(&name);
    let done: u64 = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [&key], |row| {
            row.get::<_, String>(0)
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })?
        .map(|text| {
            text.parse()
                .map_err(|_| StoreError::Corrupt(format!("{key} '{text}'")))
        })
        .transpose()?
        .unwrap_or(0);
    let pending: Vec<&Line> = lines.iter().filter(|line| line.seq > done).collect();
    if let Some(last) = pending.last() {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        chain_in(
            &tx,
            pending.iter().map(|line| (line.at.as_str(), &line.entry)),
        )?;
        set_moved(&tx, &key, last.seq)?;
        tx.commit()?;
    }
    if torn > 0 {
        tracing::warn!(file = %path.display(), bytes = torn,
            "the audit stage ended in a line torn in mid-write; it was never answered, and is left out");
    }
    forget(conn, path, &key)?;
    if !pending.is_empty() {
        tracing::info!(file = %path.display(), entries = pending.len(),
            "moved checks' audit entries a stopped process had left into the trail");
    }
    Ok(pending.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_entry(serial: &str) -> Unchained {
        Unchained::from(
            &crate::audit::AuditEvent::new(crate::audit::AuditWho::installation(), "check")
                .detail(serde_json::json!({ "serial_number": serial })),
        )
    }

    #[test]
    fn a_stage_s_lines_read_back_as_written_and_a_running_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("trail.db");
        let mut stage = Stage::create(&db).unwrap();
        let mut entries = vec![check_entry("AB\"1"), check_entry("ÄÖ-2")];
        let written: Vec<String> = entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        let expected = entries.clone();
        stage
            .append("2026-11-23T08:00:00.000000Z", &mut entries, &written)
            .unwrap();
        assert!(entries.is_empty());
        let bytes = std::fs::read(&stage.path).unwrap();
        let (lines, torn) = lines(&bytes, &stage.path).unwrap();
        assert_eq!(torn, 0);
        assert_eq!(lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            lines.into_iter().map(|l| l.entry).collect::<Vec<_>>(),
            expected
        );
        // Its process holds it: opening the database beside it moves nothing and keeps it.
        assert_eq!(recover(&db).unwrap(), 0);
        assert!(stage.path.exists());
    }

    fn trail_length(db: &Path) -> i64 {
        super::super::plain_connection(db, true)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM audit_log", [], |row| row.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_move_s_entries_leave_the_stage_only_when_it_commits_and_wait_again_if_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("trail.db");
        drop(crate::open(db.to_str().unwrap(), true).await.unwrap());
        let before = trail_length(&db);
        let mut conn = super::super::plain_connection(&db, false).unwrap();
        let mut stage = Stage::create(&db).unwrap();
        let mut entries: Vec<Unchained> = (0..40).map(|n| check_entry(&format!("S{n}"))).collect();
        let written: Vec<String> = entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        stage
            .append("2026-11-23T08:00:00.000000Z", &mut entries, &written)
            .unwrap();

        // A slice is inserted in an open move: no one else sees it yet.
        stage.slice(&mut conn, SLICE).unwrap();
        assert!(stage.moving());
        assert_eq!(stage.taken(), SLICE);
        assert_eq!(trail_length(&db), before);
        // Rolled back (as a failed insert or commit does), every entry waits again.
        stage.roll_back(&mut conn);
        assert!(!stage.moving() && conn.is_autocommit());
        assert_eq!(stage.waiting.len(), 40);

        // Two slices, one commit: the slices' entries leave the stage, the rest wait.
        stage.move_after = Duration::ZERO;
        stage.rest_after = Duration::ZERO;
        assert!(stage.movable());
        stage.rest_after = Duration::from_secs(3600);
        stage.slice(&mut conn, SLICE).unwrap();
        stage.slice(&mut conn, 4).unwrap();
        stage.commit(&mut conn).unwrap();
        assert_eq!(trail_length(&db), before + 36);
        assert_eq!(stage.waiting.len(), 4);
        assert!(std::fs::metadata(&stage.path).unwrap().len() > 0);
        // The next move leaves the write lock to the other writers first, though the rest is
        // due.
        assert!(stage.due() && !stage.movable());
        assert!(stage.movable_in().unwrap() > Duration::from_secs(3000));
        stage.rest_after = Duration::ZERO;
        assert!(stage.movable());
        assert_eq!(stage.movable_in(), Some(Duration::ZERO));

        // Moving all empties the stage and its file, and the chain holds every entry once.
        stage.move_all(&mut conn).unwrap();
        assert_eq!(trail_length(&db), before + 40);
        assert!(stage.waiting.is_empty() && !stage.moving());
        assert_eq!(std::fs::metadata(&stage.path).unwrap().len(), 0);
        let serials: Vec<String> = conn
            .prepare("SELECT json_extract(detail, '$.serial_number') FROM audit_log WHERE action = 'check' ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<String> = (0..40).map(|n| format!("S{n}")).collect();
        assert_eq!(serials, expected);
        stage.finish(&mut conn);
    }

    #[test]
    fn complete_lines_are_read_and_a_torn_last_one_is_counted_apart() {
        let entry = Unchained::from(&crate::audit::AuditEvent::new(
            crate::audit::AuditWho::installation(),
            "check",
        ));
        let json = serde_json::to_string(&entry).unwrap();
        let mut bytes = Vec::new();
        for seq in [1, 2] {
            bytes.extend_from_slice(
                format!(r#"{{"seq":{seq},"at":"2026-11-23T08:00:00.000000Z","entry":{json}}}"#)
                    .as_bytes(),
            );
            bytes.push(b'\n');
        }
        let whole = bytes.len();
        bytes.extend_from_slice(br#"{"seq":3,"at":"2026-11-"#);
        let (lines, torn) = lines(&bytes, Path::new("stage")).unwrap();
        assert_eq!(lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(lines[1].entry, entry);
        assert_eq!(torn, bytes.len() - whole);

        // A damaged line before the end is not a torn write: the file is refused.
        let mut damaged = bytes[..whole].to_vec();
        damaged.splice(0..1, *b"#");
        let refused = super::lines(&damaged, Path::new("stage")).err().unwrap();
        assert!(
            refused.to_string().contains("line 1 of the audit stage"),
            "{refused}"
        );
    }
}
