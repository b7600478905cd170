//! The conformance harness: every store test runs on SQLite and on PostgreSQL from the same
//! code. `both!(name, function)` makes `name::sqlite` and `name::postgres`, each calling
//! `function(backend)`; `fresh(backend)` gives a new, empty database of that backend (a file in
//! a temporary directory, or a database created on the server `ARMSTRACE_TEST_PG_URL` names and
//! dropped afterwards). `scripts/test.sh` starts a throwaway server and sets the variable.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use armstrace_store::Store;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database made for one test; dropped with it.
pub struct TestDb {
    /// What `--db` would be given.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    dropper: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.dropper.take() else {
            return;
        };
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let _ = armstrace_store::drop_database(&admin, &name).await;
            });
        })
        .join()
        .unwrap();
    }
}

/// The server PostgreSQL tests use.
pub fn pg_admin_url() -> String {
    std::env::var("ARMSTRACE_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "PostgreSQL tests need a server: run scripts/test.sh (it starts one), or set \
             ARMSTRACE_TEST_PG_URL=postgres://user@127.0.0.1:port/postgres"
        )
    })
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A new, empty database of `backend`.
pub async fn fresh_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = dir.path().join("test.db").to_str().unwrap().to_string();
            TestDb {
                url,
                _dir: Some(dir),
                dropper: None,
            }
        }
        Backend::Postgres => {
            let admin = pg_admin_url();
            let name = format!(
                "armstrace_test_{}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed),
                chrono::Utc::now().timestamp_micros()
            );
            let url = armstrace_store::create_database(&admin, &name)
                .await
                .unwrap();
            TestDb {
                url,
                _dir: None,
                dropper: Some((admin, name)),
            }
        }
    }
}

/// A new, empty store of `backend`, with its database.
pub async fn fresh(backend: Backend) -> (TestDb, Arc<dyn Store>) {
    let db = fresh_db(backend).await;
    let store = armstrace_store::open(&db.url, true).await.unwrap();
    (db, store)
}

/// Runs `$test(backend)` on both backends, as `$test::sqlite` and `$test::postgres`.
#[macro_export]
macro_rules! both {
    ($test:ident) => {
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::common::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                super::$test($crate::common::Backend::Postgres).await
            }
        }
    };
}
