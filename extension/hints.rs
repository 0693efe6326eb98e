//! Error messages that say what to do next: an unknown table names the
//! nearest squatch table and says when the name is one of osquery's own
//! tables; a missing required constraint gives an example query; an empty
//! statement says so.
//!
//! The engine ([`crate::sql`]) and `squatch tables NAME` ([`crate::catalog`])
//! call these where they report errors.

use crate::table::{Table, TableError};

/// osquery's built-in table names, one a line (`#` lines are comments);
/// the file says where the list comes from.
pub const OSQUERY_TABLES: &str = include_str!("data/osquery_tables.txt");

/// What an empty statement (nothing but blanks, `;` and comments) is told.
pub const EMPTY_STATEMENT: &str = "empty statement: nothing to run; give SQL such as \
`SELECT name, version FROM python_package_provenance;` (`squatch tables` lists the tables)";

/// True when `name` is one of osquery's built-in tables (those osqueryi and
/// osqueryd serve themselves, which squatch does not).
pub fn is_osquery_table(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    OSQUERY_TABLES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == name)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The words of a table name, lowercase, a plural `s` dropped
/// (`python_packages` -> `python`, `package`).
fn words(name: &str) -> Vec<String> {
    name.to_ascii_lowercase()
        .split(['_', '-', '.'])
        .filter(|w| !w.is_empty())
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 => stem.to_string(),
            _ => w.to_string(),
        })
        .collect()
}

fn similar_word(a: &str, b: &str) -> bool {
    let shorter = a.len().min(b.len());
    a == b
        || (shorter >= 4 && (a.starts_with(b) || b.starts_with(a)))
        || (shorter >= 5 && distance(a, b) <= 1)
}

/// The squatch table nearest to `name`: a near spelling first (a typo), else
/// the one sharing most words with it (`python_packages` ->
/// `python_package_provenance`, `gpus` -> `nvidia_gpus`). `None` when
/// nothing is close: a word every table shares (`python`) is not enough.
pub fn nearest_table<'a>(name: &str, tables: &[&'a str]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let typo_limit = (name.chars().count() / 5).max(1);
    if let Some((d, t)) = tables
        .iter()
        .map(|t| (distance(&name, t), *t))
        .min_by_key(|(d, t)| (*d, *t))
    {
        if d <= typo_limit {
            return Some(t);
        }
    }
    let asked = words(&name);
    let mut best: Option<(u32, usize, &'a str)> = None;
    for t in tables {
        let theirs = words(t);
        // Twice the number of shared words; `python` counts half.
        let score: u32 = asked
            .iter()
            .filter(|w| theirs.iter().any(|x| similar_word(w, x)))
            .map(|w| if w == "python" { 1 } else { 2 })
            .sum();
        if score < 2 {
            continue;
        }
        let d = distance(&name, t);
        let better = match best {
            None => true,
            Some((s, bd, bt)) => {
                (score, std::cmp::Reverse(d), std::cmp::Reverse(*t))
                    > (s, std::cmp::Reverse(bd), std::cmp::Reverse(bt))
            }
        };
        if better {
            best = Some((score, d, t));
        }
    }
    best.map(|(_, _, t)| t)
}

/// osquery built-in tables that a squatch table answers better, with that
/// table: what someone who knows osquery reaches for first.
pub const OSQUERY_COUNTERPARTS: &[(&str, &str)] =
    &[("python_packages", "python_package_provenance")];

/// The message for a table name squatch does not have, starting with
/// SQLite's own words (`no such table: NAME`).
pub fn unknown_table(name: &str, tables: &[&str]) -> String {
    let lower = name.to_ascii_lowercase();
    if let Some((_, t)) = OSQUERY_COUNTERPARTS
        .iter()
        .find(|(o, t)| *o == lower && tables.contains(t))
    {
        return format!(
            "no such table: {name} — that is osquery's built-in table; squatch's is {t} (see `squatch tables`)"
        );
    }
    let near = nearest_table(name, tables);
    let builtin = is_osquery_table(name);
    match (builtin, near) {
        (true, Some(t)) => format!(
            "no such table: {name} — that is osquery's built-in table, which squatch does not serve \
             (query it in osqueryi or an osquery pack); squatch's nearest is {t} (see `squatch tables`)"
        ),
        (true, None) => format!(
            "no such table: {name} — that is osquery's built-in table, which squatch does not serve: \
             query it in osqueryi or an osquery pack, where it joins squatch's tables (`squatch tables` lists those)"
        ),
        (false, Some(t)) => {
            format!("no such table: {name} — did you mean {t}? (see `squatch tables`)")
        }
        (false, None) => {
            format!("no such table: {name} — `squatch tables` lists squatch's tables")
        }
    }
}

