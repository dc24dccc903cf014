//! The three languages of the pages (zh-CN, zh-HK, en): one Fluent
//! catalogue each under `locales/`, compiled into the binary, and the
//! formatting of dates (Asia/Shanghai) and money (fen) per language.
//!
//! A page asks for a message by key; a key missing in any catalogue fails
//! the `catalogues_have_the_same_keys` test, and at run time shows the key
//! itself (never a blank) and logs a warning.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use idlink_domain::Fen;
use std::sync::OnceLock;

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// Simplified Chinese, the default.
    ZhCn,
    /// Traditional Chinese (Hong Kong).
    ZhHk,
    En,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::ZhCn, Locale::ZhHk, Locale::En];

    /// The BCP 47 tag, as in `<html lang>` and the language cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::ZhHk => "zh-HK",
            Locale::En => "en",
        }
    }

    /// The language's own name, for the switch (each shown in itself).
    pub fn own_name(self) -> &'static str {
        match self {
            Locale::ZhCn => "简体中文",
            Locale::ZhHk => "繁體中文",
            Locale::En => "English",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// The language a tag from `Accept-Language` asks for, if one of ours:
    /// traditional-script and Hong Kong, Macao and Taiwan Chinese read zh-HK.
    fn matching(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        let mut parts = tag.split(['-', '_']);
        match parts.next()? {
            "en" => Some(Locale::En),
            // Cantonese readers read traditional characters.
            "yue" => Some(Locale::ZhHk),
            "zh" => {
                let rest: Vec<&str> = parts.collect();
                if rest.iter().any(|p| matches!(*p, "hant" | "hk" | "mo" | "tw")) { Some(Locale::ZhHk) } else { Some(Locale::ZhCn) }
            }
            _ => None,
        }
    }

    /// The first of our languages in an OpenID `ui_locales` list (space-separated
    /// BCP 47 tags in the app's order of preference; OIDC Core §3.1.2.1), if any.
    pub fn from_ui_locales(list: &str) -> Option<Locale> {
        list.split_whitespace().find_map(Locale::matching)
    }

    /// The best of our languages for an `Accept-Language` header (by its
    /// q-values, first listed on a tie), or zh-CN.
    pub fn negotiate(accept_language: Option<&str>) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for item in accept_language.unwrap_or("").split(',') {
            let mut fields = item.split(';');
            let Some(locale) = fields.next().and_then(Locale::matching) else { continue };
            let q = match fields.find_map(|f| f.trim().strip_prefix("q=").or_else(|| f.trim().strip_prefix("Q="))) {
                None => 1.0,
                // A weight that does not parse makes the entry unusable, not preferred.
                Some(q) => match q.trim().parse::<f32>() {
                    Ok(q) if q.is_finite() && (0.0..=1.0).contains(&q) => q,
                    _ => continue,
                },
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, locale));
            }
        }
        best.map_or(Locale::ZhCn, |(_, l)| l)
    }
}

/// Each language's catalogue, one file per area of the pages (`main`: the
/// frame, login, home, access log; `identity`: verification and guardians;
/// `security`: payment password and devices; `cards`: cards and balances;
/// `credit`: the credit report and its console review queue; `ss`: the
/// social-security card; `revocation`: revoking the real name, closing the account;
/// `console*`: the operator console, one file per area of it).
macro_rules! catalogue {
    ($dir:literal) => {
        &[
            include_str!(concat!("../locales/", $dir, "/main.ftl")),
            include_str!(concat!("../locales/", $dir, "/identity.ftl")),
            include_str!(concat!("../locales/", $dir, "/security.ftl")),
            include_str!(concat!("../locales/", $dir, "/cards.ftl")),
            include_str!(concat!("../locales/", $dir, "/console.ftl")),
            include_str!(concat!("../locales/", $dir, "/console-people.ftl")),
            include_str!(concat!("../locales/", $dir, "/console-health.ftl")),
            include_str!(concat!("../locales/", $dir, "/console-ops.ftl")),
            include_str!(concat!("../locales/", $dir, "/authorize.ftl")),
            include_str!(concat!("../locales/", $dir, "/apps.ftl")),
            include_str!(concat!("../locales/", $dir, "/console-apps.ftl")),
            include_str!(concat!("../locales/", $dir, "/console-api-keys.ftl")),
            include_str!(concat!("../locales/", $dir, "/console-retention.ftl")),
            include_str!(concat!("../locales/", $dir, "/credit.ftl")),
            include_str!(concat!("../locales/", $dir, "/ss.ftl")),
            include_str!(concat!("../locales/", $dir, "/revocation.ftl")),
            include_str!(concat!("../locales/", $dir, "/consents.ftl")),
        ]
    };
}

