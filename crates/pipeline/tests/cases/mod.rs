//! What the data-driven pipeline tests share: finding the cases of a `testdata/` folder,
//! applying a case's `[settings]` table, and comparing an output with its expected file
//! (`UPDATE_EXPECT=1` rewrites the expected files). Each test includes it (`mod cases;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mailcast_model::settings::ListSettings;
use toml::{Table, Value};

/// `testdata/<folder>` at the repository's root.
pub fn dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(folder)
}

/// The sorted names in `dir`, without `suffix`, of the entries that end with it (`""`:
/// every entry); at least `at_least` of them.
pub fn names(dir: &Path, suffix: &str, at_least: usize) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_string))
        .collect();
    names.sort();
    assert!(
        names.len() >= at_least,
        "expected the cases in {}, found {names:?}",
        dir.display()
    );
    names
}

/// The case `name` of `dir`: its message (`<name>.in.eml`) and its spec (`<name>.toml`).
pub fn load(dir: &Path, name: &str) -> Result<(Vec<u8>, Table), String> {
    let raw = std::fs::read(dir.join(format!("{name}.in.eml"))).map_err(|e| e.to_string())?;
    let spec: Table = std::fs::read_to_string(dir.join(format!("{name}.toml")))
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e| format!("bad toml: {e}"))?;
    Ok((raw, spec))
}

/// Runs `check` over every case and fails with every failure.
pub fn run_all(what: &str, names: &[String], check: impl Fn(&str) -> Result<(), String>) {
    let failures: Vec<String> = names.iter().filter_map(|name| check(name).err()).collect();
    assert!(
        failures.is_empty(),
        "{} {what} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Applies the case's `[settings]`: strings as they are, arrays as JSON, anything else as
/// its TOML text.
pub fn apply_settings(settings: &mut ListSettings, spec: &Table) -> Result<(), String> {
    for (key, value) in spec
        .get("settings")
        .and_then(Value::as_table)
        .into_iter()
        .flatten()
    {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Array(_) => serde_json::to_string(value).map_err(|e| e.to_string())?,
            other => other.to_string(),
        };
        settings
            .set_from_str(key, &text)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Compares `output` with the file at `path` (`None`: the case produces nothing, and the
/// file must not exist).
pub fn compare(path: &Path, output: Option<&[u8]>) -> Result<(), String> {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    match (output, std::fs::read(path).ok()) {
        (None, None) => Ok(()),
        (None, Some(_)) if update => std::fs::remove_file(path).map_err(|e| e.to_string()),
        (None, Some(_)) => Err(format!(
            "{} exists but the case produces no output",
            path.display()
        )),
        (Some(out), existing) if update => {
            if existing.as_deref() != Some(out) {
                std::fs::write(path, out).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        (Some(_), None) => Err(format!(
            "{} is missing (run with UPDATE_EXPECT=1)",
            path.display()
        )),
        (Some(out), Some(expected)) if out == expected.as_slice() => Ok(()),
        (Some(out), Some(expected)) => Err(format!(
            "output differs from {}\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(out)
        )),
    }
}
