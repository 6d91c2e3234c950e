//! Names that become file names: lab names (state files, `/run/netns/<lab>-<node>`),
//! node and lan names, run tags (results folders). Checked as names, so that
//! none can be a path (`/`, `..`) or hide (a leading `.`) or pass for an
//! option (a leading `-`).

/// Longest lab, node or lan name.
pub const NAME_MAX: usize = 32;
/// Longest run tag.
pub const TAG_MAX: usize = 100;

/// Why a string is not a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than {0} characters")]
    TooLong(usize),
    #[error("it starts with {0:?}")]
    Leading(char),
    #[error("it contains {0:?}")]
    BadChar(char),
}

/// `name` is 1 to `max` characters from A-Z, a-z, 0-9, `_`, `-` (and `.`
/// when `dot`), and does not start with `-` or `.`.
pub fn check_name(name: &str, max: usize, dot: bool) -> Result<(), NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    if name.len() > max {
        return Err(NameError::TooLong(max));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dot && c == '.')))
    {
        return Err(NameError::BadChar(c));
    }
    if first == '-' || first == '.' {
        return Err(NameError::Leading(first));
    }
    Ok(())
}

/// `s` with every control character but `\n` (C0, DEL, C1: ESC, CR, BEL,
/// CSI...) written as an escape such as `\u{1b}`: text from a file or a
/// program is printed so that it cannot reach a terminal as a control
/// sequence (recolour, clear, retitle, or hide what came before).
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n';
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A lab name: as a topology's `name` (no `.`).
pub fn check_lab_name(name: &str) -> Result<(), NameError> {
    check_name(name, NAME_MAX, false)
}

/// What [`check_lab_name`] accepts, for hints.
pub const LAB_NAME_RULE: &str =
    "use 1 to 32 characters from A-Z, a-z, 0-9, `-` and `_`, not starting with `-`";

/// A run tag (a results folder name): dots allowed, not first.
pub fn check_tag(tag: &str) -> Result<(), NameError> {
    check_name(tag, TAG_MAX, true)
}

/// What [`check_tag`] accepts, for hints.
pub const TAG_RULE: &str =
    "use 1 to 100 characters from A-Z, a-z, 0-9, `-`, `_` and `.`, not starting with `-` or `.`";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_not_names() {
        for bad in [
            "", "..", ".", "../x", "a/b", "/", ".hidden", "-rf", "a\nb", "a b", "é",
        ] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
            assert!(check_lab_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_tag(&"x".repeat(101)), Err(NameError::TooLong(100)));
        assert_eq!(check_lab_name(&"x".repeat(33)), Err(NameError::TooLong(32)));
        assert_eq!(check_tag("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(check_tag(".."), Err(NameError::Leading('.')));
        for good in [
            "seed",
            "a-b_c",
            "20260101-120000",
            "r1",
            "x".repeat(32).as_str(),
        ] {
            assert_eq!(check_tag(good), Ok(()), "{good:?}");
            assert_eq!(check_lab_name(good), Ok(()), "{good:?}");
        }
        assert_eq!(check_tag("v1.2"), Ok(()));
        assert_eq!(
            check_lab_name("a\u{1b}b"),
            Err(NameError::BadChar('\u{1b}'))
        );
    }

    #[test]
    fn control_characters_are_printed_escaped() {
        assert_eq!(printable("plain\nlines é"), "plain\nlines é");
        assert_eq!(
            printable("a\u{1b}[31mb\rc\u{7}\u{9b}d\te\u{7f}"),
            "a\\u{1b}[31mb\\rc\\u{7}\\u{9b}d\\te\\u{7f}"
        );
        assert!(!printable("\u{1b}]0;title\u{7}")
            .chars()
            .any(|c| c.is_control()));
        assert_eq!(check_lab_name("v1.2"), Err(NameError::BadChar('.')));
    }
}
