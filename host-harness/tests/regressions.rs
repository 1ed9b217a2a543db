//! Inputs that once broke something, kept as tests. Each raw input is also under
//! fuzz/regressions/<target>/, where the fuzz target of that name replays it.

mod common;

use prodready_sdk::{Quantity, Verdict};

/// `(2^67 - 1) × 10^-28 Ei`: its mantissa times 2^60 is within 10^19 of i128::MAX, and the
/// rounding up below a nano-unit computed `(scaled + 10^19 - 1) / 10^19`, which overflowed: a
/// panic where overflow is checked (debug builds, fuzzing), and in the release wasm modules a
/// wrapped, hugely negative quantity, so a ~17 GB memory limit was reported as "negative".
/// Found reading `Quantity::parse` while writing its fuzz target (fuzz/regressions/quantity).
const NEAR_I128_MAX: &str = "0.0000000147573952589676412927Ei";

#[test]
fn quantity_rounding_up_near_i128_max_does_not_overflow() {
    let q = Quantity::parse(NEAR_I128_MAX).expect("a valid quantity");
    // ceil((2^67 - 1) × 2^60 / 10^19)
    assert_eq!(q.nanos(), 17_014_118_346_046_923_174);
    assert_eq!(
        Quantity::parse(&format!("-{NEAR_I128_MAX}")).map(Quantity::nanos),
        Ok(-17_014_118_346_046_923_174)
    );
    // The rounding itself is unchanged: below a nano-unit rounds up, exact values stay.
    assert_eq!(Quantity::parse("0.1n").map(Quantity::nanos), Ok(1));
    assert_eq!(Quantity::parse("0.0000000001").map(Quantity::nanos), Ok(1));
    // 1.536 nano-units, rounded up; 5^10 × 2^10 × 10^-9 is exactly 10.
    assert_eq!(
        Quantity::parse("0.0000000000015Ki").map(Quantity::nanos),
        Ok(2)
    );
    assert_eq!(
        Quantity::parse("0.000000000009765625Ki").map(Quantity::nanos),
        Ok(10)
    );
    assert_eq!(
        Quantity::parse("1.5Gi").map(Quantity::nanos),
        Ok(1_610_612_736_000_000_000)
    );
}

/// A Deployment whose memory request and limit are `quantity`, otherwise complete.
fn envelope(quantity: &str) -> Vec<u8> {
    serde_json::json!({
        "request": {
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "operation": "CREATE",
            "object": {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
                "spec": {"template": {"spec": {"containers": [{
                    "name": "app", "image": "app:1",
                    "resources": {
                        "requests": {"cpu": "1", "memory": quantity, "ephemeral-storage": "1Gi"},
                        "limits": {"memory": quantity, "ephemeral-storage": "1Gi"}
                    }
                }]}}}
            }
        },
        "settings": {}
    })
    .to_string()
    .into_bytes()
}

fn findings(v: &Verdict) -> Vec<(String, String)> {
    v.violations
        .iter()
        .map(|x| (x.check.clone(), x.path.clone()))
        .collect()
}

#[test]
fn memory_quantity_near_i128_max_is_not_reported_negative() {
    let native = common::native("resource-management");
    let module = common::module("resource-management");
    // The same amount, written in nano-units: what the verdict must match.
    let plain = envelope("17014118346046923174n");
    let want: Verdict = serde_json::from_slice(&(native.evaluate)(&plain)).unwrap();
    assert!(want.error.is_none(), "{want:?}");

    let input = envelope(NEAR_I128_MAX);
    let native_bytes = (native.evaluate)(&input);
    let got: Verdict = serde_json::from_slice(&native_bytes).unwrap();
    let wasm = module.evaluate(common::host(), &input);
    for (side, v) in [("native", &got), ("wasm", &wasm)] {
        assert!(v.error.is_none(), "{side}: {:?}", v.error);
        assert!(
            !v.violations.iter().any(|x| x.message.contains("negative")),
            "{side}: {:#?}",
            v.violations
        );
        assert_eq!(findings(v), findings(&want), "{side}");
        assert_eq!(v.allowed, want.allowed, "{side}");
    }
    assert_eq!(serde_json::to_vec(&wasm).unwrap(), native_bytes);
}
