//! `packaging/config.toml`, installed as `/etc/swarmfeed/config.toml`, lists every setting
//! of `NodeConfig` with its default. This keeps it so: a field added to the struct and not
//! to the file, a commented default that is not the real default, or a name the node does
//! not know fails here.

use std::collections::BTreeMap;

use seeder::config::NodeConfig;
use serde_json::Value;

const SAMPLE: &str = include_str!("../../packaging/config.toml");

/// `#name = value` lines (no space after `#`: prose comments have one) with the `#` removed,
/// and the dotted names of those lines.
fn uncomment(text: &str) -> (String, Vec<String>) {
    let mut table = String::new();
    let mut commented = Vec::new();
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            table = format!("{name}.");
        }
        let setting = trimmed.strip_prefix('#').filter(|rest| {
            rest.split_once(" = ").is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
        });
        match setting {
            Some(rest) => {
                let name = rest.split_once(" = ").map(|(n, _)| n).unwrap_or_default();
                commented.push(format!("{table}{name}"));
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    (out, commented)
}

/// Leaves of a JSON value by dotted path (objects are walked, anything else is a leaf).
fn leaves(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                leaves(value, &format!("{prefix}{key}."), out);
            }
        }
        other => {
            out.insert(prefix.trim_end_matches('.').to_owned(), other.clone());
        }
    }
}

/// Dotted names a TOML document sets.
fn toml_names(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (key, value) in table {
            match value {
                toml::Value::Table(_) => toml_names(value, &format!("{prefix}{key}."), out),
                _ => out.push(format!("{prefix}{key}")),
            }
        }
    }
}

/// Every field of `NodeConfig` is named in `text`, every commented value is the default,
/// and everything parses; the first problem otherwise.
fn check(text: &str) -> Result<usize, String> {
    // As shipped (package settings only) it is a valid config.
    toml::from_str::<NodeConfig>(text).map_err(|e| format!("as shipped: {e}"))?;
    // With every commented setting switched on, still valid (so no name is unknown).
    let (all_on, commented) = uncomment(text);
    let sample: NodeConfig =
        toml::from_str(&all_on).map_err(|e| format!("with every `#name = value` on: {e}"))?;
    let mut named = Vec::new();
    toml_names(
        &toml::from_str(&all_on).map_err(|e| e.to_string())?,
        "",
        &mut named,
    );
    let mut defaults = BTreeMap::new();
    leaves(
        &serde_json::to_value(NodeConfig::default()).map_err(|e| e.to_string())?,
        "",
        &mut defaults,
    );
    let mut values = BTreeMap::new();
    leaves(
        &serde_json::to_value(&sample).map_err(|e| e.to_string())?,
        "",
        &mut values,
    );
    let missing: Vec<&String> = defaults.keys().filter(|k| !named.contains(k)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "lacks {missing:?}: add each, commented (`#name = default`), with a line saying what it does"
        ));
    }
    for name in &commented {
        // Names inside a table that is absent by default (`[accounts.mail] smtp`) have no
        // default; parsing above still refuses unknown ones.
        let Some(default) = defaults.get(name) else {
            continue;
        };
        if !default.is_null() && values.get(name) != Some(default) {
            return Err(format!("`#{name}` is not the default {default}"));
        }
    }
    Ok(commented.len())
}

#[test]
fn the_sample_config_lists_every_setting_with_its_default() {
    let settings = check(SAMPLE).unwrap_or_else(|e| panic!("packaging/config.toml {e}"));
    assert!(settings >= 30, "only {settings} commented settings found");
    let shipped: NodeConfig = toml::from_str(SAMPLE).expect("as shipped");
    assert_eq!(
        shipped.data_dir,
        std::path::PathBuf::from("/var/lib/swarmfeed")
    );
}

#[test]
fn a_wrong_default_a_missing_setting_or_an_unknown_name_is_caught() {
    let wrong = SAMPLE.replace("#bt_port = 6881", "#bt_port = 6999");
    assert!(check(&wrong).unwrap_err().contains("bt_port"));
    let missing = SAMPLE.replace("#page_size = 50", "");
    assert!(check(&missing).unwrap_err().contains("gateway.page_size"));
    let unknown = SAMPLE.replace("#archive = false", "#archive = false\n#archiv = true");
    assert!(check(&unknown).unwrap_err().contains("archiv"));
}
