//! What several benchmarks compute the same way, included with `#[path = "stats.rs"] mod stats;`.

/// The value at share `p` (0–1) of a sorted sample, by nearest rank; NaN for an empty one
/// (printed as such: no number rather than a made-up 0).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A process's resident memory in KiB, from /proc (0 when it cannot be read).
#[allow(dead_code)] // not every benchmark watches a server's memory
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
