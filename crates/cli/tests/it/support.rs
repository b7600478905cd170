//! The test harness: a fresh installation (`armstrace init`), the real server started on port 0,
//! and users of other organisations added straight through the store.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use armstrace_core::{CountryCode, OrgKind, Permissions};
use armstrace_server::auth::{hash_token, new_token};
use armstrace_store::OrgState;
use armstrace_store::audit::AuditWho;
use serde_json::{Value, json};

/// The binary under test.
pub fn armstrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_armstrace"))
}

/// A database created by `armstrace init`, with a directory of its own for files: a SQLite
/// file in that directory, or, when `ARMSTRACE_TEST_BACKEND=postgres`, a database of its own
/// on the server `ARMSTRACE_TEST_PG_URL` names, dropped afterwards. The same tests run on both
/// (`scripts/test.sh` runs the suite once per backend).
pub struct Installation {
    pub dir: tempfile::TempDir,
    /// The `--db` value: the file's path or the database's URL.
    pub db: PathBuf,
    /// The administrator's token, as printed by init.
    pub token: String,
    /// The PostgreSQL database to drop (server URL, name).
    pg: Option<(String, String)>,
}

/// Whether this run of the suite is on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("ARMSTRACE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Runs `f` on a runtime of its own, on a thread of its own (callers may be inside one).
fn blocking<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

/// A new database on the test PostgreSQL server: (its URL, the server's URL, its name).
fn fresh_pg_database() -> (String, String, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let admin = std::env::var("ARMSTRACE_TEST_PG_URL").expect(
        "ARMSTRACE_TEST_BACKEND=postgres needs ARMSTRACE_TEST_PG_URL (scripts/test.sh sets both)",
    );
    let name = format!(
        "armstrace_it_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (server, database) = (admin.clone(), name.clone());
    let url = blocking(async move {
        armstrace_store::create_database(&server, &database)
            .await
            .unwrap()
    });
    (url, admin, name)
}

/// A database that holds no installation, dropped at the end: on SQLite a file that does not
/// exist, on PostgreSQL a database without a schema.
pub struct NoInstallation {
    /// What `--db` would be given.
    pub url: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl NoInstallation {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if on_postgres() {
            let (url, server, name) = fresh_pg_database();
            NoInstallation {
                url,
                _dir: dir,
                pg: Some((server, name)),
            }
        } else {
            NoInstallation {
                url: dir.path().join("none.db").to_str().unwrap().to_string(),
                _dir: dir,
                pg: None,
            }
        }
    }
}

impl Drop for NoInstallation {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            blocking(async move {
                let _ = armstrace_store::drop_database(&server, &name).await;
            });
        }
    }
}

/// A frozen copy of a PostgreSQL installation's database, dropped at the end: a stand-in for
/// a read replica that never catches up, so that a test can tell which reads went to it.
pub struct PgCopy {
    /// The copy's URL.
    pub url: String,
    server: String,
    name: String,
}

impl Drop for PgCopy {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        blocking(async move {
            let _ = armstrace_store::drop_database(&server, &name).await;
        });
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            blocking(async move {
                let _ = armstrace_store::drop_database(&server, &name).await;
            });
        }
    }
}

impl Installation {
    /// A copy of this installation's PostgreSQL database as it stands (no process may be
    /// connected to it meanwhile).
    pub fn pg_copy(&self) -> PgCopy {
        let (server, name) = self.pg.clone().expect("a PostgreSQL installation");
        let copy = format!("{name}_copy");
        let url = self
            .db
            .to_str()
            .unwrap()
            .replacen(&format!("/{name}"), &format!("/{copy}"), 1);
        let (admin, template, target) = (server.clone(), name, copy.clone());
        blocking(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!(
                "CREATE DATABASE \"{target}\" TEMPLATE \"{template}\""
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        });
        PgCopy {
            url,
            server,
            name: copy,
        }
    }

    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (db, pg) = if on_postgres() {
            let (url, server, name) = fresh_pg_database();
            (PathBuf::from(url), Some((server, name)))
        } else {
            (dir.path().join("armstrace.db"), None)
        };
        let output = armstrace()
            .arg("init")
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap();
        assert!(output.status.success(), "init failed: {output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let last = stdout.lines().last().unwrap();
        let token = last
            .strip_prefix("token: ")
            .expect("init ends with the token")
            .to_string();
        Installation { dir, db, token, pg }
    }

