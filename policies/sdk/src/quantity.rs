//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`), parsed exactly into integer
//! nano-units, so comparisons and ratios never round the way floating point does.

use std::cmp::Ordering;

/// A quantity in nano-units (1 = 1_000_000_000). Values below a nano-unit round up, as the
/// API server rounds up below a milli-unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    nanos: i128,
}

const NANO: i128 = 1_000_000_000;

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    Empty,
    NoDigits(String),
    BadSuffix(String),
    TooLarge(String),
}

impl std::fmt::Display for QuantityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantityError::Empty => write!(f, "empty quantity"),
            QuantityError::NoDigits(s) => write!(f, "quantity `{s}` has no number"),
            QuantityError::BadSuffix(s) => write!(f, "quantity `{s}` has an unknown suffix"),
            QuantityError::TooLarge(s) => write!(f, "quantity `{s}` is out of range"),
        }
    }
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    pub fn from_nanos(nanos: i128) -> Quantity {
        Quantity { nanos }
    }

    pub fn nanos(self) -> i128 {
        self.nanos
    }

    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.nanos
            .checked_add(other.nanos)
            .map(Quantity::from_nanos)
    }

    /// Parses a quantity string as the API server accepts it.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let text = s.trim();
        if text.is_empty() {
            return Err(QuantityError::Empty);
        }
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, text.get(1..).unwrap_or_default()),
            Some(b'+') => (false, text.get(1..).unwrap_or_default()),
            _ => (false, text),
        };
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = rest.split_at(number_len);
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(QuantityError::NoDigits(s.to_string()));
        }
        let too_large = || QuantityError::TooLarge(s.to_string());
        let digits = int_part.len() + frac_part.len();
        if digits > 30 {
            return Err(too_large());
        }
        let mut mantissa: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            mantissa = mantissa * 10 + i128::from(b - b'0');
        }
        let (binary_factor, exp10): (i128, i32) = match suffix {
            "" => (1, 0),
            "n" => (1, -9),
            "u" => (1, -6),
            "m" => (1, -3),
            "k" => (1, 3),
            "M" => (1, 6),
            "G" => (1, 9),
            "T" => (1, 12),
            "P" => (1, 15),
            "E" => (1, 18),
            "Ki" => (1 << 10, 0),
            "Mi" => (1 << 20, 0),
            "Gi" => (1 << 30, 0),
            "Ti" => (1 << 40, 0),
            "Pi" => (1 << 50, 0),
            "Ei" => (1 << 60, 0),
            e if e.starts_with(['e', 'E']) => {
                let exp: i32 = e
                    .get(1..)
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| QuantityError::BadSuffix(s.to_string()))?;
                if !(-40..=40).contains(&exp) {
                    return Err(too_large());
                }
                (1, exp)
            }
            _ => return Err(QuantityError::BadSuffix(s.to_string())),
        };
        let frac_len = i32::try_from(frac_part.len()).map_err(|_| too_large())?;
        let scaled = mantissa.checked_mul(binary_factor).ok_or_else(too_large)?;
        let exp = 9 + exp10 - frac_len;
        let nanos = if exp >= 0 {
            let factor = 10i128
                .checked_pow(exp.unsigned_abs())
                .ok_or_else(too_large)?;
            scaled.checked_mul(factor).ok_or_else(too_large)?
        } else {
            match 10i128.checked_pow(exp.unsigned_abs()) {
                // Round up what falls below a nano-unit (`scaled` is not negative). Not
                // `(scaled + div - 1) / div`: near i128::MAX that sum overflows
                // (fuzz/regressions/quantity).
                Some(div) => scaled / div + i128::from(scaled % div != 0),
                None => i128::from(scaled > 0),
            }
        };
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
        })
    }

    /// Whether `self <= other × ratio`, with the ratio taken to a thousandth.
    pub fn within_ratio(self, other: Quantity, ratio: f64) -> bool {
        let ratio_milli = (ratio * 1000.0).round();
        if !ratio_milli.is_finite() || ratio_milli >= 1e15 {
            return true;
        }
        let ratio_milli = ratio_milli as i128;
        match (
            self.nanos.checked_mul(1000),
            other.nanos.checked_mul(ratio_milli),
        ) {
            (Some(lhs), Some(rhs)) => lhs <= rhs,
            _ => false,
        }
    }

    /// `self / other` as a float, for messages.
    pub fn ratio_to(self, other: Quantity) -> f64 {
        if other.nanos == 0 {
            return f64::INFINITY;
        }
        self.nanos as f64 / other.nanos as f64
    }
}

impl PartialOrd<i128> for Quantity {
    fn partial_cmp(&self, other: &i128) -> Option<Ordering> {
        self.nanos.partial_cmp(&other.saturating_mul(NANO))
    }
}

impl PartialEq<i128> for Quantity {
    fn eq(&self, other: &i128) -> bool {
        self.nanos == other.saturating_mul(NANO)
    }
}

// ---- writing quantities in messages ----------------------------------------------------

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
const MI: i128 = 1 << 20;
const KI: i128 = 1 << 10;

