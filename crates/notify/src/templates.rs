//! E-mail templates: Thai first, English beside it; each has a subject, a plain text and an HTML body.

use std::path::Path;
use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// The names of all e-mail templates.
pub const TEMPLATE_NAMES: [&str; 5] =
    ["digital_letter", "reply_received", "letter_returned", "optin_confirm", "failure_digest"];

/// The three files of a template, relative to `templates/email/<name>/`.
const PARTS: [&str; 3] = ["subject.txt", "body.txt", "body.html"];
/// Shared HTML frame that every `body.html` extends.
const LAYOUT: &str = "_layout.html";

macro_rules! builtin {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../templates/email/", $path)))),*]
    };
}

/// Template sources compiled into the crate, so that rendering needs no files at run time.
const BUILTIN: &[(&str, &str)] = builtin!(
    "_layout.html",
    "digital_letter/subject.txt",
    "digital_letter/body.txt",
    "digital_letter/body.html",
    "reply_received/subject.txt",
    "reply_received/body.txt",
    "reply_received/body.html",
    "letter_returned/subject.txt",
    "letter_returned/body.txt",
    "letter_returned/body.html",
    "optin_confirm/subject.txt",
    "optin_confirm/body.txt",
    "optin_confirm/body.html",
    "failure_digest/subject.txt",
    "failure_digest/body.txt",
    "failure_digest/body.html",
);

/// A rendered e-mail, ready for [`crate::OutgoingEmail::from_rendered`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RenderedEmail {
    /// One-line subject.
    pub subject: String,
    /// Plain text body.
    pub text: String,
    /// HTML body, with every variable HTML-escaped.
    pub html: String,
}

/// Why a template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template of this name.
    #[error("unknown e-mail template {name:?} (known: {known})", known = TEMPLATE_NAMES.join(", "))]
    UnknownTemplate {
        /// The name asked for.
        name: String,
    },
    /// A template file could not be read.
    #[error("cannot read template file {path}: {source}")]
    Load {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template has a syntax error, or rendering failed (for example a missing variable).
    #[error("template {file}: {detail}")]
    Render {
        /// Which file, e.g. `digital_letter/body.html`.
        file: String,
        /// minijinja's explanation, with the line number.
        detail: String,
    },
}

/// A set of loaded e-mail templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The templates compiled into the crate.
    pub fn builtin() -> Result<Self, TemplateError> {
        Self::from_sources(BUILTIN.iter().map(|(name, src)| ((*name).to_owned(), (*src).to_owned())))
    }

    /// Loads the same file layout from a folder (`<dir>/_layout.html`, `<dir>/<name>/subject.txt`, ...),
    /// so that wording can be changed without rebuilding.
    pub fn from_dir(dir: &Path) -> Result<Self, TemplateError> {
        let mut names = vec![LAYOUT.to_owned()];
        for template in TEMPLATE_NAMES {
            names.extend(PARTS.iter().map(|part| format!("{template}/{part}")));
        }
        let mut sources = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(&name);
            let src = std::fs::read_to_string(&path)
                .map_err(|source| TemplateError::Load { path: path.display().to_string(), source })?;
            sources.push((name, src));
        }
        Self::from_sources(sources.into_iter())
    }

    fn from_sources(sources: impl Iterator<Item = (String, String)>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| render_error("(syntax settings)", &e))?;
        env.set_syntax(syntax);
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        for (name, src) in sources {
            env.add_template_owned(name.clone(), src).map_err(|e| render_error(&name, &e))?;
        }
        Ok(Self { env })
    }

    /// Renders the subject, text and HTML of template `name` with `context`.
    ///
    /// Every variable a template uses must be present in `context` (strict mode); optional ones are
    /// guarded with `is defined` in the template itself.
    pub fn render(&self, name: &str, context: &serde_json::Value) -> Result<RenderedEmail, TemplateError> {
        if !TEMPLATE_NAMES.contains(&name) {
            return Err(TemplateError::UnknownTemplate { name: name.to_owned() });
        }
        let ctx = Value::from(Serde(context));
        let part = |file: &str| -> Result<String, TemplateError> {
            let full = format!("{name}/{file}");
            let template = self.env.get_template(&full).map_err(|e| render_error(&full, &e))?;
            template.render(&ctx).map_err(|e| render_error(&full, &e))
        };
        let subject = part("subject.txt")?.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = part("body.txt")?;
        let html = part("body.html")?;
        Ok(RenderedEmail { subject, text, html })
    }
}

fn render_error(file: &str, err: &minijinja::Error) -> TemplateError {
    let mut detail = err.to_string();
    if let Some(line) = err.line() {
        detail.push_str(&format!(" (line {line})"));
    }
    TemplateError::Render { file: file.to_owned(), detail }
}

/// Renders a built-in template. See [`Templates::render`].
pub fn render(template_name: &str, context: serde_json::Value) -> Result<RenderedEmail, TemplateError> {
    static BUILTIN_TEMPLATES: OnceLock<Result<Templates, String>> = OnceLock::new();
    let templates = BUILTIN_TEMPLATES
        .get_or_init(|| Templates::builtin().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|detail| TemplateError::Render { file: "(built-in templates)".to_owned(), detail: detail.clone() })?;
    templates.render(template_name, &context)
}
