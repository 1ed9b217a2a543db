//! One wasmtime `Engine` for every module, the epoch ticker that enforces deadlines, and the
//! limits each evaluation runs under.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine_config::engine_config;

/// Limits every guest call runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call into a guest (default 1 s).
    pub deadline: Duration,
    /// Largest linear memory an instance may grow to (default 64 MiB).
    pub memory_bytes: usize,
    /// Fuel per call, for deterministic limits (tests); `None` leaves fuel off. Modules then
    /// compile at load time instead of using the embedded precompiled code.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            fuel: None,
        }
    }
}

/// How often the epoch advances: the deadline's resolution.
pub const TICK: Duration = Duration::from_millis(5);

/// The engine, its ticker thread and the limits.
pub struct Host {
    engine: wasmtime::Engine,
    limits: Limits,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl Host {
    pub fn new(limits: Limits) -> anyhow::Result<Host> {
        let engine = wasmtime::Engine::new(&engine_config(limits.fuel.is_some()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("prodready-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })?
        };
        Ok(Host {
            engine,
            limits,
            stop,
            ticker: Some(ticker),
        })
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The deadline in epoch ticks (at least one).
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let ticks = self.limits.deadline.as_micros() / TICK.as_micros().max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}
