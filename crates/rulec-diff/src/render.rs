//! The diff for people and as JSON.

use crate::{Category, Impact, PackDiff, RuleDiff, Status};
use std::fmt::Write as _;

/// The diff as JSON: `{old, new, changed, contracts, rules, summary}`.
pub fn render_json(diff: &PackDiff) -> String {
    let value = serde_json::json!({
        "old": diff.old,
        "new": diff.new,
        "changed": diff.changed(),
        "contracts": diff.contracts,
        "rules": diff.rules,
        "summary": summary(diff),
    });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

fn count(diff: &PackDiff, f: impl Fn(&RuleDiff) -> bool) -> usize {
    diff.rules.iter().filter(|r| f(r)).count()
}

fn summary(diff: &PackDiff) -> serde_json::Value {
    serde_json::json!({
        "unchanged": count(diff, |r| r.status == Status::Unchanged),
        "cosmetic": count(diff, |r| r.status == Status::Cosmetic),
        "changed": count(diff, |r| r.status == Status::Changed),
        "breaking": count(diff, |r| r.category == Some(Category::Breaking)),
        "non_breaking": count(diff, |r| r.category == Some(Category::NonBreaking)),
        "added": count(diff, |r| r.status == Status::Added),
        "removed": count(diff, |r| r.status == Status::Removed),
        "renamed": count(diff, |r| r.status == Status::Renamed),
        "errors": count(diff, |r| r.status == Status::Error),
        "contracts_changed": diff.contracts.len(),
        "affected": count(diff, |r| r.impact == Some(Impact::Affected)),
        "not_affected": count(diff, |r| r.impact == Some(Impact::NotAffected)),
    })
}

/// The diff for people: contract changes, then every rule that is not plainly unchanged
/// (with the canonical SQL diff of each changed rule), then a summary line.
pub fn render_human(diff: &PackDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "rulec diff {} → {}", diff.old, diff.new);
    for contract in &diff.contracts {
        let _ = writeln!(out, "\ncontract {} ({})", contract.name, contract.status);
        for c in &contract.columns {
            let detail = match (c.change, &c.old_type, &c.new_type) {
                ("retyped", Some(a), Some(b)) => format!("retyped {a} → {b}"),
                ("added", _, Some(b)) => format!("added ({b})"),
                ("removed", Some(a), _) => format!("removed (was {a})"),
                ("made_nullable", ..) => "made nullable".to_owned(),
                ("made_not_null", ..) => "made not null".to_owned(),
                (other, ..) => other.to_owned(),
            };
            let _ = writeln!(out, "  column {}: {detail}", c.column);
        }
        if !contract.breaks.is_empty() {
            let _ = writeln!(out, "  read by: {}", contract.breaks.join(", "));
        }
    }
    out.push('\n');
    let mut unchanged = Vec::new();
    for rule in &diff.rules {
        if rule.status == Status::Unchanged && rule.impact.is_none() {
            unchanged.push(rule.name.as_str());
            continue;
        }
        let status = match rule.status {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Renamed => "renamed",
            Status::Unchanged => "unchanged",
            Status::Cosmetic => "cosmetic",
            Status::Changed => "changed",
            Status::Error => "error",
        };
        let mut line = format!("{status:<10} {}", rule.name);
        if let Some(from) = &rule.renamed_from {
            let _ = write!(line, " (renamed from {from})");
        }
        if let Some(category) = rule.category {
            line.push_str(match category {
                Category::Breaking => "  breaking",
                Category::NonBreaking => "  non-breaking",
            });
        }
        let cols = &rule.columns;
        let mut parts = Vec::new();
        if !cols.changed.is_empty() {
            parts.push(format!("changed {}", cols.changed.join(", ")));
        }
        if !cols.removed.is_empty() {
            parts.push(format!("removed {}", cols.removed.join(", ")));
        }
        if !cols.added.is_empty() {
            parts.push(format!("added {}", cols.added.join(", ")));
        }
        if !parts.is_empty() {
            let _ = write!(line, ": {}", parts.join("; "));
        }
        if rule.status == Status::Changed && !rule.text_changed {
            line.push_str(" (text unchanged: what it reads changed)");
        }
        let _ = writeln!(out, "{line}");
        match rule.impact {
            Some(Impact::Affected) => {
                let _ = writeln!(
                    out,
                    "           affected: reads {}",
                    rule.reads_changed.join(", ")
                );
            }
            Some(Impact::NotAffected) => {
                let _ = writeln!(out, "           not affected: reads no changed column");
            }
            None => {}
        }
        for error in &rule.errors {
            let _ = writeln!(out, "           {error}");
        }
        if let Some(sql_diff) = &rule.sql_diff {
            for l in sql_diff.lines() {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    if !unchanged.is_empty() {
        let _ = writeln!(out, "unchanged  {}", unchanged.join(", "));
    }
    let s = summary(diff);
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "\n{} changed in meaning ({} breaking, {} non-breaking), {} cosmetic, {} unchanged, {} added, {} removed, {} renamed, {} contract(s) changed{}; downstream: {} affected, {} not affected",
        n("changed"),
        n("breaking"),
        n("non_breaking"),
        n("cosmetic"),
        n("unchanged"),
        n("added"),
        n("removed"),
        n("renamed"),
        n("contracts_changed"),
        if n("errors") > 0 {
            format!(", {} rule(s) not comparable (errors)", n("errors"))
        } else {
            String::new()
        },
        n("affected"),
        n("not_affected"),
    );
    out
}
