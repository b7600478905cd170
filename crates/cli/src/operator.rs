//! What several subcommands share: the `--db` option, opening an installed database, and the
//! operator identity the command line acts as.

use std::sync::Arc;

use anyhow::{Context, bail};
use armstrace_core::Actor;
use armstrace_store::Store;

/// The setting naming the user the command line acts as.
pub const OPERATOR_SETTING: &str = "operator_username";

/// The database option shared by every subcommand that uses one.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The installation's database: a SQLite file (or sqlite: URL), or a PostgreSQL URL
    /// (postgres://user:password@host/database; the database must exist).
    #[arg(long, env = "ARMSTRACE_DB", default_value = "armstrace.db")]
    pub db: String,
}

/// Opens an initialised installation, or says how to create one.
pub async fn open_installed(db: &str) -> anyhow::Result<Arc<dyn Store>> {
    let shown = armstrace_store::redacted(db);
    if !armstrace_store::exists(db)
        .await
        .with_context(|| format!("reaching the database '{shown}'"))?
    {
        bail!("no database at '{shown}'; create one with `armstrace init --db {shown}`");
    }
    let store = armstrace_store::open(db, false)
        .await
        .with_context(|| format!("opening the database '{shown}'"))?;
    if !store.is_initialised().await? {
        bail!(
            "'{shown}' is not an initialised Armstrace database; create one with `armstrace init`"
        );
    }
    Ok(store)
}

/// The actor the command line acts as: `username`, or the administrator `init` created.
pub async fn operator(store: &dyn Store, username: Option<&str>) -> anyhow::Result<Actor> {
    let username = match username {
        Some(name) => name.to_string(),
        None => store
            .setting(OPERATOR_SETTING)
            .await?
            .context("the database names no operator; pass --as USERNAME")?,
    };
    store
        .actor_for_user(&username)
        .await?
        .with_context(|| format!("no user named '{username}'"))
}
