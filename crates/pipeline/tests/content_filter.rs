//! Golden tests of content filtering (Mailman's mime-delete): every case in
//! `testdata/content-filter/` is a post (`<case>.in.eml`), a `<case>.toml` with the list
//! settings (`filter_content` is on unless the case says otherwise) and the expected
//! `[expect] outcome` (`unchanged`, `filtered`, or the disposition of a post filtered away:
//! `discard`, `reject`, `forward`, `preserve`, with its `reason`), and for `filtered` the
//! expected bytes (`<case>.expected.eml`), which a second run must leave unchanged (unless
//! `idempotent = false`). `UPDATE_EXPECT=1` rewrites the expected files.

mod cases;

use std::path::PathBuf;

use mailcast_model::ListAddress;
use mailcast_model::settings::ListSettings;
use mailcast_pipeline::handlers::mime_delete::{self, Disposition, Outcome};
use mailcast_pipeline::{ListContext, SiteFacts};
use toml::Value;

fn cases_dir() -> PathBuf {
    cases::dir("content-filter")
}

#[test]
fn content_filter_cases() {
    let names = cases::names(&cases_dir(), ".toml", 20);
    cases::run_all("content-filter", &names, check);
}

fn check(name: &str) -> Result<(), String> {
    let dir = cases_dir();
    let fail = |what: String| format!("[{name}] {what}");
    let (raw, spec) = cases::load(&dir, name).map_err(fail)?;
    let address = ListAddress::parse("ant@example.com").map_err(|e| fail(e.to_string()))?;
    let mut settings = ListSettings::defaults_for(&address);
    settings.filter_content = true;
    cases::apply_settings(&mut settings, &spec).map_err(fail)?;
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
    cases::compare(&dir.join(format!("{name}.expected.eml")), output).map_err(fail)
}
