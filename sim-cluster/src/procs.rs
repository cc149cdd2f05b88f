//! Child processes: the coordinator and every node run as real OS processes,
//! started from this very executable (`ember-sim node ...` and
//! `ember-sim coordinator ...` run the same code as the `ember-node` and
//! `ember-coordinator` binaries), so the demo needs nothing but itself.
//!
//! Cleanup is the point of this module. A [`Proc`] is killed when dropped,
//! which covers errors, panics and Ctrl-C (the run future is dropped); and
//! every child asks the kernel to kill it when the simulator dies, which
//! covers `kill -9` of the simulator itself.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Which program a child runs.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    Node,
    Coordinator,
}

impl Role {
    fn subcommand(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Coordinator => "coordinator",
        }
    }
}

/// A running child. Killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    /// The `... ready: ...` line the program printed once serving.
    pub ready_line: String,
    child: Child,
    log_tail: Arc<Mutex<VecDeque<String>>>,
}

/// Lines of a child's stderr kept to explain a failure.
const TAIL_LINES: usize = 20;

impl Proc {
    /// Starts `role` with `args`, logging its stderr to `log_file`, and
    /// waits (up to `timeout`) for its ready line on stdout.
    pub async fn start(
        name: &str,
        role: Role,
        args: &[String],
        env: &[(&str, String)],
        log_file: &Path,
        timeout: Duration,
    ) -> anyhow::Result<Proc> {
        let exe = std::env::current_exe().context("locating the ember-sim executable")?;
        let mut cmd = Command::new(exe);
        cmd.arg(role.subcommand()).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.env("RUST_LOG", std::env::var("EMBER_SIM_CHILD_LOG").unwrap_or_else(|_| "warn".into()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: prctl is async-signal-safe and touches only the child's
        // own state; nothing else runs between fork and exec. PDEATHSIG
        // fires when the thread that forked exits: every spawn happens on
        // the simulator's main thread (a current-thread runtime), which
        // lives until the simulator exits.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let pid = child.id();

        let log_tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let mut log = std::fs::File::create(log_file).with_context(|| format!("creating {}", log_file.display()))?;
        let tail = log_tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                let mut t = tail.lock().unwrap();
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });

        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if line.contains(" ready: ") {
                    let _ = tx.send(line);
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let mut proc = Proc { name: name.to_string(), pid, ready_line: String::new(), child, log_tail };
        let deadline = Instant::now() + timeout;
        // Polled, not blocked on: the simulator's one thread keeps serving
        // the load clients meanwhile.
        loop {
            match rx.try_recv() {
                Ok(line) => {
                    proc.ready_line = line;
                    return Ok(proc);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = proc.child.try_wait() {
                        bail!("{name} exited before it was ready ({status}):\n{}", proc.tail());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => bail!("{name} was not ready within {timeout:?}:\n{}", proc.tail()),
            }
        }
    }

    /// A `key=value` field of the ready line.
    pub fn ready_field(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.ready_line.split_whitespace().find_map(|w| w.strip_prefix(&prefix)).map(str::to_string)
    }

    /// The last lines of the child's stderr.
    pub fn tail(&self) -> String {
        self.log_tail.lock().unwrap().iter().map(|l| format!("  | {l}\n")).collect()
    }

    /// Resident memory, bytes (from /proc), or `None` once gone.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    }

    /// `kill -9`: no drain, no snapshot, no goodbye to the cluster.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit (drain, snapshot, leave);
    /// SIGKILL after `grace`. Waits without blocking the runtime: the
    /// clients' connections must keep running to see the server's GOAWAY
    /// and close, or a graceful server waits for them forever.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        // SAFETY: sending a signal to our own child's pid, which we have not
        // reaped yet, so the pid cannot have been reused.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("{} exited with {status} on SIGTERM:\n{}", self.name, self.tail());
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("{} did not stop within {grace:?} of SIGTERM", self.name)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port of the given kind, found by binding port 0.
pub fn free_port(udp: bool) -> anyhow::Result<u16> {
    Ok(if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()
    })
}

/// A fresh directory for one run's logs and node data.
pub fn run_dir(report: &Path) -> anyhow::Result<PathBuf> {
    let dir = report.join("run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
