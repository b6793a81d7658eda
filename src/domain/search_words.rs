//! The district's own search words (`dispatch_rules/search_words.txt`): hotline phrases that
//! jieba's general dictionary cuts so that a query misses what it should find.
//!
//! A query must find each of its words in a ticket, as a phrase of characters (see
//! `search::segment`). jieba alone cuts 路灯不亮 into 路 / 灯不亮, and then 灯不亮 is
//! required: 小区路灯晚上不亮了 is missed. With 不亮 a word of its own the query asks for
//! 路灯 and 不亮, which that ticket holds. The file only changes how queries are cut (and the
//! duplicate finder's word sets), never the index, so an edit needs no reindex.
//!
//! Format: jieba's user dictionary, one entry a line — `word [freq] [tag]`, separated by
//! spaces. `freq` (a whole number) weighs the word against the general dictionary; left out,
//! jieba picks a weight that just keeps the word whole. `tag` is a part-of-speech tag such as
//! `n`, `v` or `nz` (kept for jieba, unused by the search). `#` starts a comment; blank lines
//! are skipped. A malformed line is refused with its line and column.

use super::diagnostic::Diagnostic;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWord {
    pub word: String,
    pub freq: Option<usize>,
    pub tag: Option<String>,
}

/// The largest weight accepted: far above any word of the general dictionary (的 has about
/// 320,000), yet small enough that a slip of the keyboard is caught.
pub const MAX_FREQ: usize = 10_000_000;

/// Reads the file; every malformed line is reported, not just the first.
pub fn parse(file: &str, source: &str) -> Result<Vec<SearchWord>, Vec<Diagnostic>> {
    let mut words: Vec<SearchWord> = Vec::new();
    let mut first_line: Vec<usize> = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in source.lines().enumerate() {
        let line = index + 1;
        let text = raw.split('#').next().unwrap_or("");
        let fields: Vec<(usize, &str)> = fields(text);
        let Some(&(word_at, word)) = fields.first() else { continue };
        let error = |column: usize, message: String| Diagnostic::error(file, line, column + 1, message);
        if fields.len() > 3 {
            errors.push(error(fields[3].0, format!("expected `word [freq] [tag]`, found {} fields", fields.len())));
            continue;
        }
        if word.chars().count() < 2 || !word.chars().all(char::is_alphanumeric) {
            errors.push(error(
                word_at,
                format!("\"{word}\": a word is two or more letters or digits, without punctuation"),
            ));
            continue;
        }
        // As in jieba's own user dictionaries, either may be left out: digits are the
        // frequency, letters the tag.
        let (freq, tag) = match (fields.get(1), fields.get(2)) {
            (None, _) => (None, None),
            (Some(&(_, t)), None) if is_tag(t) => (None, Some(t.to_string())),
            (Some(&(at, f)), tag) => {
                let Some(freq) = f.parse::<usize>().ok().filter(|n| (1..=MAX_FREQ).contains(n)) else {
                    let message = format!(
                        "\"{f}\": the frequency is a whole number from 1 to {MAX_FREQ} (or a tag of letters, e.g. n)"
                    );
                    errors.push(error(at, message));
                    continue;
                };
                match tag {
                    Some(&(at, t)) if !is_tag(t) => {
                        errors.push(error(
                            at,
                            format!("\"{t}\": a tag is a part-of-speech code of letters, e.g. n, v, nz"),
                        ));
                        continue;
                    }
                    tag => (Some(freq), tag.map(|(_, t)| t.to_string())),
                }
            }
        };
        if let Some(i) = words.iter().position(|w| w.word == word) {
            errors.push(error(word_at, format!("\"{word}\" is already listed on line {}", first_line[i])));
            continue;
        }
        words.push(SearchWord { word: word.to_string(), freq, tag });
        first_line.push(line);
    }
    if errors.is_empty() {
        Ok(words)
    } else {
        Err(errors)
    }
}

fn is_tag(field: &str) -> bool {
    field.chars().all(|c| c.is_ascii_alphabetic())
}

/// The whitespace-separated fields of a line, each with its column (0-based, in characters).
fn fields(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (column, (byte, c)) in text.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((column, byte)),
            (true, Some((col, from))) => {
                out.push((col, &text[from..byte]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((col, from)) = start {
        out.push((col, &text[from..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_comments_and_blank_lines() {
        let text = "# 热线常用词\n\n不亮 5000\n占道 n\n占道经营 3000 v # 城管\n扰民\n";
        let words = parse("search_words.txt", text);
        let words = match words {
            Err(e) => panic!("{e:?}"),
            Ok(w) => w,
        };
        assert_eq!(words.len(), 4);
        assert_eq!(words[0], SearchWord { word: "不亮".into(), freq: Some(5000), tag: None });
        assert_eq!(words[1], SearchWord { word: "占道".into(), freq: None, tag: Some("n".into()) });
        assert_eq!(words[2], SearchWord { word: "占道经营".into(), freq: Some(3000), tag: Some("v".into()) });
        assert_eq!(words[3], SearchWord { word: "扰民".into(), freq: None, tag: None });
    }

    #[test]
    fn malformed_lines_are_refused_with_line_and_column() {
        let text = "不亮 5000\n占道 5千\n扰民 10 n extra\n路\n不亮\n路灯，不亮 10\n油烟 10 名词\n积水 0\n";
        let errors = parse("search_words.txt", text).unwrap_err();
        let at: Vec<String> = errors.iter().map(|d| format!("{}:{}", d.line, d.column)).collect();
        assert_eq!(at, ["2:4", "3:9", "4:1", "5:1", "6:1", "7:7", "8:4"]);
        assert!(errors[0].to_string().starts_with("search_words.txt:2:4: error"), "{}", errors[0]);
        assert!(errors[0].message.contains("frequency"));
        assert!(errors[3].message.contains("line 1"), "{}", errors[3].message);
    }
}