    /// Runs `armstrace <args> --db <db>`.
    pub fn run(&self, args: &[&str]) -> Output {
        armstrace()
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .output()
            .unwrap()
    }

    /// Runs `armstrace admin <args> --db <db>`, asserts success, and returns the value of its
    /// last line (`org: 3` gives `3`).
    pub fn admin(&self, args: &[&str]) -> String {
        let output = armstrace()
            .arg("admin")
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let last = stdout.lines().last().unwrap_or_default();
        last.split_once(": ")
            .map(|(_, value)| value.to_string())
            .unwrap_or_else(|| panic!("no value on the last line of {stdout}"))
    }

    /// Adds an organisation through the command line; returns its id.
    pub fn add_org(&self, name: &str, kind: &str, country: Option<&str>) -> String {
        let mut args = vec!["org", "add", "--name", name, "--kind", kind];
        if let Some(country) = country {
            args.extend(["--country", country]);
        }
        self.admin(&args)
    }

    /// Adds a user with `permissions` to organisation `org` and makes them a token; returns it.
    pub fn add_user_with_token(&self, org: &str, username: &str, permissions: &str) -> String {
        self.admin(&[
            "user",
            "add",
            "--org",
            org,
            "--username",
            username,
            "--permissions",
            permissions,
        ]);
        self.admin(&["token", "create", "--user", username])
    }

    /// Adds a person with a password to organisation `org` through the command line (the
    /// password on standard input).
    pub fn add_user_with_password(
        &self,
        org: &str,
        username: &str,
        permissions: &str,
        password: &str,
    ) {
        use std::io::Write;
        let mut add = armstrace()
            .args(["admin", "user", "add", "--org", org, "--username", username])
            .args(["--permissions", permissions, "--password-stdin", "--db"])
            .arg(&self.db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        add.stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        assert!(add.wait().unwrap().success(), "adding {username} failed");
    }

    /// A file path inside the installation's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The installation's store, opened as another process would.
    pub async fn store(&self) -> std::sync::Arc<dyn armstrace_store::Store> {
        armstrace_store::open(self.db.to_str().unwrap(), false)
            .await
            .unwrap()
    }

    /// Adds an approved organisation of `kind` in `country` with one user; returns its token.
    pub async fn add_user(
        &self,
        name: &str,
        kind: OrgKind,
        country: &str,
        permissions: &str,
    ) -> String {
        let store = self.store().await;
        let country = CountryCode::parse(country).unwrap();
        let by = AuditWho::installation();
        let org = store
            .create_organisation(
                &by,
                &format!("{name} organisation"),
                kind,
                Some(country),
                OrgState::Approved,
            )
            .await
            .unwrap();
        let permissions = Permissions::parse(permissions).unwrap();
        let user = store
            .create_user(&by, org.id, name, None, permissions)
            .await
            .unwrap();
        let token = new_token();
        store
            .create_token(&by, user.id, &hash_token(&token), permissions, None)
            .await
            .unwrap();
        token
    }
}

/// The real server, started on a free port; killed when dropped.
pub struct TestServer {
    child: Child,
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl TestServer {
    /// A new installation and its server; keep the installation alive as long as the server.
    pub fn fresh() -> (Installation, Self) {
        let installation = Installation::new();
        let server = Self::start(&installation);
        (installation, server)
    }

    pub fn start(installation: &Installation) -> Self {
        Self::start_with(installation, &[])
    }

    /// Starts `serve` with extra options.
    pub fn start_with(installation: &Installation, options: &[&str]) -> Self {
        Self::spawn(installation, options, &[], Stdio::null())
    }

    /// Starts `serve` with extra environment variables.
    pub fn start_with_env(installation: &Installation, env: &[(&str, &str)]) -> Self {
        Self::spawn(installation, &[], env, Stdio::null())
    }

    /// Starts `serve` with extra options, keeping what it writes to stderr for
    /// [`TestServer::exit_within`].
    pub fn start_watched(installation: &Installation, options: &[&str]) -> Self {
        Self::spawn(installation, options, &[], Stdio::piped())
    }

    fn spawn(
        installation: &Installation,
        options: &[&str],
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Self {
        let child = armstrace()
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&installation.db)
            .args(options)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self::attach(child, installation.token.clone())
    }

    /// Waits up to `most` for the server to stop by itself: whether it succeeded, and its
    /// stderr (when started with [`TestServer::start_watched`]). None if it is still running.
    pub fn exit_within(&mut self, most: std::time::Duration) -> Option<(bool, String)> {
        let until = std::time::Instant::now() + most;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
                }
                return Some((status.success(), stderr));
            }
            if std::time::Instant::now() > until {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits for a started `serve` to print its address.
    pub fn attach(mut child: Child, token: String) -> Self {
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            if let Some(address) = line.strip_prefix("listening on ") {
                break address.to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        TestServer {
            child,
            base,
            token,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(self.url(path)), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.client.post(self.url(path)).json(&body), None)
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.client.patch(self.url(path)).json(&body), None)
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.client.delete(self.url(path)), None).await
    }

