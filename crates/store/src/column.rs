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
use sqlx::{Database, Decode, Type, ValueRef};

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

// Every wrapper decodes on either backend (SQLite, PostgreSQL) from the same text or bytes.
fn text<'r, DB: Database>(value: DB::ValueRef<'r>) -> Result<&'r str, BoxDynError>
where
    &'r str: Decode<'r, DB>,
{
    <&str as Decode<DB>>::decode(value)
}

fn bytes<'r, DB: Database>(value: DB::ValueRef<'r>) -> Result<&'r [u8], BoxDynError>
where
    &'r [u8]: Decode<'r, DB>,
{
    <&[u8] as Decode<DB>>::decode(value)
}

macro_rules! column_type {
    ($t:ty, $of:ty) => {
        impl<DB: Database> Type<DB> for $t
        where
            for<'a> &'a $of: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <&$of as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <&$of as Type<DB>>::compatible(ty)
            }
        }
    };
}

column_type!(Stamp, str);
column_type!(MaybeStamp, str);
column_type!(CommaList, str);
column_type!(Digest, [u8]);
column_type!(SaltBytes, [u8]);

impl<T, DB: Database> Type<DB> for Named<T>
where
    for<'a> &'a str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <&str as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <&str as Type<DB>>::compatible(ty)
    }
}

fn parse_time(s: &str) -> Result<Timestamp, BoxDynError> {
    Timestamp::from_str(s).map_err(|e| format!("{s:?} is not a time: {e}").into())
}

impl<'r, DB: Database> Decode<'r, DB> for Stamp
where
    &'r str: Decode<'r, DB>,
    &'r [u8]: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        parse_time(text::<DB>(value)?).map(Stamp)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for MaybeStamp
where
    &'r str: Decode<'r, DB>,
    &'r [u8]: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(MaybeStamp(None));
        }
        parse_time(text::<DB>(value)?).map(|t| MaybeStamp(Some(t)))
    }
}

impl<'r, DB: Database> Decode<'r, DB> for CommaList
where
    &'r str: Decode<'r, DB>,
    &'r [u8]: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(CommaList(
            text::<DB>(value)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Digest
where
    &'r str: Decode<'r, DB>,
    &'r [u8]: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Digest(Hash::from_slice(bytes::<DB>(value)?)?))
    }
}

impl<'r, DB: Database> Decode<'r, DB> for SaltBytes
where
    &'r str: Decode<'r, DB>,
    &'r [u8]: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let salt: [u8; 32] = bytes::<DB>(value)?
            .try_into()
            .map_err(|_| "a salt is 32 bytes")?;
        Ok(SaltBytes(Salt::from_bytes(salt)))
    }
}

impl<'r, T: FromStr, DB: Database> Decode<'r, DB> for Named<T>
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = text::<DB>(value)?;
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
