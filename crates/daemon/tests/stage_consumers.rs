//! No stage without a consumer: every stage the doors (LMTP, `mailcast inject`, the Maildir
//! reader) can put mail into is one the runners consume, or one kept for an operator
//! (`shunt`, `corrupt`). Mail acknowledged into a stage nothing reads would sit for ever.
//!
//! Two checks: every sub-address maps to a consumed stage, and every `Stage::` the intake
//! sources name is consumed or an operator's.

use std::path::{Path, PathBuf};

use mailcast::inbound::plan::stage_for;
use mailcast::runner::CONSUMED_STAGES;
use mailcast_model::Subaddress;
use mailcast_model::recipient::SUFFIXES;
use mailcast_spool::Stage;

/// Stages that hold entries for an operator, on purpose.
const FOR_OPERATORS: &[Stage] = &[Stage::Shunt, Stage::Corrupt];

#[test]
fn every_sub_address_leads_to_a_consumed_stage() {
    let mut subs = vec![Subaddress::Post];
    subs.extend(
        SUFFIXES
            .iter()
            .map(|s| Subaddress::from_suffix(s).expect("a known suffix")),
    );
    for sub in subs {
        let stage = stage_for(sub);
        assert!(
            CONSUMED_STAGES.contains(&stage),
            "mail for {sub:?} goes to {stage:?}, which no runner consumes"
        );
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_none_or(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn the_doors_write_only_consumed_or_operator_stages() {
    let inbound = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/inbound");
    let mut files = Vec::new();
    sources(&inbound, &mut files);
    assert!(files.len() > 5, "found the intake sources");
    let mut named = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        // Only the code before a file's unit tests.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (at, _) in code.match_indices("Stage::") {
            let name: String = code[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let stage = Stage::ALL
                .iter()
                .find(|s| format!("{s:?}") == name)
                .unwrap_or_else(|| panic!("{}: unknown stage {name}", file.display()));
            named.push((file.clone(), *stage));
        }
    }
    assert!(
        named.iter().any(|(_, s)| *s == Stage::Bounces),
        "the check sees stage_for"
    );
    for (file, stage) in named {
        assert!(
            CONSUMED_STAGES.contains(&stage) || FOR_OPERATORS.contains(&stage),
            "{} writes {stage:?}, which no runner consumes",
            file.display()
        );
    }
}
