//! Evaluate cost per rule module on the reference Deployment: native Rust, wasm on a warm
//! instance, wasm on a fresh instance per request (what an admission server does), all modules
//! on one object; plus module load and instantiation. Rules added later are measured by the
//! same code: it iterates over the embedded modules.

#[path = "../tests/common.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use prodready_host::check::{self, Mode, Target};
use prodready_host::{RuleModule, Session};

fn reference() -> Vec<u8> {
    let path = common::repo_root().join("host-harness/benches/data/deployment.yaml");
    let loaded = prodready_host::loader::load(&[path], &Default::default()).unwrap();
    let target = Target::new(&loaded.documents[0]);
    check::envelope(&target, 0, "{}", Mode::Admission)
}

fn per_module(c: &mut Criterion) {
    let input = reference();
    let host = common::host();
    for m in common::modules() {
        let mut g = c.benchmark_group(m.id().to_string());
        let native = common::native(m.id());
        g.bench_function("native", |b| {
            b.iter(|| (native.evaluate)(black_box(&input)))
        });
        let mut session = Session::new(host, m);
        assert!(session.evaluate(&input).error.is_none());
        g.bench_function("wasm-warm", |b| {
            b.iter(|| session.evaluate(black_box(&input)))
        });
        g.bench_function("wasm-fresh-instance", |b| {
            b.iter(|| m.evaluate(host, black_box(&input)))
        });
        g.finish();
    }
}

fn all_modules(c: &mut Criterion) {
    let input = reference();
    let host = common::host();
    let mut sessions: Vec<Session<'_>> = common::modules()
        .iter()
        .map(|m| Session::new(host, m))
        .collect();
    c.bench_function("all-modules/wasm-warm", |b| {
        b.iter(|| {
            for s in sessions.iter_mut() {
                black_box(s.evaluate(black_box(&input)));
            }
        })
    });
}

fn load(c: &mut Criterion) {
    let host = common::host();
    let mut g = c.benchmark_group("load");
    for e in prodready_host::embedded() {
        // Deserialize the embedded precompiled code, instantiate, read the metadata: what
        // `prodready` pays per module at start.
        g.bench_function(format!("{}/from-precompiled", e.id), |b| {
            b.iter(|| RuleModule::from_embedded(host, black_box(e)).unwrap())
        });
        let m = RuleModule::from_embedded(host, e).unwrap();
        g.bench_function(format!("{}/instantiate", e.id), |b| {
            b.iter(|| m.instantiate(host).unwrap())
        });
    }
    g.finish();
    // Cranelift compile of the wasm: what a run would pay without the embedded artifacts.
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for e in prodready_host::embedded() {
        g.bench_function(format!("{}/cranelift", e.id), |b| {
            b.iter(|| wasmtime::Module::new(host.engine(), black_box(e.wasm)).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = per_module, all_modules, load
}
criterion_main!(benches);
