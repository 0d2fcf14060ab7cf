//! /proc readings both load clients report: a process's CPU time (in total and by thread
//! name), its peak and current RSS, the machine's CPU time, the client's own CPU time.

use std::collections::BTreeMap;

/// CPU seconds of process `pid` (utime + stime), in total and summed by thread name.
pub fn proc_cpu(pid: u32) -> Option<(f64, BTreeMap<String, f64>)> {
    let total = stat_cpu(&format!("/proc/{pid}/stat"))?;
    let mut by_thread = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let dir = entry.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default().trim().to_owned();
        if let Some(s) = stat_cpu(&dir.join("stat").to_string_lossy()) {
            *by_thread.entry(comm).or_default() += s;
        }
    }
    Some((total, by_thread))
}

/// Peak resident set (VmHWM) of `pid`, in MB.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    status_mb(pid, "VmHWM:")
}

/// Resident set now (VmRSS) of `pid`, in MB.
pub fn rss_mb(pid: u32) -> Option<f64> {
    status_mb(pid, "VmRSS:")
}

fn status_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

/// utime + stime of a /proc stat file, in seconds (100 Hz clock ticks).
fn stat_cpu(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.rsplit_once(") ")?.1;
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    Some((f.get(11)? + f.get(12)?) as f64 / 100.0)
}

/// Busy and total CPU seconds of the whole machine, all cores (/proc/stat `cpu` line).
pub fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
    let total = busy + f.get(3)? + f.get(4)?;
    Some((busy as f64 / 100.0, total as f64 / 100.0))
}

/// This process's CPU seconds so far; 0 where /proc is missing.
pub fn own_cpu_s() -> f64 {
    stat_cpu("/proc/self/stat").unwrap_or(0.0)
}

/// CPU readings taken when a run starts, to report what the run used.
#[derive(Debug)]
pub struct CpuMark {
    own: f64,
    machine: Option<(f64, f64)>,
    worker: Option<(u32, f64, BTreeMap<String, f64>)>,
}

/// What a run used: the client's CPU seconds, the machine's busy and total CPU seconds, the
/// worker's CPU seconds (in total and by thread name) and its peak RSS.
#[derive(Debug, Default)]
pub struct CpuUse {
    pub client_cpu_s: f64,
    pub machine: Option<(f64, f64)>,
    pub worker_cpu: Option<(f64, BTreeMap<String, f64>)>,
    pub worker_peak_rss_mb: Option<f64>,
}

impl CpuMark {
    pub fn now(worker_pid: Option<u32>) -> Self {
        let worker = worker_pid.and_then(|pid| proc_cpu(pid).map(|(total, threads)| (pid, total, threads)));
        Self { own: own_cpu_s(), machine: machine_cpu(), worker }
    }

    pub fn since(&self) -> CpuUse {
        let machine = self.machine.zip(machine_cpu()).map(|((b0, t0), (b1, t1))| (b1 - b0, t1 - t0));
        let (worker_cpu, worker_peak_rss_mb) = match &self.worker {
            Some((pid, total0, threads0)) => {
                let cpu = proc_cpu(*pid).map(|(total, mut threads)| {
                    for (name, s) in &mut threads {
                        *s -= threads0.get(name).copied().unwrap_or(0.0);
                    }
                    (total - total0, threads)
                });
                (cpu, peak_rss_mb(*pid))
            }
            None => (None, None),
        };
        CpuUse { client_cpu_s: own_cpu_s() - self.own, machine, worker_cpu, worker_peak_rss_mb }
    }
}
