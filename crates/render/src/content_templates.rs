//! Content templates: the text of a letter written once as a minijinja template
//! (`templates/letters/content/<name>.txt`) and filled in with each letter's `data`.
//!
//! Every value a template uses must be given (strict undefined): a letter with a missing
//! value is refused rather than printed with a gap. The output is split into paragraphs at
//! blank lines; the single line breaks inside a paragraph are joined with a space. Filters
//! for Thai letters: `thai_date` (`2027-01-31` → ๓๑ มกราคม ๒๕๗๐), `thai_digits`, and `baht`
//! (`1234.5` → ๑,๒๓๔.๕๐).

use std::collections::BTreeMap;
use std::path::Path;

use hybridpost_thai::to_thai_digits;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};

use crate::letter::thai_date;

/// The content templates shipped with hybridpost.
const BUILTIN: &[(&str, &str)] = &[
    ("tax-notice", include_str!("../../../templates/letters/content/tax-notice.txt")),
    ("appointment", include_str!("../../../templates/letters/content/appointment.txt")),
];

/// Why a letter's text could not be made from its template.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// No template of this name.
    #[error("there is no content template {name:?}; the templates are: {known}")]
    UnknownTemplate {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// The letter's data lacks a value the template uses.
    #[error("content template {name:?} needs a value the letter's data does not give, at line {line}: {source_line}")]
    MissingValue {
        /// The template.
        name: String,
        /// Line of the template.
        line: usize,
        /// That line of the template, naming the value.
        source_line: String,
    },
    /// A template file could not be read.
    #[error("cannot read content template {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The template has a syntax error, or a filter got a value it cannot use.
    #[error("content template {name:?}: {detail}")]
    Template {
        /// The template.
        name: String,
        /// minijinja's explanation, with the line.
        detail: String,
    },
    /// The template gave no text.
    #[error("content template {name:?} gave no text for this letter")]
    Empty {
        /// The template.
        name: String,
    },
}

/// A set of content templates by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTemplates {
    sources: BTreeMap<String, String>,
}

impl ContentTemplates {
    /// The templates built into the program (`templates/letters/content/*.txt`).
    pub fn builtin() -> ContentTemplates {
        ContentTemplates {
            sources: BUILTIN.iter().map(|(name, source)| ((*name).to_string(), (*source).to_string())).collect(),
        }
    }

    /// Every `<name>.txt` in the folder `dir`.
    pub fn from_dir(dir: &Path) -> Result<ContentTemplates, ContentError> {
        let read_error = |source| ContentError::Read { path: dir.display().to_string(), source };
        let mut sources = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".txt")) else {
                continue;
            };
            let source = std::fs::read_to_string(&path)
                .map_err(|source| ContentError::Read { path: path.display().to_string(), source })?;
            sources.insert(name.to_string(), source);
        }
        Ok(ContentTemplates { sources })
    }

    /// The template names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.sources.keys().map(String::as_str).collect()
    }
}

/// The values template `name` uses (the top-level names of `data`), sorted: the columns a
/// mail merge must map.
pub fn template_variables(templates: &ContentTemplates, name: &str) -> Result<Vec<String>, ContentError> {
    let source = templates
        .sources
        .get(name)
        .ok_or_else(|| ContentError::UnknownTemplate { name: name.to_string(), known: templates.names().join(", ") })?;
    let mut env = Environment::new();
    env.add_template(name, source)
        .map_err(|e| ContentError::Template { name: name.to_string(), detail: e.to_string() })?;
    let template =
        env.get_template(name).map_err(|e| ContentError::Template { name: name.to_string(), detail: e.to_string() })?;
    let mut names: Vec<String> = template.undeclared_variables(false).into_iter().collect();
    names.sort();
    Ok(names)
}

