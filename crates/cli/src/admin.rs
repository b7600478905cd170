//! `armstrace admin`: the operator, acting as the secretariat, manages organisations, users and
//! tokens straight on the database. The rules are the API's (`armstrace_server::admin`), and
//! every action is audited. Each command prints the new identifier or secret as its last line.

use std::io::Read;

use anyhow::{Context, bail};
use armstrace_core::{CountryCode, OrgKind, OrgState, Permissions};
use armstrace_server::admin::{self, DEFAULT_TOKEN_DAYS, parse_days};
use armstrace_server::auth::hash_token;
use armstrace_store::TokenRef;

use crate::operator::{DbArgs, open_installed, operator};

/// Options of `armstrace admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Organisations: add, approve, suspend, list.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Users: add, update.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens: create, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, clap::Subcommand)]
enum OrgCommand {
    /// Add an organisation (an NCB is approved at once; an agency or a partner is pending).
    Add {
        #[command(flatten)]
        db: DbArgs,
        /// Its unique name.
        #[arg(long)]
        name: String,
        /// ncb, police, customs, border, regulator or partner.
        #[arg(long, value_parser = parse_kind)]
        kind: OrgKind,
        /// ISO 3166-1 alpha-2 code, for an NCB or a national agency.
        #[arg(long, value_parser = parse_country)]
        country: Option<CountryCode>,
    },
    /// Approve a pending (or suspended) organisation.
    Approve {
        #[command(flatten)]
        db: DbArgs,
        /// The organisation's identifier.
        org_id: i64,
    },
    /// Suspend an organisation: every session and token of its users is refused at once.
    Suspend {
        #[command(flatten)]
        db: DbArgs,
        /// The organisation's identifier.
        org_id: i64,
    },
    /// List every organisation.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Change a user: permissions, password, disabled or enabled.
    Update {
        #[command(flatten)]
        db: DbArgs,
        /// Login name.
        #[arg(long)]
        username: String,
        /// The user's new permissions, comma-separated.
        #[arg(long, value_parser = Permissions::parse)]
        permissions: Option<Permissions>,
        /// Read a new password from standard input (ends the user's open sessions).
        #[arg(long)]
        password_stdin: bool,
        /// Disable the user: every session and token of theirs is refused at once.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled user again.
        #[arg(long)]
        enable: bool,
    },
    /// Add a user to an organisation.
    Add {
        #[command(flatten)]
        db: DbArgs,
        /// The organisation's identifier.
        #[arg(long)]
        org: i64,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Comma-separated: check, record, trace, analyse, admin.
        #[arg(long, value_parser = Permissions::parse)]
        permissions: Permissions,
        /// Read a password (at least 12 characters) from standard input, for a person who signs
        /// in; without it the user works with API tokens only.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Create an API token for a user; the secret is printed once and never stored.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The user the token acts as.
        #[arg(long)]
        user: String,
        /// A subset of the user's permissions (all of them by default).
        #[arg(long, value_parser = Permissions::parse)]
        permissions: Option<Permissions>,
        /// Lifetime: e.g. 30d or 12w (at most 366 days).
        #[arg(long, default_value_t = format!("{DEFAULT_TOKEN_DAYS}d"))]
        expires_in: String,
    },
    /// Revoke a token: it is refused from the next request on.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The token's secret.
        #[arg(long)]
        token: String,
    },
}

fn parse_kind(text: &str) -> Result<OrgKind, String> {
    OrgKind::parse(text).ok_or_else(|| {
        format!("'{text}' is not a kind; use ncb, police, customs, border, regulator or partner")
    })
}

fn parse_country(text: &str) -> Result<CountryCode, String> {
    CountryCode::parse(text).map_err(|e| e.to_string())
}

