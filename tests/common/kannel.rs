//! A real SMS gateway for tests: Debian's Kannel (`bearerbox`, `smsbox`) with its fake SMSC
//! (`fakesmsc` from `kannel-extras`) standing for the operator's network, all on loopback
//! ports chosen free when the test starts. `ops/test.sh` installs the packages when missing.
//!
//! Two fake SMSC links: `phones` takes every text the server sends (the sendsms user is forced
//! onto it) and its fakesmsc prints each message it receives; `keypad` is where a test types a
//! resident's reply (a short-lived fakesmsc sending one MO message), which Kannel hands to the
//! server's callback URL with the token.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BEARERBOX: &str = "/usr/sbin/bearerbox";
pub const SMSBOX: &str = "/usr/sbin/smsbox";
pub const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";
pub const USER: &str = "hotline";
pub const PASSWORD: &str = "kannel-test-pass";
pub const TOKEN: &str = "sms-callback-token-0123456789";

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn require_programs() {
    for p in [BEARERBOX, SMSBOX, FAKESMSC] {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: apt-get install kannel kannel-extras (ops/test.sh installs them)"
        );
    }
}

/// A child process killed (and waited for) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A text as the fake SMSC received it: the parts of a concatenated text joined back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub from: String,
    pub to: String,
    pub text: String,
}

pub struct Ports {
    pub admin: u16,
    pub smsbox: u16,
    pub phones: u16,
    pub keypad: u16,
    pub sendsms: u16,
}

pub struct Kannel {
    dir: tempfile::TempDir,
    pub ports: Ports,
    bearerbox: Option<Proc>,
    smsbox: Option<Proc>,
    phones: Option<Proc>,
    /// Lines fakesmsc logged about the messages it got.
    lines: Arc<Mutex<Vec<String>>>,
    callback_base: String,
}

impl Kannel {
    /// Ports for a gateway to be started later (the server's configuration needs the sendsms
    /// URL before the gateway needs the server's).
    pub fn ports() -> Ports {
        Ports {
            admin: free_tcp_port(),
            smsbox: free_tcp_port(),
            phones: free_tcp_port(),
            keypad: free_tcp_port(),
            sendsms: free_tcp_port(),
        }
    }