/// The values template `name` loops over (`{% for item in documents %}`): lists, which a form
/// or a spreadsheet cell gives one item per line. Those the template only prints are not here.
pub fn list_variables(templates: &ContentTemplates, name: &str) -> Vec<String> {
    let Some(source) = templates.sources.get(name) else { return Vec::new() };
    let mut names = Vec::new();
    for tag in source.split("{%").skip(1) {
        let tag = tag.split("%}").next().unwrap_or_default();
        let words: Vec<&str> = tag.split_whitespace().map(|w| w.trim_matches('-')).filter(|w| !w.is_empty()).collect();
        if words.first() == Some(&"for")
            && let Some(i) = words.iter().position(|w| *w == "in")
            && let Some(list) = words.get(i + 1)
        {
            let list = list.split(['|', '(', '.', '[']).next().unwrap_or_default();
            if !list.is_empty()
                && list.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !names.iter().any(|n| n == list)
            {
                names.push(list.to_owned());
            }
        }
    }
    names.sort();
    names
}

/// Fills in template `name` with `data` and returns the letter's paragraphs.
pub fn expand_content(
    templates: &ContentTemplates,
    name: &str,
    data: &serde_json::Value,
) -> Result<Vec<String>, ContentError> {
    let source = templates
        .sources
        .get(name)
        .ok_or_else(|| ContentError::UnknownTemplate { name: name.to_string(), known: templates.names().join(", ") })?;
    let template_error = |e: &minijinja::Error| {
        let mut detail = e.to_string();
        if let Some(line) = e.line() {
            detail.push_str(&format!(" (line {line})"));
        }
        ContentError::Template { name: name.to_string(), detail }
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let syntax =
        SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build().map_err(|e| template_error(&e))?;
    env.set_syntax(syntax);
    env.add_filter("thai_digits", |value: Value| defined(&value).map(|()| to_thai_digits(&value.to_string())));
    env.add_filter("thai_date", filter_thai_date);
    env.add_filter("baht", filter_baht);
    env.add_template(name, source).map_err(|e| template_error(&e))?;
    let template = env.get_template(name).map_err(|e| template_error(&e))?;
    let text = template.render(Value::from(Serde(data))).map_err(|e| match (e.kind(), e.line()) {
        (ErrorKind::UndefinedError, Some(line)) => ContentError::MissingValue {
            name: name.to_string(),
            line,
            source_line: source.lines().nth(line - 1).unwrap_or_default().trim().to_string(),
        },
        _ => template_error(&e),
    })?;
    let paragraphs = paragraphs(&text);
    if paragraphs.is_empty() {
        return Err(ContentError::Empty { name: name.to_string() });
    }
    Ok(paragraphs)
}

/// Paragraphs of `text`: split at blank lines, the lines inside joined with a space.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

/// Fails on an undefined value: strict mode does not stop a filter from receiving one.
fn defined(value: &Value) -> Result<(), minijinja::Error> {
    if value.is_undefined() {
        Err(minijinja::Error::new(ErrorKind::UndefinedError, "a value the template uses is missing"))
    } else {
        Ok(())
    }
}

/// `YYYY-MM-DD` as a Thai date: day, month name, Buddhist-era year, in Thai digits.
fn filter_thai_date(value: Value) -> Result<String, minijinja::Error> {
    defined(&value)?;
    let value = value.to_string();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(&value, format).map_err(|_| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("{value} is not a date in the form YYYY-MM-DD"))
    })?;
    Ok(thai_date(date))
}

