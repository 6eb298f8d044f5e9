"""ISO 4217 currency codes and the currency symbols that name exactly one currency.

The active list is ISO 4217 List One as published by the SIX maintenance agency on 2026-01-01
(currencies and funds, including the X-codes for metals, SDR and testing).
"""

from __future__ import annotations

from files.domain.errors import ErrorCode, ValueRejected

# Minor units per ISO 4217; None where the standard says "N.A." (metals, units of account).
ACTIVE_CURRENCIES: dict[str, int | None] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
    "BAM": 2, "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BOV": 2,
    "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHE": 2,
    "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2, "CRC": 2, "CUP": 2,
    "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2,
    "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0,
    "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2,
    "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2,
    "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2,
    "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2, "MYR": 2, "MZN": 2,
    "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2,
    "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2,
    "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2,
    "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2,
    "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0,
    "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2, "VES": 2, "VND": 0,
    "VUV": 0, "WST": 2, "XAD": None, "XAF": 0, "XAG": None, "XAU": None, "XBA": None, "XBB": None,
    "XBC": None, "XBD": None, "XCD": 2, "XCG": 2, "XDR": None, "XOF": 0, "XPD": None, "XPF": 0,
    "XPT": None, "XSU": None, "XTS": None, "XUA": None, "XXX": None, "YER": 2, "ZAR": 2, "ZMW": 2,
    "ZWG": 2,
}

# Withdrawn recently enough to appear on statements still being reconciled; accepted, never produced.
RECENTLY_WITHDRAWN_CURRENCIES: dict[str, int | None] = {
    "ANG": 2, "BYR": 0, "CUC": 2, "HRK": 2, "LTL": 2, "MRO": 2, "SLL": 2, "STD": 2, "VEF": 2, "ZWL": 2,
}

KNOWN_CURRENCIES: frozenset[str] = frozenset(ACTIVE_CURRENCIES) | frozenset(RECENTLY_WITHDRAWN_CURRENCIES)

# Only symbols that name one currency. "$", "¥", "kr" and friends are deliberately absent.
UNAMBIGUOUS_SYMBOLS: dict[str, str] = {
    "€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₪": "ILS", "₫": "VND", "₺": "TRY", "₴": "UAH",
    "₦": "NGN", "₱": "PHP", "₽": "RUB", "฿": "THB", "₸": "KZT", "₼": "AZN", "₾": "GEL", "₲": "PYG",
    "₵": "GHS", "zł": "PLN", "Kč": "CZK", "US$": "USD", "A$": "AUD", "AU$": "AUD", "C$": "CAD",
    "CA$": "CAD", "NZ$": "NZD", "HK$": "HKD", "S$": "SGD", "R$": "BRL", "MX$": "MXN",
}

# An ambiguous symbol is accepted only when the row's currency (column or fixed) is one it can name.
_DOLLAR_CURRENCIES: frozenset[str] = frozenset({
    "USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "BSD", "BBD", "BMD", "BND", "BZD", "CLP", "COP",
    "CUP", "DOP", "FJD", "GYD", "JMD", "KYD", "LRD", "NAD", "SBD", "SRD", "TTD", "TWD", "XCD", "ARS",
    "UYU", "WST", "TOP",
})
AMBIGUOUS_SYMBOLS: dict[str, frozenset[str]] = {
    "$": _DOLLAR_CURRENCIES,
    "¥": frozenset({"JPY", "CNY"}),
    "kr": frozenset({"SEK", "NOK", "DKK", "ISK"}),
}

# Longest first so "US$" wins over "$" when peeling a symbol off an amount.
CURRENCY_SYMBOLS_LONGEST_FIRST: tuple[str, ...] = tuple(
    sorted([*UNAMBIGUOUS_SYMBOLS, *AMBIGUOUS_SYMBOLS], key=len, reverse=True)
)


def minor_units(code: str) -> int | None:
    if code in ACTIVE_CURRENCIES:
        return ACTIVE_CURRENCIES[code]
    return RECENTLY_WITHDRAWN_CURRENCIES.get(code)


def currency_from_text(raw: str) -> str:
    """Validate a currency column value: an ISO code (any case) or an unambiguous symbol."""
    token = raw.strip()
    code = UNAMBIGUOUS_SYMBOLS.get(token)
    if code is not None:
        return code
    if token in AMBIGUOUS_SYMBOLS:
        raise ValueRejected(ErrorCode.CURRENCY_AMBIGUOUS,
                            f"{token!r} names several currencies; use an ISO 4217 code such as USD")
    upper = token.upper()
    if len(upper) == 3 and upper.isascii() and upper.isalpha() and upper in KNOWN_CURRENCIES:
        return upper
    raise ValueRejected(ErrorCode.CURRENCY_UNKNOWN, f"{raw!r} is not an ISO 4217 currency code")


def resolve_amount_currency(token: str, row_currency: str | None) -> str:
    """The currency an amount's own symbol or code names, checked against the row's currency.

    "$" alone is ambiguous: it resolves only when the row already names a dollar currency.
    """
    candidates = AMBIGUOUS_SYMBOLS.get(token)
    if candidates is not None:
        if row_currency is not None and row_currency in candidates:
            return row_currency
        if row_currency is None:
            raise ValueRejected(ErrorCode.CURRENCY_AMBIGUOUS,
                                f"{token!r} names several currencies; map a currency column or a fixed currency")
        raise ValueRejected(ErrorCode.CURRENCY_MISMATCH,
                            f"the amount's {token!r} does not fit the row's currency {row_currency}")
    code = currency_from_text(token)
    if row_currency is not None and code != row_currency:
        raise ValueRejected(ErrorCode.CURRENCY_MISMATCH,
                            f"the amount says {code} but the row's currency is {row_currency}")
    return code
