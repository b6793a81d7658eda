//! The SMTP transport: configuration checked at start-up, one message sent per call, and
//! every failure sorted into "try again later" or "give up", with a sentence that says what
//! to fix when the cause is a TLS or port mix-up.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::mask_address;
use crate::store::outbox::QueuedMail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `smtps://user:pass@smtp.example.gov.cn:465` (TLS from the first byte),
    /// `smtp://user:pass@smtp.example.gov.cn:587?tls=required` (STARTTLS), or
    /// `smtp://127.0.0.1:2525` (plain, for a relay on this machine). `None`: mail is queued
    /// and not sent.
    pub smtp_url: Option<String>,
    /// The sender, e.g. `海川区12345热线 <hotline@haichuan.gov.cn>`.
    pub from: String,
    /// How long one message may take, from connecting to the server's last reply.
    pub timeout: Duration,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig { smtp_url: None, from: "12345热线 <noreply@localhost>".into(), timeout: Duration::from_secs(30) }
    }
}

/// A configuration that cannot work, said so that the fix is obvious.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail: {0}")]
pub struct MailConfigError(pub String);

/// What became of one try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server could not be reached, did not answer in time, failed the TLS handshake or
    /// refused our login. Not the message's fault: try again later, however long it takes.
    #[error("mail server unavailable: {0}")]
    Unavailable(String),
    /// A 4xx reply: the server refused this message for now (greylisting, a full mailbox).
    #[error("refused for now: {0}")]
    Deferred(String),
    /// A 5xx reply or a malformed address: trying again will not help.
    #[error("rejected: {0}")]
    Permanent(String),
    /// No `smtp_url`: mail stays in the outbox.
    #[error("mail is not configured (no smtp_url)")]
    NotConfigured,
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

/// Sends mail; cheap to clone. Built once at start-up from [`MailConfig`].
#[derive(Clone)]
pub struct Mailer {
    transport: Option<Arc<Transport>>,
    from: Mailbox,
    timeout: Duration,
}

struct Transport {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    endpoint: Endpoint,
}

/// The parts of `smtp_url` that diagnostics talk about (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    scheme: String,
    tls: Option<String>,
    host: String,
    port: u16,
    has_credentials: bool,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("server", &self.describe()).field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    pub fn new(config: &MailConfig) -> Result<Mailer, MailConfigError> {
        let from: Mailbox = config.from.trim().parse().map_err(|e| {
            MailConfigError(format!(
                "from \"{}\" is not a mail address such as 海川区12345热线 <hotline@haichuan.gov.cn> ({e})",
                config.from
            ))
        })?;
        if config.timeout.is_zero() {
            return Err(MailConfigError("timeout must be longer than zero, e.g. 30s".into()));
        }
        let url = config.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
        let transport = match url {
            None => None,
            Some(url) => {
                let endpoint = Endpoint::parse(url)?;
                endpoint.check()?;
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailConfigError(format!("smtp_url {}: {e}", endpoint.display())))?
                    .timeout(Some(config.timeout))
                    .build();
                Some(Arc::new(Transport { smtp, endpoint }))
            }
        };
        Ok(Mailer { transport, from, timeout: config.timeout })
    }

    /// A mailer that sends nothing, as when no `smtp_url` is set.
    pub fn disabled() -> Mailer {
        Mailer::new(&MailConfig::default()).expect("the default configuration is valid")
    }

    pub fn is_enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Where mail goes, without credentials: `smtps://smtp.example.gov.cn:465`.
    pub fn describe(&self) -> String {
        self.transport.as_ref().map_or_else(|| "(not configured)".to_string(), |t| t.endpoint.display())
    }

    /// The longest one [`Mailer::send`] takes.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one queued mail in one SMTP conversation.
    pub async fn send(&self, mail: &QueuedMail) -> Result<(), SendError> {
        let Some(transport) = &self.transport else { return Err(SendError::NotConfigured) };
        let to: Mailbox = mail.recipient.trim().parse().map_err(|e| {
            SendError::Permanent(format!("recipient {} is not a mail address ({e})", mask_address(&mail.recipient)))
        })?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            // The same id on every try: if a try reached the server but its answer was lost
            // and the mail goes again, the receiving side can tell it is the same mail.
            .message_id(Some(format!(
                "<hotline.{}.{}@{}>",
                mail.id,
                mail.created_at.timestamp_millis(),
                self.from.email.domain()
            )));
        let built =
            match &mail.attachment {
                None => builder.header(ContentType::TEXT_PLAIN).body(mail.body.clone()),
                Some(file) => {
                    let content_type = ContentType::parse(&file.content_type).map_err(|e| {
                        SendError::Permanent(format!(
                            "attachment {}: bad content type {:?}: {e}",
                            file.filename, file.content_type
                        ))
                    })?;
                    builder.multipart(MultiPart::mixed().singlepart(SinglePart::plain(mail.body.clone())).singlepart(
                        LettreAttachment::new(file.filename.clone()).body(file.content.clone(), content_type),
                    ))
                }
            };
        let message = built.map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        // lettre bounds connecting by the timeout but not the replies: a server that accepts
        // and then says nothing (plain SMTP to a TLS port) would hold the drain for ever.
        match tokio::time::timeout(self.timeout, transport.smtp.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(transport.endpoint.classify(&e)),
            Err(_) => Err(SendError::Unavailable(transport.endpoint.no_answer(self.timeout))),
        }
    }
}

