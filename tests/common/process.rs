//! The `switchboard` binary as its own process, for tests that kill a
//! gateway the hard way (SIGKILL) and start it again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Reads a starting gateway's log (stderr) until it says where it listens;
/// returns that address (`http://…`) and the log so far, and keeps reading
/// the rest in a thread, so the process never writes into a closed pipe.
pub fn listening(child: &mut Child) -> (String, String) {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let mut log = String::new();
    let mut address = None;
    for line in stderr.by_ref() {
        let line = line.unwrap_or_default();
        log.push_str(&line);
        log.push('\n');
        if line.contains("switchboard listening") {
            address = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address=").map(str::to_owned));
            break;
        }
    }
    let address = address.unwrap_or_else(|| panic!("the gateway did not start:\n{log}"));
    std::thread::spawn(move || stderr.for_each(drop));
    (address, log)
}

/// A running `switchboard serve`.
pub struct GatewayProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    config: PathBuf,
    listen: String,
}

impl GatewayProcess {
    /// Starts `switchboard serve` with the config file `config` (which must
    /// hold everything: store, keys, specs) on `listen` (`127.0.0.1:0` for
    /// any port); returns once it says it listens.
    pub fn start(config: &Path, listen: &str) -> GatewayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env("SWITCHBOARD_CONFIG", config)
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .env_remove("SWITCHBOARD_API_KEYS")
            .env_remove("SWITCHBOARD_ENCRYPTION_KEY")
            .env_remove("SWITCHBOARD_SPECS_DIR")
            .env_remove("SWITCHBOARD_DATA_DIR")
            .env_remove("SWITCHBOARD_REDIS_URL")
            .env("SWITCHBOARD_LISTEN", listen)
            .env("RUST_LOG", "warn,switchboard=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the switchboard binary starts");
        let (base, _) = listening(&mut child);
        let listen = base.trim_start_matches("http://").to_owned();
        GatewayProcess {
            child,
            base,
            config: config.to_path_buf(),
            listen,
        }
    }

    /// Kills the process with SIGKILL: no shutdown, no flushing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the process again on the same config and port.
    pub fn restart(&mut self) {
        self.kill();
        let again = GatewayProcess::start(&self.config, &self.listen);
        *self = again;
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
