//! How names are compared: in any script, case, spacing or punctuation.

/// A make's or model's name as compared: transliterated to Latin (Cyrillic, Greek, accents …),
/// lower case, letters and digits only. "Ижмаш", "IZHMASH" and "Izh-Mash" all give `izhmash`.
pub fn name_key(name: &str) -> String {
    deunicode::deunicode(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A calibre as compared: decimal commas as points, `×` and the Cyrillic `х` as `x`, without
/// spaces and dashes, without the unit `mm` in a dimension (`7.62x39mm`; a bare `40mm` keeps
/// it, or it would read as `.40`), without "calibre" or "cal."; the Russian "калибр" of a
/// shotgun as `ga`. "7,62×39 мм", "7.62x39mm" and "7.62 x 39" all give `7.62x39`.
pub fn calibre_key(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| match c {
            '×' | 'х' | 'Х' | '*' => 'x',
            ',' => '.',
            other => other,
        })
        .collect();
    let latin = deunicode::deunicode(&replaced).to_ascii_lowercase();
    let mut text: String = latin
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '/')
        .collect();
    text = text.replace("kalibra", "ga").replace("kalibr", "ga");
    for word in ["calibre", "caliber", "kal.", "cal."] {
        text = text.replace(word, "");
    }
    if text.contains('x') {
        text = text.replace("mm", "");
    }
    text.trim_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_across_scripts_case_and_punctuation() {
        assert_eq!(name_key("Ижмаш"), "izhmash");
        assert_eq!(name_key("IZH-MASH"), "izhmash");
        assert_eq!(name_key("Česká zbrojovka"), "ceskazbrojovka");
        assert_eq!(name_key("Smith & Wesson"), "smithwesson");
    }

    #[test]
    fn calibres_compare_across_notations() {
        assert_eq!(calibre_key("7,62×39 мм"), "7.62x39");
        assert_eq!(calibre_key("7.62x39mm"), "7.62x39");
        assert_eq!(calibre_key("7.62 x 39"), "7.62x39");
        assert_eq!(calibre_key(".45 ACP"), "45acp");
        assert_eq!(calibre_key("12/70"), "12/70");
        assert_eq!(calibre_key("cal. 12"), "12");
        assert_eq!(calibre_key("12 калибр"), "12ga");
        assert_eq!(calibre_key("40mm"), "40mm");
        assert_eq!(calibre_key(".40"), "40");
    }
}
