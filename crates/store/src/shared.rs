//! Types every resource shares: pages of a list, and string-valued enums
//! (the [`UnknownValue`] error their parsing returns). A leaf: it imports
//! none of the store's resource modules.

/// Declares a string-valued enum: serde names, `as_str`, `FromStr`, `Display`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        /// Only from a string: a value of another type is reported as
        /// such (`invalid type: map, expected a string, one of …`), never
        /// as malformed input.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Names;
                impl serde::de::Visitor<'_> for Names {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a string, one of" $(, " `", $text, "`")+))
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        text.parse().map_err(|_| E::unknown_variant(text, &[$($text),+]))
                    }
                }
                deserializer.deserialize_str(Names)
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        $crate::shared::stored_text!($name { $($variant => $text),+ });

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A text that names no value of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    /// The enum's name.
    pub kind: &'static str,
    /// The text.
    pub value: String,
}

pub(crate) use string_enum;

/// The stored text of an enum declared elsewhere: `as_str` and `FromStr`
/// (failing with [`UnknownValue`]). [`string_enum!`] adds serde and
/// `Display` on top.
macro_rules! stored_text {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The value as stored.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::shared::UnknownValue;
            fn from_str(text: &str) -> Result<Self, $crate::shared::UnknownValue> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::shared::UnknownValue { kind: stringify!($name), value: text.to_string() }),
                }
            }
        }
    };
}
pub(crate) use stored_text;

/// One page of a list, with the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Present when more items follow; opaque, pass it back to continue.
    pub next_cursor: Option<String>,
}
