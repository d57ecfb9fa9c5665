//! How one setting's value is read from the CLI, and converted to and from JSON.

use serde_json::Value;

/// A setting value type: parsed from a CLI string, stored and served as JSON.
pub trait SettingValue: Sized + Clone {
    /// A short name of the type for help text and errors (`boolean`, `integer >= 0`, ...).
    fn type_name() -> String;
    /// Parses a value as typed on the command line (`lists set LIST KEY=VALUE`).
    fn parse_cli(s: &str) -> Result<Self, String>;
    /// Converts from JSON (database rows, REST bodies).
    fn from_json(v: &Value) -> Result<Self, String>;
    /// Converts to JSON.
    fn to_json(&self) -> Value;
}

impl SettingValue for bool {
    fn type_name() -> String {
        "boolean".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("{s:?} is not a boolean (true/false)")),
        }
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) => Self::parse_cli(s),
            _ => Err(format!("{v} is not a boolean")),
        }
    }
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

/// A non-negative integer (Mailman's `integer_ge_zero_validator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count(pub u64);

impl SettingValue for Count {
    fn type_name() -> String {
        "integer >= 0".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<u64>()
            .map(Count)
            .map_err(|_| format!("{s:?} is not an integer >= 0"))
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .map(Count)
                .ok_or_else(|| format!("{n} is not an integer >= 0")),
            Value::String(s) => Self::parse_cli(s),
            _ => Err(format!("{v} is not an integer >= 0")),
        }
    }
    fn to_json(&self) -> Value {
        Value::from(self.0)
    }
}

impl SettingValue for f64 {
    fn type_name() -> String {
        "number".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
            _ => Err(format!("{s:?} is not a number >= 0")),
        }
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
            Value::String(s) => Self::parse_cli(s),
            _ => Err(format!("{v} is not a number")),
        }
    }
    fn to_json(&self) -> Value {
        serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number)
    }
}

/// Free text on one line (Mailman's `no_newlines_validator` for most text settings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line(pub String);

impl SettingValue for Line {
    fn type_name() -> String {
        "text (one line)".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        if s.contains(['\r', '\n', '\0']) {
            Err("text must be on one line".into())
        } else {
            Ok(Line(s.to_string()))
        }
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::String(s) => Self::parse_cli(s),
            _ => Err(format!("{v} is not text")),
        }
    }
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// Free text that may span lines (footers, autoresponse texts). `\n` in CLI input is a newline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl SettingValue for Text {
    fn type_name() -> String {
        "text".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        if s.contains('\0') {
            return Err("text must not contain NUL".into());
        }
        Ok(Text(s.replace("\\n", "\n")))
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::String(s) if !s.contains('\0') => Ok(Text(s.clone())),
            _ => Err(format!("{v} is not text")),
        }
    }
    fn to_json(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl SettingValue for Option<Line> {
    fn type_name() -> String {
        "text or empty".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            Line::parse_cli(s).map(Some)
        }
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            other => Line::from_json(other).map(|l| (!l.0.is_empty()).then_some(l)),
        }
    }
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, Line::to_json)
    }
}

impl SettingValue for Vec<String> {
    fn type_name() -> String {
        "list of strings (JSON array, or comma separated)".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.starts_with('[') {
            let v: Value =
                serde_json::from_str(t).map_err(|e| format!("invalid JSON list: {e}"))?;
            return Self::from_json(&v);
        }
        let items: Vec<String> = t
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(String::from)
            .collect();
        check_items(&items)?;
        Ok(items)
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        let Value::Array(items) = v else {
            return Err(format!("{v} is not a list"));
        };
        let items = items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(String::from)
                    .ok_or_else(|| format!("{i} is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_items(&items)?;
        Ok(items)
    }
    fn to_json(&self) -> Value {
        Value::Array(self.iter().cloned().map(Value::String).collect())
    }
}

fn check_items(items: &[String]) -> Result<(), String> {
    match items.iter().find(|i| i.contains(['\r', '\n', '\0'])) {
        Some(bad) => Err(format!("list item {bad:?} must be on one line")),
        None => Ok(()),
    }
}

/// A time span, written `90d`, `12h`, `30m`, `45s` or `2w` (Mailman's `as_timedelta` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Length in seconds.
    pub seconds: u64,
}

impl Span {
    /// A span of `n` days.
    pub const fn days(n: u64) -> Span {
        Span {
            seconds: n * 86_400,
        }
    }
}

impl SettingValue for Span {
    fn type_name() -> String {
        "duration (e.g. 7d, 12h, 30m)".into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let err = || format!("{s:?} is not a duration such as 7d, 12h, 30m or 45s");
        let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let n: u64 = digits.parse().map_err(|_| err())?;
        let mult = match unit {
            "w" => 7 * 86_400,
            "d" | "" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return Err(err()),
        };
        n.checked_mul(mult)
            .map(|seconds| Span { seconds })
            .ok_or_else(err)
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        match v {
            Value::String(s) => Self::parse_cli(s),
            Value::Number(n) => n
                .as_u64()
                .map(Span::days)
                .ok_or_else(|| format!("{n} is not a duration")),
            _ => Err(format!("{v} is not a duration")),
        }
    }
    fn to_json(&self) -> Value {
        let s = self.seconds;
        let text = if s.is_multiple_of(86_400) {
            format!("{}d", s / 86_400)
        } else if s.is_multiple_of(3_600) {
            format!("{}h", s / 3_600)
        } else if s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        };
        Value::String(text)
    }
}

/// Implements [`SettingValue`] for vocabulary enums made with `vocabulary!`.
#[macro_export]
macro_rules! vocabulary_setting {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::settings::SettingValue for $ty {
            fn type_name() -> String {
                format!("one of {}", <$ty>::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "))
            }
            fn parse_cli(s: &str) -> Result<Self, String> {
                <$ty>::parse(s.trim()).map_err(|e| e.to_string())
            }
            fn from_json(v: &serde_json::Value) -> Result<Self, String> {
                match v {
                    serde_json::Value::String(s) => Self::parse_cli(s),
                    _ => Err(format!("{v} is not text")),
                }
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::Value::String(self.as_str().to_string())
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_trip() {
        for s in ["7d", "12h", "30m", "45s"] {
            assert_eq!(
                Span::parse_cli(s).unwrap().to_json(),
                Value::String(s.into())
            );
        }
        assert_eq!(Span::parse_cli("2w").unwrap(), Span::days(14));
        assert!(Span::parse_cli("7 days").is_err());
        assert!(Span::parse_cli("-1d").is_err());
    }

    #[test]
    fn lists_from_cli() {
        assert_eq!(
            Vec::<String>::parse_cli("a@x, b@y").unwrap(),
            vec!["a@x", "b@y"]
        );
        assert_eq!(
            Vec::<String>::parse_cli(r#"["^.*@x$"]"#).unwrap(),
            vec!["^.*@x$"]
        );
        assert_eq!(Vec::<String>::parse_cli("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn wrong_types_are_refused() {
        assert!(bool::parse_cli("maybe").is_err());
        assert!(Count::parse_cli("-3").is_err());
        assert!(Count::parse_cli("ten").is_err());
        assert!(Line::parse_cli("two\nlines").is_err());
        assert!(f64::parse_cli("nan").is_err());
    }
}