/// True when `sql` holds no statement: only blanks, `;` and comments.
pub fn is_blank(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return false;
        }
    }
}

/// If SQLite's message is `no such table: NAME`, the same message with a
/// hint (see [`unknown_table`]); any other message unchanged.
pub fn explain_sqlite_message(msg: &str, tables: &[&str]) -> Option<String> {
    let rest = msg.strip_prefix("no such table: ")?;
    let name = rest.split(" (at offset").next().unwrap_or(rest).trim();
    let name = name
        .strip_prefix("main.")
        .or_else(|| name.strip_prefix("temp."))
        .unwrap_or(name);
    Some(unknown_table(name, tables))
}

/// The message for a query that left a required column unconstrained: the
/// table's own error, then an example query that runs.
pub fn missing_required(table: &dyn Table, err: &TableError) -> String {
    match crate::catalog::examples(table).first() {
        Some(example) => format!("{err}; for example: {example}"),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUATCH: &[&str] = &[
        "gpu_driver_config",
        "nvidia_gpu_processes",
        "nvidia_gpus",
        "python_environments",
        "python_install_findings",
        "python_package_indexes",
        "python_package_provenance",
        "python_requirements",
        "python_typosquat_scores",
        "python_typosquat_variants",
        "secret_exposure",
    ];

    #[test]
    fn osquery_names_are_known() {
        assert!(is_osquery_table("python_packages"));
        assert!(is_osquery_table("Processes"));
        assert!(!is_osquery_table("python_package_provenance"));
        assert!(!is_osquery_table("# Source"));
    }

    #[test]
    fn no_squatch_table_takes_an_osquery_name() {
        for t in SQUATCH {
            assert!(!is_osquery_table(t), "{t} collides with osquery");
        }
    }

    #[test]
    fn registered_tables_never_take_an_osquery_name() {
        let host = std::sync::Arc::new(crate::host::Host::new("/"));
        for t in crate::tables::registry(host) {
            assert!(
                !is_osquery_table(t.name()),
                "{} collides with osquery",
                t.name()
            );
        }
    }

    #[test]
    fn nearest_table_by_spelling_and_by_words() {
        assert_eq!(
            nearest_table("package_provenance", SQUATCH),
            Some("python_package_provenance")
        );
        assert_eq!(
            nearest_table("python_enviroments", SQUATCH),
            Some("python_environments")
        );
        assert_eq!(nearest_table("gpus", SQUATCH), Some("nvidia_gpus"));
        assert_eq!(nearest_table("secrets", SQUATCH), Some("secret_exposure"));
        assert_eq!(
            nearest_table("processes", SQUATCH),
            Some("nvidia_gpu_processes")
        );
        assert_eq!(nearest_table("python_foo", SQUATCH), None);
        assert_eq!(nearest_table("users", SQUATCH), None);
    }

    #[test]
    fn unknown_table_messages() {
        assert_eq!(
            unknown_table("python_packages", SQUATCH),
            "no such table: python_packages — that is osquery's built-in table; \
             squatch's is python_package_provenance (see `squatch tables`)"
        );
        let procs = unknown_table("processes", SQUATCH);
        assert!(
            procs.contains("built-in table, which squatch does not serve")
                && procs
                    .ends_with("squatch's nearest is nvidia_gpu_processes (see `squatch tables`)"),
            "{procs}"
        );
        let users = unknown_table("users", SQUATCH);
        assert!(
            users.contains("osquery's built-in table, which squatch does not serve"),
            "{users}"
        );
        assert_eq!(
            unknown_table("python_enviroments", SQUATCH),
            "no such table: python_enviroments — did you mean python_environments? (see `squatch tables`)"
        );
        assert!(unknown_table("zzz", SQUATCH).ends_with("`squatch tables` lists squatch's tables"));
        assert_eq!(
            explain_sqlite_message("no such table: main.python_packages", SQUATCH),
            Some(unknown_table("python_packages", SQUATCH))
        );
        assert_eq!(
            explain_sqlite_message("near \"x\": syntax error", SQUATCH),
            None
        );
    }

    #[test]
    fn blank_statements() {
        for s in [
            "",
            "  ",
            ";",
            " ; ;\n",
            "-- only a comment",
            "/* c */ ;\n-- d\n",
        ] {
            assert!(is_blank(s), "{s:?}");
        }
        for s in ["SELECT 1", "-- c\nSELECT 1", "/* c */ SELECT 1", "/* open"] {
            assert_eq!(is_blank(s), s == "/* open", "{s:?}");
        }
    }
}
