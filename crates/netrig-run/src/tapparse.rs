//! Reading the KTAP or TAP that an executable test prints, so that its
//! subtests show up in our reports. Lenient on purpose: this is someone
//! else's output, and anything we do not understand is simply not a subtest.

use crate::result::{State, SubResult};

/// Top-level result lines (`ok N name # DIRECTIVE reason`) of KTAP/TAP text;
/// indented (nested) subtests are left to their parents.
pub fn parse_results(text: &str) -> Vec<SubResult> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
            (false, r)
        } else if let Some(r) = line.strip_prefix("ok ") {
            (true, r)
        } else {
            continue;
        };
        let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let Ok(index) = num.parse::<usize>() else {
            continue;
        };
        let (desc, directive) = match rest
            .split_once(" # ")
            .or_else(|| rest.strip_prefix("# ").map(|d| ("", d)))
        {
            Some((d, dir)) => (d, dir.trim()),
            None => (rest, ""),
        };
        let name = desc.trim().trim_start_matches("- ").to_string();
        let upper = directive.to_ascii_uppercase();
        let (state, message) = if upper.starts_with("SKIP") {
            (State::Skip, directive[4..].trim().to_string())
        } else if upper.starts_with("TODO") || upper.starts_with("XFAIL") {
            (
                if ok { State::Pass } else { State::Xfail },
                directive.to_string(),
            )
        } else if upper.starts_with("TIMEOUT") {
            (State::Timeout, directive.to_string())
        } else if upper.starts_with("ERROR") {
            (State::Broken, directive.to_string())
        } else if ok {
            (State::Pass, String::new())
        } else {
            (State::Fail, String::new())
        };
        out.push(SubResult {
            index,
            name,
            state,
            message,
            duration_s: 0.0,
            started_s: None,
            verdicts: Vec::new(),
            failed_checks: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ktap_and_tap_lines() {
        let r = parse_results(
            "KTAP version 1\n1..4\n    ok 1 nested\nok 1 first\nnot ok 2 - second\nok 3 third # SKIP no ipv6\nnot ok 4 four # TODO later\n",
        );
        let s: Vec<_> = r
            .iter()
            .map(|x| (x.index, x.name.as_str(), x.state))
            .collect();
        assert_eq!(
            s,
            [
                (1, "first", State::Pass),
                (2, "second", State::Fail),
                (3, "third", State::Skip),
                (4, "four", State::Xfail)
            ]
        );
        assert_eq!(r[2].message, "no ipv6");
    }
}