    pub fn sendsms_url(ports: &Ports) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", ports.sendsms)
    }

    /// Writes kannel.conf and starts bearerbox, smsbox and the `phones` fakesmsc; returns when
    /// smsbox's sendsms port answers.
    pub fn start(ports: Ports, server_base: &str) -> Kannel {
        require_programs();
        let dir = tempfile::tempdir().unwrap();
        let mut k = Kannel {
            dir,
            ports,
            bearerbox: None,
            smsbox: None,
            phones: None,
            lines: Arc::new(Mutex::new(Vec::new())),
            callback_base: server_base.to_string(),
        };
        std::fs::write(k.conf(), k.config_text()).unwrap();
        k.start_boxes();
        k
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("kannel.conf")
    }

    fn config_text(&self) -> String {
        let p = &self.ports;
        let dir = self.dir.path().display();
        let get_url = format!(
            "{}/api/v1/sms/kannel/mo?token={TOKEN}&from=%p&text=%a&id=%I",
            self.callback_base.trim_end_matches('/')
        );
        format!(
            r#"group = core
admin-port = {admin}
admin-password = test-admin
admin-interface = 127.0.0.1
admin-allow-ip = 127.0.0.1
smsbox-port = {smsbox}
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = phones
host = 127.0.0.1
port = {phones}
connect-allow-ip = 127.0.0.1
allowed-smsc-id = phones

group = smsc
smsc = fake
smsc-id = keypad
host = 127.0.0.1
port = {keypad}
connect-allow-ip = 127.0.0.1
allowed-smsc-id = keypad

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
mo-recode = true
log-file = "{dir}/smsbox.log"
log-level = 1

group = sendsms-user
username = {USER}
password = {PASSWORD}
forced-smsc = phones
concatenation = true
max-messages = 10
user-allow-ip = 127.0.0.1

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{get_url}"
"#,
            admin = p.admin,
            smsbox = p.smsbox,
            phones = p.phones,
            keypad = p.keypad,
            sendsms = p.sendsms,
        )
    }

    fn spawn(&self, program: &str, args: &[&str]) -> Child {
        Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"))
    }

    fn start_boxes(&mut self) {
        let conf = self.conf().display().to_string();
        self.bearerbox = Some(Proc(self.spawn(BEARERBOX, &[conf.as_str()])));
        wait_port(self.ports.smsbox, "bearerbox");
        self.smsbox = Some(Proc(self.spawn(SMSBOX, &[conf.as_str()])));
        wait_port(self.ports.sendsms, "smsbox");
        // The fake operator network: never sends (-m 0), logs what it gets on stderr.
        let mut phones = Command::new(FAKESMSC)
            .args(["-H", "127.0.0.1", "-r", &self.ports.phones.to_string(), "-m", "0", "0 0 text nop"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fakesmsc");
        let sink = self.lines.clone();
        let stderr = phones.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Got message") {
                    sink.lock().unwrap().push(line);
                }
            }
        });
        self.phones = Some(Proc(phones));
        // The links are up when bearerbox's status page says both SMSCs are online.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status();
            if status.lines().any(|l| l.contains("phones") && l.contains("online")) {
                break;
            }
            assert!(Instant::now() < deadline, "Kannel's fake SMSC link did not come up: {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// bearerbox's status page (plain text).
    pub fn status(&self) -> String {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.ports.admin)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /status.txt?password=test-admin HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// Stops every box (an outage): texts the server queues now must wait.
    pub fn stop(&mut self) {
        self.phones = None;
        self.smsbox = None;
        self.bearerbox = None;
        wait_port_closed(self.ports.sendsms);
    }

    /// Starts the boxes again after [`Kannel::stop`].
    pub fn restart(&mut self) {
        self.start_boxes();
    }

    /// A resident types `text` on `phone` and sends it to the centre's short code.
    pub async fn resident_sends(&self, phone: &str, text: &str) {
        let (port, phone, text) = (self.ports.keypad, phone.to_string(), text.to_string());
        tokio::task::spawn_blocking(move || send_mo(port, &phone, &text)).await.unwrap();
    }

    /// Every text the fake network received so far, concatenated parts joined.
    pub fn received(&self) -> Vec<Received> {
        let lines = self.lines.lock().unwrap().clone();
        join_parts(&lines)
    }

    /// Waits (30 s at most) until `count` texts to `to` arrived; returns them.
    pub async fn wait_for_texts(&self, to: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let texts: Vec<Received> = self.received().into_iter().filter(|r| r.to == to).collect();
            if texts.len() >= count {
                return texts;
            }
            assert!(
                Instant::now() < deadline,
                "{count} texts to {to} did not arrive; got {texts:?}\nbearerbox log tail: {}",
                self.log_tail("bearerbox.log")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// One MO message through the `keypad` link: fakesmsc's "ucs2" type takes the UTF-16BE
/// bytes URL-encoded.
fn send_mo(port: u16, phone: &str, text: &str) {
    let encoded: String = text.encode_utf16().flat_map(|u| u.to_be_bytes()).map(|b| format!("%{b:02X}")).collect();
    let message = format!("{phone} 12345 ucs2 {encoded}");
    let mut child = Command::new(FAKESMSC)
        .args(["-H", "127.0.0.1", "-r", &port.to_string(), "-m", "1", &message])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fakesmsc");
    let stderr = child.stderr.take().unwrap();
    let mut sent = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.contains("sent message 1") {
            sent = true;
            break;
        }
    }
    // fakesmsc stays connected after its last message; give bearerbox a moment to read it.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    assert!(sent, "fakesmsc did not send the resident's text");
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not open port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_port_closed(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "port {port} stayed open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    out
}

fn ucs2(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    String::from_utf16_lossy(&units)
}

/// The parts of long texts seen so far: (from, to, reference) → (total, part number → bytes).
type PartsSeen = BTreeMap<(String, String, u8), (u8, BTreeMap<u8, Vec<u8>>)>;

/// fakesmsc's lines: `Got message N: <from to text MSG>`, `<from to ucs2 MSG>` or, for a part
/// of a long text, `<from to udh %05%00%03REF%TOTAL%SEQ data MSG>` (UCS-2 in the data).
fn join_parts(lines: &[String]) -> Vec<Received> {
    let mut out = Vec::new();
    let mut parts: PartsSeen = BTreeMap::new();
    for line in lines {
        let Some(start) = line.find('<') else { continue };
        let inner = line[start + 1..].trim_end().trim_end_matches('>');
        let fields: Vec<&str> = inner.splitn(4, ' ').collect();
        if fields.len() < 4 {
            continue;
        }
        let (from, to, kind, rest) = (fields[0].to_string(), fields[1].to_string(), fields[2], fields[3]);
        match kind {
            "text" => out.push(Received { from, to, text: String::from_utf8_lossy(&url_decode(rest)).to_string() }),
            // A one-part text: UCS-2 (we always send coding=2).
            "ucs2" | "ucs-2" | "data" => out.push(Received { from, to, text: ucs2(&url_decode(rest)) }),
            "udh" => {
                let Some((udh, data)) = rest.split_once(' ') else { continue };
                let udh = url_decode(udh);
                let data = data.strip_prefix("data ").unwrap_or(data);
                // IEI 0 (8-bit reference concatenation): len 5, 00 03 ref total seq.
                if udh.len() >= 6 && udh[1] == 0 {
                    let (reference, total, seq) = (udh[3], udh[4], udh[5]);
                    let entry = parts.entry((from.clone(), to.clone(), reference)).or_insert((total, BTreeMap::new()));
                    entry.1.insert(seq, url_decode(data));
                    if entry.1.len() == usize::from(entry.0) {
                        let (_, done) = parts.remove(&(from.clone(), to.clone(), reference)).unwrap();
                        let bytes: Vec<u8> = done.into_values().flatten().collect();
                        out.push(Received { from, to, text: ucs2(&bytes) });
                    }
                }
            }
            _ => {}
        }
    }
    out
}
