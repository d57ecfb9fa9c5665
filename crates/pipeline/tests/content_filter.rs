//! Golden tests of content filtering (Mailman's mime-delete): every case in
//! `testdata/content-filter/` is a post (`<case>.in.eml`), a `<case>.toml` with the list
//! settings (`filter_content` is on unless the case says otherwise) and the expected
//! `[expect] outcome` (`unchanged`, `filtered`, or the disposition of a post filtered away:
//! `discard`, `reject`, `forward`, `preserve`, with its `reason`), and for `filtered` the
//! expected bytes (`<case>.expected.eml`), which a second run must leave unchanged (unless
//! `idempotent = false`). `UPDATE_EXPECT=1` rewrites the expected files.

use std::path::{Path, PathBuf};

use mailcast_model::ListAddress;
use mailcast_model::settings::ListSettings;
use mailcast_pipeline::handlers::mime_delete::{self, Disposition, Outcome};
use mailcast_pipeline::{ListContext, SiteFacts};
use toml::{Table, Value};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/content-filter")
}

#[test]
fn content_filter_cases() {
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("testdata/content-filter exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "expected the cases, found {names:?}");
    let failures: Vec<String> = names.iter().filter_map(|name| check(name).err()).collect();
    assert!(
        failures.is_empty(),
        "{} content-filter case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn check(name: &str) -> Result<(), String> {
    let dir = cases_dir();
    let fail = |what: String| format!("[{name}] {what}");
    let raw = std::fs::read(dir.join(format!("{name}.in.eml"))).map_err(|e| fail(e.to_string()))?;
    let spec: Table = std::fs::read_to_string(dir.join(format!("{name}.toml")))
        .map_err(|e| fail(e.to_string()))?
        .parse()
        .map_err(|e| fail(format!("bad toml: {e}")))?;
    let address = ListAddress::parse("ant@example.com").map_err(|e| fail(e.to_string()))?;
    let mut settings = ListSettings::defaults_for(&address);
    settings.filter_content = true;
    for (key, value) in spec
        .get("settings")
        .and_then(Value::as_table)
        .into_iter()
        .flatten()
    {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Array(_) => serde_json::to_string(value).map_err(|e| fail(e.to_string()))?,
            other => other.to_string(),
        };
        settings
            .set_from_str(key, &text)
            .map_err(|e| fail(e.to_string()))?;
    }
    let list = ListContext::new(address, settings, SiteFacts::default());
    let expect = spec
        .get("expect")
        .and_then(Value::as_table)
        .ok_or_else(|| fail("no [expect]".into()))?;
    let want = expect.get("outcome").and_then(Value::as_str).unwrap_or("");
    let outcome = mime_delete::run(&raw, &list).map_err(|e| fail(e.to_string()))?;
    let (got, output, reason) = match &outcome {
        Outcome::Unchanged => ("unchanged", None, None),
        Outcome::Filtered(out) => ("filtered", Some(out.as_slice()), None),
        Outcome::Disposed(d) => (
            match d.action {
                Disposition::Discard => "discard",
                Disposition::Reject => "reject",
                Disposition::Forward => "forward",
                Disposition::Preserve => "preserve",
            },
            None,
            Some(d.reason.to_string()),
        ),
    };
    if got != want {
        return Err(fail(format!("outcome {got}, expected {want}: {outcome:?}")));
    }
    if let Some(want) = expect.get("reason").and_then(Value::as_str)
        && reason.as_deref() != Some(want)
    {
        return Err(fail(format!("reason {reason:?}, expected {want:?}")));
    }
    let idempotent = expect
        .get("idempotent")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if let Some(out) = output.filter(|_| idempotent) {
        // Filtering again changes nothing more (no second mark, nothing else to remove).
        match mime_delete::run(out, &list).map_err(|e| fail(e.to_string()))? {
            Outcome::Unchanged => {}
            other => return Err(fail(format!("a second run changed the post: {other:?}"))),
        }
    }
    compare(&dir.join(format!("{name}.expected.eml")), output).map_err(fail)
}

fn compare(path: &Path, output: Option<&[u8]>) -> Result<(), String> {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    match (output, std::fs::read(path).ok()) {
        (None, None) => Ok(()),
        (None, Some(_)) if update => std::fs::remove_file(path).map_err(|e| e.to_string()),
        (None, Some(_)) => Err(format!(
            "{} exists but the case produces no post",
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