/// Reply codes that mean "the server will not take mail from us as configured" rather than
/// "not this message": 530 authentication (or STARTTLS) required, 534 mechanism too weak,
/// 535 bad credentials, 538 encryption required. Giving up on every mail for them would
/// lose a day's mail to one wrong password.
const LOGIN_CODES: [&str; 4] = ["530", "534", "535", "538"];

impl Endpoint {
    /// Reads just enough of the URL to explain mistakes; lettre parses it for real.
    fn parse(url: &str) -> Result<Endpoint, MailConfigError> {
        let example = "e.g. smtps://user:pass@smtp.example.gov.cn:465, \
                       smtp://user:pass@smtp.example.gov.cn:587?tls=required or smtp://127.0.0.1:2525";
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| MailConfigError(format!("smtp_url must look like a URL ({example})")))?;
        let scheme = scheme.to_ascii_lowercase();
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
                (host, after.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            return Err(MailConfigError(format!("smtp_url names no server ({example})")));
        }
        let tls = query.split('&').find_map(|pair| pair.strip_prefix("tls=")).map(str::to_string);
        let default_port = match (scheme.as_str(), tls.is_some()) {
            ("smtps", _) => 465,
            (_, true) => 587,
            _ => 25,
        };
        let port = match port {
            None | Some("") => default_port,
            Some(p) => {
                p.parse().map_err(|_| MailConfigError(format!("smtp_url port \"{p}\" is not a number ({example})")))?
            }
        };
        match (scheme.as_str(), tls.as_deref()) {
            ("smtp", None | Some("required") | Some("opportunistic")) | ("smtps", None) => {}
            ("smtps", Some(t)) => {
                return Err(MailConfigError(format!(
                    "smtp_url: smtps:// is TLS from the first byte, so ?tls={t} means nothing there; \
                     for STARTTLS write smtp://{host}:{port}?tls=required"
                )))
            }
            ("smtp", Some(t)) => {
                return Err(MailConfigError(format!(
                    "smtp_url: tls must be \"required\" or \"opportunistic\", not \"{t}\""
                )))
            }
            (other, _) => {
                return Err(MailConfigError(format!(
                    "smtp_url must start with smtp:// or smtps://, not {other}:// ({example})"
                )))
            }
        }
        let has_credentials = userinfo.is_some_and(|u| u.contains(':'));
        Ok(Endpoint { scheme, tls, host: host.to_string(), port, has_credentials })
    }

    /// The mix-ups that can only fail, refused at start-up with the fix.
    fn check(&self) -> Result<(), MailConfigError> {
        let (host, port) = (&self.host, self.port);
        let implicit_tls = self.scheme == "smtps";
        if implicit_tls && (port == 25 || port == 587) {
            return Err(MailConfigError(format!(
                "smtp_url: smtps:// starts TLS at once, but port {port} speaks plain SMTP and upgrades with STARTTLS; \
                 use smtp://{host}:{port}?tls=required (or smtps://{host}:465)"
            )));
        }
        if !implicit_tls && port == 465 {
            return Err(MailConfigError(format!(
                "smtp_url: port 465 expects TLS from the first byte; use smtps://{host}:465"
            )));
        }
        let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1");
        if !implicit_tls && self.tls.as_deref() != Some("required") && self.has_credentials && !loopback {
            return Err(MailConfigError(format!(
                "smtp_url would send the password to {host} unencrypted; use smtps://…@{host}:465 \
                 or smtp://…@{host}:587?tls=required"
            )));
        }
        Ok(())
    }

    fn display(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let tls = self.tls.as_deref().map(|t| format!("?tls={t}")).unwrap_or_default();
        format!("{}://{host}:{}{tls}", self.scheme, self.port)
    }

    fn no_answer(&self, timeout: Duration) -> String {
        let mut text = format!("no answer from {} within {}s", self.display(), timeout.as_secs_f32());
        if self.scheme == "smtp" && self.tls.is_none() && (self.port == 465 || self.port == 994) {
            text.push_str(&format!(
                "; port {} usually expects TLS from the first byte: try smtps://{}:{}",
                self.port, self.host, self.port
            ));
        } else if self.scheme == "smtps" {
            text.push_str(&format!(
                "; if port {} speaks plain SMTP or STARTTLS, use smtp://{}:{}?tls=required",
                self.port, self.host, self.port
            ));
        }
        text
    }

    fn classify(&self, e: &SmtpError) -> SendError {
        let detail = e.to_string();
        if let Some(code) = e.status() {
            let code = code.to_string();
            if LOGIN_CODES.contains(&code.as_str()) {
                let hint = if code == "530" && self.tls.as_deref() != Some("required") && self.scheme == "smtp" {
                    "the server wants a login or STARTTLS first: add user:pass@ and ?tls=required to smtp_url"
                } else {
                    "check the user and password in smtp_url"
                };
                return SendError::Unavailable(format!("{} refused our login ({detail}); {hint}", self.display()));
            }
        }
        if e.is_permanent() {
            return SendError::Permanent(detail);
        }
        if e.is_transient() {
            return SendError::Deferred(detail);
        }
        if e.is_timeout() {
            return SendError::Unavailable(format!("{}: {detail}", self.no_answer(Duration::ZERO)));
        }
        SendError::Unavailable(self.explain(e, &detail))
    }

    /// Connection, TLS and protocol failures, with the likely fix.
    fn explain(&self, e: &SmtpError, detail: &str) -> String {
        let target = self.display();
        if io_kind(e) == Some(std::io::ErrorKind::ConnectionRefused) {
            return format!(
                "nothing accepts connections at {target} (connection refused): \
                 is the mail server running, and is this its port?"
            );
        }
        let lower = detail.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("notvalidforname") {
            return format!(
                "the certificate of {} is not trusted for that name ({detail}); \
                 use the host name the certificate was issued for",
                self.host
            );
        }
        let tls_trouble = e.is_tls()
            || ["tls", "handshake", "corrupt", "invalidcontenttype", "wrong version", "record"]
                .iter()
                .any(|w| lower.contains(w));
        if self.scheme == "smtps" && tls_trouble {
            return format!(
                "TLS handshake with {target} failed ({detail}); if this port speaks plain SMTP or STARTTLS \
                 (25, 587, 2525), use smtp://{}:{}?tls=required",
                self.host, self.port
            );
        }
        if lower.contains("starttls is not supported") {
            return format!(
                "{target} does not offer STARTTLS ({detail}); if it speaks TLS from the first byte use smtps://{}:{}",
                self.host, self.port
            );
        }
        if self.scheme == "smtp" && e.is_response() {
            return format!(
                "{target} did not answer in SMTP ({detail}); if it expects TLS from the first byte use smtps://{}:{}",
                self.host, self.port
            );
        }
        format!("{target}: {detail}")
    }
}

