//! Writes the osquery pack and the Fleet files from a [`Pack`].
//!
//! The output is deterministic (the committed files are compared with it
//! byte for byte). YAML is written by hand in one small dialect: every
//! scalar a double-quoted string (JSON escaping, which YAML reads the same
//! way) or a number/boolean, and SQL as a `|-` literal block.

use serde_json::{json, Map, Value};

use super::{Kind, Logging, Pack, PackQuery, FLEET_LABEL_NAME, FLEET_LABEL_SQL};

const HEADER: &str = "Written from packs/queries.toml by `SQUATCH_WRITE_PACKS=1 cargo test --test packs`; edit that file, not this one.";

/// The prefix of every Fleet report name (Fleet's names are global).
pub const FLEET_PREFIX: &str = "squatch_";

fn osquery_value(q: &PackQuery) -> String {
    format!(
        "{} / {}: {}",
        q.stage().name(),
        q.severity().as_str(),
        q.resolution
    )
}

/// Fleet has no `resolution` for reports: the description carries it.
fn fleet_description(q: &PackQuery) -> String {
    format!(
        "{} [{}, {}] What to do: {}",
        q.description,
        q.stage().name(),
        q.severity().as_str(),
        q.resolution
    )
}

/// `packs/squatch.conf`: osquery's pack JSON.
pub fn osquery_pack(pack: &Pack) -> String {
    let mut queries = Map::new();
    for q in &pack.queries {
        let mut entry = Map::new();
        entry.insert("query".into(), Value::String(format!("{};", q.sql())));
        entry.insert("interval".into(), json!(q.interval));
        entry.insert("description".into(), Value::String(q.description.clone()));
        entry.insert("value".into(), Value::String(osquery_value(q)));
        entry.insert("platform".into(), Value::String(q.platform.clone()));
        entry.insert("version".into(), Value::String(q.version.clone()));
        match q.logging {
            Logging::Snapshot => {
                entry.insert("snapshot".into(), json!(true));
            }
            Logging::Differential => {
                entry.insert("removed".into(), json!(true));
            }
            Logging::DifferentialIgnoreRemovals => {
                entry.insert("removed".into(), json!(false));
            }
        }
        queries.insert(q.name.clone(), Value::Object(entry));
    }
    let doc = json!({
        "_comment": HEADER,
        "platform": "linux",
        "version": "5.0.0",
        "discovery": pack.pack.discovery.iter().map(|d| format!("{d};")).collect::<Vec<_>>(),
        "queries": Value::Object(queries),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A YAML double-quoted scalar.
fn yq(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A `|-` literal block for SQL, each line indented by `indent` spaces.
fn block(sql: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::from("|-\n");
    for line in sql.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&pad);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn report_fields(q: &PackQuery, indent: usize, first_dash: bool) -> String {
    let pad = " ".repeat(indent);
    let lead = if first_dash {
        format!("{}- ", " ".repeat(indent.saturating_sub(2)))
    } else {
        pad.clone()
    };
    let automations = q.kind != Kind::Inventory;
    let mut s = String::new();
    s.push_str(&format!(
        "{lead}name: {}\n",
        yq(&format!("{FLEET_PREFIX}{}", q.name))
    ));
    s.push_str(&format!(
        "{pad}description: {}\n",
        yq(&fleet_description(q))
    ));
    s.push_str(&format!("{pad}query: {}", block(q.sql(), indent + 2)));
    s.push_str(&format!("{pad}platform: {}\n", yq(&q.platform)));
    s.push_str(&format!("{pad}interval: {}\n", q.interval));
    s.push_str(&format!("{pad}observer_can_run: true\n"));
    s.push_str(&format!("{pad}automations_enabled: {automations}\n"));
    s.push_str(&format!("{pad}logging: {}\n", yq(q.logging.as_str())));
    s.push_str(&format!("{pad}min_osquery_version: {}\n", yq(&q.version)));
    s.push_str(&format!("{pad}discard_data: false\n"));
    s
}

fn policy_fields(q: &PackQuery, indent: usize, first_dash: bool) -> Option<String> {
    let p = q.policy.as_ref()?;
    let pad = " ".repeat(indent);
    let lead = if first_dash {
        format!("{}- ", " ".repeat(indent.saturating_sub(2)))
    } else {
        pad.clone()
    };
    let mut s = String::new();
    s.push_str(&format!("{lead}name: {}\n", yq(&p.name)));
    s.push_str(&format!("{pad}description: {}\n", yq(&q.description)));
    s.push_str(&format!("{pad}resolution: {}\n", yq(&q.resolution)));
    s.push_str(&format!("{pad}query: {}", block(&p.sql, indent + 2)));
    s.push_str(&format!("{pad}platform: {}\n", yq(&q.platform)));
    s.push_str(&format!("{pad}critical: {}\n", p.critical));
    Some(s)
}

/// `packs/fleet/lib/squatch.reports.yml`: a GitOps `reports:` path file.
pub fn fleet_reports(pack: &Pack) -> String {
    let mut s = format!("# {HEADER}\n# Use from a fleets/*.yml (or default.yml): reports: [{{path: ../lib/squatch.reports.yml}}]\n");
    for q in &pack.queries {
        s.push_str(&report_fields(q, 2, true));
    }
    s
}

/// `packs/fleet/lib/squatch.policies.yml`: a GitOps `policies:` path file.
pub fn fleet_policies(pack: &Pack) -> String {
    let mut s = format!("# {HEADER}\n# Use from a fleets/*.yml (or default.yml): policies: [{{path: ../lib/squatch.policies.yml}}]\n# A policy passes when its query returns a row.\n");
    for q in &pack.queries {
        if let Some(p) = policy_fields(q, 2, true) {
            s.push_str(&p);
        }
    }
    s
}

/// `packs/fleet/lib/squatch.labels.yml`: the label of hosts where squatch runs.
pub fn fleet_labels() -> String {
    let mut s = format!(
        "# {HEADER}\n# Use from default.yml: labels: [{{path: ./lib/squatch.labels.yml}}]\n"
    );
    s.push_str(&format!("- name: {}\n", yq(FLEET_LABEL_NAME)));
    s.push_str(&format!(
        "  description: {}\n",
        yq("Hosts where the squatch osquery extension has registered its tables.")
    ));
    s.push_str(&format!("  query: {}", block(FLEET_LABEL_SQL, 4)));
    s.push_str("  platform: \"linux\"\n");
    s.push_str("  label_membership_type: \"dynamic\"\n");
    s
}

/// `packs/fleet/squatch.fleetctl.yml`: the same reports, policies and label
/// as `fleetctl apply -f` documents take them (`apiVersion: v1`).
pub fn fleetctl(pack: &Pack) -> String {
    let mut s = format!("# {HEADER}\n# fleetctl apply -f packs/fleet/squatch.fleetctl.yml (Fleet 4.82+ reads kind: report; older Fleet: kind: query)\n");
    s.push_str("---\napiVersion: v1\nkind: label\nspec:\n");
    s.push_str(&format!("  name: {}\n", yq(FLEET_LABEL_NAME)));
    s.push_str(&format!("  query: {}", block(FLEET_LABEL_SQL, 4)));
    s.push_str("  platform: \"linux\"\n");
    for q in &pack.queries {
        s.push_str("---\napiVersion: v1\nkind: report\nspec:\n");
        s.push_str(&report_fields(q, 2, false));
    }
    for q in &pack.queries {
        if let Some(p) = policy_fields(q, 2, false) {
            s.push_str("---\napiVersion: v1\nkind: policy\nspec:\n");
            s.push_str(&p);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_blocks_indent_every_line() {
        assert_eq!(
            block("SELECT 1\n  FROM t\n\nWHERE x\n", 4),
            "|-\n    SELECT 1\n      FROM t\n\n    WHERE x\n"
        );
    }

    #[test]
    fn quoted_scalars_escape() {
        assert_eq!(yq("a \"b\": #c"), "\"a \\\"b\\\": #c\"");
    }
}
