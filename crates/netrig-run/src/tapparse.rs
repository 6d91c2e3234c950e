//! Reading the KTAP or TAP that an executable test prints, so that its
//! subtests show up in our reports. Lenient on purpose: this is someone
//! else's output, and anything we do not understand is simply not a subtest.
//!
//! The whole tree is kept ([`TapBlock`]): nested results at every depth and
//! each level's plan, so the KTAP report can hand kunit.py what the
//! executable said, including a plan it did not finish (a crash).

use crate::result::{State, SubResult, TapBlock, TapTest};

/// Top-level result lines (`ok N name # DIRECTIVE reason`) of KTAP/TAP text,
/// as subtests of the case.
pub fn parse_results(text: &str) -> Vec<SubResult> {
    parse(text).tests.iter().map(TapTest::to_sub).collect()
}

/// What an executable printed as results: its KTAP/TAP if it printed any,
/// else kselftest lib.sh's `TEST: name  [ OK ]` lines.
pub fn parse_output(text: &str) -> TapBlock {
    let tap = parse(text);
    if !tap.tests.is_empty() || tap.plan.is_some() || tap.bail_out.is_some() {
        return tap;
    }
    TapBlock {
        tests: parse_libsh(text),
        ..TapBlock::default()
    }
}

/// kselftest's net/lib.sh `log_test` lines, `TEST: <name>  [ OK ]` (or
/// `[FAIL]`, `[SKIP]`, `[XFAIL]`), each optionally followed by its message
/// on lines indented with a tab; numbered in order.
pub fn parse_libsh(text: &str) -> Vec<TapTest> {
    let mut out: Vec<TapTest> = Vec::new();
    let mut last_open = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TEST: ") {
            last_open = false;
            let rest = rest.trim_end();
            let Some((name, tag)) = rest.strip_suffix(']').and_then(|r| r.rsplit_once('[')) else {
                continue;
            };
            let state = match tag.trim() {
                "OK" => State::Pass,
                "FAIL" => State::Fail,
                "SKIP" => State::Skip,
                "XFAIL" => State::Xfail,
                _ => continue,
            };
            out.push(TapTest {
                index: out.len() + 1,
                name: name.trim().to_string(),
                state,
                message: String::new(),
                subtests: None,
            });
            last_open = true;
        } else if let (true, Some(msg), Some(t)) =
            (last_open, line.strip_prefix('\t'), out.last_mut())
        {
            // lib.sh prints the failure or skip message as "\t<retmsg>".
            if !t.message.is_empty() {
                t.message.push('\n');
            }
            t.message.push_str(msg.trim_end());
        } else {
            last_open = false;
        }
    }
    out
}

/// Why an executable that exited 4 (kselftest's skip) skipped: its last
/// skipped result's reason (a lib.sh `TEST: smcrouted not installed [SKIP]`
/// line is its own reason), else the text after its last `SKIP`.
pub fn skip_reason(tap: &TapBlock, text: &str) -> Option<String> {
    if let Some(t) = tap.tests.iter().rev().find(|t| t.state == State::Skip) {
        let r = match (t.name.is_empty(), t.message.is_empty()) {
            (true, _) => t.message.clone(),
            (false, false) => format!("{}: {}", t.name, t.message),
            (false, true) => t.name.clone(),
        };
        if !r.is_empty() {
            return Some(r);
        }
    }
    text.lines().rev().find_map(|l| {
        let (_, r) = l.split_once("SKIP")?;
        let r = r.trim_start_matches([':', ' ', ']']).trim();
        // `[SKIP]` at the end of a line says nothing about why.
        r.chars()
            .any(|c| c.is_alphanumeric())
            .then(|| r.to_string())
    })
}

/// The whole KTAP/TAP tree of `text`, indentation giving the depth.
pub fn parse(text: &str) -> TapBlock {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .map(|l| {
            let t = l.trim_start_matches([' ', '\t']);
            (l.len() - t.len(), t.trim_end())
        })
        .collect();
    let base = lines
        .iter()
        .find(|(_, l)| result_line(l).is_some() || plan_line(l).is_some())
        .map_or(0, |(i, _)| *i);
    let mut pos = 0;
    block(&lines, &mut pos, base)
}

/// One level: lines at `indent`; deeper lines are the subtests of the next
/// result line at this level, shallower lines end it.
fn block(lines: &[(usize, &str)], pos: &mut usize, indent: usize) -> TapBlock {
    let mut b = TapBlock::default();
    let mut pending: Option<TapBlock> = None;
    while let Some(&(ind, l)) = lines.get(*pos) {
        if l.is_empty() {
            *pos += 1;
            continue;
        }
        if ind < indent {
            break;
        }
        if ind > indent {
            let sub = block(lines, pos, ind);
            // Only a block that says something becomes subtests.
            if !sub.tests.is_empty() || sub.plan.is_some() || sub.bail_out.is_some() {
                pending = Some(sub);
            }
            continue;
        }
        *pos += 1;
        if let Some(n) = plan_line(l) {
            b.plan.get_or_insert(n);
        } else if let Some(why) = l.strip_prefix("Bail out!") {
            b.bail_out.get_or_insert_with(|| why.trim().to_string());
        } else if let Some(mut t) = result_line(l) {
            t.subtests = pending.take();
            b.tests.push(t);
        }
    }
    b
}

fn plan_line(l: &str) -> Option<usize> {
    let n = l.strip_prefix("1..")?;
    let n = n.split_whitespace().next()?;
    n.parse().ok()
}

