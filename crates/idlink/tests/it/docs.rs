//! The committed documents stay in step with the code.
//! Run with `IDLINK_UPDATE_DOCS=1` to rewrite docs/openapi.json after an API change.

use std::path::PathBuf;

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

#[test]
fn docs_openapi_json_matches_the_code() {
    let generated = format!("{}\n", serde_json::to_string_pretty(&idlink_api::openapi()).unwrap_or_default());
    let path = repo_file("docs/openapi.json");
    if std::env::var("IDLINK_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("{e}"));
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the API in the code; run `IDLINK_UPDATE_DOCS=1 cargo test -p idlink --test it docs` and commit it"
    );
}

#[test]
fn docs_errors_md_lists_every_code_and_no_other() {
    let text = std::fs::read_to_string(repo_file("docs/errors.md")).unwrap_or_default();
    let documented: Vec<(String, u16)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect();
    let in_code: Vec<(String, u16)> = idlink_api::CODES.iter().map(|(c, s, _)| ((*c).to_owned(), *s)).collect();
    for c in &in_code {
        assert!(documented.contains(c), "docs/errors.md lacks `{}` ({})", c.0, c.1);
    }
    for d in &documented {
        assert!(in_code.contains(d), "docs/errors.md lists `{}` ({}) which the code does not have", d.0, d.1);
    }
}