fn io_kind(e: &SmtpError) -> Option<std::io::ErrorKind> {
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> MailConfig {
        MailConfig { smtp_url: Some(url.into()), ..MailConfig::default() }
    }

    fn refusal(url: &str) -> String {
        Mailer::new(&config(url)).unwrap_err().0
    }

    #[test]
    fn the_usual_setups_are_accepted() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtps://user:pass@smtp.example.gov.cn:465",
            "smtps://user:pass@smtp.example.gov.cn",
            "smtp://user:pass@smtp.example.gov.cn:587?tls=required",
            "smtp://user:pass@localhost:2525",
        ] {
            let mailer = Mailer::new(&config(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(mailer.is_enabled());
            assert!(!mailer.describe().contains("pass"), "{}", mailer.describe());
        }
        assert_eq!(
            Mailer::new(&config("smtps://u:p@mail.example.cn")).unwrap().describe(),
            "smtps://mail.example.cn:465"
        );
        assert!(!Mailer::new(&MailConfig::default()).unwrap().is_enabled());
        assert!(!Mailer::new(&config("  ")).unwrap().is_enabled());
    }

    #[test]
    fn tls_and_port_mixups_are_refused_with_the_fix() {
        assert!(refusal("smtps://u:p@mail.example.cn:587").contains("smtp://mail.example.cn:587?tls=required"));
        assert!(refusal("smtp://u:p@mail.example.cn:465").contains("smtps://mail.example.cn:465"));
        assert!(refusal("smtp://u:p@mail.example.cn:25").contains("unencrypted"));
        assert!(refusal("smtps://mail.example.cn:465?tls=required").contains("?tls=required"));
        assert!(refusal("smtp://mail.example.cn?tls=yes").contains("required"));
        assert!(refusal("http://mail.example.cn").contains("smtp:// or smtps://"));
        assert!(refusal("mail.example.cn:25").contains("URL"));
        assert!(refusal("smtp://mail.example.cn:abc").contains("not a number"));
    }

    #[test]
    fn sender_must_be_an_address() {
        let bad = MailConfig { from: "hotline".into(), ..MailConfig::default() };
        assert!(Mailer::new(&bad).unwrap_err().0.contains("from"));
        let chinese =
            MailConfig { from: "海川区12345热线 <hotline@haichuan.gov.cn>".into(), ..MailConfig::default() };
        assert!(Mailer::new(&chinese).is_ok());
    }

    #[test]
    fn no_answer_on_a_tls_port_suggests_smtps() {
        let plain = Endpoint::parse("smtp://mail.example.cn:994").unwrap();
        assert!(plain.no_answer(Duration::from_secs(30)).contains("smtps://mail.example.cn:994"));
        let tls = Endpoint::parse("smtps://mail.example.cn:2465").unwrap();
        assert!(tls.no_answer(Duration::from_secs(30)).contains("?tls=required"));
    }
}
