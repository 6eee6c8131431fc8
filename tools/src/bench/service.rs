//! The service under load: `esign serve` started as a child process of the bench, with a config
//! written for the run, so its CPU time and memory are its own and can be read from `/proc`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::{Child, Command};

/// The first argument that makes this executable the `esign` command line (`esign-bench esign
/// --config ... serve`); see [`esign_command`].
pub const RUN_ESIGN: &str = "esign";

/// `esign` as the bench runs it: this executable with [`RUN_ESIGN`] first. The service and the
/// operator commands measured are then built from the same source as the bench, with the same
/// allocator, as when the load generators were a subcommand of `esign` itself, and a stale or
/// missing `esign` binary cannot be measured by mistake.
pub fn esign_command() -> std::io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg(RUN_ESIGN);
    Ok(command)
}

/// The API client the bench signs as.
pub const CLIENT_ID: &str = "bench-caller";
/// Its HMAC secret (the service is started with it; nothing else uses it).
pub const CLIENT_SECRET: &str = "bench-caller-secret-0123456789abcdef";

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot start the service: {0}")]
    Spawn(std::io::Error),
    #[error("cannot prepare the service's files: {0}")]
    Files(std::io::Error),
    #[error("the service did not answer /readyz within {0:?}; its log is {1}")]
    NotReady(Duration, PathBuf),
    #[error("the service exited early ({0}); its log is {1}")]
    Exited(std::process::ExitStatus, PathBuf),
}

/// How to start one service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Working directory for its data, keys and log.
    pub dir: PathBuf,
    /// PostgreSQL pool size.
    pub max_connections: usize,
    /// Extra TOML appended to the generated config (sections the scenario needs).
    pub extra_toml: String,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Extra arguments after `serve`.
    pub serve_args: Vec<String>,
}

impl ServiceOptions {
    /// A scenario's service in `work_dir`: on `database_url`, or a fresh SQLite file there, with the
    /// scenario's config sections; a pool of 16.
    pub fn in_work_dir(database_url: Option<&str>, work_dir: &Path, extra_toml: String) -> Self {
        Self {
            database_url: database_url.map_or_else(
                || format!("sqlite://{}", work_dir.join("esign.db").display()),
                str::to_owned,
            ),
            dir: work_dir.to_path_buf(),
            max_connections: 16,
            extra_toml,
            env: Vec::new(),
            serve_args: Vec::new(),
        }
    }
}

/// A running `esign serve`, stopped when dropped.
#[derive(Debug)]
pub struct Service {
    child: Child,
    pub address: SocketAddr,
    pub base_url: String,
    pub log: PathBuf,
    pid: u32,
}

impl Service {
    /// Starts the service from this executable (see [`esign_command`]) and waits until it is ready.
    pub async fn start(options: &ServiceOptions) -> Result<Self, ServiceError> {
        Self::start_command(esign_command().map_err(ServiceError::Spawn)?, options).await
    }

    /// Starts `esign serve` from the `esign` binary at `executable` (the fault tests run the built
    /// binary, not themselves) and waits until it is ready.
    pub async fn start_binary(
        executable: &Path,
        options: &ServiceOptions,
    ) -> Result<Self, ServiceError> {
        Self::start_command(Command::new(executable), options).await
    }