/// Turns a refusal of the shared rules into a command-line error with the same words.
fn refused(error: armstrace_server::ApiError) -> anyhow::Error {
    let problem = error.problem();
    let fields: Vec<String> = problem
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    if fields.is_empty() {
        anyhow::anyhow!("{}", problem.detail)
    } else {
        anyhow::anyhow!("{}", fields.join("; "))
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::Org(OrgCommand::Add {
            db,
            name,
            kind,
            country,
        }) => {
            let store = open_installed(&db.db).await?;
            let by = operator(store.as_ref(), None).await?;
            let org = admin::create_org(store.as_ref(), &by, &name, kind, country)
                .await
                .map_err(refused)?;
            println!(
                "created {} '{}' ({})",
                org.kind,
                org.name,
                org.state.as_str()
            );
            println!("org: {}", org.id);
        }
        AdminCommand::Org(OrgCommand::Approve { db, org_id }) => {
            set_state(&db, org_id, OrgState::Approved).await?;
        }
        AdminCommand::Org(OrgCommand::Suspend { db, org_id }) => {
            set_state(&db, org_id, OrgState::Suspended).await?;
        }
        AdminCommand::Org(OrgCommand::List { db }) => {
            let store = open_installed(&db.db).await?;
            println!(
                "{:>5}  {:<11} {:<8} {:<10} name",
                "id", "kind", "country", "state"
            );
            for org in store.organisations().await? {
                println!(
                    "{:>5}  {:<11} {:<8} {:<10} {}",
                    org.id,
                    org.kind.as_str(),
                    org.country
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    org.state.as_str(),
                    org.name
                );
            }
        }
        AdminCommand::User(UserCommand::Add {
            db,
            org,
            username,
            permissions,
            password_stdin,
        }) => {
            let store = open_installed(&db.db).await?;
            let by = operator(store.as_ref(), None).await?;
            let password = password_from_stdin(password_stdin)?;
            let user = admin::create_user(
                store.as_ref(),
                &by,
                org,
                &username,
                permissions,
                password.as_deref(),
            )
            .await
            .map_err(refused)?;
            println!("created user {} with {}", user.username, user.permissions);
            println!("user: {}", user.id);
        }
        AdminCommand::User(UserCommand::Update {
            db,
            username,
            permissions,
            password_stdin,
            disable,
            enable,
        }) => {
            let store = open_installed(&db.db).await?;
            let by = operator(store.as_ref(), None).await?;
            let password = password_from_stdin(password_stdin)?;
            let disabled = match (disable, enable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            if permissions.is_none() && password.is_none() && disabled.is_none() {
                bail!(
                    "nothing to change: give --permissions, --password-stdin, --disable or --enable"
                );
            }
            let user = admin::update_user(
                store.as_ref(),
                &by,
                &username,
                permissions,
                password.as_deref(),
                disabled,
            )
            .await
            .map_err(refused)?;
            println!(
                "user {} has {}{}",
                user.username,
                user.permissions,
                if user.disabled {
                    " and is disabled"
                } else {
                    ""
                }
            );
            println!("user: {}", user.id);
        }
        AdminCommand::Token(TokenCommand::Create {
            db,
            user,
            permissions,
            expires_in,
        }) => {
            let days = parse_days(&expires_in).map_err(anyhow::Error::msg)?;
            let store = open_installed(&db.db).await?;
            let by = operator(store.as_ref(), None).await?;
            let created = admin::create_token(store.as_ref(), &by, &user, permissions, days)
                .await
                .map_err(refused)?;
            let expires = created
                .token
                .expires_at
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            println!(
                "token {} for {} with {}, expires {expires}; it is shown this once",
                created.token.id, created.token.username, created.token.permissions
            );
            println!("token: {}", created.secret);
        }
        AdminCommand::Token(TokenCommand::Revoke { db, token }) => {
            let store = open_installed(&db.db).await?;
            let by = operator(store.as_ref(), None).await?;
            let revoked = admin::revoke_token(
                store.as_ref(),
                &by,
                &TokenRef::Hash(hash_token(token.trim())),
            )
            .await
            .map_err(refused)?;
            println!("revoked token {} of {}", revoked.id, revoked.username);
        }
    }
    Ok(())
}

/// The password on standard input, when `--password-stdin` was given.
fn password_from_stdin(given: bool) -> anyhow::Result<Option<String>> {
    if !given {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    let password = text.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("--password-stdin was given but standard input held no password");
    }
    Ok(Some(password))
}

async fn set_state(db: &DbArgs, org_id: i64, state: OrgState) -> anyhow::Result<()> {
    let store = open_installed(&db.db).await?;
    let by = operator(store.as_ref(), None).await?;
    let org = admin::set_org_state(store.as_ref(), &by, org_id, state)
        .await
        .map_err(refused)?;
    println!("{} '{}' is {}", org.kind, org.name, org.state.as_str());
    println!("org: {}", org.id);
    Ok(())
}
