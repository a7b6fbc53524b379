//! Volume sizes as an operator writes them: `4.7GB`, `16GiB`, `600KiB`, `700MB` or plain bytes.
//!
//! Decimal units (`KB`, `MB`, `GB`, `TB`) are powers of 1000, as disc and drive makers count;
//! binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024. Case is ignored; a fraction is
//! allowed with a unit and rounded down to whole bytes.

/// Parses a size; the error says what is accepted.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier = multiplier(unit.trim()).ok_or_else(|| bad(text))?;
    let bytes = if let Some((whole, fraction)) = number.split_once('.') {
        if multiplier == 1 || fraction.is_empty() || fraction.len() > 9 {
            return Err(bad(text));
        }
        let whole: u128 = whole.parse().map_err(|_| bad(text))?;
        let fraction_value: u128 = fraction.parse().map_err(|_| bad(text))?;
        let scale = 10u128.pow(fraction.len() as u32);
        (whole * scale + fraction_value) * u128::from(multiplier) / scale
    } else {
        let whole: u128 = number.parse().map_err(|_| bad(text))?;
        whole * u128::from(multiplier)
    };
    u64::try_from(bytes)
        .ok()
        .filter(|b| *b > 0)
        .ok_or_else(|| bad(text))
}

fn multiplier(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000u64.pow(2),
        "gb" => 1000u64.pow(3),
        "tb" => 1000u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    })
}

fn bad(text: &str) -> String {
    format!(
        "`{text}` is not a size: give bytes or a number with KB, MB, GB, TB (powers of 1000) \
         or KiB, MiB, GiB, TiB (powers of 1024), such as 4.7GB or 600KiB"
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn sizes_as_operators_write_them() {
        let table: &[(&str, u64)] = &[
            ("614400", 614_400),
            ("600KiB", 614_400),
            ("600kib", 614_400),
            ("4.7GB", 4_700_000_000),
            ("16GiB", 16 << 30),
            ("700MB", 700_000_000),
            ("1.5KiB", 1536),
            ("2 MiB", 2 << 20),
            ("1TB", 1_000_000_000_000),
        ];
        for (text, bytes) in table {
            assert_eq!(parse(text), Ok(*bytes), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_size_is_refused() {
        for text in [
            "",
            "0",
            "GB",
            "4,7GB",
            "1.5",
            "-1",
            "1.GB",
            "12XB",
            "1e9",
            "99999999999TiB",
        ] {
            assert!(parse(text).is_err(), "{text} was accepted");
        }
    }
}
