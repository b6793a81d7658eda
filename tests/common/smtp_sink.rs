//! A real SMTP server for tests, on 127.0.0.1 and a port of its own: it speaks enough SMTP
//! (greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre, keeps what it
//! receives, and can be told to refuse recipients (451 for now, 550 for good) or to be down
//! (not listening at all), so the outbox's retries can be watched against the real thing.

#![allow(dead_code)]

use base64::Engine;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA section, dot-unstuffed, with CRLF line ends.
    pub raw: String,
}

impl Received {
    /// A header's value, unfolded, encoded words (RFC 2047) decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_message(&self.raw);
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    v.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case(name) {
                    value = Some(v.trim_start().to_string());
                }
            }
        }
        value.map(|v| decode_encoded_words(&v))
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body decoded from its Content-Transfer-Encoding, as text.
    pub fn body(&self) -> String {
        let (_, body) = split_message(&self.raw);
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
        let bytes = match encoding.trim() {
            "base64" => {
                let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body")
            }
            "quoted-printable" => decode_quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).expect("UTF-8 body").replace("\r\n", "\n")
    }

    /// The parts of a multipart message, each read as a message of its own (its headers and
    /// decoded body); empty for a single-part message.
    pub fn parts(&self) -> Vec<Received> {
        let content_type = self.header("Content-Type").unwrap_or_default();
        let Some(boundary) = content_type.split(';').find_map(|p| p.trim().strip_prefix("boundary=")) else {
            return Vec::new();
        };
        let delimiter = format!("--{}", boundary.trim_matches('"'));
        let (_, body) = split_message(&self.raw);
        body.split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .map(|part| Received {
                mail_from: self.mail_from.clone(),
                rcpt_to: self.rcpt_to.clone(),
                raw: part.trim_start_matches("\r\n").trim_end_matches("\r\n").to_string(),
            })
            .collect()
    }
}

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// Every RCPT TO gets this reply code (451: try later; 550: no such mailbox).
    Refuse(u16),
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    mode: Option<Mode>,
    /// SMTP conversations opened, whatever became of them.
    connections: usize,
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_loop: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let mut sink = SmtpSink { addr: "127.0.0.1:0".parse().unwrap(), state: Arc::default(), accept_loop: None };
        sink.listen().await;
        sink
    }

    /// `smtp://127.0.0.1:PORT`, for `MailConfig::smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Stops listening: a client now gets "connection refused", as from a server that is down.
    pub fn go_down(&mut self) {
        if let Some(h) = self.accept_loop.take() {
            h.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn come_back(&mut self) {
        if self.accept_loop.is_none() {
            self.listen().await;
        }
    }

    async fn listen(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        // The port was ours a moment ago; do not wait for TIME_WAIT to let it go.
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        self.addr = listener.local_addr().unwrap();
        let state = self.state.clone();
        self.accept_loop = Some(tokio::spawn(async move {
            let mut conversations = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { break };
                state.lock().unwrap().connections += 1;
                conversations.spawn(converse(stream, state.clone()));
            }
        }));
        // Let the task reach accept() before a test connects (not needed for correctness:
        // the listening socket queues connections; it keeps logs in order).
        tokio::task::yield_now().await;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.go_down();
    }
}

async fn converse(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    macro_rules! say {
        ($($arg:tt)*) => {
            if write.write_all(format!("{}\r\n", format!($($arg)*)).as_bytes()).await.is_err() {
                return;
            }
        };
    }
    say!("220 sink.test ESMTP ready");
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let verb = command.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                say!("250-sink.test greets you");
                say!("250-8BITMIME");
                say!("250 SIZE 10485760");
            }
            "HELO" => say!("250 sink.test"),
            "MAIL" => {
                mail_from = Some(angle_address(command));
                rcpt_to.clear();
                say!("250 2.1.0 OK");
            }
            "RCPT" => {
                let mode = state.lock().unwrap().mode.unwrap_or(Mode::Accept);
                match mode {
                    Mode::Accept => {
                        rcpt_to.push(angle_address(command));
                        say!("250 2.1.5 OK");
                    }
                    Mode::Refuse(451) => say!("451 4.7.1 Greylisted, please try again later"),
                    Mode::Refuse(code) if code >= 500 => say!("{code} 5.1.1 Mailbox unavailable"),
                    Mode::Refuse(code) => say!("{code} 4.3.0 Try again later"),
                }
            }
            "DATA" => {
                if mail_from.is_none() || rcpt_to.is_empty() {
                    say!("503 5.5.1 MAIL and RCPT first");
                    continue;
                }
                say!("354 End data with <CR><LF>.<CR><LF>");
                let mut raw = String::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing: a line starting with a dot was sent with one more.
                    raw.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let message = Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    raw,
                };
                let n = {
                    let mut s = state.lock().unwrap();
                    s.received.push(message);
                    s.received.len()
                };
                say!("250 2.0.0 OK queued as {n}");
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                say!("250 2.0.0 OK");
            }
            "NOOP" => say!("250 2.0.0 OK"),
            "QUIT" => {
                say!("221 2.0.0 Bye");
                return;
            }
            _ => say!("502 5.5.2 Command not recognised"),
        }
    }
}

/// `MAIL FROM:<a@b> BODY=8BITMIME` → `a@b`.
fn angle_address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..].find('>').map_or(command.len(), |i| start + i);
    command[start..end].to_string()
}

fn split_message(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n").unwrap_or((raw, ""))
}

/// `=?utf-8?b?…?=` and `=?utf-8?q?…?=` words decoded; the space between two encoded words
/// is not part of the text (RFC 2047 §6.2).
pub fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        let parsed = from[2..].splitn(3, '?').collect::<Vec<_>>();
        let decoded = (parsed.len() == 3).then(|| {
            let (encoding, tail) = (parsed[1], parsed[2]);
            let end = tail.find("?=")?;
            let text = &tail[..end];
            let bytes = match encoding.to_ascii_lowercase().as_str() {
                "b" => base64::engine::general_purpose::STANDARD.decode(text).ok()?,
                "q" => decode_quoted_printable(&text.replace('_', " ")),
                _ => return None,
            };
            let consumed = 2 + parsed[0].len() + 1 + encoding.len() + 1 + end + 2;
            Some((String::from_utf8_lossy(&bytes).into_owned(), consumed))
        });
        match decoded.flatten() {
            Some((text, consumed)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &from[consumed..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is a byte, `=` at a line end is a soft break.
pub fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_mail_encodes() {
        assert_eq!(decode_quoted_printable("caf=C3=A9 =\r\nau lait="), "café au lait=".as_bytes());
        assert_eq!(decode_encoded_words("=?utf-8?b?5L2g5aW9?= =?utf-8?q?=E4=B8=96_=E7=95=8C?= !"), "你好世 界 !");
        assert_eq!(decode_encoded_words("plain"), "plain");
    }
}
