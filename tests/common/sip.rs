//! A real telephone system on loopback for the tests: Kamailio running the reference adapter
//! `ops/kamailio/kamailio.cfg`, and SIPp phones (operators' phones that answer or only ring,
//! residents who talk or give up) from the scenarios in `ops/kamailio/sipp/`. Each program is
//! a child process killed when its handle is dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn ops_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ops/kamailio")
}

pub fn scenario(name: &str) -> String {
    ops_dir().join("sipp").join(name).display().to_string()
}

/// A UDP port free on loopback now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether Kamailio, its http_client module and SIPp are installed (`ops/test.sh` installs
/// them); a test that needs them fails with this message when they are not.
pub fn require_programs() {
    let kamailio = Command::new("kamailio").arg("-v").output().is_ok();
    let sipp = Command::new("sipp").arg("-v").output().is_ok();
    let module = std::path::Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/http_client.so").exists();
    assert!(
        kamailio && sipp && module,
        "the telephony tests need kamailio, kamailio-utils-modules and sip-tester: \
         apt-get install kamailio kamailio-utils-modules sip-tester (ops/test.sh does)"
    );
}

/// A child process, killed on drop.
pub struct Program {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Program {
    /// Stops the whole process group: Kamailio's workers outlive a main process killed
    /// outright, so the group is asked to stop (SIGTERM, Kamailio then stops its workers), and
    /// whatever is left after 5 s is killed.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

impl Program {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn spawn(name: &str, mut command: Command, dir: &std::path::Path) -> Program {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    // A process group of its own, so that dropping the handle stops its children too.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    Program { name: name.into(), child, log }
}

/// Kamailio with the reference configuration, posting to `server_url` with `token`; operators
/// at extensions `first` … `first + count - 1`.
pub struct Kamailio {
    pub port: u16,
    pub program: Program,
}

impl Kamailio {
    pub fn start(
        dir: &std::path::Path,
        server_url: &str,
        token: &str,
        first: u32,
        count: u32,
        ring_timeout_ms: u32,
        children: u32,
    ) -> Kamailio {
        let port = free_udp_port();
        let mut command = Command::new("kamailio");
        command
            .args(["-DD", "-E", "-f"])
            .arg(ops_dir().join("kamailio.cfg"))
            .args(["-w", &dir.display().to_string()])
            .args(["-A", &format!("LISTEN=udp:127.0.0.1:{port}")])
            .args(["-A", &format!("HOTLINE_URL=\"{server_url}\"")])
            .args(["-A", &format!("PBX_TOKEN=\"{token}\"")])
            .args(["-A", &format!("OPERATOR_FIRST={first}")])
            .args(["-A", &format!("OPERATOR_COUNT={count}")])
            .args(["-A", &format!("RING_TIMEOUT_MS={ring_timeout_ms}")])
            .args(["-A", &format!("CHILDREN={children}")]);
        let program = spawn("kamailio", command, dir);
        Kamailio { port, program }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A SIPp instance in the foreground of its own process (no terminal: `-nostdin`).
pub fn sipp(dir: &std::path::Path, name: &str, args: &[String]) -> Program {
    let mut command = Command::new("sipp");
    command.args(["-nostdin", "-i", "127.0.0.1", "-trace_err", "-error_file"]).arg(dir.join(format!("{name}.errors")));
    command.args(args);
    spawn(name, command, dir)
}

/// Runs SIPp to the end (a `-m N` client) and says whether every call succeeded.
pub fn run_sipp(dir: &std::path::Path, name: &str, args: &[String], limit: Duration) -> Result<(), String> {
    let mut program = sipp(dir, name, args);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = program.child.try_wait().unwrap() {
            return if status.success() {
                Ok(())
            } else {
                let errors = std::fs::read_to_string(dir.join(format!("{name}.errors"))).unwrap_or_default();
                Err(format!("sipp {name} exited {status}: {errors}\n{}", program.log_text()))
            };
        }
        if Instant::now() > deadline {
            return Err(format!("sipp {name} still running after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An operator's phone: listens on its own port with `scenario`, and registers `extension`
/// at Kamailio (retrying while Kamailio starts).
pub fn operator_phone(
    dir: &std::path::Path,
    kamailio: &Kamailio,
    extension: u32,
    scenario_file: &str,
    extra: &[&str],
) -> Program {
    let port = free_udp_port();
    let mut args: Vec<String> =
        vec!["-sf".into(), scenario(scenario_file), "-p".into(), port.to_string(), "-s".into(), extension.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let phone = sipp(dir, &format!("phone-{extension}"), &args);
    let register: Vec<String> = [
        kamailio.address(),
        "-sf".into(),
        scenario("register.xml"),
        "-p".into(),
        free_udp_port().to_string(),
        "-s".into(),
        extension.to_string(),
        "-key".into(),
        "contact_port".into(),
        port.to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "2".into(),
        "-timeout_error".into(),
    ]
    .into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match run_sipp(dir, &format!("register-{extension}"), &register, Duration::from_secs(5)) {
            Ok(()) => return phone,
            Err(e) if Instant::now() > deadline => {
                panic!("extension {extension} did not register: {e}\n{}", kamailio.program.log_text())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Arguments for a resident's call to `number` from `caller` with `scenario_file`, lasting
/// `pause_ms` (talk, or ringing before giving up).
pub fn call_args(kamailio: &Kamailio, scenario_file: &str, number: &str, caller: &str, pause_ms: u64) -> Vec<String> {
    vec![
        kamailio.address(),
        "-sf".into(),
        scenario(scenario_file),
        "-p".into(),
        free_udp_port().to_string(),
        "-s".into(),
        number.into(),
        "-key".into(),
        "caller".into(),
        caller.into(),
        "-d".into(),
        pause_ms.to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "20".into(),
        "-timeout_error".into(),
    ]
}
