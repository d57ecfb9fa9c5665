//! No setting is silently ignored (DESIGN.md §8.6): a list setting is named in
//! `ListSettings::NOT_ACTED_ON` exactly when no code outside the model reads it.
//!
//! "Reads it" means a field access `.<name>` in the pipeline's, the daemon's or the REST API's
//! sources (REST acts on `advertised` alone: the `advertised=true` list filters) (the
//! settings struct is plain data, so every use is a field access). A setting marked but read
//! somewhere, or read nowhere but not marked, fails the test with its name.

use std::path::{Path, PathBuf};

use mailcast_model::settings::{ListSettings, NOT_ACTED_ON};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `text` contains `.name` not followed by an identifier character.
fn reads(text: &str, name: &str) -> bool {
    let needle = format!(".{name}");
    text.match_indices(&needle).any(|(at, _)| {
        text[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

#[test]
fn settings_not_acted_on_are_exactly_those_nothing_reads() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&crates.join("pipeline/src"), &mut files);
    sources(&crates.join("daemon/src"), &mut files);
    sources(&crates.join("rest/src"), &mut files);
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read a source file"))
        .collect();
    assert!(
        texts.len() > 50,
        "found the sources ({} files)",
        texts.len()
    );
    let mut wrong = Vec::new();
    for name in ListSettings::NAMES {
        let read = texts.iter().any(|t| reads(t, name));
        let marked = NOT_ACTED_ON.contains(name);
        if read == marked {
            wrong.push(format!(
                "{name}: {}",
                if read {
                    "marked not acted on, but read"
                } else {
                    "read nowhere, but not marked"
                }
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_reader_test_sees_field_accesses_only() {
    assert!(reads(
        "s.digest_size_threshold > 0",
        "digest_size_threshold"
    ));
    assert!(!reads("s.digest_size_threshold_x", "digest_size_threshold"));
    assert!(!reads("digest_size_threshold", "digest_size_threshold"));
}
