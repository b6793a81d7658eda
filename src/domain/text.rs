//! What text the service accepts from outside, whatever field it arrives in: letters,
//! digits, punctuation, spaces, line breaks and tabs, but no other control character. NUL
//! in particular cannot be stored by PostgreSQL, and the other control characters have no
//! place in a ticket, a name or a filter, so both databases are given the same refusal
//! before either sees the text.

/// The first control character `text` holds that is not a line break or a tab, with its
/// position in characters (counted from 0).
pub fn forbidden_character(text: &str) -> Option<(usize, char)> {
    text.chars().enumerate().find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// The sentence a refusal says, naming the field and the character.
pub fn refusal(field: &str, position: usize, character: char) -> String {
    format!(
        "{field}: control character U+{:04X} at position {position}; text may hold line breaks and tabs but no other control characters",
        character as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_tabs_pass_nul_and_other_controls_do_not() {
        assert_eq!(forbidden_character("楼下垃圾\n三天\t没人清运\r\n"), None);
        assert_eq!(forbidden_character("a\u{0}b"), Some((1, '\u{0}')));
        assert_eq!(forbidden_character("路灯\u{1b}[31m"), Some((2, '\u{1b}')));
        assert_eq!(forbidden_character("x\u{7f}"), Some((1, '\u{7f}')));
        assert_eq!(forbidden_character("x\u{85}"), Some((1, '\u{85}')));
        assert!(refusal("content", 1, '\u{0}').starts_with("content: control character U+0000 at position 1"));
    }
}
