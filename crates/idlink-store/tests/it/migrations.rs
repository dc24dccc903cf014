//! The SQLite and PostgreSQL migrations are twins (ADR 0002): each pair of
//! files must say the same thing line for line, except for the dialect
//! differences listed here. Applied migrations are checksummed, so the
//! files cannot be rewritten from one source; this test keeps them from
//! drifting instead.
//!
//! What may differ:
//! - the spellings in [`SPELLINGS`]: each SQLite line is rewritten with them
//!   and must then equal its PostgreSQL twin;
//! - comments and blank lines (they are skipped);
//! - trigger syntax: triggers and PostgreSQL trigger functions are compared
//!   as what they guard, not as text. Both files of a pair must guard the
//!   same tables against the same events (`BEFORE UPDATE`, `BEFORE
//!   DELETE`), every guard must refuse (SQLite `RAISE(ABORT, …)`; a
//!   PostgreSQL function that `RAISE EXCEPTION`s), and only PostgreSQL may
//!   also guard `TRUNCATE` (SQLite has no such statement).
//!
//! A new migration that needs another dialect difference adds it to
//! [`SPELLINGS`] with its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// SQLite spelling → PostgreSQL spelling, and why. `{a}`, `{b}` stand for
/// any SQL expression (balanced in parentheses and quotes), so arguments
/// may change places.
const SPELLINGS: &[(&str, &str, &str)] = &[
    ("BLOB", "BYTEA", "binary column type"),
    (
        "CAST(strftime('%s', 'now') AS BIGINT) * 1000000",
        "CAST(extract(epoch FROM now()) * 1000000 AS BIGINT)",
        "the current instant in microseconds",
    ),
    ("instr(CAST({a} AS TEXT), {b})", "position({b} IN convert_from({a}, 'UTF8'))", "substring search in a UTF-8 BLOB"),
    (
        "DROP TRIGGER {a};",
        "DROP TRIGGER IF EXISTS {a} ON audit_log;",
        "a SQLite trigger is replaced by dropping it; PostgreSQL names the table (0042 replaces audit_log's delete guard)",
    ),
];

fn dir(dialect: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect)
}

fn files(dialect: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir(dialect))
        .unwrap_or_else(|e| panic!("{}: {e}", dir(dialect).display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// A line of SQL with its number in the file (1-based).
type Line = (usize, String);

/// One statement: its lines, comments and blank lines removed.
struct Statement {
    lines: Vec<Line>,
}

impl Statement {
    fn text(&self) -> String {
        self.lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join(" ")
    }

    fn starts_with(&self, words: &str) -> bool {
        self.text().to_ascii_uppercase().starts_with(words)
    }
}

/// `line` without its `--` comment (outside quotes), trimmed.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'-' if !quoted && bytes.get(i + 1) == Some(&b'-') => return line[..i].trim(),
            _ => {}
        }
    }
    line.trim()
}

/// Splits a migration into statements. A statement ends at a line ending in
/// `;`, except inside a PostgreSQL `$$` body or a SQLite trigger's
/// `BEGIN … END;`.
fn statements(sql: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current: Vec<Line> = Vec::new();
    let mut in_dollars = false;
    for (i, raw) in sql.lines().enumerate() {
        let line = strip_comment(raw);
        if line.is_empty() {
            continue;
        }
        current.push((i + 1, line.to_owned()));
        if line.matches("$$").count() % 2 == 1 {
            in_dollars = !in_dollars;
        }
        let trigger_body =
            current[0].1.to_ascii_uppercase().starts_with("CREATE TRIGGER") && current.iter().any(|(_, l)| l.contains("BEGIN"));
        let ends = if trigger_body { line.ends_with("END;") } else { line.ends_with(';') };
        if ends && !in_dollars {
            out.push(Statement { lines: std::mem::take(&mut current) });
        }
    }
    if !current.is_empty() {
        out.push(Statement { lines: current });
    }
    out
}

