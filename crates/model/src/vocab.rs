//! The `vocabulary!` macro: enums whose variants are spelled as Mailman 3 spells them.
//!
//! Every enum made with it gets `as_str`, `parse` (exact, lower-case spelling), `ALL` and
//! `Display`, so the store, the CLI and the REST API share one spelling.

/// A value outside an enum's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of: {allowed}")]
pub struct UnknownWord {
    /// The rejected input.
    pub value: String,
    /// The accepted spellings, comma separated.
    pub allowed: String,
}

/// Declares a closed vocabulary enum.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $(#[doc = concat!("`", $text, "`")] $(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The Mailman 3 spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the Mailman 3 spelling.
            pub fn parse(s: &str) -> Result<$name, $crate::vocab::UnknownWord> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::vocab::UnknownWord {
                        value: s.to_string(),
                        allowed: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
