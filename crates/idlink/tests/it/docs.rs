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

fn codes_table() -> String {
    let mut t = String::from("| code | status | meaning and what to do |\n|---|---|---|\n");
    for code in idlink_api::ProblemCode::ALL {
        let (status, hint) = (code.status().as_u16(), code.message());
        t.push_str(&format!("| `{code}` | {status} | {} |\n", hint.replace('|', "\\|")));
    }
    t
}

#[test]
fn docs_errors_md_lists_every_code() {
    let path = repo_file("docs/errors.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(begin), Some(end)) = (text.find("<!-- codes:begin"), text.find("<!-- codes:end -->")) else {
        panic!("docs/errors.md lacks the <!-- codes:begin --> / <!-- codes:end --> markers");
    };
    let start = text[begin..].find("-->").map(|i| begin + i + 4).unwrap_or(begin);
    let generated = codes_table();
    if std::env::var("IDLINK_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let updated = format!("{}{}{}", &text[..start], generated, &text[end..]);
        std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    assert!(
        text[start..end] == generated,
        "docs/errors.md's code table differs from idlink_api::ProblemCode; run `IDLINK_UPDATE_DOCS=1 cargo test -p idlink --test it docs` and commit it"
    );
}

/// The configuration example in the README is a valid configuration file.
#[test]
fn the_readme_configuration_example_loads() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap_or_default();
    let start = readme.find("```toml\n[server]").map(|i| i + "```toml\n".len());
    let Some(start) = start else { panic!("README has no ```toml block starting with [server]") };
    let end = readme[start..].find("```").map(|i| start + i).unwrap_or(readme.len());
    let dir = std::env::temp_dir().join(format!("idlink-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("idlink.toml");
    std::fs::write(&file, &readme[start..end]).unwrap_or_else(|e| panic!("{e}"));
    let loaded = idlink::config::load(Some(&file), Vec::new());
    std::fs::remove_dir_all(&dir).ok();
    assert!(loaded.is_ok(), "{:#}", loaded.err().map(|e| format!("{e:#}")).unwrap_or_default());
}
