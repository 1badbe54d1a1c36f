//! Money primitives shared by the catalog and pricing: ISO 4217 currencies, exact amounts and percentages (never floating point).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// An ISO 4217 currency with its number of minor units (EUR: 2, JPY: 0, KWD: 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u32,
}

const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR",
    "ZMW", "ZWG",
];

impl Currency {
    /// Looks up an ISO 4217 code (upper case).
    pub fn from_code(code: &str) -> Option<Currency> {
        let minor_units = if TWO_DECIMALS.contains(&code) {
            2
        } else if ZERO_DECIMALS.contains(&code) {
            0
        } else if THREE_DECIMALS.contains(&code) {
            3
        } else if FOUR_DECIMALS.contains(&code) {
            4
        } else {
            return None;
        };
        let b = code.as_bytes();
        Some(Currency {
            code: [b[0], b[1], b[2]],
            minor_units,
        })
    }

    /// A stand-in used to keep checking a product whose currency is invalid (allows 4 decimals,
    /// so no amount is reported twice for the same mistake).
    pub fn lenient() -> Currency {
        Currency {
            code: *b"XXX",
            minor_units: 4,
        }
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    pub fn minor_units(&self) -> u32 {
        self.minor_units
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Why a money amount or percentage did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal amount")]
    NotDecimal(String),
    #[error("`{text}` has {scale} decimal places; {currency} has {minor_units}")]
    TooPrecise {
        text: String,
        scale: u32,
        currency: String,
        minor_units: u32,
    },
    #[error(
        "`{0}` is negative; write a positive amount (use `subtract` or `discount` to lower a price)"
    )]
    Negative(String),
    #[error(
        "`{0}` is too large: amounts have at most {MAX_AMOUNT_DIGITS} digits before the decimal point"
    )]
    TooLarge(String),
    #[error("`{0}` is not a percentage like `10%` or `12.5%`")]
    NotPercent(String),
    #[error("`{0}` is out of range: percentages lie between 0% and 1000%")]
    PercentRange(String),
}

/// Most significant digits an amount may have (integer digits without leading zeros, plus the
/// decimals as written): what the decimal type holds exactly. Past this it would round
/// silently, so a longer amount is refused instead.
pub const MAX_AMOUNT_DIGITS: usize = 28;

/// Parses a non-negative money amount with at most the currency's minor units.
pub fn parse_amount(text: &str, currency: Currency) -> Result<Decimal, AmountError> {
    let t = text.trim();
    let valid = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        && t.chars().filter(|&c| c == '.').count() <= 1;
    let (int_part, frac_part) = t
        .trim_start_matches('-')
        .split_once('.')
        .unwrap_or((t.trim_start_matches('-'), ""));
    let digits = int_part.trim_start_matches('0').len() + frac_part.len();
    if valid && digits > MAX_AMOUNT_DIGITS {
        return Err(AmountError::TooLarge(t.to_owned()));
    }
    let d = if valid {
        Decimal::from_str(t).ok()
    } else {
        None
    }
    .ok_or_else(|| AmountError::NotDecimal(t.to_owned()))?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(AmountError::Negative(t.to_owned()));
    }
    if d.scale() > currency.minor_units() && d.normalize().scale() > currency.minor_units() {
        return Err(AmountError::TooPrecise {
            text: t.to_owned(),
            scale: d.scale(),
            currency: currency.code().to_owned(),
            minor_units: currency.minor_units(),
        });
    }
    Ok(d)
}

/// Parses a percentage like `10%` or `12.5%` into its number (10, 12.5).
pub fn parse_percent(text: &str) -> Result<Decimal, AmountError> {
    let t = text.trim();
    let num = t
        .strip_suffix('%')
        .ok_or_else(|| AmountError::NotPercent(t.to_owned()))?;
    let num = num.trim();
    let ok = !num.is_empty() && num.chars().all(|c| c.is_ascii_digit() || c == '.');
    let d = if ok {
        Decimal::from_str(num).ok()
    } else {
        None
    }
    .ok_or_else(|| AmountError::NotPercent(t.to_owned()))?;
    if d > Decimal::from(1000) {
        return Err(AmountError::PercentRange(t.to_owned()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies() {
        assert_eq!(Currency::from_code("EUR").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().minor_units(), 3);
        assert!(Currency::from_code("EUX").is_none());
        assert!(Currency::from_code("eur").is_none());
    }

    #[test]
    fn amounts() {
        let eur = Currency::from_code("EUR").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(parse_amount("19.00", eur).unwrap().to_string(), "19.00");
        assert_eq!(parse_amount("19.5", eur).unwrap().to_string(), "19.5");
        assert_eq!(parse_amount("19.500", eur).unwrap().to_string(), "19.500");
        assert!(matches!(
            parse_amount("19.505", eur),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_amount("1.5", jpy),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_amount("-1", eur),
            Err(AmountError::Negative(_))
        ));
        assert!(matches!(
            parse_amount("1e3", eur),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            parse_amount("", eur),
            Err(AmountError::NotDecimal(_))
        ));
        assert_eq!(parse_percent("12.5%").unwrap().to_string(), "12.5");
    }

    #[test]
    fn amounts_are_exact_or_refused() {
        let eur = Currency::from_code("EUR").unwrap();
        // Past 28 significant digits the decimal type would round silently: refuse instead.
        let huge = "99999999999999999999999999999.99";
        assert!(matches!(
            parse_amount(huge, eur),
            Err(AmountError::TooLarge(_))
        ));
        assert_eq!(
            parse_amount("50000000000000000000000000.00", eur)
                .unwrap()
                .to_string(),
            "50000000000000000000000000.00"
        );
        let kwd = Currency::from_code("KWD").unwrap();
        assert!(matches!(
            parse_amount("5000000000000000000000000000.000", kwd),
            Err(AmountError::TooLarge(_))
        ));
        assert_eq!(
            parse_amount("000000000000000000001.50", eur)
                .unwrap()
                .to_string(),
            "1.50"
        );
        assert!(parse_percent("12.5").is_err());
        assert!(parse_percent("5000%").is_err());
    }
}