/// `ok N name # DIRECTIVE reason`, the kselftest form `ok N # XFAIL reason`
/// (no name) and TAP's `ok N - name` included.
fn result_line(line: &str) -> Option<TapTest> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
        (false, r)
    } else if let Some(r) = line.strip_prefix("ok ") {
        (true, r)
    } else {
        return None;
    };
    let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let index = num.parse::<usize>().ok()?;
    let (desc, directive) = match rest
        .split_once(" # ")
        .or_else(|| rest.strip_prefix("# ").map(|d| ("", d)))
        .or_else(|| rest.strip_prefix('#').map(|d| ("", d)))
    {
        Some((d, dir)) => (d, dir.trim()),
        None => (rest, ""),
    };
    let name = desc.trim();
    let name = name.strip_prefix("- ").unwrap_or(name).trim().to_string();
    let word = directive
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let reason = directive[word.len().min(directive.len())..]
        .trim_start_matches([':', ' '])
        .trim()
        .to_string();
    let (state, message) = match word.as_str() {
        "SKIP" => (State::Skip, reason),
        // kselftest prints an expected failure as `ok N # XFAIL`; TAP's
        // TODO on a `not ok` is the same thing. A TODO that passed is a pass.
        "XFAIL" => (State::Xfail, reason),
        "TODO" if !ok => (State::Xfail, reason),
        "TIMEOUT" => (State::Timeout, reason),
        "ERROR" => (State::Broken, reason),
        _ if ok => (State::Pass, directive.to_string()),
        _ => (State::Fail, directive.to_string()),
    };
    Some(TapTest {
        index,
        name,
        state,
        message,
        subtests: None,
    })
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
        assert_eq!(r[3].message, "later");
    }

    #[test]
    fn kselftest_directives_keep_their_reasons() {
        let b = parse(
            "TAP version 13\n1..5\nok 1 # XFAIL known\nok 2 two # SKIP: no netdevsim\nnot ok 3 # TIMEOUT 45 seconds\nok 4 four # TODO passed anyway\nnot ok 5 selftests: net: x.sh # exit=1\n",
        );
        let s: Vec<_> = b
            .tests
            .iter()
            .map(|x| (x.name.as_str(), x.state, x.message.as_str()))
            .collect();
        assert_eq!(
            s,
            [
                ("", State::Xfail, "known"),
                ("two", State::Skip, "no netdevsim"),
                ("", State::Timeout, "45 seconds"),
                ("four", State::Pass, "TODO passed anyway"),
                // kselftest runner.sh's comment, kept rather than dropped.
                ("selftests: net: x.sh", State::Fail, "exit=1"),
            ]
        );
    }

    #[test]
    fn nesting_plans_and_bail_out() {
        let b = parse(concat!(
            "KTAP version 1\n1..2\n",
            "  KTAP version 1\n  # Subtest: outer\n  1..1\n",
            "    KTAP version 1\n    1..2\n    ok 1 deep\n    not ok 2 deeper\n",
            "  not ok 1 inner\n",
            "not ok 1 outer\n",
            "Bail out! no more\n",
        ));
        assert_eq!(b.plan, Some(2));
        assert_eq!(b.bail_out.as_deref(), Some("no more"));
        assert_eq!(b.tests.len(), 1);
        let outer = b.tests[0].subtests.as_ref().unwrap();
        assert_eq!(outer.plan, Some(1));
        let inner = outer.tests[0].subtests.as_ref().unwrap();
        assert_eq!(inner.plan, Some(2));
        assert_eq!(inner.tests[1].name, "deeper");
        assert_eq!(inner.tests[1].state, State::Fail);
    }

    #[test]
    fn libsh_test_lines_are_subtests_with_their_messages() {
        let out = concat!(
            "INFO: setting up\n",
            "TEST: ping                                                          [ OK ]\n",
            "TEST: mtu (big)                                                     [FAIL]\n",
            "\tping failed\n",
            "\tsecond line\n",
            "TEST: known issue                                                   [XFAIL]\n",
            "TEST: smcrouted not installed                                       [SKIP]\n",
        );
        let b = parse_output(out);
        let s: Vec<_> = b
            .tests
            .iter()
            .map(|t| (t.index, t.name.as_str(), t.state, t.message.as_str()))
            .collect();
        assert_eq!(
            s,
            [
                (1, "ping", State::Pass, ""),
                (2, "mtu (big)", State::Fail, "ping failed\nsecond line"),
                (3, "known issue", State::Xfail, ""),
                (4, "smcrouted not installed", State::Skip, ""),
            ]
        );
        assert_eq!(
            skip_reason(&b, out).as_deref(),
            Some("smcrouted not installed")
        );
        // KTAP wins where both are printed.
        assert_eq!(
            parse_output("1..1\nok 1 x\nTEST: y  [ OK ]\n").tests[0].name,
            "x"
        );
    }

    #[test]
    fn skip_reasons() {
        let r = |t: &str| skip_reason(&parse_output(t), t);
        assert_eq!(
            r("SKIP: smcrouted not installed\n").as_deref(),
            Some("smcrouted not installed")
        );
        assert_eq!(
            r("1..1\nok 1 probe # SKIP no netdevsim\n").as_deref(),
            Some("probe: no netdevsim")
        );
        assert_eq!(r("1..1\nok 1 # SKIP\n"), None);
        assert_eq!(r("something [SKIP]\n"), None);
    }

    #[test]
    fn an_indented_document_is_read_at_its_own_depth() {
        let b = parse("    KTAP version 1\n    1..1\n    ok 1 all\n");
        assert_eq!((b.plan, b.tests.len()), (Some(1), 1));
    }
}