/// Finds `template` (with `{a}`-style holes) in `line` and rewrites it as
/// `replacement`, every occurrence.
fn rewrite(line: &str, template: &str, replacement: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let Some((start, end, holes)) = find(rest, template) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let mut filled = replacement.to_owned();
        for (name, value) in holes {
            filled = filled.replace(&format!("{{{name}}}"), value);
        }
        out.push_str(&filled);
        rest = &rest[end..];
    }
}

/// A piece of a spelling: text to match as it is, or a hole (its name).
#[derive(Debug, Clone, Copy)]
enum Part<'t> {
    Text(&'t str),
    Hole(&'t str),
}

/// The template split into text and holes.
fn parts(template: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).unwrap_or_else(|| panic!("unclosed hole in {template}"));
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        parts.push(Part::Hole(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    parts
}

/// What each hole of a template matched.
type Holes<'s> = Vec<(String, &'s str)>;

/// The first match of `template` in `s`: its span and what each hole matched.
fn find<'s>(s: &'s str, template: &str) -> Option<(usize, usize, Holes<'s>)> {
    let parts = parts(template);
    let Some(Part::Text(first)) = parts.first() else { panic!("a spelling must start with text: {template}") };
    let mut from = 0;
    while let Some(at) = s[from..].find(first).map(|i| from + i) {
        if let Some((end, holes)) = match_from(s, at, &parts) {
            return Some((at, end, holes));
        }
        from = at + first.len();
    }
    None
}

fn match_from<'s>(s: &'s str, mut at: usize, parts: &[Part<'_>]) -> Option<(usize, Holes<'s>)> {
    let mut holes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Text(text) => {
                if !s[at..].starts_with(text) {
                    return None;
                }
                at += text.len();
            }
            Part::Hole(name) => {
                // A hole runs to the next literal at depth 0, outside quotes.
                let Some(Part::Text(next)) = parts.get(i + 1) else { panic!("a hole must be followed by text") };
                let end = balanced_until(s, at, next)?;
                holes.push(((*name).to_owned(), &s[at..end]));
                at = end;
            }
        }
    }
    Some((at, holes))
}

