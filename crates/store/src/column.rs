//! Conversions between domain values and the portable column types of the schema.
//!
//! The `Any` driver carries only integers, floats and text, so timestamps are stored as
//! BIGINT UTC microseconds, UUIDs as 32 lower-case hex digits, booleans as INTEGER 0/1 and
//! vocabulary values (roles, actions, ...) as Mailman 3's spelling. Reading a value that does
//! not convert back is [`Error::Corrupt`]; this module never guesses a replacement.

use jiff::Timestamp;
use mailcast_model::{EmailAddress, ListAddress};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::{Error, Result};

/// A fresh id: a UUIDv7, so that new rows land near each other in the primary-key index.
pub(crate) fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The stored form of an id.
pub(crate) fn id_text(id: Uuid) -> String {
    id.simple().to_string()
}

/// The current time, truncated to what the database keeps (microseconds), so that a value
/// returned by a write equals the value read back later.
pub(crate) fn now() -> Timestamp {
    let ts = Timestamp::now();
    // Truncating a valid timestamp to microseconds stays in range.
    Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts)
}

/// The stored form of a timestamp.
pub(crate) fn micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

/// The stored form of an optional boolean preference.
pub(crate) fn flag(value: Option<bool>) -> Option<i32> {
    value.map(i32::from)
}

/// The stored form of a page bound (LIMIT or OFFSET), clamped to what the database takes.
pub(crate) fn page_bound(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Typed column access with [`Error::Corrupt`] for values that do not convert back.
pub(crate) trait RowExt {
    /// A column's raw value, as sqlx decodes it.
    fn col<'r, T>(&'r self, name: &str) -> Result<T>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>;
    /// A UUID column.
    fn uuid(&self, name: &str) -> Result<Uuid>;
    /// A nullable UUID column.
    fn uuid_opt(&self, name: &str) -> Result<Option<Uuid>>;
    /// A NOT NULL timestamp column.
    fn timestamp(&self, name: &str) -> Result<Timestamp>;
    /// A nullable timestamp column.
    fn timestamp_opt(&self, name: &str) -> Result<Option<Timestamp>>;
    /// A nullable 0/1 column.
    fn flag(&self, name: &str) -> Result<Option<bool>>;
    /// A non-negative integer column.
    fn count(&self, name: &str) -> Result<u64>;
    /// An email address column holding the original spelling.
    fn email(&self, name: &str) -> Result<EmailAddress>;
    /// A vocabulary column, parsed with the vocabulary's `parse`.
    fn word<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T>;
}

impl RowExt for AnyRow {
    fn col<'r, T>(&'r self, name: &str) -> Result<T>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        Ok(self.try_get(name)?)
    }

    fn uuid(&self, name: &str) -> Result<Uuid> {
        let text: String = self.col(name)?;
        Uuid::try_parse(&text).map_err(|_| corrupt(name, &text))
    }

    fn uuid_opt(&self, name: &str) -> Result<Option<Uuid>> {
        let text: Option<String> = self.col(name)?;
        text.map(|t| Uuid::try_parse(&t).map_err(|_| corrupt(name, &t)))
            .transpose()
    }

    fn timestamp(&self, name: &str) -> Result<Timestamp> {
        let us: i64 = self.col(name)?;
        Timestamp::from_microsecond(us).map_err(|_| corrupt(name, &us))
    }

    fn timestamp_opt(&self, name: &str) -> Result<Option<Timestamp>> {
        let us: Option<i64> = self.col(name)?;
        us.map(|us| Timestamp::from_microsecond(us).map_err(|_| corrupt(name, &us)))
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<Option<bool>> {
        let value: Option<i64> = self.col(name)?;
        Ok(value.map(|v| v != 0))
    }

    fn count(&self, name: &str) -> Result<u64> {
        let value: i64 = self.col(name)?;
        u64::try_from(value).map_err(|_| corrupt(name, &value))
    }

    fn email(&self, name: &str) -> Result<EmailAddress> {
        let text: String = self.col(name)?;
        EmailAddress::parse(&text).map_err(|_| corrupt(name, &text))
    }

    fn word<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T> {
        let text: String = self.col(name)?;
        parse(&text).map_err(|_| corrupt(name, &text))
    }
}

/// Rebuilds a list address from its stored name and mail host.
pub(crate) fn list_address(name: &str, mail_host: &str) -> Result<ListAddress> {
    let text = format!("{name}@{mail_host}");
    ListAddress::parse(&text).map_err(|_| corrupt("list address", &text))
}

pub(crate) fn corrupt(what: &str, value: &dyn std::fmt::Debug) -> Error {
    Error::Corrupt(format!("{what} = {value:?}"))
}
