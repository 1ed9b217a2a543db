//! Caps the playground module's memory at link time: a wasm32 build may grow its memory to
//! `MAX_MEMORY` and no further, so input that slips past the loader's limits ends in a clear
//! error in the page, not in a browser tab eating the machine.

/// 1 GiB: a few thousand objects' report fits many times over.
const MAX_MEMORY: u64 = 1 << 30;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--max-memory={MAX_MEMORY}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
