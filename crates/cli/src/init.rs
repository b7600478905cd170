//! `armstrace init`: a new database with the secretariat, its administrator and a first API token.

use anyhow::{Context, bail};
use armstrace_core::{OrgKind, Permissions};
use armstrace_server::admin::DEFAULT_TOKEN_DAYS;
use armstrace_server::auth::{hash_password, hash_token, new_token};
use armstrace_store::audit::AuditWho;
use armstrace_store::{OrgState, Store};
use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::operator::{DbArgs, OPERATOR_SETTING};

/// Options of `armstrace init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Name of the coordinating secretariat.
    #[arg(long, default_value = "Armstrace Secretariat")]
    secretariat: String,
    /// Login name of the secretariat's administrator.
    #[arg(long, default_value = "admin")]
    admin: String,
}

/// What a new installation hands its operator.
pub struct Installation {
    /// The administrator's generated password.
    pub password: String,
    /// The administrator's API token.
    pub token: String,
}

pub async fn run(args: InitArgs) -> anyhow::Result<()> {
    let db = &args.db.db;
    let shown = armstrace_store::redacted(db);
    if armstrace_store::exists(db)
        .await
        .with_context(|| format!("reaching the database '{shown}'"))?
    {
        bail!("'{shown}' already exists; init creates new databases only and changed nothing");
    }
    let store = armstrace_store::open(db, true)
        .await
        .with_context(|| format!("creating the database '{shown}'"))?;
    let installation = install(store.as_ref(), &args.secretariat, &args.admin, None).await?;
    println!("created database {shown}");
    println!("secretariat: {}", args.secretariat);
    println!("administrator: {}", args.admin);
    println!("password: {}", installation.password);
    println!(
        "(the token expires in {DEFAULT_TOKEN_DAYS} days; make more with `armstrace admin token create`)"
    );
    println!("token: {}", installation.token);
    Ok(())
}

/// Creates the secretariat and its administrator in an empty store; without a `password`,
/// one is generated.
pub async fn install(
    store: &dyn Store,
    secretariat: &str,
    admin: &str,
    password: Option<&str>,
) -> anyhow::Result<Installation> {
    let by = AuditWho::installation();
    let org = store
        .create_organisation(
            &by,
            secretariat,
            OrgKind::Secretariat,
            None,
            OrgState::Approved,
        )
        .await?;
    let password = password.map_or_else(random_password, str::to_string);
    let hash =
        hash_password(&password).map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let user = store
        .create_user(&by, org.id, admin, Some(&hash), Permissions::all())
        .await?;
    let token = new_token();
    let expires_at = chrono::Utc::now() + chrono::Duration::days(i64::from(DEFAULT_TOKEN_DAYS));
    store
        .create_token(
            &by,
            user.id,
            &hash_token(&token),
            Permissions::all(),
            Some(expires_at),
        )
        .await?;
    store.set_setting(OPERATOR_SETTING, admin).await?;
    Ok(Installation { password, token })
}

fn random_password() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}
