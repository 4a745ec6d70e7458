"""German amounts and currencies: "218,2 Milliarden US-Dollar" -> (218200000000, "USD"). Pure.

``babel`` parses German-formatted numbers and ``text2num`` number words. The hand-written
parts fill gaps, each named where it is: babel rejects space-grouped numbers ("3 000") and
has no scale words (Mrd., Milliarden); text2num rejects inflected "eine"/"einem" and
fractions ("halbe", "dreieinhalb").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import NumberFormatError, parse_decimal
from text_to_num import text2num

from ._lexicon import QUALIFIERS, phrase_alternation

# ---------------------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------------------


class Amount(tuple[int | float, str | None]):
    """``(value, currency)``: compares equal to that plain 2-tuple.

    ``value`` is in base units (an ``int`` when whole); ``currency`` is ISO 4217 or ``None``
    (percentages, bare numbers). ``qualifier`` keeps "rund", "mehr als", … as written.
    """

    qualifier: str | None
    is_percent: bool
    text: str

    def __new__(
        cls,
        value: int | float,
        currency: str | None,
        *,
        qualifier: str | None = None,
        is_percent: bool = False,
        text: str = "",
    ) -> Amount:
        self = super().__new__(cls, (value, currency))
        object.__setattr__(self, "qualifier", qualifier)
        object.__setattr__(self, "is_percent", is_percent)
        object.__setattr__(self, "text", text)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Amount is immutable")

    @property
    def value(self) -> int | float:
        return self[0]

    @property
    def currency(self) -> str | None:
        return self[1]

    def __repr__(self) -> str:
        extra = f", qualifier={self.qualifier!r}" if self.qualifier else ""
        extra += ", is_percent=True" if self.is_percent else ""
        return f"Amount({self.value!r}, {self.currency!r}{extra}, text={self.text!r})"


@dataclass(frozen=True)
class AmountMatch:
    start: int
    end: int
    text: str
    amount: Amount


_SCALES: dict[str, Decimal] = {
    "tausend": Decimal(10) ** 3,
    "tsd.": Decimal(10) ** 3,
    "mio.": Decimal(10) ** 6,
    "mio": Decimal(10) ** 6,
    "million": Decimal(10) ** 6,
    "millionen": Decimal(10) ** 6,
    "mrd.": Decimal(10) ** 9,
    "mrd": Decimal(10) ** 9,
    "milliarde": Decimal(10) ** 9,
    "milliarden": Decimal(10) ** 9,
    "bio.": Decimal(10) ** 12,
    "billion": Decimal(10) ** 12,  # German Billion = 10^12
    "billionen": Decimal(10) ** 12,
}

# Longest spellings first: the regex alternation takes the first that matches.
_CURRENCIES: list[tuple[str, str]] = [
    (r"US-Dollar|US\s+Dollar|US-?\$|USD|Dollars?|\$", "USD"),
    (r"Euro|EUR|€", "EUR"),
    (r"Pfund\s+Sterling|britische[n]?\s+Pfund|Pfund|GBP|£", "GBP"),
    (r"Yuan|Renminbi|RMB|CNY", "CNY"),
    (r"Rubel|RUB|₽", "RUB"),
    (r"Yen|JPY", "JPY"),  # "¥" is left out: it is used for both yen and yuan
    (r"Schweizer\s+Franken|Franken|CHF", "CHF"),
]
_CURRENCY_RES = [(re.compile(p + "$", re.I), iso) for p, iso in _CURRENCIES]
_CUR = "|".join(p for p, _ in _CURRENCIES)
_PREFIX_CUR = r"US-?\$|\$|€|£|USD|EUR|GBP"
_SCALE = (
    r"Tausend|Tsd\.|Mio\.?|Millionen|Million|Mrd\.?|Milliarden|Milliarde|Bio\.|Billionen|Billion"
)
_QUALIFIER = phrase_alternation(QUALIFIERS)
_DIGITS = r"\d{1,3}(?:[. \u00a0\u202f\u2009]\d{3})+(?:,\d+)?(?!\d)|\d+(?:[.,]\d+)?(?!\d)"
_NUMWORD = (
    r"anderthalb|eineinhalb|[a-zäöüß]*?(?:eins|eine[rnms]?|ein|zwei|drei|vier|fünf|sechs|sieben"
    r"|acht|neun|zehn|elf|zwölf|ßig|zig|hundert|tausend)(?:einhalb)?"
)
_AMOUNT_RE = re.compile(
    rf"(?<![\w.,])(?:(?P<qual>{_QUALIFIER})\s+)?"
    rf"(?:(?P<pcur>{_PREFIX_CUR})\s?)?"
    rf"(?P<num>{_DIGITS}|\b(?:{_NUMWORD})\b)"
    r"(?:\s+(?P<half>halbe[nr]?)(?!\w))?"
    rf"(?:\s*(?P<scale>{_SCALE})(?!\w))?"
    rf"(?:\s*(?P<cur>{_CUR})(?![\w$€£₽])|\s*(?P<pct>%|Prozent(?!\w)|v\.\s?H\.))?",
    re.I,
)
_GROUP_SPACE = re.compile(r"(?<=\d)[ \u00a0\u202f\u2009](?=\d{3}(?!\d))")
_WORD_ONE = {"ein", "eine", "einer", "einem", "einen", "eines", "eins"}


def _parse_digits(s: str) -> Decimal | None:
    s = _GROUP_SPACE.sub("", s)  # gap: babel does not accept space as a group separator
    try:
        return Decimal(parse_decimal(s, locale="de_DE", strict=True))
    except NumberFormatError:
        # "1.5 Milliarden" in a machine translation means 1,5: a dot not followed by three
        # digits cannot be a German group separator.
        if re.fullmatch(r"\d+\.\d{1,2}", s):
            return Decimal(s)
        return None


def _parse_words(s: str) -> Decimal | None:
    w = s.lower()
    if w in ("anderthalb", "eineinhalb"):
        return Decimal("1.5")
    half = Decimal(0)
    if w.endswith("einhalb") and len(w) > len("einhalb"):  # gap: text2num has no fractions
        w, half = w[: -len("einhalb")], Decimal("0.5")
    if w in _WORD_ONE:  # gap: text2num only knows the bare "ein"
        return 1 + half
    try:
        return Decimal(text2num(w, "de")) + half
    except ValueError:
        return None


def _currency_iso(s: str | None) -> str | None:
    if not s:
        return None
    for rx, iso in _CURRENCY_RES:
        if rx.match(s):
            return iso
    return None


def _as_number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _amount_from(m: re.Match[str]) -> Amount | None:
    raw = m.group("num")
    is_word = not raw[0].isdigit()
    num = _parse_words(raw) if is_word else _parse_digits(raw)
    if num is None:
        return None
    if m.group("half"):
        num = num * Decimal("0.5")
    if m.group("scale"):
        num = num * _SCALES[m.group("scale").lower()]
    currency = _currency_iso(m.group("cur") or m.group("pcur"))
    qual = m.group("qual")
    return Amount(
        _as_number(num),
        currency,
        qualifier=re.sub(r"\s+", " ", qual.lower()) if qual else None,
        is_percent=m.group("pct") is not None,
        text=m.group().strip(),
    )


def _is_money_or_percent(m: re.Match[str]) -> bool:
    return bool(m.group("cur") or m.group("pcur") or m.group("pct"))


def find_amounts(text: str) -> list[AmountMatch]:
    """Every money amount (a number with a currency) and percentage in ``text``."""
    out: list[AmountMatch] = []
    for m in _AMOUNT_RE.finditer(text):
        if not _is_money_or_percent(m):
            continue
        amount = _amount_from(m)
        if amount is not None:
            end = m.start() + len(m.group().rstrip())
            out.append(AmountMatch(m.start(), end, text[m.start() : end], amount))
    return out


def normalize_amount(text: str) -> Amount | None:
    """The amount in a phrase: "rund 218,2 Mrd. US-Dollar" -> ``(218200000000, "USD")``.

    Prefers a money amount or percentage, then a number with a scale word, then any number
    written in digits; ``None`` when there is no number.
    """
    best: tuple[int, Amount] | None = None
    for m in _AMOUNT_RE.finditer(text):
        rank = 3 if _is_money_or_percent(m) else 2 if m.group("scale") else 1
        if rank == 1 and not m.group("num")[0].isdigit():
            continue  # a bare number word ("ein Treffen") is not an amount
        if best is not None and best[0] >= rank:
            continue
        amount = _amount_from(m)
        if amount is not None:
            best = (rank, amount)
            if rank == 3:
                break
    return best[1] if best else None


def amount_in_evidence(evidence: str, value: float, currency: str | None) -> bool:
    """Does some amount written in ``evidence`` normalise to ``value`` in ``currency``?"""
    for m in find_amounts(evidence):
        a = m.amount
        if a.currency == currency and abs(a.value - value) <= 1e-9 * max(1.0, abs(value)):
            return True
    if currency is None:  # a bare figure ("40 Mal") can only be checked as a number
        a2 = normalize_amount(evidence)
        return a2 is not None and a2.value == value
    return False
