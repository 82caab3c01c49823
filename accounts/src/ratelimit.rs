//! Rate-limit bookkeeping: sliding windows counted in the database, so limits hold across
//! restarts. The floors are Mastodon's: sign-in 25 per 5 min per client network, 25 per hour
//! per account, password resets 5 per 30 min per account; mail to one address 5 per 30 min.
//! Every window slides, so no limit locks anyone out for good, and the mailed one-time
//! sign-in link is counted apart from passwords (docs/accounts.md).

use std::net::IpAddr;

use rusqlite::{OptionalExtension, Transaction, params};

use crate::error::{Error, Result};

/// One limit: at most `max` events per `window_secs` for a key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    pub name: &'static str,
    pub max: u32,
    pub window_secs: i64,
}

/// Password sign-ins per client network (an IPv4 address or an IPv6 /64).
pub(crate) const SIGN_IN_PER_NETWORK: Limit = Limit {
    name: "sign_in_net",
    max: 25,
    window_secs: 300,
};
/// Password sign-ins per account (keyed by email, so unknown emails count alike).
pub(crate) const SIGN_IN_PER_ACCOUNT: Limit = Limit {
    name: "sign_in_account",
    max: 25,
    window_secs: 3600,
};
/// Password reset mails per account.
pub(crate) const RESETS_PER_ACCOUNT: Limit = Limit {
    name: "reset",
    max: 5,
    window_secs: 1800,
};
/// Confirmation and sign-in-link mails per address.
pub(crate) const MAILS_PER_ADDRESS: Limit = Limit {
    name: "mail",
    max: 5,
    window_secs: 1800,
};
/// Wrong second-factor codes per account (a challenge also dies after 5).
pub(crate) const SECOND_FACTOR_PER_ACCOUNT: Limit = Limit {
    name: "second_factor",
    max: 25,
    window_secs: 3600,
};

/// The network a client address is counted under: an IPv4 address, or the /64 of an IPv6
/// one (one subscriber usually holds a whole /64). IPv4-mapped IPv6 counts as IPv4.
pub fn client_network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Records one event under `key` if the limit allows it, else says when to retry.
pub(crate) fn hit(tx: &Transaction, limit: Limit, key: &str, now: i64) -> Result<()> {
    let full_key = format!("{}:{key}", limit.name);
    let since = now - limit.window_secs;
    tx.execute(
        "DELETE FROM rate_events WHERE key = ?1 AND at <= ?2",
        params![full_key, since],
    )
    .map_err(Error::db("rate prune"))?;
    let (count, oldest): (u32, Option<i64>) = tx
        .query_row(
            "SELECT COUNT(*), MIN(at) FROM rate_events WHERE key = ?1",
            params![full_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(Error::db("rate count"))?;
    if count >= limit.max {
        let retry = oldest
            .map_or(limit.window_secs, |o| o + limit.window_secs - now)
            .max(1);
        return Err(Error::RateLimited {
            retry_after_secs: retry as u64,
        });
    }
    tx.execute(
        "INSERT INTO rate_events (key, at) VALUES (?1, ?2)",
        params![full_key, now],
    )
    .map_err(Error::db("rate insert"))?;
    Ok(())
}

/// Whether `key` is over its limit, without recording anything.
pub(crate) fn check(tx: &Transaction, limit: Limit, key: &str, now: i64) -> Result<()> {
    let full_key = format!("{}:{key}", limit.name);
    let row: Option<(u32, Option<i64>)> = tx
        .query_row(
            "SELECT COUNT(*), MIN(at) FROM rate_events WHERE key = ?1 AND at > ?2",
            params![full_key, now - limit.window_secs],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(Error::db("rate check"))?;
    match row {
        Some((count, oldest)) if count >= limit.max => {
            let retry = oldest
                .map_or(limit.window_secs, |o| o + limit.window_secs - now)
                .max(1);
            Err(Error::RateLimited {
                retry_after_secs: retry as u64,
            })
        }
        _ => Ok(()),
    }
}

/// Drops events older than every window (called now and then).
pub(crate) fn prune(tx: &Transaction, now: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM rate_events WHERE at <= ?1",
        params![now - 3600],
    )
    .map_err(Error::db("rate prune all"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_network(a), client_network(b));
        assert_ne!(client_network(a), client_network(c));
        assert_eq!(client_network(a), "2001:db8:1:2::/64");
        let m: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_network(m), "192.0.2.7");
    }
}
