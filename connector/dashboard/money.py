"""Money with its currency symbol, as English-language (CLDR "en") formatting writes it.

Babel is not a dependency, so this is a small table of the symbols and minor-unit digits of
the currencies ad platforms bill in most; any other ISO 4217 code is written before the
amount (``CHF 1,234.50``), which is also what CLDR does for currencies without a symbol.
The browser formats chart axes with its own ``Intl.NumberFormat``, which reads CLDR itself.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: CLDR "en" narrow-enough symbols (the ``symbol`` form, which keeps $ apart from CA$ and A$).
SYMBOLS: dict[str, str] = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "MXN": "MX$",
    "BRL": "R$",
    "INR": "₹",
    "CNY": "CN¥",
    "KRW": "₩",
    "ILS": "₪",
    "VND": "₫",
    "TWD": "NT$",
}
#: ISO 4217 minor units where they are not 2.
DIGITS: dict[str, int] = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0}


def money(value: Decimal | int | float | None, currency: str) -> str:
    """``$1,234.50``, ``-€12.00``, ``¥1,235``, ``CHF 99.00``; "—" when undefined."""
    if value is None:
        return "—"
    digits = DIGITS.get(currency, 2)
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    number = f"{abs(amount):,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def symbol(currency: str) -> str:
    """The symbol a column header shows (the code when there is none)."""
    return SYMBOLS.get(currency, currency)
