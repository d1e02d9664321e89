"""Quantities with a unit or currency (14 miles, $20, 48 mpg, 30 °C) in English, French and Spanish.

A unit is read as (dimension, canonical unit): "kilómetros" and "km" are both ("length", "km"). A
translation that keeps a quantity's number but gives it another unit of the same dimension converted
the unit without converting the quantity.
"""
from __future__ import annotations

import re
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
}
_LOOKUP: dict[str, tuple[str, str]] = {s: unit for unit, spellings in _UNITS.items() for s in spellings}
_SYMBOLS = "$€£¥"
_NUMBER = r"\d+(?:[.,\s\u00a0\u202f]\d{3})*(?:[.,]\d+)?"
_NAMES = "|".join(sorted((re.escape(s) for s in _LOOKUP if s[0] not in _SYMBOLS), key=len, reverse=True))
_AFTER_RE = re.compile(rf"({_NUMBER})\s?(?:-\s?)?({_NAMES}|[{_SYMBOLS}])(?:e?s)?(?![\w/])", re.I)
_BEFORE_RE = re.compile(rf"([{_SYMBOLS}])\s?({_NUMBER})")


class Quantity(NamedTuple):
    """A number (digits only, separators dropped) with its dimension and canonical unit."""

    value: str
    dimension: str
    unit: str
    surface: str


def quantities(text: str) -> list[Quantity]:
    """Numbers followed or preceded by a known unit or currency."""
    out = []
    for m in _AFTER_RE.finditer(text):
        dim, unit = _LOOKUP[m.group(2).lower()]
        out.append(Quantity(_digits(m.group(1)), dim, unit, m.group(0)))
    for m in _BEFORE_RE.finditer(text):
        dim, unit = _LOOKUP[m.group(1)]
        out.append(Quantity(_digits(m.group(2)), dim, unit, m.group(0)))
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