    /// Adds `--config <generated file> serve` to `command`, which runs the `esign` command line.
    async fn start_command(
        mut command: Command,
        options: &ServiceOptions,
    ) -> Result<Self, ServiceError> {
        std::fs::create_dir_all(&options.dir).map_err(ServiceError::Files)?;
        let address = free_port().map_err(ServiceError::Files)?;
        let base_url = format!("http://{address}");
        let config_path = Self::config_path(options);
        std::fs::write(&config_path, config_text(options, address, &base_url))
            .map_err(ServiceError::Files)?;
        let log = options.dir.join("service.log");
        let log_file = std::fs::File::create(&log).map_err(ServiceError::Files)?;
        command
            .arg("--config")
            .arg(&config_path)
            .arg("serve")
            .args(&options.serve_args)
            .env_remove("ESIGN_CONFIG")
            .env(
                "RUST_LOG",
                std::env::var("ESIGN_BENCH_SERVICE_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(ServiceError::Spawn)?;
        let pid = child.id().unwrap_or(0);
        let http = esign::providers::outbound::client(Duration::from_secs(2))
            .map_err(|e| ServiceError::Spawn(std::io::Error::other(e.to_string())))?;
        let patience = Duration::from_secs(120);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(ServiceError::Exited(status, log));
            }
            let ready = http
                .get(format!("{base_url}/readyz"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                break;
            }
            if started.elapsed() > patience {
                return Err(ServiceError::NotReady(patience, log));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            child,
            address,
            base_url,
            log,
            pid,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// CPU time and memory now, from `/proc/<pid>`.
    pub fn sample(&self) -> ProcessSample {
        ProcessSample::of(self.pid)
    }

    /// Stops the service with SIGKILL: no shutdown hook runs, as in a crash or an OOM kill (the
    /// bench's data is thrown away; the fault tests restart on it).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// The configuration file the service was started with (for `esign --config ...` tools).
    pub fn config_path(options: &ServiceOptions) -> PathBuf {
        options.dir.join("esign.toml")
    }
}

fn config_text(options: &ServiceOptions, address: SocketAddr, base_url: &str) -> String {
    let data_dir = options.dir.join("data");
    format!(
        "[server]\nbind = \"{address}\"\npublic_base_url = \"{base_url}\"\ndata_dir = {data_dir:?}\n\n\
         [database]\nurl = \"{url}\"\nmax_connections = {pool}\n\n\
         [[clients]]\nid = \"{CLIENT_ID}\"\nsecret = \"{CLIENT_SECRET}\"\nadmin = true\n\n{extra}\n",
        data_dir = data_dir.display().to_string(),
        url = options.database_url,
        pool = options.max_connections,
        extra = options.extra_toml,
    )
}

/// A port nobody listens on now (released before the service binds it).
fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A process's accumulated CPU time and its memory, as `/proc` reports them.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessSample {
    /// User + system CPU seconds since the process started.
    pub cpu_seconds: f64,
    /// Resident memory now, in MiB.
    pub rss_mib: f64,
    /// The highest resident memory so far, in MiB.
    pub peak_rss_mib: f64,
}

impl ProcessSample {
    /// Zeros when the process or `/proc` is gone: the figures are then missing, not wrong.
    pub fn of(pid: u32) -> Self {
        let proc_dir = Path::new("/proc").join(pid.to_string());
        let status = std::fs::read_to_string(proc_dir.join("status")).unwrap_or_default();
        let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        Self {
            cpu_seconds: cpu_seconds(&stat),
            rss_mib: kib_field(&status, "VmRSS:") / 1024.0,
            peak_rss_mib: kib_field(&status, "VmHWM:") / 1024.0,
        }
    }

    /// Cores used on average between `earlier` and this sample, `seconds` apart (1.0 = one core).
    pub fn cores_since(&self, earlier: &ProcessSample, seconds: f64) -> f64 {
        (self.cpu_seconds - earlier.cpu_seconds) / seconds.max(1e-9)
    }
}

/// `utime + stime` (fields 14 and 15 of `/proc/<pid>/stat`, counted after the command name, which
/// may contain spaces) in seconds.
fn cpu_seconds(stat: &str) -> f64 {
    let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    // After ") " the fields start at field 3 (state); utime is field 14, stime field 15.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks_per_second()
}

/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux the bench runs on; reading it would need libc.
fn clock_ticks_per_second() -> f64 {
    100.0
}

fn kib_field(status: &str, name: &str) -> f64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces() {
        let stat = "4242 (esign serve) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        assert!((cpu_seconds(stat) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let sample = ProcessSample::of(std::process::id());
        assert!(sample.rss_mib > 0.0);
        assert!(sample.peak_rss_mib >= sample.rss_mib);
    }
}
