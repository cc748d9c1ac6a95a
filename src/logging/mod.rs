//! Log lines that never hold up a request.
//!
//! A request's log line is appended to a shared buffer (a short lock and a
//! copy), and a thread of its own writes the buffer to standard error every
//! [`INTERVAL`] in one system call. Nothing wakes that thread per line: at
//! thousands of requests per second a wake-up per line (as a channel to a
//! writer thread costs) was a measurable part of a call. A buffer that grows
//! past [`MAX_PENDING`] bytes (standard error blocked, say) drops new lines
//! and says how many in the next line written; a full disk or a closed pipe
//! loses lines but never takes the gateway down.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

mod line;

pub use line::{LineLayer, REQUEST, RequestContext, record_api_key};

/// How often the buffer is written out.
const INTERVAL: Duration = Duration::from_millis(10);
/// Bytes that may wait to be written before new lines are dropped.
const MAX_PENDING: usize = 8 << 20;
/// A spare buffer larger than this is given back after a burst.
const KEEP_CAPACITY: usize = 256 << 10;

/// Where log lines go: cheap to clone, one per process.
#[derive(Clone)]
pub struct LogBuffer {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    stopping: AtomicBool,
}

/// Writes what is buffered and stops the writer thread when dropped.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogBuffer {
    /// A buffer written to `out` by a thread of its own until the guard is
    /// dropped.
    pub fn start(out: impl Write + Send + 'static) -> (LogBuffer, LogGuard) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        let writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || writer.run(out))
            .ok();
        let guard = LogGuard {
            shared: Arc::clone(&shared),
            thread,
        };
        (LogBuffer { shared }, guard)
    }

    /// Appends one line (or drops it, counted, when too much waits).
    pub fn append(&self, line: &[u8]) {
        self.shared.append(line);
    }
}

impl Shared {
    fn append(&self, line: &[u8]) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() + line.len() > MAX_PENDING {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.extend_from_slice(line);
        }
    }

    fn run(&self, mut out: impl Write) {
        let mut spare = Vec::new();
        loop {
            let last = self.stopping.load(Ordering::Acquire);
            if !last {
                std::thread::park_timeout(INTERVAL);
            }
            std::mem::swap(
                &mut spare,
                &mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()),
            );
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let _ = writeln!(
                    out,
                    "{dropped} log lines were dropped: the log output is too slow"
                );
            }
            if !spare.is_empty() {
                let _ = out.write_all(&spare);
                let _ = out.flush();
                spare.clear();
                if spare.capacity() > KEEP_CAPACITY {
                    spare = Vec::new();
                }
            }
            if last {
                return;
            }
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` the test can read back.
    #[derive(Clone, Default)]
    pub(super) struct Sink(pub(super) Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_in_order_and_all_of_them_on_stop() {
        let sink = Sink::default();
        let (buffer, guard) = LogBuffer::start(sink.clone());
        for i in 0..1000 {
            buffer.append(format!("line {i}\n").as_bytes());
        }
        // Written by the thread within a few intervals, without a stop.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(INTERVAL);
        }
        assert!(!sink.0.lock().unwrap().is_empty());
        buffer.append(b"last\n");
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[999], "line 999");
        assert_eq!(lines[1000], "last");
    }

    #[test]
    fn a_full_buffer_drops_lines_and_says_how_many() {
        let shared = Shared {
            pending: Mutex::new(vec![b'.'; MAX_PENDING - 10]),
            dropped: AtomicU64::new(0),
            stopping: AtomicBool::new(true),
        };
        shared.append(b"fits\n");
        shared.append(b"too long\n");
        shared.append(b"too long\n");
        let sink = Sink::default();
        shared.run(sink.clone());
        let text = sink.0.lock().unwrap();
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.starts_with("2 log lines were dropped"),
            "{}",
            &text[..60]
        );
        assert!(text.ends_with("fits\n"));
        assert!(!text.contains("too long"));
    }
}
