//! Which locale a request resolves to.
//!
//! ECMA-402 resolves a list of requested tags to the first one the
//! implementation supports, else to its default locale. V8 supports the
//! languages ICU ships data for and defaults to `en-US`; Clockwork does the
//! same for the languages listed here (CLDR's modern and moderate coverage:
//! every official language of the EU, the Americas' languages, Japanese,
//! Chinese, Korean, India's major languages and other widely used ones).
//! Within a supported language, ICU4X falls back from a region or script it
//! has no specific data for to the language's own data (`de-XX` → `de`).

use icu_locale_core::{LanguageIdentifier, Locale, locale};

/// Languages with locale data (BCP 47 language subtags).
const SUPPORTED_LANGUAGES: &[&str] = &[
    // European Union
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv",
    "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv", // other European
    "ca", "eu", "gl", "is", "lb", "nb", "nn", "no", "ru", "uk", "be", "sr", "bs", "mk", "sq", "tr",
    "cy", // Asia
    "ja", "zh", "ko", "hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "ur", "or", "as", "th",
    "vi", "id", "ms", "fil", "he", "ar", "fa", "ka", "hy", "az", "kk", "uz", // Africa
    "af", "sw", "zu", "am",
];

/// The locale a tag resolves to: itself (without extensions) when its
/// language is supported, else `en-US`.
pub(crate) fn resolve(tag: &str) -> Locale {
    supported(tag).unwrap_or(locale!("en-US"))
}

fn supported(tag: &str) -> Option<Locale> {
    let parsed = LanguageIdentifier::try_from_str(tag.split("-u-").next()?).ok()?;
    SUPPORTED_LANGUAGES
        .contains(&parsed.language.as_str())
        .then(|| Locale::from(parsed))
}

/// `intlResolve(tags)`: the tag of the first supported locale among the
/// (already canonicalised) requested ones, or `en-US`.
pub(super) fn resolve_js(tags: Vec<String>) -> String {
    tags.iter()
        .find_map(|tag| supported(tag))
        .unwrap_or(locale!("en-US"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_languages_keep_their_region_and_others_become_en_us() {
        assert_eq!(resolve("de-DE").to_string(), "de-DE");
        assert_eq!(resolve("pt-BR").to_string(), "pt-BR");
        assert_eq!(resolve("zh-Hant-TW").to_string(), "zh-Hant-TW");
        assert_eq!(resolve("xx-YY").to_string(), "en-US");
        assert_eq!(resolve("not a tag").to_string(), "en-US");
        assert_eq!(
            resolve_js(vec!["tlh".into(), "ja-JP".into(), "de".into()]),
            "ja-JP"
        );
        assert_eq!(resolve_js(Vec::new()), "en-US");
    }
}
