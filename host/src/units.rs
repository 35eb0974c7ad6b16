//! Sizes and durations in human units, as the command line takes them.

use std::fmt;
use std::time::Duration;

/// Parses `1048576`, `512k`, `64KiB`, `64MiB`, `1.5GiB`, `100MB`, `2g` and the
/// like. Binary and decimal prefixes mean what they say (`KiB` = 1024,
/// `KB` = 1000); a bare letter (`k`, `m`, `g`, `t`) is binary.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"
            ));
        }
    };
    let invalid = || format!("`{text}` is not a size (try `64MiB` or `1048576`)");
    // `1.5` is 15 tenths of a unit: scale in u128 so nothing wraps.
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let mantissa: u128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| invalid())?;
    let divisor = 10u128
        .checked_pow(fraction.len() as u32)
        .ok_or_else(invalid)?;
    let bytes = mantissa
        .checked_mul(u128::from(scale))
        .map(|scaled| scaled / divisor)
        .and_then(|bytes| u64::try_from(bytes).ok())
        .ok_or_else(|| format!("`{text}` is larger than {} bytes", u64::MAX))?;
    Ok(bytes)
}

/// A byte count written for people: `64 MiB`, `1.5 GiB`, `512 bytes`.
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} bytes", self.0)
        } else if value.fract() == 0.0 {
            write!(f, "{value} {}", UNITS[unit])
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

/// Parses `30s`, `500ms`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try `30s` or `500ms`)"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("`{text}` is too long a duration"))
}

/// A duration written for people: `2s`, `500ms`, `1.5s`.
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            write!(f, "{}ms", d.as_millis())
        } else if d.subsec_millis() == 0 {
            write!(f, "{}s", d.as_secs())
        } else {
            write!(f, "{}s", d.as_secs_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64 mib"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("10B"), Ok(10));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse_size("").unwrap_err().contains("not a size"));
        assert!(parse_size("MiB").unwrap_err().contains("not a size"));
        assert!(parse_size("-1").unwrap_err().contains("unknown unit"));
        assert!(
            parse_size("5 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_size("1.2.3k").unwrap_err().contains("not a size"));
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("larger than")
        );
        assert!(
            parse_size("18446744073709551616")
                .unwrap_err()
                .contains("larger than")
        );
    }

    #[test]
    fn sizes_display_for_people() {
        assert_eq!(Size(512).to_string(), "512 bytes");
        assert_eq!(Size(64 << 20).to_string(), "64 MiB");
        assert_eq!(Size(3 << 29).to_string(), "1.5 GiB");
    }

    #[test]
    fn durations_parse_and_display() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("3 days")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("1e400").is_err());
        assert_eq!(Seconds(Duration::from_secs(2)).to_string(), "2s");
        assert_eq!(Seconds(Duration::from_millis(250)).to_string(), "250ms");
        assert_eq!(Seconds(Duration::from_millis(1500)).to_string(), "1.5s");
    }
}