const SOURCES: [(Locale, &[&str]); 3] =
    [(Locale::ZhCn, catalogue!("zh-CN")), (Locale::ZhHk, catalogue!("zh-HK")), (Locale::En, catalogue!("en"))];

fn parse(locale: Locale, source: &str) -> FluentResource {
    FluentResource::try_new(source.to_owned()).unwrap_or_else(|(partial, errors)| {
        tracing::error!(locale = locale.tag(), errors = ?errors, "catalogue has syntax errors; the messages after them are lost");
        partial
    })
}

struct Catalogues {
    bundles: Vec<(Locale, FluentBundle<FluentResource>)>,
}

fn catalogues() -> &'static Catalogues {
    static CATALOGUES: OnceLock<Catalogues> = OnceLock::new();
    CATALOGUES.get_or_init(|| {
        let bundles = SOURCES
            .iter()
            .map(|(locale, sources)| {
                let lang = locale.tag().parse().unwrap_or_default();
                let mut bundle = FluentBundle::new_concurrent(vec![lang]);
                // Isolation marks (U+2068/9) would show up in attributes and tests.
                bundle.set_use_isolating(false);
                for source in *sources {
                    if let Err(errors) = bundle.add_resource(parse(*locale, source)) {
                        tracing::error!(locale = locale.tag(), errors = ?errors, "catalogue defines a message twice");
                    }
                }
                (*locale, bundle)
            })
            .collect();
        Catalogues { bundles }
    })
}

/// Whether the catalogue of `locale` has message `key`.
pub fn has_key(locale: Locale, key: &str) -> bool {
    catalogues().bundles.iter().any(|(l, b)| *l == locale && b.has_message(key))
}

