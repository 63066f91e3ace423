//! The ISO 4217 alpha-3 currency codes in current use (real data, not a pattern): a currency
//! is valid only if it is in this list, in upper case.

/// Sorted, so that lookup is a binary search.
pub const CODES: &[&str] = &[
    // helper: the full current list (ISO 4217 list one, active codes, including funds and
    // precious metals codes such as XAU, XDR; excluding withdrawn ones such as HRK, SLL? check)
];

/// True if `code` is a current ISO 4217 alpha-3 code, upper case.
pub fn is_currency(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}
