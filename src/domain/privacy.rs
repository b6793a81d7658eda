//! What of a resident a department may see (保密), and what counts as a phone number.

/// Keeps the surname, hides the rest: 王小明 → 王**. A resident who gave only "王女士" keeps
/// the polite form since it identifies no one.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count();
            format!("{first}{}", "*".repeat(rest.max(1)))
        }
    }
}

/// Keeps the e-mail's first character and its domain: `w***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", mask_name(local)),
        None => mask_name(email),
    }
}

/// Keeps the first three and last four digits of a mobile, the area code and last two of a
/// landline: enough for a person to tell two callers apart, not enough to call them.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n);
    }
    let (keep_head, keep_tail) = if phone.starts_with('1') { (3, 4) } else { (n.saturating_sub(2).min(4), 2) };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep_head || i >= n - keep_tail || *c == '-' { *c } else { '*' })
        .collect()
}

/// Mainland mobile (11 digits, 1[3-9]…), or a landline with area code (010-12345678,
/// 0571-8765432), or a short service number (5–6 digits such as 12345, 95598).
pub fn validate_phone(phone: &str) -> Result<(), &'static str> {
    let p = phone.trim();
    if p.is_empty() {
        return Err("phone number is empty");
    }
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mobile = p.len() == 11 && digits_only(p) && p.as_bytes()[1] >= b'3' && p.as_bytes()[0] == b'1';
    let landline = match p.split_once('-') {
        Some((area, local)) => {
            area.starts_with('0')
                && (3..=4).contains(&area.len())
                && digits_only(area)
                && (7..=8).contains(&local.len())
                && digits_only(local)
        }
        None => p.starts_with('0') && (10..=12).contains(&p.len()) && digits_only(p),
    };
    let service = (5..=6).contains(&p.len()) && digits_only(p);
    if mobile || landline || service {
        Ok(())
    } else {
        Err("phone must be a mainland mobile (13812345678), a landline with area code (010-12345678) or a service number")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_phones_are_masked_for_departments() {
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("010-12345678"), "010-******78");
    }

    #[test]
    fn phone_numbers_are_checked() {
        for ok in ["13812345678", "010-12345678", "0571-8765432", "12345", "01012345678"] {
            assert!(validate_phone(ok).is_ok(), "{ok}");
        }
        for bad in ["", "12812345678", "1381234567", "phone", "010-123", "+8613812345678x"] {
            assert!(validate_phone(bad).is_err(), "{bad}");
        }
    }
}
