//! A real SMTP server on 127.0.0.1 for the account tests: `aiosmtpd` (from PyPI;
//! `scripts/test` installs it) running accounts/tests/smtp_server.py, which spools each
//! message it receives into a folder. Stopped when dropped (its stdin closes).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::binary::workspace_root;
use crate::poll::wait_for;

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub spool: PathBuf,
}

impl SmtpServer {
    /// Starts the server, spooling into `spool` (created).
    pub fn start(spool: &Path) -> SmtpServer {
        std::fs::create_dir_all(spool).expect("create the spool");
        let script = workspace_root().join("accounts/tests/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(spool)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smtp_server.py (python3 with aiosmtpd: scripts/test installs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the SMTP port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("smtp_server.py printed no port ({line:?}): is aiosmtpd installed?")
        });
        SmtpServer {
            child,
            port,
            spool: spool.to_owned(),
        }
    }

    /// Every message received so far, oldest first, with quoted-printable soft breaks
    /// undone.
    pub fn mails(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.spool)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|m| {
                m.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .collect()
    }

    /// Waits for a message to `to` holding a link under `path`, received after the first
    /// `seen` messages; the link's token.
    pub fn wait_for_link(&self, seen: usize, to: &str, path: &str) -> String {
        wait_for(
            Duration::from_secs(20),
            &format!("a mail to {to} with {path}"),
            || {
                self.mails().iter().skip(seen).find_map(|mail| {
                    if !mail.to_lowercase().contains(&to.to_lowercase()) {
                        return None;
                    }
                    let start = mail.find(path)? + path.len();
                    let token: String = mail[start..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    (!token.is_empty()).then_some(token)
                })
            },
        )
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
