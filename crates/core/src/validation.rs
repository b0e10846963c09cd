//! Field errors gathered over a whole request, so a caller learns every problem at once.

use serde::Serialize;

/// One field that failed validation, named by its JSON path (`recipient.address.postcode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field, dot separated, with list indexes (`body[2]`).
    pub field: String,
    /// What is wrong, in words the sender can act on.
    pub message: String,
    /// Valid values close to the one given, when there are some (nearest province, postcode…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

/// Every field error found in one input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records that `field` is wrong.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into(), suggestions: Vec::new() });
    }

    /// Records that `field` is wrong and what the nearest valid values are.
    pub fn add_with_suggestions(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        suggestions: Vec<String>,
    ) {
        self.0.push(FieldError { field: field.into(), message: message.into(), suggestions });
    }

    /// Checks a required text field: present, not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        } else {
            self.max_len(field, value, max);
        }
    }

    /// Checks that an optional text field is at most `max` characters.
    pub fn max_len(&mut self, field: &str, value: &str, max: usize) {
        let len = value.chars().count();
        if len > max {
            self.add(field, format!("is {len} characters long, the limit is {max}"));
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

/// Levenshtein distance over characters (not bytes, so Thai letters count as one each): how
/// far a misspelt name is from a valid one, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}
