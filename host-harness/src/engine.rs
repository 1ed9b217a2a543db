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
    /// Instances that may be alive at once. With a non-zero value the pooling allocator keeps
    /// that many memory slots ready, so a fresh instance costs microseconds, not an mmap;
    /// 0 allocates on demand.
    pub pool_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            fuel: None,
            pool_instances: 128,
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
        let mut config = engine_config(limits.fuel.is_some());
        if limits.pool_instances > 0 {
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            pool.total_core_instances(limits.pool_instances)
                .total_memories(limits.pool_instances)
                .total_tables(limits.pool_instances)
                .max_memory_size(limits.memory_bytes)
                // Keep the first pages of each slot mapped between instances: the stack and
                // the start of the heap are touched by every evaluation.
                .linear_memory_keep_resident(2 << 20)
                .table_keep_resident(64 << 10);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = match wasmtime::Engine::new(&config) {
            Ok(engine) => engine,
            // A machine that cannot reserve the pool's address space still runs, on demand.
            Err(_) if limits.pool_instances > 0 => {
                wasmtime::Engine::new(&engine_config(limits.fuel.is_some()))?
            }
            Err(e) => return Err(e.into()),
        };
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
    pub fn deadline_ticks(&self) -> u64 {
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