/// The message ids of one language's catalogue, for the completeness test.
pub fn keys(locale: Locale) -> Vec<String> {
    let sources = SOURCES.iter().find(|(l, _)| *l == locale).map_or(&[][..], |(_, s)| *s);
    sources
        .iter()
        .flat_map(|source| {
            parse(locale, source)
                .entries()
                .filter_map(|e| match e {
                    fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The messages of one language, as pages use them.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Self {
        Self { locale }
    }

    fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = catalogues().bundles.iter().find(|(l, _)| *l == self.locale).map(|(_, b)| b);
        let Some(pattern) = bundle.and_then(|b| b.get_message(key)).and_then(|m| m.value()) else {
            tracing::warn!(locale = self.locale.tag(), key, "message missing from the catalogue");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.map(|b| b.format_pattern(pattern, args, &mut errors).into_owned()).unwrap_or_default();
        if !errors.is_empty() {
            tracing::warn!(locale = self.locale.tag(), key, errors = ?errors, "message did not format cleanly");
        }
        text
    }

    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with one argument.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value.to_owned()));
        self.format(key, Some(&args))
    }

    /// The message `key` with several text arguments.
    pub fn ta(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in values {
            args.set((*name).to_owned(), FluentValue::from((*value).to_owned()));
        }
        self.format(key, Some(&args))
    }

    /// The message `key` with a number argument (plural rules apply).
    pub fn tn(&self, key: &str, name: &str, value: i64) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value));
        self.format(key, Some(&args))
    }

    /// The message `key` whose `$phone` is a masked number ("139****0001"),
    /// as a screen reader should say it: "the number ending 0 0 0 1", not a
    /// row of stars. Words that are not a masked number are used as they are.
    pub fn with_phone_words(&self, key: &str, masked: &str) -> String {
        if !masked.contains('*') {
            return self.t1(key, "phone", masked);
        }
        let end: String = masked.chars().rev().take_while(|c| *c != '*').collect::<Vec<_>>().into_iter().rev().collect();
        let spaced = end.chars().map(String::from).collect::<Vec<_>>().join(" ");
        self.t1(key, "phone", &self.t1("masked-phone-words", "digits", &spaced))
    }

    /// An instant as this language writes a date and time, in Asia/Shanghai.
    pub fn datetime(&self, at: jiff::Timestamp) -> String {
        let local = at.to_zoned(idlink_domain::calendar::shanghai());
        match self.locale {
            Locale::ZhCn | Locale::ZhHk => local.strftime("%Y年%-m月%-d日 %H:%M").to_string(),
            Locale::En => local.strftime("%-d %b %Y, %H:%M").to_string(),
        }
    }

    /// A calendar day as this language writes it (a deadline at a day's end shows that day).
    pub fn date(&self, day: jiff::civil::Date) -> String {
        match self.locale {
            Locale::ZhCn | Locale::ZhHk => day.strftime("%Y年%-m月%-d日").to_string(),
            Locale::En => day.strftime("%-d %B %Y").to_string(),
        }
    }

    /// An instant's time of day (to the second), in Asia/Shanghai: when a short-lived code expires.
    pub fn time(&self, at: jiff::Timestamp) -> String {
        at.to_zoned(idlink_domain::calendar::shanghai()).strftime("%H:%M:%S").to_string()
    }

    /// An amount of money as this language writes it: the domain's yuan
    /// figure (`Fen`'s `Display`) with thousands grouped and a currency mark.
    pub fn money(&self, amount: Fen) -> String {
        let plain = amount.to_string();
        let (sign, digits) = plain.strip_prefix('-').map_or(("", plain.as_str()), |d| ("-", d));
        let (yuan, fen) = digits.split_once('.').unwrap_or((digits, "00"));
        let mark = match self.locale {
            Locale::ZhCn | Locale::ZhHk => "¥",
            Locale::En => "CNY ",
        };
        format!("{sign}{mark}{}.{fen}", group_thousands(yuan))
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_supported_ui_locale_wins() {
        assert_eq!(Locale::from_ui_locales("fr-CA en zh-CN"), Some(Locale::En));
        assert_eq!(Locale::from_ui_locales("zh-TW en"), Some(Locale::ZhHk));
        assert_eq!(Locale::from_ui_locales("zh-Hans-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_ui_locales("de fr"), None);
        assert_eq!(Locale::from_ui_locales(""), None);
    }

    #[test]
    fn catalogues_have_the_same_keys() {
        let reference: std::collections::BTreeSet<String> = keys(Locale::En).into_iter().collect();
        assert!(reference.len() > 10, "the English catalogue parsed");
        for locale in Locale::ALL {
            let all = keys(locale);
            let these: std::collections::BTreeSet<String> = all.iter().cloned().collect();
            assert_eq!(all.len(), these.len(), "{}: a key is defined twice (in one file or across files)", locale.tag());
            let missing: Vec<_> = reference.difference(&these).collect();
            let extra: Vec<_> = these.difference(&reference).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, not in English {extra:?}", locale.tag());
            for key in &these {
                assert_ne!(Tr::new(locale).t(key), *key, "{}: `{key}` formats", locale.tag());
            }
        }
    }

    /// Every key a template or a page names literally (`.t("…")`, `.t1("…"`,
    /// `.ta("…"`, `.tn("…"`) is in the catalogues, in every folder of
    /// templates and sources.
    #[test]
    fn every_key_the_pages_name_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut folders = vec![dir.join("templates"), dir.join("src")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    folders.push(entry.path());
                } else {
                    files.push(entry.path());
                }
            }
        }
        let known: std::collections::BTreeSet<String> = keys(Locale::En).into_iter().collect();
        let mut named = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for opener in [".t(\"", ".t1(\"", ".ta(\"", ".tn(\""] {
                for piece in text.split(opener).skip(1) {
                    let key = piece.split('"').next().unwrap_or("");
                    if key.is_empty() || key.contains('{') || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                        continue;
                    }
                    named += 1;
                    assert!(known.contains(key), "{}: `{key}` is not in the catalogues", file.display());
                }
            }
        }
        assert!(named > 20, "the scan found the pages' keys ({named})");
    }

    #[test]
    fn accept_language_picks_our_nearest_language() {
        assert_eq!(Locale::negotiate(None), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some("fr-FR, de;q=0.5")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some("en-GB,en;q=0.9")), Locale::En);
        assert_eq!(Locale::negotiate(Some("zh-TW")), Locale::ZhHk);
        assert_eq!(Locale::negotiate(Some("zh-Hant-HK")), Locale::ZhHk);
        assert_eq!(Locale::negotiate(Some("zh-Hans-CN")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some("en;q=0.4, zh-HK;q=0.8")), Locale::ZhHk);
        assert_eq!(Locale::negotiate(Some("en;q=0, zh")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some("en;q=abc")), Locale::ZhCn, "an unreadable weight is skipped");
        assert_eq!(Locale::negotiate(Some("zh;q=0.2, en;Q=0.5")), Locale::En);
        assert_eq!(Locale::negotiate(Some("yue-HK")), Locale::ZhHk);
    }

    #[test]
    fn money_and_dates_per_language() {
        let at: jiff::Timestamp = "2026-11-30T03:05:00Z".parse().unwrap_or_default();
        assert_eq!(Tr::new(Locale::ZhCn).datetime(at), "2026年11月30日 11:05");
        assert_eq!(Tr::new(Locale::En).datetime(at), "30 Nov 2026, 11:05");
        assert_eq!(Tr::new(Locale::ZhCn).money(Fen(123_456_789)), "¥1,234,567.89");
        assert_eq!(Tr::new(Locale::En).money(Fen(-5)), "-CNY 0.05");
        assert!(Tr::new(Locale::En).with_phone_words("login-code-sent", "139****0001").contains("the number ending 0 0 0 1"));
    }
}
