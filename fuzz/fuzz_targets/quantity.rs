//! The bytes as a resource quantity: `Quantity::parse` returns a value or an error, never
//! panics (no overflow either: the fuzz build checks arithmetic), and the helpers the rules
//! call on parsed quantities do not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready_sdk::Quantity;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = Quantity::parse(text) else {
        return;
    };
    assert_eq!(Quantity::parse(text), Ok(q), "not deterministic");
    // A leading `+` changes nothing, a leading `-` only the sign.
    let t = text.trim();
    if !t.starts_with(['-', '+']) {
        assert_eq!(Quantity::parse(&format!("+{t}")), Ok(q));
        assert_eq!(
            Quantity::parse(&format!("-{t}")).map(Quantity::nanos),
            Ok(-q.nanos())
        );
    }
    let one = Quantity::parse("1").expect("1 is a quantity");
    let _ = q.checked_add(q);
    let _ = q.within_ratio(one, 2.0);
    let _ = one.within_ratio(q, 1.5);
    let _ = q.ratio_to(one);
    let _ = q.ratio_to(q);
    let _ = q.partial_cmp(&i128::MAX);
});
