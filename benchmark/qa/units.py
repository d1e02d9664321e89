"""Quantities with a unit or currency (14 miles, $20, 48 mpg, 30 °C) in English, French and Spanish.

A unit is read as (dimension, canonical unit): "kilómetros" and "km" are both ("length", "km"). A
translation that keeps a quantity's number but gives it another unit of the same dimension converted
the unit without converting the quantity; one that gives another unit *and* the converted value (3 miles ->
4,8 km, 625 pence -> 6,25 £) converted it right (:func:`conversions`, factors from pint).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

# (dimension, canonical unit) -> spellings (lower case; plural "s"/"es" is accepted after the word forms).
_UNITS: dict[tuple[str, str], tuple[str, ...]] = {
    ("length", "mile"): ("mi", "mile", "miles", "milla", "millas"),
    ("length", "km"): ("km", "kilometre", "kilometer", "kilomètre", "kilómetro"),
    ("length", "m"): ("m", "metre", "meter", "mètre", "metro"),
    ("length", "cm"): ("cm", "centimetre", "centimeter", "centimètre", "centímetro"),
    ("length", "ft"): ("ft", "foot", "feet", "pied", "pie"),
    ("length", "in"): ("inch", "inches", "pouce", "pulgada"),
    ("mass", "kg"): ("kg", "kilo", "kilogram", "kilogramme", "kilogramo"),
    ("mass", "lb"): ("lb", "lbs", "pound", "livre", "libra"),
    ("mass", "g"): ("g", "gram", "gramme", "gramo"),
    ("volume", "gal"): ("gal", "gallon", "galón", "galones"),
    ("volume", "l"): ("l", "liter", "litre", "litro"),
    ("speed", "mph"): ("mph",),
    ("speed", "km/h"): ("km/h", "kmh", "kph"),
    ("consumption", "mpg"): ("mpg",),
    ("consumption", "l/100km"): ("l/100km", "l/100 km"),
    ("temperature", "F"): ("°f", "fahrenheit", "degrees fahrenheit"),
    ("temperature", "C"): ("°c", "celsius", "degrees celsius"),
    ("currency", "USD"): ("$", "usd", "dollar", "dólar", "dólares"),
    ("currency", "EUR"): ("€", "eur", "euro"),
    ("currency", "GBP"): ("£", "gbp", "sterling"),
    ("currency", "JPY"): ("¥", "jpy", "yen"),
    ("currency", "cent"): ("pence", "penny", "pennies", "cent", "centime", "céntimo", "centavo"),
}
# canonical unit -> pint unit (currencies: only a main unit and its hundredth, whatever the currency)
_PINT_UNITS = {"mile": "mile", "km": "km", "m": "m", "cm": "cm", "ft": "foot", "in": "inch", "kg": "kg",
               "lb": "pound", "g": "gram", "gal": "gallon", "l": "liter", "mph": "mile/hour", "km/h": "km/hour",
               "mpg": "mile/gallon", "F": "degF", "C": "degC"}
_MAIN_CURRENCIES = ("USD", "EUR", "GBP")
# a converted value may be rounded ("unos 4,8 km" for 4.83 km)
CONVERSION_TOLERANCE = 0.05
_LOOKUP: dict[str, tuple[str, str]] = {s: unit for unit, spellings in _UNITS.items() for s in spellings}
_SYMBOLS = "$€£¥"
_NUMBER = r"\d+(?:[.,\s\u00a0\u202f]\d{3})*(?:[.,]\d+)?"
_NAMES = "|".join(sorted((re.escape(s) for s in _LOOKUP if s[0] not in _SYMBOLS), key=len, reverse=True))
_AFTER_RE = re.compile(rf"({_NUMBER})\s?(?:-\s?)?({_NAMES}|[{_SYMBOLS}])(?:e?s)?(?![\w/])", re.I)
_BEFORE_RE = re.compile(rf"([{_SYMBOLS}])\s?({_NUMBER})")


class Quantity(NamedTuple):
    """A number (digits only, separators dropped) with its dimension and canonical unit; ``number``: as written."""

    value: str
    dimension: str
    unit: str
    surface: str
    number: str = ""


def quantities(text: str) -> list[Quantity]:
    """Numbers followed or preceded by a known unit or currency."""
    out = []
    for m in _AFTER_RE.finditer(text):
        dim, unit = _LOOKUP[m.group(2).lower()]
        out.append(Quantity(_digits(m.group(1)), dim, unit, m.group(0), m.group(1)))
    for m in _BEFORE_RE.finditer(text):
        dim, unit = _LOOKUP[m.group(1)]
        out.append(Quantity(_digits(m.group(2)), dim, unit, m.group(0), m.group(2)))
    return out


def _digits(number: str) -> str:
    return re.sub(r"[^\d]", "", re.sub(r"[.,]\d{1,2}$", "", number))


def unconverted(source: str, translation: str) -> list[str]:
    """Source quantities whose number the translation keeps with another unit of the same dimension."""
    tgt = quantities(translation)
    out = []
    for q in quantities(source):
        same_value = [t for t in tgt if t.value == q.value and t.dimension == q.dimension]
        if same_value and not any(t.unit == q.unit for t in same_value):
            out.append(f"{q.surface.strip()} -> {same_value[0].surface.strip()}")
    return out


def _amounts(number: str) -> set[float]:
    """The values a number as written may have ("1,000": 1000 or 1.0; "4,8": 4.8)."""
    from benchmark.qa.numbers import extract_numbers, float_values

    return {x for n in extract_numbers(number, english_times=False) for x in float_values(n)}


@lru_cache(maxsize=1)
def _registry():
    import pint

    return pint.UnitRegistry()


def _factor_convert(value: float, unit: str, to: str) -> float | None:
    """``value`` in ``unit`` expressed in ``to`` (same dimension), or None when they do not convert."""
    if unit == "cent" and to in _MAIN_CURRENCIES:
        return value / 100
    if to == "cent" and unit in _MAIN_CURRENCIES:
        return value * 100
    if unit not in _PINT_UNITS or to not in _PINT_UNITS:
        return None
    ureg = _registry()
    try:
        return float(ureg.Quantity(value, _PINT_UNITS[unit]).to(_PINT_UNITS[to]).magnitude)
    except Exception:  # noqa: BLE001 - pint raises several kinds for incompatible units
        return None


def conversions(source: str, translation: str) -> tuple[set[float], set[float]]:
    """(source values, translation values) of quantities the translation converted right: another unit of the same
    dimension whose value is the source value converted (within CONVERSION_TOLERANCE)."""
    src, tgt = quantities(source), quantities(translation)
    src_done: set[float] = set()
    tgt_done: set[float] = set()
    for q in src:
        for t in tgt:
            if t.dimension != q.dimension or t.unit == q.unit:
                continue
            for a in _amounts(q.number):
                want = _factor_convert(a, q.unit, t.unit)
                if want is None or not want:
                    continue
                hits = [b for b in _amounts(t.number) if abs(b - want) <= CONVERSION_TOLERANCE * abs(want)]
                if hits:
                    src_done.add(a)
                    tgt_done.update(hits)
    return src_done, tgt_done
