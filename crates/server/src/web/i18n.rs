//! The one translation catalogue every user-visible string of the web pages comes from:
//! `locales/<language>.json`, a flat map of key to text with `{name}` placeholders. English is
//! complete; another language falls back to English for a key it lacks.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;

/// The languages, with whether they are written right to left.
pub const LANGUAGES: [(&str, bool); 4] =
    [("en", false), ("fr", false), ("es", false), ("ar", true)];

const SOURCES: [(&str, &str); 4] = [
    ("en", include_str!("../../locales/en.json")),
    ("fr", include_str!("../../locales/fr.json")),
    ("es", include_str!("../../locales/es.json")),
    ("ar", include_str!("../../locales/ar.json")),
];

/// The cookie holding the chosen language.
pub const LANGUAGE_COOKIE: &str = "armstrace_lang";

/// One language's texts, English filling what it lacks.
#[derive(Debug)]
pub struct Catalogue {
    /// Its code (`en`, `fr` …).
    pub code: &'static str,
    /// Its own name.
    pub name: String,
    /// Whether it is written right to left.
    pub rtl: bool,
    texts: HashMap<String, String>,
}

/// A language's own keys, without the English fallback.
pub fn own_keys(code: &str) -> Option<HashMap<String, String>> {
    SOURCES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| serde_json::from_str(text).expect("the catalogues are checked by a test"))
}

static CATALOGUES: LazyLock<Vec<Catalogue>> = LazyLock::new(|| {
    let english = own_keys("en").expect("English is there");
    LANGUAGES
        .iter()
        .map(|(code, rtl)| {
            let mut texts = english.clone();
            texts.extend(own_keys(code).expect("every language has a file"));
            Catalogue {
                code,
                name: texts["lang_name"].clone(),
                rtl: *rtl,
                texts,
            }
        })
        .collect()
});

/// Every catalogue, English first.
pub fn all() -> &'static [Catalogue] {
    &CATALOGUES
}

/// The catalogue of `code`, if there is one.
pub fn by_code(code: &str) -> Option<&'static Catalogue> {
    CATALOGUES.iter().find(|c| c.code == code)
}

/// The language of a request: the chosen one (cookie), else the browser's first that we have,
/// else English.
pub fn for_request(headers: &HeaderMap) -> &'static Catalogue {
    if let Some(chosen) = crate::auth::cookie(headers, LANGUAGE_COOKIE).and_then(|c| by_code(&c)) {
        return chosen;
    }
    let accepted = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accepted
        .split(',')
        .filter_map(|part| part.split(';').next())
        .map(|tag| {
            tag.trim()
                .split('-')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .find_map(|code| by_code(&code))
        .unwrap_or(&CATALOGUES[0])
}

impl Catalogue {
    /// The text of `key` (empty when no catalogue has it, which a test forbids for the keys
    /// the templates use).
    pub fn t(&self, key: &str) -> &str {
        self.texts.get(key).map_or("", String::as_str)
    }

    /// The text of `key` with its `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_string();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<String> {
        let mut found: Vec<String> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn french_is_complete_and_spanish_and_arabic_cover_sign_in_navigation_and_the_check() {
        let english = own_keys("en").unwrap();
        let core = [
            "lang_name",
            "app_name",
            "skip_to_content",
            "nav_",
            "signed_in_as",
            "signin_",
            "signed_out",
            "form_expired",
            "pending_",
            "approver_",
            "check_",
            "diff_",
            "error_",
        ];
        for (code, _) in LANGUAGES {
            let own = own_keys(code).unwrap();
            for (key, text) in &english {
                let needed = code == "fr" || core.iter().any(|p| key.starts_with(p));
                match own.get(key) {
                    Some(translated) => assert_eq!(
                        placeholders(translated),
                        placeholders(text),
                        "{code}: '{key}' has other placeholders than English"
                    ),
                    None => assert!(!needed, "{code} lacks '{key}'"),
                }
            }
            for key in own.keys() {
                assert!(
                    english.contains_key(key),
                    "{code} has '{key}', English does not"
                );
            }
        }
    }

    #[test]
    fn every_key_the_templates_use_is_in_the_english_catalogue() {
        let english = own_keys("en").unwrap();
        let sources = [
            include_str!("../../templates/layout.html"),
            include_str!("../../templates/sign_in.html"),
            include_str!("../../templates/pending.html"),
            include_str!("../../templates/home.html"),
            include_str!("../../templates/check.html"),
            include_str!("../../templates/hits.html"),
            include_str!("../../templates/hit.html"),
            include_str!("../../templates/notifications.html"),
            include_str!("../../templates/error.html"),
            include_str!("../../templates/import.html"),
            include_str!("../../templates/batch.html"),
            include_str!("../../templates/organisations.html"),
            include_str!("work.rs"),
            include_str!("records.rs"),
            include_str!("admin.rs"),
            include_str!("../../templates/admin_nav.html"),
            include_str!("../../templates/admin_users.html"),
            include_str!("../../templates/admin_tokens.html"),
            include_str!("../../templates/admin_webhooks.html"),
            include_str!("../../templates/admin_deliveries.html"),
            include_str!("../../templates/admin_audit.html"),
            include_str!("../../templates/records.html"),
            include_str!("../../templates/record.html"),
            include_str!("../../templates/record_form.html"),
            include_str!("../../templates/record_delete.html"),
            include_str!("pages.rs"),
            include_str!("traces.rs"),
            include_str!("../../templates/traces.html"),
            include_str!("../../templates/trace.html"),
            include_str!("../../templates/trace_form.html"),
            include_str!("../web.rs"),
        ];
        let mut used = 0;
        for source in sources {
            for opener in ["t(\"", "f(\"", "t('", "f('"] {
                for (at, _) in source.match_indices(opener) {
                    // `t(` as a call of its own, not the end of `insert(`.
                    let before = source[..at].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    let rest = &source[at + opener.len()..];
                    let key: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if key.len() > 2 && rest[key.len()..].starts_with(['"', '\'']) {
                        used += 1;
                        assert!(english.contains_key(&key), "'{key}' is not in en.json");
                    }
                }
            }
        }
        assert!(used > 50, "only {used} keys found: the scan is broken");
    }

    #[test]
    fn the_language_is_the_chosen_one_else_the_browser_s_else_english() {
        let mut headers = HeaderMap::new();
        assert_eq!(for_request(&headers).code, "en");
        headers.insert("accept-language", "de-DE, fr;q=0.8".parse().unwrap());
        assert_eq!(for_request(&headers).code, "fr");
        headers.insert("cookie", "armstrace_lang=ar".parse().unwrap());
        let arabic = for_request(&headers);
        assert!(arabic.rtl);
        assert!(
            arabic
                .f("check_no_match", &[("serial", "X1")])
                .contains("X1")
        );
    }
}
