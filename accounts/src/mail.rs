//! Outgoing mail: through an SMTP relay with `lettre` (STARTTLS, TLS, or plain for a
//! loopback relay; AUTH from config or environment), or, by default, each message written
//! as a `.eml` file into the outbox folder of the data directory, so a fresh node works
//! without a mail server. Messages hold live links: the outbox is created mode 0700.
//!
//! Sending happens in a background task: a request that mails (sign-up, reset) answers as
//! fast whether or not a message goes out, so timing tells nothing about which addresses
//! have accounts. Failures are logged with the recipient's domain only, never the body.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lettre::address::Envelope;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{
    Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use tokio::sync::Notify;

use crate::config::{MailConfig, SmtpSecurity};
use crate::error::{Error, Result};

/// One message to send.
#[derive(Clone)]
pub(crate) struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

enum Transport {
    Outbox(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail in the background and counts what is still on its way.
pub(crate) struct Mailer {
    from: Mailbox,
    transport: Transport,
    pending: AtomicUsize,
    idle: Notify,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Outbox(_) => "outbox",
            Transport::Smtp(_) => "smtp",
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &kind)
            .finish()
    }
}

impl Mailer {
    pub(crate) fn new(config: &MailConfig, outbox: &Path) -> Result<Mailer> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| Error::Config(format!("mail.from {:?}: {e}", config.from)))?;
        let transport = match &config.smtp {
            None => {
                let io = |source| Error::Io {
                    path: outbox.to_path_buf(),
                    source,
                };
                std::fs::create_dir_all(outbox).map_err(io)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(outbox, std::fs::Permissions::from_mode(0o700))
                        .map_err(io)?;
                }
                Transport::Outbox(AsyncFileTransport::new(outbox))
            }
            Some(smtp) => {
                let root = match &smtp.root_certificate {
                    Some(path) => {
                        let pem = std::fs::read(path).map_err(|source| Error::Io {
                            path: path.clone(),
                            source,
                        })?;
                        Some(Certificate::from_pem(&pem).map_err(|e| {
                            Error::Config(format!(
                                "mail.smtp.root_certificate {}: {e}",
                                path.display()
                            ))
                        })?)
                    }
                    None => None,
                };
                let tls = || {
                    let mut b = TlsParameters::builder(smtp.host.clone());
                    if let Some(root) = &root {
                        b = b.add_root_certificate(root.clone());
                    }
                    b.build()
                        .map_err(|e| Error::Config(format!("mail.smtp TLS: {e}")))
                };
                let mut b =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                        .port(smtp.effective_port())
                        .tls(match smtp.security {
                            SmtpSecurity::Starttls => Tls::Required(tls()?),
                            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
                            SmtpSecurity::None => Tls::None,
                        });
                if let Some(user) = &smtp.username {
                    let password = smtp.auth_password()?.unwrap_or_default();
                    b = b.credentials(Credentials::new(user.clone(), password));
                }
                Transport::Smtp(b.build())
            }
        };
        Ok(Mailer {
            from,
            transport,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
        })
    }

    /// Queues a message; it is sent by a background task.
    pub(crate) fn send_later(self: &Arc<Self>, mail: Mail) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let domain = mail.to.rsplit('@').next().unwrap_or("").to_string();
            if let Err(e) = me.send_now(mail).await {
                tracing::warn!(to_domain = %domain, error = %e, "accounts mail not sent");
            }
            if me.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                me.idle.notify_waiters();
            }
        });
    }

    /// Waits until every queued message was sent or failed.
    pub(crate) async fn flush(&self) {
        loop {
            let idle = self.idle.notified();
            if self.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    async fn send_now(&self, mail: Mail) -> Result<()> {
        // A bare address, not parsed as a mailbox (`Name <addr>`): a valid quoted local
        // part may hold `<` and `>` (`"<b>"@example.org`), which the mailbox parser takes
        // for the brackets of an address and refuses. The envelope is given for the same
        // reason (lettre would read it back from the `To:` header). Sign-up accepts such
        // addresses, so without this no mail would ever reach them.
        let to: Address = mail
            .to
            .parse()
            .map_err(|e| Error::Mail(format!("recipient: {e}")))?;
        let envelope = Envelope::new(Some(self.from.email.clone()), vec![to.clone()])
            .map_err(|e| Error::Mail(e.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .envelope(envelope)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| Error::Mail(e.to_string()))?;
        match &self.transport {
            Transport::Outbox(t) => t
                .send(message)
                .await
                .map(drop)
                .map_err(|e| Error::Mail(e.to_string())),
            Transport::Smtp(t) => t
                .send(message)
                .await
                .map(drop)
                .map_err(|e| Error::Mail(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn addresses_with_markup_in_a_quoted_local_part_get_their_mail() {
        let outbox = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&MailConfig::default(), outbox.path()).unwrap();
        let to = "\"<svg/onload=alert(1)>\"@example.org";
        crate::users::normalise_email(to).expect("a valid address");
        mailer
            .send_now(Mail {
                to: to.into(),
                subject: "Hello".into(),
                body: "Hello".into(),
            })
            .await
            .unwrap();
        let sent: Vec<String> = std::fs::read_dir(outbox.path())
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains(to), "{}", sent[0]);
    }
}
