//! The invariants of ARCHITECTURE.md that the crate graph alone does not hold, checked on the
//! source tree: each fails when someone breaks the rule it states.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `[dependencies]` table of a crate's manifest, as text.
fn dependencies(krate: &str) -> String {
    let manifest = std::fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let start = manifest.find("[dependencies]").expect("a [dependencies] table");
    let rest = &manifest[start + "[dependencies]".len()..];
    rest[..rest.find("\n[").unwrap_or(rest.len())].to_owned()
}

fn depends_on(krate: &str, dependency: &str) -> bool {
    dependencies(krate).lines().any(|line| {
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        name == dependency
    })
}

/// Every `.rs` file under `dir`, with its text cut before its unit tests (`#[cfg(test)]`).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                files.push((path, code));
            }
        }
    }
    files
}

/// The code of a file without its comment lines.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|line| !line.trim_start().starts_with("//"))
}

#[test]
fn the_service_crate_knows_no_transport_and_only_storage_a_database_client() {
    for transport in ["axum", "tonic", "hyper", "hyper-util", "tower"] {
        assert!(!depends_on("polyrec-service", transport), "polyrec-service depends on {transport}");
    }
    for krate in ["polyrec-core", "polyrec-models", "polyrec-engine", "polyrec-service", "polyrec-server", "polyrec"] {
        for client in ["rdkafka", "redis", "mongodb", "rusqlite"] {
            assert!(!depends_on(krate, client), "{krate} depends on the database client {client}");
        }
    }
    for (path, code) in sources(&workspace().join("crates/polyrec-server/src")) {
        assert!(!code.contains("rdkafka"), "{} drives rdkafka", path.display());
    }
}

#[test]
fn an_error_code_is_written_only_in_the_code_enum() {
    let codes: Vec<String> = polyrec_core::Code::ALL.iter().map(|code| format!("\"{code}\"")).collect();
    let mut found = Vec::new();
    for (path, code) in sources(&workspace().join("crates")) {
        let path_text = path.to_string_lossy();
        if path_text.ends_with("polyrec-core/src/code.rs") || path_text.contains("/tests/") {
            continue;
        }
        for line in code_lines(&code) {
            if let Some(literal) = codes.iter().find(|literal| line.contains(literal.as_str())) {
                found.push(format!("{}: {literal}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "error codes written outside polyrec-core/src/code.rs:\n{}", found.join("\n"));
}

#[test]
fn the_engine_writes_to_no_store() {
    // The storage traits' methods that write, as the engine would call them.
    let writes = [
        ".add_exposed(",
        ".add_item_stats(",
        ".append(",
        ".bump_catalog_version(",
        ".cache_delete(",
        ".cache_put(",
        ".commit(",
        ".delete_",
        ".drop_scenario(",
        ".insert(",
        ".insert_",
        ".push_recent(",
        ".put(",
        ".put_",
        ".replace_",
        ".trim(",
        ".upsert_items(",
        ".create(",
        ".drop_collection(",
    ];
    // The stores the engine is handed, by the names it holds them under.
    let stores = ["realtime", "index", "documents", "warehouse", "bus", "blobs"];
    let mut found = Vec::new();
    for (path, code) in sources(&workspace().join("crates/polyrec-engine/src")) {
        for line in code_lines(&code) {
            for store in stores {
                for (at, _) in line.match_indices(store) {
                    // A whole name (not `by_index`), followed by a write.
                    let before = line[..at].chars().next_back();
                    let whole = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                    let rest = &line[at + store.len()..];
                    if whole && let Some(write) = writes.iter().find(|w| rest.starts_with(*w)) {
                        found.push(format!("{}: {store}{write}: {}", path.display(), line.trim()));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "the engine writes to a store:\n{}", found.join("\n"));
}

#[test]
fn the_learned_models_are_listed_once() {
    // A second list of model names is a string literal of one outside the model's own file.
    let names: Vec<String> = polyrec_engine::learned::LEARNED.iter().map(|m| format!("\"{}\"", m.name())).collect();
    let mut found = Vec::new();
    for krate in ["polyrec-core", "polyrec-engine", "polyrec-service", "polyrec-server"] {
        for (path, code) in sources(&workspace().join("crates").join(krate).join("src")) {
            if path.to_string_lossy().contains("/learned/") {
                continue;
            }
            for line in code_lines(&code) {
                // The recall strategy registry names its strategies, some after their model.
                if line.contains("Entry {") {
                    continue;
                }
                if let Some(name) = names.iter().find(|name| line.contains(name.as_str())) {
                    found.push(format!("{}: {name}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "model names written outside polyrec-engine/src/learned/:\n{}", found.join("\n"));
}
