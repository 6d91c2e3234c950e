//! Console manners: colour only where a person reads it. `--color auto`
//! (the default) colours a stream that is a terminal, unless NO_COLOR is set
//! to anything non-empty (no-color.org) or TERM is `dumb`; `always` and
//! `never` override both, as an explicit flag should.

use clap::ValueEnum;
use netrig_run::{CaseResult, State};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Set once, from the command line, before anything is printed.
pub fn set(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

fn env_allows() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !no_color && !dumb
}

/// Whether to colour a stream that `is_tty` says is (or is not) a terminal.
pub fn enabled(is_tty: bool) -> bool {
    decide(
        CHOICE.get().copied().unwrap_or_default(),
        is_tty,
        env_allows(),
    )
}

fn decide(choice: ColorChoice, is_tty: bool, env_allows: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_tty && env_allows,
    }
}

fn sgr(state: State) -> &'static str {
    match state {
        State::Pass => "32",
        State::Fail => "1;31",
        State::Broken => "1;33",
        State::Timeout => "1;35",
        State::Skip => "2",
        State::Xfail => "36",
    }
}

/// A console line of a case, its state tag coloured when `on`.
pub fn console_line(c: &CaseResult, on: bool) -> String {
    let line = netrig_run::report::console_line(c);
    if !on {
        return line;
    }
    let tag = c.state.tag();
    // The tag follows the name on the first line; a name may hold one too.
    let first = line.find('\n').unwrap_or(line.len());
    match line[..first].rfind(tag) {
        Some(at) => format!(
            "{}\x1b[{}m{tag}\x1b[0m{}",
            &line[..at],
            sgr(c.state),
            &line[at + tag.len()..]
        ),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_beats_the_environment_and_auto_follows_it() {
        assert!(decide(ColorChoice::Always, false, false));
        assert!(!decide(ColorChoice::Never, true, true));
        assert!(decide(ColorChoice::Auto, true, true));
        assert!(!decide(ColorChoice::Auto, false, true), "not a terminal");
        assert!(!decide(ColorChoice::Auto, true, false), "NO_COLOR");
    }

    #[test]
    fn only_the_tag_is_coloured() {
        let c = CaseResult::new("a [FAIL] b", "f", State::Fail, "why");
        let line = console_line(&c, true);
        assert!(line.contains("\x1b[1;31m[FAIL]\x1b[0m"), "{line:?}");
        assert!(line.starts_with("TEST: a [FAIL] b "), "{line:?}");
        assert!(!console_line(&c, false).contains('\x1b'));
    }
}