fn balanced_until(s: &str, from: usize, next: &str) -> Option<usize> {
    let (mut depth, mut quoted) = (0i32, false);
    for (i, c) in s[from..].char_indices() {
        let at = from + i;
        if !quoted && depth == 0 && s[at..].starts_with(next) && at > from {
            return Some(at);
        }
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    None
}

fn to_postgres(line: &str) -> String {
    SPELLINGS.iter().fold(line.to_owned(), |l, (sqlite, postgres, _)| rewrite(&l, sqlite, postgres))
}

/// What one trigger guards: (table, event) pairs, and the function it calls (PostgreSQL).
fn guards(t: &Statement) -> (BTreeSet<(String, String)>, Option<String>) {
    let text = t.text();
    let words: Vec<&str> = text.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let before = upper.iter().position(|w| w == "BEFORE" || w == "AFTER").unwrap_or_else(|| panic!("trigger without timing: {text}"));
    let on = upper.iter().position(|w| w == "ON").unwrap_or_else(|| panic!("trigger without table: {text}"));
    let table = words[on + 1].to_owned();
    let events = upper[before + 1..on].iter().filter(|w| *w != "OR").map(|e| (table.clone(), format!("{} {e}", upper[before])));
    let function = upper
        .iter()
        .position(|w| w == "FUNCTION" || w == "PROCEDURE")
        .map(|f| words[f + 1].trim_end_matches(';').trim_end_matches("()").to_owned());
    (events.collect(), function)
}

/// Compares the pair `name` (the texts of its SQLite and PostgreSQL files);
/// returns what differs, each naming file and line. `pg_functions` holds
/// the PostgreSQL functions of the migrations before it, and gains its own.
fn compare(name: &str, sqlite: &str, postgres: &str, pg_functions: &mut BTreeMap<String, String>) -> Vec<String> {
    let (sqlite, postgres) = (statements(sqlite), statements(postgres));
    let mut problems = Vec::new();

    // Triggers and trigger functions: compared as what they guard.
    let is_trigger = |s: &Statement| s.starts_with("CREATE TRIGGER");
    let is_function = |s: &Statement| s.starts_with("CREATE FUNCTION") || s.starts_with("CREATE OR REPLACE FUNCTION");
    for f in postgres.iter().filter(|s| is_function(s)) {
        let words: Vec<String> = f.text().split_whitespace().map(str::to_owned).collect();
        let at = words.iter().position(|w| w.eq_ignore_ascii_case("FUNCTION")).map_or(0, |i| i + 1);
        let fname = words.get(at).map(|w| w.trim_end_matches("()").to_owned()).unwrap_or_default();
        pg_functions.insert(fname, f.text());
    }
    let mut sqlite_guards = BTreeSet::new();
    for t in sqlite.iter().filter(|s| is_trigger(s)) {
        if !t.text().contains("RAISE(ABORT") {
            problems.push(format!(
                "sqlite/{name}:{}: a trigger that does not RAISE(ABORT, …): the twins only know refusing triggers",
                t.lines[0].0
            ));
        }
        sqlite_guards.extend(guards(t).0);
    }
    let mut postgres_guards = BTreeSet::new();
    for t in postgres.iter().filter(|s| is_trigger(s)) {
        let (g, function) = guards(t);
        let refuses = function.as_ref().and_then(|f| pg_functions.get(f)).is_some_and(|body| body.contains("RAISE EXCEPTION"));
        if !refuses {
            problems.push(format!(
                "postgres/{name}:{}: a trigger whose function ({function:?}) is not a function of these migrations that RAISEs EXCEPTION",
                t.lines[0].0
            ));
        }
        postgres_guards.extend(g.into_iter().filter(|(_, event)| !event.ends_with("TRUNCATE")));
    }
    for missing in sqlite_guards.symmetric_difference(&postgres_guards) {
        let only = if sqlite_guards.contains(missing) { "sqlite" } else { "postgres" };
        problems.push(format!("{name}: only {only}/{name} guards {} against {}", missing.0, missing.1));
    }

    // Everything else: line for line, SQLite rewritten with SPELLINGS.
    let lines = |stmts: &[Statement]| -> Vec<Line> {
        stmts.iter().filter(|s| !is_trigger(s) && !is_function(s)).flat_map(|s| s.lines.iter().cloned()).collect()
    };
    let (s_lines, p_lines) = (lines(&sqlite), lines(&postgres));
    for i in 0..s_lines.len().max(p_lines.len()) {
        match (s_lines.get(i), p_lines.get(i)) {
            (Some((sn, s)), Some((pn, p))) if to_postgres(s) != *p => {
                problems.push(format!(
                    "sqlite/{name}:{sn} and postgres/{name}:{pn} differ beyond the allowed spellings:\n    sqlite:    {s}\n    rewritten: {}\n    postgres:  {p}",
                    to_postgres(s)
                ));
                break; // the lines after a difference rarely line up
            }
            (Some((sn, s)), None) => {
                problems.push(format!("sqlite/{name}:{sn} has no twin in postgres/{name}: {s}"));
                break;
            }
            (None, Some((pn, p))) => {
                problems.push(format!("postgres/{name}:{pn} has no twin in sqlite/{name}: {p}"));
                break;
            }
            _ => {}
        }
    }
    problems
}

#[test]
fn each_sqlite_migration_and_its_postgres_twin_differ_only_in_known_dialect() {
    let (sqlite, postgres) = (files("sqlite"), files("postgres"));
    let mut problems: Vec<String> = sqlite
        .symmetric_difference(&postgres)
        .map(|f| {
            let (has, lacks) = if sqlite.contains(f) { ("sqlite", "postgres") } else { ("postgres", "sqlite") };
            format!("{has}/{f} has no twin in {lacks}/")
        })
        .collect();
    assert!(!sqlite.is_empty(), "no migrations found in {}", dir("sqlite").display());
    // In version order, so a trigger may call a function an earlier migration made.
    let mut pg_functions = BTreeMap::new();
    for name in sqlite.intersection(&postgres) {
        let read = |dialect: &str| std::fs::read_to_string(dir(dialect).join(name)).unwrap_or_else(|e| panic!("{dialect}/{name}: {e}"));
        problems.extend(compare(name, &read("sqlite"), &read("postgres"), &mut pg_functions));
    }
    assert!(problems.is_empty(), "the migration twins drifted (crates/idlink-store/migrations):\n  {}", problems.join("\n  "));
}

#[test]
fn the_spellings_rewrite_sqlite_into_postgres() {
    assert_eq!(to_postgres("    phone_cipher BLOB NOT NULL,"), "    phone_cipher BYTEA NOT NULL,");
    assert_eq!(
        to_postgres("WHERE instr(CAST(k.body AS TEXT), 'x' || f(a, b) || '.') > 0"),
        "WHERE position('x' || f(a, b) || '.' IN convert_from(k.body, 'UTF8')) > 0"
    );
    assert_eq!(to_postgres("SELECT instr(a, b)"), "SELECT instr(a, b)", "no CAST: not the known spelling");
}

const SQLITE: &str = "-- The table.
CREATE TABLE t (
    id   TEXT PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TRIGGER t_no_update BEFORE UPDATE ON t
BEGIN SELECT RAISE(ABORT, 't is append-only; really'); END;
CREATE TRIGGER t_no_delete BEFORE DELETE ON t
BEGIN SELECT RAISE(ABORT, 't is append-only'); END;
";

const POSTGRES: &str = "-- The table, as PostgreSQL spells it.
CREATE TABLE t (
    id   TEXT PRIMARY KEY,
    body BYTEA NOT NULL
);

CREATE FUNCTION t_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 't is append-only';
END;
$$;
CREATE TRIGGER t_no_change BEFORE UPDATE OR DELETE ON t
FOR EACH ROW EXECUTE FUNCTION t_append_only();
CREATE TRIGGER t_no_truncate BEFORE TRUNCATE ON t
FOR EACH STATEMENT EXECUTE FUNCTION t_append_only();
";

#[test]
fn twins_that_differ_only_in_dialect_pass() {
    assert_eq!(compare("0099_t.sql", SQLITE, POSTGRES, &mut BTreeMap::new()), Vec::<String>::new());
}

#[test]
fn a_drifted_twin_is_named_by_file_and_line() {
    let drifted = POSTGRES.replace("id   TEXT PRIMARY KEY", "id   BIGINT PRIMARY KEY");
    let problems = compare("0099_t.sql", SQLITE, &drifted, &mut BTreeMap::new());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("sqlite/0099_t.sql:3 and postgres/0099_t.sql:3 differ"), "{}", problems[0]);
    assert!(problems[0].contains("id   BIGINT PRIMARY KEY"), "{}", problems[0]);

    let extra = SQLITE.replace(");\n", ");\nCREATE INDEX t_by_body ON t (body);\n");
    let problems = compare("0099_t.sql", &extra, POSTGRES, &mut BTreeMap::new());
    assert_eq!(problems, ["sqlite/0099_t.sql:6 has no twin in postgres/0099_t.sql: CREATE INDEX t_by_body ON t (body);"]);

    let unguarded = POSTGRES.replace("BEFORE UPDATE OR DELETE ON t", "BEFORE UPDATE ON t");
    let problems = compare("0099_t.sql", SQLITE, &unguarded, &mut BTreeMap::new());
    assert_eq!(problems, ["0099_t.sql: only sqlite/0099_t.sql guards t against BEFORE DELETE"]);

    let allowing = POSTGRES.replace("RAISE EXCEPTION", "RETURN NEW; --");
    let problems = compare("0099_t.sql", SQLITE, &allowing, &mut BTreeMap::new());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("postgres/0099_t.sql:12: a trigger whose function"), "{}", problems[0]);
}
