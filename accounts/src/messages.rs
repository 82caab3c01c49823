//! The texts of the mails, and the paths of the links in them. Every link starts with the
//! configured public URL, never with a request's Host header. Tokens travel in the path:
//! the gateway's access log must redact the paths under [`TOKEN_PATH_PREFIXES`].

use crate::mail::Mail;

/// Link paths that end in a token; an access log redacts what follows them.
pub const TOKEN_PATH_PREFIXES: &[&str] = &[
    CONFIRM_PATH,
    EMAIL_CHANGE_PATH,
    RESET_PATH,
    SIGN_IN_LINK_PATH,
    MEMBER_INVITE_PATH,
];
/// Confirms a sign-up.
pub const CONFIRM_PATH: &str = "/account/confirm/";
/// Confirms a new address.
pub const EMAIL_CHANGE_PATH: &str = "/account/email/";
/// Sets a new password.
pub const RESET_PATH: &str = "/account/reset/";
/// Signs in once without the password.
pub const SIGN_IN_LINK_PATH: &str = "/account/sign-in-link/";
/// Joins an identity.
pub const MEMBER_INVITE_PATH: &str = "/identities/join/";

fn link(base: &str, path: &str, token: &str) -> String {
    format!("{base}{path}{token}")
}

pub(crate) fn confirm_sign_up(to: &str, base: &str, token: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Confirm your address".into(),
        body: format!(
            "Someone (hopefully you) signed up at {base} with this address.\n\n\
             To confirm it, open this link within 24 hours:\n\n{}\n\n\
             If it was not you, ignore this message: nothing happens without the link.\n",
            link(base, CONFIRM_PATH, token)
        ),
    }
}

pub(crate) fn already_registered(to: &str, base: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "You already have an account".into(),
        body: format!(
            "Someone (hopefully you) tried to sign up at {base} with this address, which \
             already has an account.\n\nSign in at {base}/account/sign-in, or reset your \
             password at {base}/account/reset if you forgot it.\n\n\
             If it was not you, ignore this message.\n"
        ),
    }
}

pub(crate) fn reset_password(to: &str, base: &str, token: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Reset your password".into(),
        body: format!(
            "To choose a new password at {base}, open this link within an hour:\n\n{}\n\n\
             Setting a new password signs you out everywhere. If you did not ask for this, \
             ignore this message.\n",
            link(base, RESET_PATH, token)
        ),
    }
}

pub(crate) fn sign_in_link(to: &str, base: &str, token: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Your sign-in link".into(),
        body: format!(
            "To sign in at {base} without your password, open this link within an hour \
             (it works once):\n\n{}\n\n\
             If you did not ask for it, ignore this message: someone may be trying to \
             guess your password, and this link lets only you in.\n",
            link(base, SIGN_IN_LINK_PATH, token)
        ),
    }
}

pub(crate) fn confirm_new_address(to: &str, base: &str, token: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Confirm your new address".into(),
        body: format!(
            "To make this the address of your account at {base}, open this link within \
             24 hours:\n\n{}\n\nIf you did not ask for this, ignore this message.\n",
            link(base, EMAIL_CHANGE_PATH, token)
        ),
    }
}

pub(crate) fn address_change_notice(to: &str, base: &str, new: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Your address is about to change".into(),
        body: format!(
            "Someone signed in to your account at {base} asked to change its address to \
             {new}. It changes only once the new address is confirmed.\n\n\
             If it was not you, reset your password at {base}/account/reset and sign out \
             everywhere.\n"
        ),
    }
}

pub(crate) fn member_invitation(
    to: &str,
    base: &str,
    identity: &str,
    role: &str,
    token: &str,
) -> Mail {
    Mail {
        to: to.into(),
        subject: "An invitation to publish together".into(),
        body: format!(
            "You are invited to join the identity {identity} at {base} as {role}.\n\n\
             Sign in (or sign up with this address), then open this link within 7 days:\n\n\
             {}\n\nIf you do not know why, ignore this message.\n",
            link(base, MEMBER_INVITE_PATH, token)
        ),
    }
}

/// A change to the account's security, told to its address so a takeover does not go
/// unnoticed.
pub(crate) fn security_notice(to: &str, base: &str, what: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: format!("Your account: {what}"),
        body: format!(
            "This is a notice from {base}: {what}.\n\n\
             If it was you, nothing needs doing. If not, reset your password at \
             {base}/account/reset, then sign out everywhere and check the security log of \
             your account.\n"
        ),
    }
}