/// `n / d`, rounded up or down (towards zero for negative `n`).
pub fn div_round(n: i128, d: i128, up: bool) -> i128 {
    let q = n.checked_div(d).unwrap_or_default();
    let r = n.checked_rem(d).unwrap_or_default();
    if up && r > 0 { q.saturating_add(1) } else { q }
}

/// A quantity in nano-units, written for a message: millicores for `cpu`, whole Mi (or Gi, Ki,
/// or bytes when smaller) for byte resources, rounded in the direction asked.
pub fn format_quantity(resource: &str, nanos: i128, up: bool) -> String {
    if resource == "cpu" {
        let milli = div_round(nanos, NANOS_PER_MILLI, up);
        return if milli % 1000 == 0 {
            format!("{}", milli / 1000)
        } else {
            format!("{milli}m")
        };
    }
    let bytes = div_round(nanos, NANOS_PER_UNIT, up);
    if bytes >= MI {
        let mi = div_round(bytes, MI, up);
        if mi % 1024 == 0 {
            format!("{}Gi", mi / 1024)
        } else {
            format!("{mi}Mi")
        }
    } else if bytes >= KI {
        format!("{}Ki", div_round(bytes, KI, up))
    } else {
        format!("{bytes}")
    }
}

/// A ratio for a message: up to three decimals, trailing zeros dropped.
pub fn format_ratio(r: f64) -> String {
    let s = format!("{r:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> i128 {
        Quantity::parse(s).unwrap().nanos()
    }

    #[test]
    fn parses_every_suffix_exactly() {
        assert_eq!(q("1"), NANO);
        assert_eq!(q("500m"), NANO / 2);
        assert_eq!(q("0.5"), NANO / 2);
        assert_eq!(q(".5"), NANO / 2);
        assert_eq!(q("1k"), 1000 * NANO);
        assert_eq!(q("1Ki"), 1024 * NANO);
        assert_eq!(q("1.5Gi"), 1536 * 1024 * 1024 * NANO);
        assert_eq!(q("2M"), 2_000_000 * NANO);
        assert_eq!(q("1Mi"), 1_048_576 * NANO);
        assert_eq!(q("1G"), 1_000_000_000 * NANO);
        assert_eq!(q("1e3"), 1000 * NANO);
        assert_eq!(q("1E-3"), NANO / 1000);
        assert_eq!(q("100n"), 100);
        assert_eq!(q("1u"), 1000);
        assert_eq!(q("1Ei"), (1i128 << 60) * NANO);
        assert_eq!(q("-1"), -NANO);
        assert_eq!(q("+2"), 2 * NANO);
        assert_eq!(q("0.1n"), 1, "rounds up below a nano-unit");
    }

    #[test]
    fn rejects_what_the_api_server_rejects() {
        assert_eq!(Quantity::parse(""), Err(QuantityError::Empty));
        assert_eq!(
            Quantity::parse("Gi"),
            Err(QuantityError::NoDigits("Gi".into()))
        );
        assert_eq!(
            Quantity::parse("1.2.3"),
            Err(QuantityError::NoDigits("1.2.3".into()))
        );
        assert_eq!(
            Quantity::parse("1Gb"),
            Err(QuantityError::BadSuffix("1Gb".into()))
        );
        assert_eq!(
            Quantity::parse("1e"),
            Err(QuantityError::BadSuffix("1e".into()))
        );
        assert_eq!(
            Quantity::parse("1e999"),
            Err(QuantityError::TooLarge("1e999".into()))
        );
        assert_eq!(
            Quantity::parse("9999999999999999999999999999999Ei"),
            Err(QuantityError::TooLarge(
                "9999999999999999999999999999999Ei".into()
            ))
        );
    }

    #[test]
    fn ratio_is_exact() {
        let req = Quantity::parse("1Gi").unwrap();
        assert!(Quantity::parse("2Gi").unwrap().within_ratio(req, 2.0));
        assert!(!Quantity::parse("2049Mi").unwrap().within_ratio(req, 2.0));
        assert!(
            Quantity::parse("1500m")
                .unwrap()
                .within_ratio(Quantity::parse("1").unwrap(), 1.5)
        );
    }

    #[test]
    fn formats_for_messages() {
        assert_eq!(format_quantity("cpu", 1_500_000_000, false), "1500m");
        assert_eq!(format_quantity("cpu", 2_000_000_000, false), "2");
        assert_eq!(format_quantity("cpu", 1_000_001, true), "2m");
        assert_eq!(format_quantity("memory", 512 * MI * NANO, false), "512Mi");
        assert_eq!(format_quantity("memory", 2048 * MI * NANO, false), "2Gi");
        assert_eq!(format_quantity("memory", (MI + 1) * NANO, true), "2Mi");
        assert_eq!(format_quantity("memory", 2048 * NANO, false), "2Ki");
        assert_eq!(format_quantity("memory", 100 * NANO, false), "100");
        assert_eq!(format_ratio(2.0), "2");
        assert_eq!(format_ratio(1.25), "1.25");
        assert_eq!(format_ratio(1.33333), "1.333");
    }
}
