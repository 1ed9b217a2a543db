//! Baselines: accept the findings a codebase has today, fail only on new ones.
//!
//! `prodready baseline --out .prodready-baseline.yaml --reason "..." PATHS` records the open
//! findings by [`Fingerprint`] (rule, check, object kind/namespace/name, container name: no
//! line, no list index, so editing the file does not invalidate it). Every entry has a
//! `reason`; `expires` (a date, `YYYY-MM-DD`) is optional. `prodready check --baseline FILE`
//! then reports matching findings as baselined, fails on entries past their date, and lists
//! the entries that match nothing any more (fixed findings), so the file only shrinks.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::findings::{Findings, Fingerprint, Status};

/// The file's format version.
pub const VERSION: u32 = 1;

/// A baseline file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// One accepted finding (or several: the same check on the same container).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Entry {
    pub rule: String,
    pub check: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// The container the finding is in, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Why it is accepted (required, not empty).
    pub reason: String,
    /// The last day it is accepted, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Entry {
    /// An entry for findings with this fingerprint.
    #[must_use]
    pub fn new(f: &Fingerprint, reason: String) -> Entry {
        Entry {
            rule: f.rule.clone(),
            check: f.check.clone(),
            kind: f.kind.clone(),
            namespace: f.namespace.clone(),
            name: f.name.clone(),
            container: f.container.clone(),
            reason,
            expires: None,
        }
    }

    /// The findings it accepts.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            rule: self.rule.clone(),
            check: self.check.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            container: self.container.clone(),
        }
    }
}

/// A civil date, for `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD` (a real calendar day).
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        let leap = date.year % 4 == 0 && (date.year % 100 != 0 || date.year % 400 == 0);
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&date.day).then_some(date)
    }

    /// Today, in UTC.
    #[must_use]
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil-from-days).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Reads and checks a baseline file: every entry has a reason and, if any, a valid date;
/// no fingerprint appears twice.
///
/// # Errors
/// A message naming the file and, for an entry, its line.
pub fn read(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the baseline: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// [`read`] on text already in memory; `name` names it in errors.
///
/// # Errors
/// See [`read`].
pub fn parse(text: &str, name: &str) -> Result<Baseline, String> {
    let doc = crate::config::parse_yaml(text, name)?;
    let baseline: Baseline = serde_json::from_value(doc.value.clone()).map_err(|e| {
        doc.error_at(
            "",
            &format!("not a prodready baseline (version, entries): {e}"),
        )
    })?;
    if baseline.version != VERSION {
        return Err(doc.error_at(
            "version",
            &format!(
                "baseline version {} is not supported (this prodready writes version {VERSION})",
                baseline.version
            ),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, e) in baseline.entries.iter().enumerate() {
        let at = format!("entries[{i}]");
        if e.reason.trim().is_empty() {
            return Err(doc.error_at(
                &format!("{at}.reason"),
                &format!("entry for {} needs a reason", e.fingerprint()),
            ));
        }
        if let Some(x) = &e.expires
            && Date::parse(x).is_none()
        {
            return Err(doc.error_at(
                &format!("{at}.expires"),
                &format!("expires `{x}` is not a date (YYYY-MM-DD)"),
            ));
        }
        if let Some(first) = seen.insert(e.fingerprint(), i) {
            return Err(doc.error_at(
                &at,
                &format!(
                    "{} is listed twice (also entries[{first}])",
                    e.fingerprint()
                ),
            ));
        }
    }
    Ok(baseline)
}

/// What applying a baseline found besides the baselined findings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Entries past their `expires` date: the run fails, their findings count as new.
    pub expired: Vec<Entry>,
    /// Entries that match no finding: fixed, delete them from the file.
    pub stale: Vec<Entry>,
}

/// Marks the open findings a current entry matches as baselined.
#[must_use]
pub fn apply(baseline: &Baseline, findings: &mut Findings, today: Date) -> Outcome {
    let mut used = vec![false; baseline.entries.len()];
    let index: BTreeMap<Fingerprint, usize> = baseline
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.fingerprint(), i))
        .collect();
    let expired = |e: &Entry| {
        e.expires
            .as_deref()
            .and_then(Date::parse)
            .is_some_and(|d| d < today)
    };
    for f in &mut findings.findings {
        if f.status != Status::Open {
            continue;
        }
        let Some(&i) = index.get(&f.fingerprint) else {
            continue;
        };
        if let (Some(flag), Some(entry)) = (used.get_mut(i), baseline.entries.get(i)) {
            *flag = true;
            if !expired(entry) {
                f.status = Status::Baselined {
                    reason: entry.reason.clone(),
                };
            }
        }
    }
    let mut outcome = Outcome::default();
    for (entry, used) in baseline.entries.iter().zip(used) {
        if expired(entry) {
            outcome.expired.push(entry.clone());
        } else if !used {
            outcome.stale.push(entry.clone());
        }
    }
    outcome
}

/// A baseline accepting every open finding. Entries of `previous` that still match keep their
/// reason and date; new ones get `reason`.
///
/// # Errors
/// When a new entry is needed and `reason` is `None`.
pub fn record(
    findings: &Findings,
    previous: Option<&Baseline>,
    reason: Option<&str>,
) -> Result<Baseline, String> {
    let kept: BTreeMap<Fingerprint, &Entry> = previous
        .map(|b| b.entries.iter().map(|e| (e.fingerprint(), e)).collect())
        .unwrap_or_default();
    let mut entries: BTreeMap<Fingerprint, Entry> = BTreeMap::new();
    for f in &findings.findings {
        if matches!(f.status, Status::Exempted { .. }) || entries.contains_key(&f.fingerprint) {
            continue;
        }
        let entry = match kept.get(&f.fingerprint) {
            Some(e) => (*e).clone(),
            None => Entry::new(
                &f.fingerprint,
                reason
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| {
                        format!(
                            "{} is not in the baseline yet: give --reason \"why these findings are accepted\"",
                            f.fingerprint
                        )
                    })?
                    .to_string(),
            ),
        };
        entries.insert(f.fingerprint.clone(), entry);
    }
    Ok(Baseline {
        version: VERSION,
        entries: entries.into_values().collect(),
    })
}

/// The file's text: a comment saying what it is, then the entries.
///
/// # Errors
/// When serialization fails (it does not for these types).
pub fn to_yaml(baseline: &Baseline) -> Result<String, String> {
    let body = serde_saphyr::to_string(baseline).map_err(|e| e.to_string())?;
    Ok(format!(
        "# prodready baseline: findings accepted for now, each with a reason (and an optional\n\
         # `expires: YYYY-MM-DD`). `prodready check --baseline <this file>` fails only on new\n\
         # findings and on expired entries, and lists entries that no longer match (delete them).\n\
         # Regenerate with `prodready baseline --out <this file> --reason \"...\" <paths>`.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_compare() {
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2024-13-01").is_none());
        assert!(Date::parse("24-01-01").is_none());
        assert!(Date::parse("2024-1-01").is_none());
        assert!(Date::parse("2024-01-01").unwrap() < Date::parse("2024-01-02").unwrap());
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_days(20_788).to_string(), "2026-12-01");
    }
}
