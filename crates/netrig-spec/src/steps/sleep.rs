//! `sleep`: wait a fixed time.

use super::{StepCx, StepDef};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Sleep {
    pub duration: Duration,
}

impl StepDef for Sleep {
    const KEYWORD: &'static str = "sleep";
    const VALUE: &'static str = "`\"100ms\"`";
    const SUMMARY: &'static str = "wait a fixed time";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Sleep, String)> {
        let d: String = cx.raw(value)?;
        let Some(duration) = crate::scenario::parse_duration(&d) else {
            return cx.err_help(
                format!("step {}: malformed duration `{d}`", cx.index),
                "write e.g. sleep = \"100ms\"",
            );
        };
        Some((Sleep { duration }, format!("sleep {d}")))
    }
}
