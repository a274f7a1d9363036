//! A child process owned by a test: its output goes to a log file, it is killed on drop, and its
//! log is printed when the owner drops it while panicking (a failing test).

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eyre::{Result, WrapErr, bail};

/// How much of a log [`ManagedProcess::log_tail`] returns.
const TAIL_BYTES: u64 = 8 * 1024;

/// A running child process with its log file.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
    keep_log: bool,
}

impl ManagedProcess {
    /// Starts `program` with `args`; stdout and stderr go to a fresh log file under
    /// `$TMPDIR/xroute-kit/`. The child gets SIGKILL if the thread that started it dies, so a test
    /// process killed mid-run leaves no node behind.
    pub fn spawn(name: &str, program: &Path, args: &[String]) -> Result<Self> {
        Self::spawn_with_env(name, program, args, &[])
    }

    /// [`ManagedProcess::spawn`] with `env` added to the child's environment.
    pub fn spawn_with_env(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Self> {
        let dir = std::env::temp_dir().join("xroute-kit");
        std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let log_path = dir.join(format!("{name}-{}-{stamp}.log", std::process::id()));
        let log = File::create(&log_path)
            .wrap_err_with(|| format!("creating log file {}", log_path.display()))?;
        let log_err = log.try_clone()?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().wrap_err_with(|| {
            format!("starting {name}: {} {}", program.display(), args.join(" "))
        })?;
        Ok(Self {
            name: name.to_string(),
            child,
            log_path,
            keep_log: std::env::var_os("XROUTE_KEEP_LOGS").is_some_and(|v| !v.is_empty()),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the log is.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Keeps the log file after drop (it is removed otherwise, unless the drop happens in a panic
    /// or `XROUTE_KEEP_LOGS` is set).
    pub fn keep_log(&mut self) {
        self.keep_log = true;
    }

    /// The last few KiB of the log.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Fails with the log tail if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); log {}:\n{}",
                self.name,
                self.log_path.display(),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Waits until the process exits (at most `timeout`); its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} still running after {timeout:?}; log {}:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) -> Result<()> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) with a pid we own.
        if unsafe { libc::kill(pid, signal) } != 0 {
            bail!(
                "signal {signal} to {}: {}",
                self.name,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends SIGINT (Ctrl-C) and waits up to `timeout` for the process to exit; returns its exit
    /// code (`None` if a signal ended it).
    pub async fn interrupt(&mut self, timeout: Duration) -> Result<Option<i32>> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) with a pid we own.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            bail!(
                "SIGINT to {}: {}",
                self.name,
                std::io::Error::last_os_error()
            );
        }
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.code());
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} still running {timeout:?} after SIGINT; log:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `probe` until it succeeds, the process exits, or `timeout` passes.
    pub async fn wait_ready<F, Fut>(&mut self, timeout: Duration, mut probe: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        loop {
            self.check_running()?;
            if probe().await {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} not ready after {timeout:?}; log {}:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- {} log ({}) ----\n{}\n---- end of {} log ----",
                self.name,
                self.log_path.display(),
                self.log_tail(),
                self.name
            );
        } else if !self.keep_log {
            let _ = std::fs::remove_file(&self.log_path);
        }
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1, picked below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`, 32768–60999 by default). Ports from the ephemeral range
/// (what binding port 0 returns) are also what every outgoing RPC connection takes, so a port
/// planned for a node that starts later was sometimes taken by a client socket in between.
pub fn free_port() -> Result<u16> {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Spread processes apart, then walk up from there.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 600) as u16 * 20;
    for _ in 0..2_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 12_000;
        let port = 20_000 + (base - 20_000 + offset) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").wrap_err("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
