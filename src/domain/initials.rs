//! Pinyin initials (拼音首字母) of a Chinese name, so a search box finds 路灯故障 by `ldgz`, as
//! operators type them on a keyboard with no input method switched on.

use pinyin::ToPinyin;

/// `路灯故障` → `ldgz`; `区城管委` → `qcgw`. Letters and digits are kept (lower case); other
/// signs are left out.
pub fn initials(name: &str) -> String {
    name.chars()
        .zip(name.to_pinyin())
        .filter_map(|(c, p)| match p {
            Some(p) => p.first_letter().chars().next(),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn names_become_the_letters_operators_type() {
        assert_eq!(initials("路灯故障"), "ldgz");
        assert_eq!(initials("市政设施/路灯故障"), "szssldgz");
        assert_eq!(initials("区城管委"), "qcgw");
        assert_eq!(initials("12345热线"), "12345rx");
        assert_eq!(initials(""), "");
    }
}
