//! How a DMARC result found at LMTP time travels with the spool entry to the incoming runner,
//! so the runner's chain sees the same facts (and asks DNS no second time). The value is the
//! entry's `attrs.dmarc`: `"strict"`, `"lax"` or `"failed"`; absent when not looked up.

use mailcast_pipeline::context::FromDmarc;
use serde_json::Value;

/// The `attrs` key.
pub const ATTR: &str = "dmarc";

/// The attribute value for a result; `None` when nothing was looked up.
pub fn to_attr(found: FromDmarc) -> Option<Value> {
    let text = match found {
        FromDmarc::NotLookedUp => return None,
        FromDmarc::Strict => "strict",
        FromDmarc::Lax => "lax",
        FromDmarc::Failed => "failed",
    };
    Some(Value::String(text.into()))
}

/// The result an entry carries, if any (an unknown value counts as none: look again).
pub fn from_attr(value: Option<&Value>) -> Option<FromDmarc> {
    match value?.as_str()? {
        "strict" => Some(FromDmarc::Strict),
        "lax" => Some(FromDmarc::Lax),
        "failed" => Some(FromDmarc::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for found in [FromDmarc::Strict, FromDmarc::Lax, FromDmarc::Failed] {
            assert_eq!(from_attr(to_attr(found).as_ref()), Some(found));
        }
        assert_eq!(to_attr(FromDmarc::NotLookedUp), None);
        assert_eq!(from_attr(None), None);
        assert_eq!(from_attr(Some(&Value::String("x".into()))), None);
    }
}
