//! Line-numbered messages about files under `dispatch_rules/`.
//!
//! Every loader in the domain reports problems the same way, so `hotline rules check`,
//! the reload endpoint and start-up all print `file:line:column: message`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem concerns the file as a whole.
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_string(), line, column, severity: Severity::Error, message: message.into() }
    }

    pub fn warning(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_string(), line, column, severity: Severity::Warning, message: message.into() }
    }

    /// Builds a diagnostic pointing at a byte offset of `source`.
    pub fn at_offset(file: &str, source: &str, offset: usize, severity: Severity, message: impl Into<String>) -> Self {
        let (line, column) = line_column(source, offset);
        Diagnostic { file: file.to_string(), line, column, severity, message: message.into() }
    }

    /// Converts a `toml` parse/deserialize error, keeping its position.
    pub fn from_toml(file: &str, source: &str, err: &toml::de::Error) -> Self {
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = if err.span().is_some() { line_column(source, offset) } else { (0, 0) };
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            severity: Severity::Error,
            message: err.message().trim().to_string(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {}: {}", self.file, self.line, self.column, level, self.message)
    }
}

/// 1-based line and column (in characters, so Chinese text counts one per character).
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..source.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Finds the line of the first `key = "value"` assignment for a value, for diagnostics about
/// values that are syntactically fine but semantically wrong (unknown codes and the like).
pub fn find_value(source: &str, key: &str, value: &str) -> (usize, usize) {
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(key) && line.contains(&format!("\"{value}\"")) {
            let col = line.find(&format!("\"{value}\"")).map(|b| line[..b].chars().count() + 1).unwrap_or(1);
            return (i + 1, col);
        }
    }
    for (i, line) in source.lines().enumerate() {
        if let Some(b) = line.find(&format!("\"{value}\"")) {
            return (i + 1, line[..b].chars().count() + 1);
        }
    }
    (0, 0)
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut index: usize) -> usize {
        while index > 0 && !self.is_char_boundary(index) {
            index -= 1;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_chinese_characters_as_one_column() {
        let src = "a = 1\nname = \"城管委\" x";
        let off = src.find('x').unwrap();
        assert_eq!(line_column(src, off), (2, 14));
    }

    #[test]
    fn toml_errors_keep_their_position() {
        let src = "[[department]]\ncode = \"a\"\nname = \n";
        let err = toml::from_str::<toml::Value>(src).unwrap_err();
        let d = Diagnostic::from_toml("departments.toml", src, &err);
        assert_eq!(d.line, 3);
        assert!(d.to_string().starts_with("departments.toml:3:"));
    }
}
