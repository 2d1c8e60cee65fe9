//! Enums stored as Postgres `text`: a workflow's typed states in its rows.
//!
//! Each workflow's `store.rs` maps its state enums with [`text_column!`], so
//! its row structs carry the enums themselves and a value the program does
//! not know surfaces as a decode error naming it, never as a panic.

/// Store an enum in a `text` column through its canonical string.
///
/// `text_column!(Type, "what it is", all = Type::ALL, text = Type::as_str)`:
/// it encodes as `text(value)` and decodes by finding the member of `all`
/// whose `text` is the stored string.
macro_rules! text_column {
    ($ty:ty, $what:literal, all = $all:expr, text = $text:expr) => {
        impl ::sqlx::Type<::sqlx::Postgres> for $ty {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Postgres> for $ty {
            fn decode(
                value: ::sqlx::postgres::PgValueRef<'r>,
            ) -> ::std::result::Result<Self, ::sqlx::error::BoxDynError> {
                let stored = <&str as ::sqlx::Decode<::sqlx::Postgres>>::decode(value)?;
                $all.into_iter()
                    .find(|v| $text(*v) == stored)
                    .ok_or_else(|| format!("unknown {} {stored:?} in the database", $what).into())
            }
        }

        impl ::sqlx::Encode<'_, ::sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut ::sqlx::postgres::PgArgumentBuffer,
            ) -> ::std::result::Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&str as ::sqlx::Encode<::sqlx::Postgres>>::encode($text(*self), buf)
            }
        }
    };
}

pub(crate) use text_column;
