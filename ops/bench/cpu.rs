//! CPU time from /proc, shared by the benchmark generators (included with `#[path]`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// CPU time from /proc: this process, the server, PostgreSQL's processes and the whole
/// machine. On a 2-core box the generator competes with the server and the database, and
/// anything else running (a build, a test suite) spoils the run: the remainder shows that.
pub struct CpuSnapshot {
    at: Instant,
    own_ticks: u64,
    server_ticks: Option<u64>,
    /// Every process named `postgres` (postmaster, backends, walwriter, …), by pid.
    postgres: HashMap<u32, u64>,
    /// (busy, total) jiffies over all CPUs.
    machine: (u64, u64),
}

/// USER_HZ: 100 on every Linux x86-64 and arm64 build.
const TICKS_PER_SEC: f64 = 100.0;

/// (command name, utime + stime) of one process.
fn proc_stat(pid: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields are counted after its closing ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12th and 13th after the name.
    Some((comm, f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
}

fn postgres_ticks() -> HashMap<u32, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return HashMap::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| match proc_stat(&pid.to_string())? {
            (comm, ticks) if comm == "postgres" => Some((pid, ticks)),
            _ => None,
        })
        .collect()
}

fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal …; idle and iowait are not busy.
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

impl CpuSnapshot {
    /// `server_pids`: none, one server, or several instances (their CPU time is summed; an
    /// instance that cannot be read makes the server's share unknown).
    pub fn take(server_pids: impl IntoIterator<Item = u32>) -> Option<CpuSnapshot> {
        let pids: Vec<u32> = server_pids.into_iter().collect();
        let server_ticks = if pids.is_empty() {
            None
        } else {
            pids.iter().map(|p| Some(proc_stat(&p.to_string())?.1)).sum::<Option<u64>>()
        };
        Some(CpuSnapshot {
            at: Instant::now(),
            own_ticks: proc_stat("self")?.1,
            server_ticks,
            postgres: postgres_ticks(),
            machine: machine_ticks()?,
        })
    }

    pub fn since(&self, start: &CpuSnapshot) -> CpuSplit {
        // A backend started during the window counts from zero; one that ended is lost (the
        // pool keeps its connections, so that is rare).
        let postgres =
            self.postgres.iter().map(|(pid, t)| t.saturating_sub(*start.postgres.get(pid).unwrap_or(&0))).sum();
        CpuSplit {
            wall: self.at - start.at,
            own: self.own_ticks.saturating_sub(start.own_ticks),
            server: self.server_ticks.zip(start.server_ticks).map(|(b, a)| b.saturating_sub(a)),
            postgres,
            busy: self.machine.0.saturating_sub(start.machine.0),
            total: self.machine.1.saturating_sub(start.machine.1),
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64,
        }
    }
}

pub struct CpuSplit {
    wall: Duration,
    own: u64,
    server: Option<u64>,
    postgres: u64,
    busy: u64,
    total: u64,
    cpus: f64,
}

impl CpuSplit {
    pub fn cores(&self, ticks: u64) -> f64 {
        ticks as f64 / TICKS_PER_SEC / self.wall.as_secs_f64().max(1e-9)
    }
    pub fn generator_cores(&self) -> f64 {
        self.cores(self.own)
    }
    pub fn server_cores(&self) -> Option<f64> {
        self.server.map(|t| self.cores(t))
    }
    pub fn postgres_cores(&self) -> f64 {
        self.cores(self.postgres)
    }
    pub fn machine_busy_pct(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.busy as f64 / self.total as f64
        }
    }
    /// Cores busy with something that is neither generator, server nor PostgreSQL (the
    /// kernel's share of loopback networking is mostly charged to those processes).
    pub fn other_cores(&self) -> f64 {
        let busy = self.machine_busy_pct() / 100.0 * self.cpus;
        (busy - self.generator_cores() - self.server_cores().unwrap_or(0.0) - self.postgres_cores()).max(0.0)
    }
    pub fn print(&self) {
        println!(
            "cpu:       generator {:.2} cores, server {}, postgres {:.2} cores, other {:.2} cores; \
             machine {:.0}% busy ({} cores) over {:.1} s",
            self.generator_cores(),
            self.server_cores().map(|c| format!("{c:.2} cores")).unwrap_or_else(|| "not measured".into()),
            self.postgres_cores(),
            self.other_cores(),
            self.machine_busy_pct(),
            self.cpus,
            self.wall.as_secs_f64()
        );
    }
}
