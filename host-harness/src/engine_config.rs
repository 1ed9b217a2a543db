// The engine settings that decide code generation. build.rs precompiles the embedded rule
// modules with exactly this configuration (it `include!`s this file), so the artifacts it
// embeds deserialize in the CLI without a Cranelift compile. Change anything here and both
// sides change together.

/// Base wasmtime configuration for prodready guests.
pub fn engine_config(fuel: bool) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Deadlines: the host bumps the epoch on a timer; a guest past its deadline traps.
    config.epoch_interruption(true);
    // Deterministic limits for tests and reproducible runs (changes code generation, so only
    // on request; embedded artifacts are built without it).
    config.consume_fuel(fuel);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config.wasm_simd(true);
    config.wasm_relaxed_simd(false);
    // 64-bit hosts: reserve 4 GiB per 32-bit memory so bounds checks are elided; the memory
    // cap is enforced by the store's limiter, not by the reservation.
    config.memory_reservation(1 << 32);
    config.memory_guard_size(32 << 20);
    config.memory_reservation_for_growth(0);
    config
}
