//! `swarmfeed admin …`: the operator's side of the accounts of a group-hosted gateway, run on
//! the server. It opens the accounts database with the node's config (the same `--config`
//! and `--data` as `serve`), so it works while the node runs (SQLite in WAL mode). The admin
//! role is granted only here, never by signing up first (a takeover race in mode `open`).

use std::path::{Path, PathBuf};

use accounts::{Accounts, Actor, Mode, User, UserStatus};
use anyhow::Context;
use clap::{Args, Subcommand};
use seeder::config::NodeConfig;

use super::InputError;
use super::size::{format_size, parse_size};

/// Manage the accounts of a group-hosted gateway (`[accounts] mode` not `off`).
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The node's TOML config file (as `serve` takes it).
    #[arg(long, value_name = "FILE", env = "SWARMFEED_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: AdminCommand,
}

/// What the operator does.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List every account: address, status, admin, two-factor, upload use and quota.
    Users,
    /// Grant the admin role (approve sign-ups, set quotas).
    Grant { email: String },
    /// Take the admin role away.
    Revoke { email: String },
    /// List the accounts waiting for approval (mode `approval`).
    Pending,
    /// Approve an account waiting for approval.
    Approve { email: String },
    /// Refuse an account waiting for approval (it is deleted; the address may sign up again).
    Reject { email: String },
    /// Create a sign-up invitation (mode `invite`) and print its code (shown once).
    Invite {
        /// How many sign-ups the code allows.
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: u32,
        /// How long the code stays valid: `3600`, `90s`, `30m`, `24h`, `7d`.
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        expires: String,
    },
    /// Set a user's upload quota: `2GiB`, `500MiB`, bytes, or `default`.
    Quota { email: String, bytes: String },
}

/// Runs `swarmfeed admin …`.
pub fn admin(args: AdminArgs, data: Option<&Path>) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => NodeConfig::from_file(path)?,
        None => NodeConfig::default(),
    };
    if let Some(data) = data {
        config.data_dir = data.to_owned();
    }
    if config.accounts.mode == Mode::Off {
        return Err(InputError(
            "accounts are off on this node: set [accounts] mode in its config (and pass it with --config)".into(),
        )
        .into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Links in mail sent from here start where the node's own would.
        let mut settings = config.accounts.clone();
        settings.public_url.get_or_insert_with(|| {
            config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", config.listen))
        });
        let accounts = Accounts::open(settings, &config.data_dir)
            .context("cannot open the accounts database")?;
        run(&accounts, args.command).await
    })
}

async fn run(accounts: &Accounts, command: AdminCommand) -> anyhow::Result<()> {
    let op = Actor::Operator;
    match command {
        AdminCommand::Users => {
            for user in accounts.users(op).await? {
                let usage = accounts.upload_usage(user.id).await?;
                println!(
                    "{}\t{}\tuploaded {} of {}",
                    user.email,
                    flags(&user),
                    format_size(usage.used),
                    format_size(usage.quota)
                );
            }
        }
        AdminCommand::Grant { email } => {
            accounts.set_admin(&email, true).await?;
            println!("{email} is an admin");
        }
        AdminCommand::Revoke { email } => {
            accounts.set_admin(&email, false).await?;
            println!("{email} is no longer an admin");
        }
        AdminCommand::Pending => {
            for user in accounts.pending_approvals(op).await? {
                println!("{}", user.email);
            }
        }
        AdminCommand::Approve { email } => {
            let user = waiting(accounts, &email).await?;
            accounts.approve(op, user.id).await?;
            println!("{email} approved");
        }
        AdminCommand::Reject { email } => {
            let user = waiting(accounts, &email).await?;
            accounts.reject(op, user.id).await?;
            println!("{email} refused and deleted");
        }
        AdminCommand::Invite { uses, expires } => {
            let secs = parse_duration(&expires)?;
            let code = accounts.create_invitation(op, uses, secs).await?;
            println!("{}", code.expose());
        }
        AdminCommand::Quota { email, bytes } => {
            let quota = match bytes.as_str() {
                "default" => None,
                size => {
                    Some(parse_size(size).map_err(|e| InputError(format!("quota {size:?}: {e}")))?)
                }
            };
            let user = accounts.user_by_email(op, &email).await?;
            accounts.set_upload_quota(op, user.id, quota).await?;
            let usage = accounts.upload_usage(user.id).await?;
            println!("{email}: upload quota {}", format_size(usage.quota));
        }
    }
    Ok(())
}

/// The user with this address, if it waits for approval.
async fn waiting(accounts: &Accounts, email: &str) -> anyhow::Result<User> {
    let user = accounts.user_by_email(Actor::Operator, email).await?;
    if user.status != UserStatus::PendingApproval {
        return Err(InputError(format!("{email} is not waiting for approval")).into());
    }
    Ok(user)
}

fn flags(user: &User) -> String {
    let mut flags = vec![match user.status {
        UserStatus::Active => "active",
        UserStatus::PendingApproval => "pending",
    }];
    if user.is_admin {
        flags.push("admin");
    }
    if user.totp_enabled {
        flags.push("totp");
    }
    flags.join(",")
}

/// Seconds in `3600`, `90s`, `30m`, `24h`, `7d` (at least one second).
fn parse_duration(text: &str) -> Result<i64, InputError> {
    let bad = || {
        InputError(format!(
            "not a duration: {text:?} (e.g. 3600, 90s, 30m, 24h, 7d)"
        ))
    };
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_and_units() {
        assert_eq!(parse_duration("3600").unwrap(), 3600);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("24h").unwrap(), 86_400);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        for bad in ["", "0", "d", "7w", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