/// An amount in baht with thousands separators and two decimals, in Thai digits.
fn filter_baht(value: Value) -> Result<String, minijinja::Error> {
    defined(&value)?;
    let amount: f64 = match value.as_i64() {
        Some(i) => i as f64,
        None => value.to_string().parse().map_err(|_| {
            minijinja::Error::new(ErrorKind::InvalidOperation, format!("{value} is not an amount of money"))
        })?,
    };
    if !amount.is_finite() || amount < 0.0 {
        return Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("{amount} is not an amount of money")));
    }
    let satang = (amount * 100.0).round() as u64;
    let whole = (satang / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    Ok(to_thai_digits(&format!("{grouped}.{:02}", satang % 100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_a_template_loops_over_are_its_lists() {
        let templates = &crate::LetterTemplates::builtin().content;
        assert_eq!(list_variables(templates, "appointment"), ["documents"]);
        assert!(list_variables(templates, "tax-notice").is_empty());
        assert!(list_variables(templates, "no-such-template").is_empty());
    }

    fn tax_data() -> serde_json::Value {
        serde_json::json!({
            "office": "สำนักงานเขตพญาไท",
            "tax_year": 2569,
            "parcel": "ที่ดินโฉนดเลขที่ 12345 พร้อมสิ่งปลูกสร้าง",
            "assessed_value": 2450000,
            "tax_amount": 1225.5,
            "due_date": "2027-04-30",
            "late_rate": 1
        })
    }

    #[test]
    fn a_template_gives_its_paragraphs() {
        let paragraphs = expand_content(&ContentTemplates::builtin(), "tax-notice", &tax_data()).expect("fills in");
        assert_eq!(paragraphs.len(), 3, "{paragraphs:?}");
        assert!(paragraphs[0].contains("ประจำปีภาษี ๒๕๖๙"), "{}", paragraphs[0]);
        assert!(paragraphs[0].contains("๒,๔๕๐,๐๐๐.๐๐ บาท"), "{}", paragraphs[0]);
        assert!(paragraphs[0].contains("๑,๒๒๕.๕๐ บาท"), "{}", paragraphs[0]);
        assert!(paragraphs[1].contains("ภายในวันที่ ๓๐ เมษายน ๒๕๗๐"), "{}", paragraphs[1]);
        assert!(!paragraphs.iter().any(|p| p.contains('\n') || p.contains("{{")));
    }

    #[test]
    fn an_optional_part_is_left_out_when_its_value_is_not_given() {
        let mut data = tax_data();
        data.as_object_mut().expect("an object").remove("late_rate");
        let paragraphs = expand_content(&ContentTemplates::builtin(), "tax-notice", &data).expect("fills in");
        assert_eq!(paragraphs.len(), 2);
    }

    #[test]
    fn a_missing_value_is_named() {
        let mut data = tax_data();
        data.as_object_mut().expect("an object").remove("due_date");
        data.as_object_mut().expect("an object").remove("office");
        let err = expand_content(&ContentTemplates::builtin(), "tax-notice", &data).expect_err("due_date is missing");
        assert!(matches!(err, ContentError::MissingValue { .. }), "{err}");
        assert!(err.to_string().contains("office"), "{err}");
        for key in ["tax_year", "tax_amount", "due_date"] {
            let mut data = tax_data();
            data.as_object_mut().expect("an object").remove(key);
            let err = expand_content(&ContentTemplates::builtin(), "tax-notice", &data).expect_err("missing");
            assert!(matches!(err, ContentError::MissingValue { .. }) && err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn an_unknown_template_lists_the_known_ones() {
        let err = expand_content(&ContentTemplates::builtin(), "tax", &tax_data()).expect_err("no such template");
        assert_eq!(err.to_string(), "there is no content template \"tax\"; the templates are: appointment, tax-notice");
    }

    #[test]
    fn a_list_fills_one_paragraph() {
        let data = serde_json::json!({
            "purpose": "เพื่อตรวจสถานประกอบการ", "date": "2026-12-15", "time": "10.00", "place": "ห้องประชุม ๑",
            "documents": ["บัตรประจำตัวประชาชน", "ใบอนุญาตประกอบกิจการ"]
        });
        let paragraphs = expand_content(&ContentTemplates::builtin(), "appointment", &data).expect("fills in");
        assert_eq!(paragraphs.len(), 3, "{paragraphs:?}");
        assert!(paragraphs[1].ends_with("(๑) บัตรประจำตัวประชาชน (๒) ใบอนุญาตประกอบกิจการ"), "{}", paragraphs[1]);
    }
}
