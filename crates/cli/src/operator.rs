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
    open_installed_with(db, None).await
}

/// [`open_installed`], sending long reads to the PostgreSQL streaming replica `replica` names.
pub async fn open_installed_with(
    db: &str,
    replica: Option<&str>,
) -> anyhow::Result<Arc<dyn Store>> {
    let shown = armstrace_store::redacted(db);
    let missing =
        || format!("no database at '{shown}'; create one with `armstrace init --db {shown}`");
    // A SQLite file is looked for first; opening a PostgreSQL database says whether the
    // schema is there.
    if !armstrace_store::is_postgres(db)
        && !armstrace_store::exists(db)
            .await
            .with_context(|| format!("reaching the database '{shown}'"))?
    {
        bail!(missing());
    }
    let store = match replica {
        None => match armstrace_store::open(db, false).await {
            // Only PostgreSQL answers so: the database is there, the schema is not.
            Err(armstrace_store::StoreError::NotFound(_)) => bail!(missing()),
            opened => opened.with_context(|| format!("opening the database '{shown}'"))?,
        },
        Some(replica) => armstrace_store::open_with_read_replica(db, replica)
            .await
            .with_context(|| {
                format!(
                    "opening the database '{shown}' with the read replica '{}'",
                    armstrace_store::redacted(replica)
                )
            })?,
    };
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
