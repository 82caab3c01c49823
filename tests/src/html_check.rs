//! The W3C's Nu Html Checker (`vnu.jar`, the engine of validator.w3.org/nu) run on pages.
//!
//! `scripts/test` installs it from the npm package `vnu-jar` under `target/tools` (Java is on
//! the machine or comes from Debian); `VNU_JAR` names another copy.

use std::path::PathBuf;
use std::process::Command;

/// The checker's jar: `VNU_JAR`, else where `scripts/test` installs it.
pub fn vnu_jar() -> PathBuf {
    if let Some(path) = std::env::var_os("VNU_JAR") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::binary::workspace_root().join("target"));
    target.join("tools/node_modules/vnu-jar/build/dist/vnu.jar")
}

/// Every error and warning the checker reports on `pages` (name, HTML), one line each as
/// `name:line: message`. Panics when the checker cannot run (a missing check must fail).
pub fn html_problems<N: AsRef<str>, H: AsRef<str>>(pages: &[(N, H)]) -> Vec<String> {
    let jar = vnu_jar();
    assert!(
        jar.is_file(),
        "no Nu Html Checker at {}: run scripts/test, or set VNU_JAR",
        jar.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (index, (_, html)) in pages.iter().enumerate() {
        let path = dir.path().join(format!("page-{index}.html"));
        std::fs::write(&path, html.as_ref()).expect("write page");
        files.push(path);
    }
    let output = Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["--format", "json", "--exit-zero-always"])
        .args(&files)
        .output()
        .expect("run java -jar vnu.jar");
    // The JSON report goes to stderr.
    let report: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap_or_else(|e| {
        panic!(
            "the Nu Html Checker printed no JSON report ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let messages = report["messages"].as_array().expect("a messages array");
    messages
        .iter()
        .map(|m| {
            let url = m["url"].as_str().unwrap_or_default();
            let name = files
                .iter()
                .position(|f| url.ends_with(&*f.to_string_lossy()))
                .map_or(url, |i| pages[i].0.as_ref());
            let kind = m["subType"].as_str().or(m["type"].as_str()).unwrap_or("?");
            format!(
                "{name}:{}: {kind}: {} [{}]",
                m["lastLine"],
                m["message"].as_str().unwrap_or_default(),
                m["extract"].as_str().unwrap_or_default()
            )
        })
        .collect()
}
