"""Rate cards: what a call's tokens cost, in dollars.

- "current" (the default): the genai-prices library's public prices (provider + model id), plus an
  explicit $0 for local models (ollama / LM Studio / llama.cpp names, "...-local", "name:tag").
- "paper-2026-06": the prices the paper used (Opus 4.7 $15 / $75, Haiku 4.5 $1 / $5 per million,
  cache write 1.25x and cache read 0.10x of input, local models $0).
- a TOML file adds or overrides models on top of "current" (or of `base = "..."`):

      base = "paper-2026-06"          # optional: "current" (default), "paper-2026-06" or "none"
      [models."my-model"]             # dollars per million tokens
      input = 3.0
      output = 15.0
      cache_write = 3.75              # optional, default 1.25 x input
      cache_read = 0.3                # optional, default 0.10 x input
      aliases = ["my-model-v2"]       # optional

A model no card can price raises UnknownModel: never a silent $0. Dated ids
("claude-haiku-4-5-20251001") and provider prefixes ("anthropic/claude-opus-4-7") fall back to
the undated, unprefixed name. Lookups are cached per card, so pricing 500,000 calls costs little.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from orchbench.errors import RateCardError, UnknownModel
from orchbench.records import Call, Usage
from orchbench.tomlfile import read_toml

BUILTIN_CARDS = ("current", "paper-2026-06")
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.10
_LOCAL_PREFIXES = ("ollama/", "local/", "lmstudio/", "llamacpp/", "llama.cpp/")
_DATE_SUFFIX = re.compile(r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$")
# ollama-style "name:tag" (qwen3.5:9b); a purely numeric tag is a cloud version (bedrock "...-v1:0").
_OLLAMA_TAG = re.compile(r"^[\w.\-]+:(?!\d+$)[\w.\-]+$")


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    @classmethod
    def of(cls, input: float, output: float, cache_write: float | None = None,
           cache_read: float | None = None) -> Price:
        return cls(input, output,
                   input * CACHE_WRITE_FACTOR if cache_write is None else cache_write,
                   input * CACHE_READ_FACTOR if cache_read is None else cache_read)

    def cost(self, u: Usage) -> float:
        return (u.input * self.input + u.output * self.output + u.cache_write * self.cache_write
                + u.cache_read * self.cache_read) / 1e6


FREE = Price(0.0, 0.0, 0.0, 0.0)
Pricer = Callable[[Usage], float]


def is_local_model(model: str) -> bool:
    """A model served locally (priced $0): ollama/..., local/..., lmstudio/..., *-local, name:tag."""
    m = model.lower()
    return m.startswith(_LOCAL_PREFIXES) or m == "local" or m.endswith("-local") or bool(_OLLAMA_TAG.match(m))


def _key(model: str, provider: str | None) -> str:
    if provider is None or provider == "scripted" or model.startswith(provider + "/"):
        return model
    return f"{provider}/{model}"


def _candidates(model: str) -> list[str]:
    """The names to try for a model id: as given, without a provider prefix, without a date."""
    out = [model]
    if "/" in model:
        out.append(model.split("/", 1)[1])
    for m in list(out):
        undated = _DATE_SUFFIX.sub("", m)
        if undated != m:
            out.append(undated)
    return out


class RateCard:
    """Prices per model: explicit entries first, then the base card, then genai-prices / local $0."""

    def __init__(
        self,
        name: str,
        prices: Mapping[str, Price] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
        base: RateCard | None = None,
        use_genai_prices: bool = False,
        local_free: bool = False,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.prices = dict(prices or {})
        self.aliases = dict(aliases or {})
        self.base = base
        self.use_genai_prices = use_genai_prices
        self.local_free = local_free
        self._sources = dict(sources or {})
        self._cache: dict[str, tuple[Pricer, str] | None] = {}

    def cost(self, model: str, usage: Usage, *, provider: str | None = None) -> float:
        """Dollars for `usage` on `model`; UnknownModel if this card cannot price it.

        `provider` (an arm's "anthropic" / "openai" / "ollama" ...) narrows the genai-prices lookup
        and marks local servers ("ollama", "local", "lmstudio", "llamacpp") as $0.
        """
        key = _key(model, provider)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(key)
            if hit is None:
                raise self._unknown(model)
        return hit[0](usage)

    def knows(self, model: str, *, provider: str | None = None) -> bool:
        return self._resolve(_key(model, provider)) is not None

    def explain(self, model: str, *, provider: str | None = None) -> str:
        """Where this card's price for `model` comes from (for reports); UnknownModel if none."""
        hit = self._resolve(_key(model, provider))
        if hit is None:
            raise self._unknown(model)
        return hit[1]

    def _unknown(self, model: str) -> UnknownModel:
        return UnknownModel(
            f'no price for model "{model}" on rate card "{self.name}"; price it in a TOML rate card '
            f'([models."{model}"] with input = ... and output = ..., dollars per million tokens; see docs/store.md)'
        )

    def _resolve(self, model: str) -> tuple[Pricer, str] | None:
        if model in self._cache:
            return self._cache[model]
        hit = self._lookup(model)
        self._cache[model] = hit
        return hit

    def _lookup(self, model: str) -> tuple[Pricer, str] | None:
        for m in _candidates(model):
            price = self.prices.get(m)
            if price is not None:
                return price.cost, self._sources.get(m, f"{self.name}: {m} {_fmt(price)}")
            target = self.aliases.get(m)
            if target is not None and target != model:
                self._cache[model] = None  # an alias cycle ends as unknown, not as endless recursion
                hit = self._resolve(target)
                if hit is not None:
                    return hit
        if self.base is not None:
            hit = self.base._resolve(model)
            if hit is not None:
                return hit
        if self.local_free and model.lower().startswith(_LOCAL_PREFIXES):
            return FREE.cost, f"{self.name}: local model, $0"
        if self.use_genai_prices:
            hit = _genai_pricer(model)
            if hit is not None:
                return hit
        if self.local_free and is_local_model(model):
            return FREE.cost, f"{self.name}: local model, $0"
        return None


class Prices(Protocol):
    """What prices a call: a RateCard, or any object with its `cost` (`knows` is optional)."""

    def cost(self, model: str, usage: Usage) -> float: ...


def price_call(card: Prices, usage: Usage, *, configured: str, reported: str | None) -> tuple[float, str]:
    """(dollars, model priced by) for one call.

    The model the provider reports (a dated "claude-haiku-4-5-20251001" for the configured alias
    "claude-haiku-4-5") is what ran, so it prices the call when the card knows it; otherwise the
    configured name does. The name used is stored on the call (`Call.priced_model`), so a re-price
    later looks up the same entry.
    """
    model = price_model(card, configured=configured, reported=reported)
    return card.cost(model, usage), model


def repricing_model(card: Prices, call: Call) -> str:
    """The name to re-price a stored call by, with the same rule: what the provider reported when
    `card` knows it, else what the call was priced by when recorded (the configured name)."""
    return price_model(card, configured=call.priced_model or call.model, reported=call.model)


def price_model(card: Prices, *, configured: str, reported: str | None) -> str:
    knows = getattr(card, "knows", None)
    return reported if reported and reported != configured and knows is not None and knows(reported) else configured


def _fmt(p: Price) -> str:
    return (f"${p.input:g} in / ${p.output:g} out / ${p.cache_write:g} cache write / "
            f"${p.cache_read:g} cache read per M")


# ---------------------------------------------------------------------------------------------------
# genai-prices


_FLAT_KEYS = ("input_mtok", "output_mtok", "cache_write_mtok", "cache_read_mtok")


@cache
def _genai_pricer(model: str) -> tuple[Pricer, str] | None:
    """A pricer for `model` from genai-prices, or None if it does not know the model.

    Flat prices are read once and applied in float arithmetic (calc_price costs ~100 us a call);
    tiered prices (by prompt length) go through calc_price on every call.
    """
    from genai_prices import calc_price

    provider, ref = None, model
    if "/" in model:
        provider, ref = model.split("/", 1)
    elif model.startswith("claude"):
        provider = "anthropic"
    result = None
    for pid in dict.fromkeys([provider, None]):
        try:
            result = calc_price(_genai_usage(Usage(input=1)), model_ref=ref, provider_id=pid)
            provider = pid
            break
        except LookupError:
            continue
    if result is None:
        return None
    source = f"genai-prices: {result.provider.id}/{result.model.id}"

    def slow(u: Usage) -> float:
        return float(calc_price(_genai_usage(u), model_ref=ref, provider_id=provider).total_price)

    mp = result.model_price
    vals = [getattr(mp, k, None) for k in _FLAT_KEYS]
    if not all(v is None or isinstance(v, Decimal) for v in vals) or vals[0] is None or vals[1] is None:
        return slow, source
    inp, out = float(vals[0]), float(vals[1])
    # Without a cache price genai-prices bills those tokens as plain input.
    flat = Price(inp, out, inp if vals[2] is None else float(vals[2]), inp if vals[3] is None else float(vals[3]))
    probe = Usage(input=1_000_003, output=200_001, cache_write=30_011, cache_read=400_009)
    if abs(flat.cost(probe) - slow(probe)) > 1e-9:
        return slow, source
    return flat.cost, f"{source} {_fmt(flat)}"


def _genai_usage(u: Usage) -> Any:
    from genai_prices import Usage as GUsage

    # genai-prices wants the whole prompt as input_tokens, cache reads and writes included.
    return GUsage(input_tokens=u.input + u.cache_write + u.cache_read, output_tokens=u.output,
                  cache_write_tokens=u.cache_write, cache_read_tokens=u.cache_read)


# ---------------------------------------------------------------------------------------------------
# built-in and TOML cards


PAPER_PRICES = {
    "claude-opus-4-7": Price.of(15.0, 75.0),
    "claude-haiku-4-5": Price.of(1.0, 5.0),
    "qwen-local": FREE,
}


@cache
def _builtin(name: str) -> RateCard:
    if name == "current":
        return RateCard("current", use_genai_prices=True, local_free=True)
    return RateCard("paper-2026-06", PAPER_PRICES, local_free=True)


def as_rate_card(card: RateCard | str | Path | None) -> RateCard:
    """`card` itself if it is one (or anything with its `cost`), else the card it names (None: "current")."""
    return card if card is not None and not isinstance(card, (str, Path)) else load_rate_card(card)


def load_rate_card(spec: str | Path | None = None) -> RateCard:
    """None / "current", "paper-2026-06", or the path of a TOML card (see the module docstring)."""
    if spec is None or str(spec) in BUILTIN_CARDS:
        return _builtin("current" if spec is None else str(spec))
    path = Path(spec)
    if path.is_file():
        return _load_toml(path)
    if path.exists():
        raise RateCardError(f"{path}: rate card is not a file; pass a TOML file, 'current' or 'paper-2026-06'")
    raise RateCardError(f"unknown rate card '{spec}': use 'current', 'paper-2026-06' or the path of a TOML file "
                    "(see docs/store.md)")


_TOP_KEYS = {"name", "base", "models", "aliases"}
_MODEL_KEYS = {"input", "output", "cache_write", "cache_read", "aliases"}


def _load_toml(path: Path) -> RateCard:
    data = read_toml(path, "rate card")
    for key in data:
        if key not in _TOP_KEYS:
            raise RateCardError(f"{path}: unknown key '{key}' in rate card; allowed: {', '.join(sorted(_TOP_KEYS))}")
    base_name = data.get("base", "current")
    if base_name not in (*BUILTIN_CARDS, "none"):
        raise RateCardError(f"{path}: base = {base_name!r} is not a card; use 'current', 'paper-2026-06' or 'none'")
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise RateCardError(f"{path}: name must be a string, got {name!r}")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise RateCardError(f'{path}: models must be tables like [models."my-model"], got {models!r}')
    prices: dict[str, Price] = {}
    aliases: dict[str, str] = {}
    for model, entry in models.items():
        where = f'{path}: models."{model}"'
        if not isinstance(entry, dict):
            raise RateCardError(f"{where} must be a table with input = ... and output = ... (dollars per M)")
        for key in entry:
            if key not in _MODEL_KEYS:
                raise RateCardError(f"{where}: unknown key '{key}'; allowed: {', '.join(sorted(_MODEL_KEYS))}")
        for key in ("input", "output"):
            if key not in entry:
                raise RateCardError(f"{where}: missing '{key}' (dollars per million tokens)")
        nums = {k: _price(entry[k], f"{where}.{k}") for k in ("input", "output", "cache_write", "cache_read")
                if k in entry}
        prices[model] = Price.of(**nums)
        for alias in _str_list(entry.get("aliases", []), f"{where}.aliases"):
            aliases[alias] = model
    extra = data.get("aliases", {})
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise RateCardError(f'{path}: [aliases] must map names to model ids, e.g. "my-alias" = "claude-opus-4-7"')
    aliases.update(extra)
    base = None if base_name == "none" else _builtin(base_name)
    sources = {m: f"{name} ({path}): {m} {_fmt(p)}" for m, p in prices.items()}
    return RateCard(name, prices, aliases=aliases, base=base, sources=sources)


def _price(v: object, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        raise RateCardError(f"{where} must be a number of dollars per million tokens, got {v!r}")
    if v < 0:
        raise RateCardError(f"{where} is negative ({v}); prices are dollars per million tokens, >= 0")
    return float(v)


def _str_list(v: object, where: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise RateCardError(f'{where} must be a list of model ids, e.g. ["my-model-2025"]')
    return v