    /// Sends with `token`.
    pub async fn as_user(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request, Some(token)).await
    }

    /// Sends with this server's admin token, or with `token`.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> (u16, Value) {
        let response = request
            .bearer_auth(token.unwrap_or(&self.token))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Kills the process at once (SIGKILL): nothing is finished or flushed.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits; returns whether the process exited successfully.
    pub fn terminate(mut self) -> bool {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        exit.success()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The secret the tests' webhooks are registered with.
pub const WEBHOOK_SECRET: &str = "a-webhook-secret-of-some-length";

impl TestServer {
    /// Registers a webhook to `url` (signed with [`WEBHOOK_SECRET`]) as the user of `token`;
    /// returns its id.
    pub async fn register_webhook(&self, token: &str, url: &str) -> i64 {
        let (status, hook) = self
            .as_user(
                token,
                reqwest::Method::POST,
                "/api/v1/webhooks",
                Some(json!({ "url": url, "secret": WEBHOOK_SECRET })),
            )
            .await;
        assert_eq!(status, 201, "{hook}");
        hook["id"].as_i64().unwrap()
    }
}

impl Installation {
    /// Runs `audit verify`, which must find the chain intact; returns how many entries it has.
    pub fn audit_entries(&self) -> u64 {
        let output = self.run(&["audit", "verify"]);
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("audit chain intact: "))
            .and_then(|l| l.strip_suffix(" entries"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count of entries: {stdout}"))
    }
}

/// A valid record of `country` with reference `record_id`.
pub fn record(country: &str, record_id: &str, serial: &str) -> Value {
    json!({
        "record_id": record_id,
        "serial_number": serial,
        "make": "Glock",
        "model": "17",
        "calibre": "9x19mm",
        "firearm_type": "pistol",
        "country_of_manufacture": "AT",
        "recording_country": country,
        "status": "stolen",
        "event_date": "2023-05-17"
    })
}

/// The import header every test list uses.
pub const HEADER: &str = "record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,recording_country,status,event_date";

/// Writes a CSV list of `rows` valid records of `country` to `path`.
pub fn write_list(path: &Path, country: &str, rows: usize) {
    let mut text = format!("{HEADER}\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{country}-{i:06},SN{i:07},Walther,P99,9x19mm,pistol,DE,{country},lost,2021-02-03\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// Counts the live records of an installation.
pub async fn count_records(db: &Path) -> u64 {
    let store = armstrace_store::open(db.to_str().unwrap(), false)
        .await
        .unwrap();
    store.count_firearms(&Default::default()).await.unwrap()
}
