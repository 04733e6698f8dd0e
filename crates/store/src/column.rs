//! How the store's column values become typed values: the one place that reads the stored text
//! of a time, a digest, a salt or a name. Each wrapper decodes one kind of column for
//! `#[derive(sqlx::FromRow)]` (`#[sqlx(try_from = "…")]`) and converts into the type the row
//! structs expose; a value that does not decode is a column decode error, which the store
//! reports as [`crate::StoreError::Corrupt`].
//!
//! What is written stays as it always was: times as their RFC 3339 text (`Timestamp`'s
//! `Display`), digests and salts as raw bytes, names as their wire names.

use std::str::FromStr;

use custos_ledger::Hash;
use custos_ledger::commitment::Salt;
use custos_model::{Channel, Measure, Outcome};
use jiff::Timestamp;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Type, ValueRef};

use crate::{CaseStatus, ExtensionKind, ExtensionStatus, Role};

/// A text column holding a time.
pub(crate) struct Stamp(Timestamp);

/// A nullable text column holding a time.
pub(crate) struct MaybeStamp(Option<Timestamp>);

/// A blob column holding a SHA-256 digest.
pub(crate) struct Digest(Hash);

/// A blob column holding a commitment's salt.
pub(crate) struct SaltBytes(Salt);

/// A text column holding a comma-separated list of names.
pub(crate) struct CommaList(Vec<String>);

/// A text column holding a wire name (`refuse`, `intercept_content`, `awaiting_information`).
pub(crate) struct Named<T>(T);

fn text<'r>(value: SqliteValueRef<'r>) -> Result<&'r str, BoxDynError> {
    <&str as Decode<Sqlite>>::decode(value)
}

fn bytes<'r>(value: SqliteValueRef<'r>) -> Result<&'r [u8], BoxDynError> {
    <&[u8] as Decode<Sqlite>>::decode(value)
}

macro_rules! column_type {
    ($t:ty, $of:ty) => {
        impl Type<Sqlite> for $t {
            fn type_info() -> SqliteTypeInfo {
                <$of as Type<Sqlite>>::type_info()
            }

            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <$of as Type<Sqlite>>::compatible(ty)
            }
        }
    };
}

column_type!(Stamp, &str);
column_type!(MaybeStamp, &str);
column_type!(CommaList, &str);
column_type!(Digest, &[u8]);
column_type!(SaltBytes, &[u8]);

impl<T> Type<Sqlite> for Named<T> {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&str as Type<Sqlite>>::compatible(ty)
    }
}

fn parse_time(s: &str) -> Result<Timestamp, BoxDynError> {
    Timestamp::from_str(s).map_err(|e| format!("{s:?} is not a time: {e}").into())
}

impl<'r> Decode<'r, Sqlite> for Stamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        parse_time(text(value)?).map(Stamp)
    }
}

impl<'r> Decode<'r, Sqlite> for MaybeStamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(MaybeStamp(None));
        }
        parse_time(text(value)?).map(|t| MaybeStamp(Some(t)))
    }
}

impl<'r> Decode<'r, Sqlite> for CommaList {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(CommaList(
            text(value)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }
}

impl<'r> Decode<'r, Sqlite> for Digest {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Digest(Hash::from_slice(bytes(value)?)?))
    }
}

impl<'r> Decode<'r, Sqlite> for SaltBytes {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let salt: [u8; 32] = bytes(value)?.try_into().map_err(|_| "a salt is 32 bytes")?;
        Ok(SaltBytes(Salt::from_bytes(salt)))
    }
}

impl<'r, T: FromStr> Decode<'r, Sqlite> for Named<T> {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = text(value)?;
        s.parse()
            .map(Named)
            .map_err(|_| format!("{s:?} is not a name this column takes").into())
    }
}

impl From<Stamp> for Timestamp {
    fn from(s: Stamp) -> Timestamp {
        s.0
    }
}

impl From<MaybeStamp> for Option<Timestamp> {
    fn from(s: MaybeStamp) -> Option<Timestamp> {
        s.0
    }
}

impl From<CommaList> for Vec<String> {
    fn from(l: CommaList) -> Vec<String> {
        l.0
    }
}

impl From<Digest> for Hash {
    fn from(d: Digest) -> Hash {
        d.0
    }
}

impl From<SaltBytes> for Salt {
    fn from(s: SaltBytes) -> Salt {
        s.0
    }
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl From<Named<$t>> for $t {
            fn from(n: Named<$t>) -> $t {
                n.0
            }
        }
    )*};
}

named!(
    Outcome,
    Measure,
    Channel,
    CaseStatus,
    Role,
    ExtensionKind,
    ExtensionStatus
);
