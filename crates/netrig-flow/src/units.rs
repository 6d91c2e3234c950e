//! Percentages and bit rates, as link impairments write them (`1%`,
//! `10mbit`). Durations are [`crate::parse_duration`].

use crate::ParseErrorKind;

/// `1%`, `0.5%`, `100%` as a fraction in `0.0..=1.0`. The `%` is required
/// so that `1` cannot be misread as "always".
pub fn parse_percent(v: &str) -> Result<f64, ParseErrorKind> {
    let bad = || ParseErrorKind::InvalidPercent(v.to_string());
    let num = v.trim().strip_suffix('%').ok_or_else(bad)?.trim();
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !(0.0..=100.0).contains(&n) {
        return Err(bad());
    }
    Ok(n / 100.0)
}

/// A rate in bits per second: `10mbit`, `512kbit`, `1.5gbit`, `9600bit`
/// (units as tc writes them, decimal: 1kbit = 1000 bit/s). tc's `bps`,
/// `kbps`... mean *bytes* per second and are refused as too easy to misread.
pub fn parse_rate(v: &str) -> Result<u64, ParseErrorKind> {
    let bad = || ParseErrorKind::InvalidRate(v.to_string());
    let t = v.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => return Err(bad()),
    };
    let bps = n * mult;
    // Below 1 bit/s nothing would ever be sent; above 1 Tbit/s is a typo.
    if !(1.0..=1e12).contains(&bps) {
        return Err(bad());
    }
    Ok(bps.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("1%").unwrap(), 0.01);
        assert_eq!(parse_percent("0.5%").unwrap(), 0.005);
        assert_eq!(parse_percent("100%").unwrap(), 1.0);
        assert_eq!(parse_percent("0%").unwrap(), 0.0);
        for bad in ["1", "0.01", "101%", "-1%", "%", "x%", "1e2%", "nan%"] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10mbit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("512kbit").unwrap(), 512_000);
        assert_eq!(parse_rate("1.5Gbit").unwrap(), 1_500_000_000);
        assert_eq!(parse_rate("9600bit").unwrap(), 9600);
        for bad in [
            "10", "10mbps", "10 MB", "0bit", "mbit", "-1mbit", "2000gbit",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
