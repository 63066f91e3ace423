//! The ISO 4217 alpha-3 currency codes in current use (real data, not a pattern): a currency
//! is valid only if it is in this list, in upper case.
//!
//! Source: ISO 4217 list one (current currencies and funds) as maintained by SIX for ISO, as of
//! January 2026 (amendments up to 179). What is in and why:
//!
//! - every national currency in circulation, including the recent `MRU` (2018), `STN` (2018),
//!   `VES` (2018), `VED` (2021), `SLE` (2022), `ZWG` (Zimbabwe Gold, 2024) and `XCG` (Caribbean
//!   guilder, 2025);
//! - the funds codes (`BOV CHE CHW CLF COU MXV USN UYI UYW`), the precious metals
//!   (`XAU XAG XPT XPD`) and the supranational units (`XDR XSU XUA XAD XBA XBB XBC XBD`):
//!   they are in list one and some sites do price in them;
//! - not `XTS` (reserved for testing) nor `XXX` ("no currency"): a conversion value needs a real
//!   currency;
//! - not the withdrawn codes (list three), e.g. `HRK` (Croatia, euro 2023), `BGN` (Bulgaria, euro
//!   2026), `ANG` (replaced by `XCG` in 2025), `ZWL` (replaced by `ZWG`), `SLL`, `CUC`, `VEF`,
//!   `MRO`, `STD`, `BYR`, `LTL`, `LVL`, `EEK`.
//!
//! Invariant (tested): `CODES` is sorted and free of duplicates, each entry three ASCII upper-case
//! letters. When ISO publishes an amendment, edit the list and the count in the tests.

/// The codes, sorted, each followed by a space: one string rather than an array of `&str`,
/// which would add 8 bytes of pointer and length per code to the wasm.
const CODES: &str = concat!(
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND ",
    "BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY ",
    "COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP ",
    "GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD ",
    "IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP ",
    "LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN ",
    "MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN ",
    "PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD ",
    "SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX ",
    "USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA ",
    "XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ",
);

/// Every code, in order (the collector's tests check that it accepts each of them).
pub fn codes() -> impl Iterator<Item = &'static str> {
    CODES.split_terminator(' ')
}

/// True if `code` is a current ISO 4217 alpha-3 code, upper case.
pub fn is_currency(code: &str) -> bool {
    // A scan: 176 comparisons cost nothing next to the rest of `track`, and it is less code
    // than a binary search.
    let (codes, code) = (CODES.as_bytes(), code.as_bytes());
    // By index, not `chunks_exact`: no chunk iterator in the wasm.
    let mut at = 0;
    while code.len() == 3 && at < codes.len() {
        if &codes[at..at + 3] == code {
            return true;
        }
        at += 4;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_three_upper_case_letters() {
        assert!(CODES.ends_with(' '), "every code is followed by a space");
        let codes: Vec<&str> = codes().collect();
        for pair in codes.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} must sort before {}",
                pair[0],
                pair[1]
            );
        }
        for code in &codes {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code:?} is not three upper-case letters"
            );
        }
    }

    #[test]
    fn code_count_matches_list_one_without_test_codes() {
        // 178 alpha codes in list one as of January 2026, less XTS and XXX.
        assert_eq!(codes().count(), 176);
    }

    #[test]
    fn common_currencies_are_accepted() {
        for code in [
            "EUR", "USD", "GBP", "JPY", "CHF", "CNY", "INR", "BRL", "AUD", "CAD",
        ] {
            assert!(is_currency(code), "{code}");
        }
    }

    #[test]
    fn recent_codes_funds_and_metals_are_accepted() {
        for code in [
            "VES", "VED", "ZWG", "SLE", "STN", "MRU", "XCG", "XAD", "BOV", "CLF", "COU", "MXV",
            "USN", "UYI", "UYW", "CHE", "CHW", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA",
        ] {
            assert!(is_currency(code), "{code}");
        }
    }

    #[test]
    fn withdrawn_and_test_codes_are_refused() {
        for code in [
            "HRK", "BGN", "ANG", "SLL", "ZWL", "VEF", "MRO", "STD", "BYR", "LTL", "LVL", "EEK",
            "CUC", "DEM", "FRF", "XTS", "XXX",
        ] {
            assert!(!is_currency(code), "{code}");
        }
    }

    #[test]
    fn only_exact_upper_case_codes_are_currencies() {
        for code in [
            "eur", "Eur", "EURO", "EU", "", " EUR", "EUR ", "E\u{0}R", "€",
        ] {
            assert!(!is_currency(code), "{code:?}");
        }
    }
}
