//! Runs every LMTP transcript in `testdata/lmtp/` (format: `testdata/lmtp/README.md`).
//!
//! Each transcript is played with the client bytes fed whole, then byte by byte with the
//! body spilled at every read, then in pieces of every size from 1 to 61, and (for the small
//! ones) cut in two at every offset. Every way must give the expected output and events.

mod transcript;

use std::path::{Path, PathBuf};

use transcript::shell::{self, Feeding, Outcome};

/// Transcripts whose client bytes are at most this long are also cut at every offset.
const SPLIT_EVERYWHERE_UP_TO: usize = 4096;

fn transcripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/lmtp");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\u{21b5}\n")
}

fn compare(name: &str, how: &str, want: &Outcome, got: &Outcome) -> Result<(), String> {
    if got.output != want.output {
        return Err(format!(
            "{name} ({how}): output differs\n--- expected\n{}--- got\n{}",
            show(&want.output),
            show(&got.output)
        ));
    }
    if got.events.len() != want.events.len()
        || got
            .events
            .iter()
            .zip(&want.events)
            .any(|(g, w)| !same_event(g, w))
    {
        return Err(format!(
            "{name} ({how}): events differ\n--- expected\n{}\n--- got\n{}",
            want.events.join("\n"),
            got.events.join("\n")
        ));
    }
    Ok(())
}

/// Events compare after unescaping, so a transcript may write `aaaaaaaa` or `\{8}a`, `"` or `\"`.
fn same_event(got: &str, want: &str) -> bool {
    match (transcript::unescape(got), transcript::unescape(want)) {
        (Ok(got), Ok(want)) => got == want,
        _ => false,
    }
}

#[test]
fn transcripts_pass_however_the_input_is_cut() {
    let files = transcripts();
    assert!(
        files.len() >= 30,
        "expected the transcript suite, found {} files",
        files.len()
    );
    let mut failures = Vec::new();
    let mut runs_done = 0;
    for path in &files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(path).expect("readable transcript");
        let transcript = match transcript::parse(&text) {
            Ok(transcript) => transcript,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let want = Outcome {
            output: transcript.output.clone(),
            events: transcript.events.clone(),
        };
        let client_len: usize = transcript
            .items
            .iter()
            .map(|item| match item {
                transcript::Item::Bytes(bytes) => bytes.len(),
                _ => 0,
            })
            .sum();
        let mut runs = vec![
            ("whole", Feeding::Whole, false),
            ("byte by byte, spilling", Feeding::Bytewise, true),
            ("pieces of 1..61, spilling", Feeding::Cycling, true),
        ];
        let split_runs: Vec<(String, Feeding)> = if client_len <= SPLIT_EVERYWHERE_UP_TO {
            (1..client_len)
                .map(|at| (format!("cut at {at}"), Feeding::SplitAt(at)))
                .collect()
        } else {
            Vec::new()
        };
        runs.extend(
            split_runs
                .iter()
                .map(|(how, feeding)| (how.as_str(), *feeding, false)),
        );
        for (how, feeding, spill) in runs {
            runs_done += 1;
            let result = shell::run(&transcript, feeding, spill)
                .and_then(|got| compare(&name, how, &want, &got));
            if let Err(e) = result {
                failures.push(e);
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every offset of every small transcript: far more runs than files.
    assert!(runs_done > 50 * files.len(), "only {runs_done} runs");
}
