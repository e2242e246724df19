"""Rate cards: the paper's pinned prices, genai-prices, local models, TOML cards and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from genai_prices import Usage as GUsage
from genai_prices import calc_price

from orchbench.errors import UserError
from orchbench.paperformat import read_paper_files
from orchbench.pricing import UnknownModel, is_local_model, load_rate_card
from orchbench.records import Usage

A_T3_0 = Usage(input=1748, output=769, cache_write=3679, cache_read=11572)


def _genai(model: str, u: Usage) -> float:
    gu = GUsage(input_tokens=u.input + u.cache_write + u.cache_read, output_tokens=u.output,
                cache_write_tokens=u.cache_write, cache_read_tokens=u.cache_read)
    return float(calc_price(gu, model_ref=model, provider_id="anthropic").total_price)


def test_paper_card_prices_a_t3_trial_0_to_the_cent() -> None:
    card = load_rate_card("paper-2026-06")
    assert card.name == "paper-2026-06"
    # 1748*15 + 769*75 + 3679*18.75 + 11572*1.5 = 170,234.25 micro-dollars
    assert card.cost("claude-opus-4-7", A_T3_0) == pytest.approx(0.17023425, abs=1e-12)
    assert round(card.cost("claude-opus-4-7", A_T3_0), 2) == 0.17


def test_paper_card_reproduces_every_recorded_cost(paper_dir: Path) -> None:
    card = load_rate_card("paper-2026-06")
    checked = 0
    for t, _ in read_paper_files([paper_dir]):
        for role, u in t.usage.items():
            assert card.cost(t.models[role], u) == pytest.approx(t.cost[role], abs=1e-6), (t.id, role)
            checked += 1
    assert checked == 40 + 19  # 40 trials; the 19 lines of B and C also have an executor


def test_paper_card_haiku_dated_id_and_local_qwen() -> None:
    card = load_rate_card("paper-2026-06")
    u = Usage(input=1_000_000, output=1_000_000, cache_write=1_000_000, cache_read=1_000_000)
    assert card.cost("claude-haiku-4-5-20251001", u) == pytest.approx(1 + 5 + 1.25 + 0.1)
    assert card.cost("claude-opus-4-7", u) == pytest.approx(15 + 75 + 18.75 + 1.5)
    assert card.cost("qwen-local", u) == 0.0
    assert not card.knows("gpt-4o")


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-haiku-4-5", "claude-haiku-4-5-20251001"])
def test_current_card_is_genai_prices(model: str) -> None:
    card = load_rate_card()
    assert card is load_rate_card("current")
    assert card.cost(model, A_T3_0) == pytest.approx(_genai(model, A_T3_0), abs=1e-12)
    assert "genai-prices" in card.explain(model)


def test_current_card_opus_4_7_differs_from_the_paper() -> None:
    # genai-prices lists Opus 4.7 at $5 / $25: the paper's $15 / $75 is three times that.
    current = load_rate_card().cost("claude-opus-4-7", A_T3_0)
    paper = load_rate_card("paper-2026-06").cost("claude-opus-4-7", A_T3_0)
    assert current == pytest.approx(0.05674475, abs=1e-12)
    assert paper == pytest.approx(3 * current)


def test_current_card_tiered_prices_match_genai_prices() -> None:
    card = load_rate_card()
    for u in (Usage(input=1000, output=10), Usage(input=300_000, output=10, cache_read=5000)):
        gu = GUsage(input_tokens=u.input + u.cache_read, output_tokens=u.output, cache_read_tokens=u.cache_read)
        expected = float(calc_price(gu, model_ref="gemini-2.5-pro").total_price)
        assert card.cost("gemini-2.5-pro", u) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("model", ["qwen-local", "qwen3.5:9b", "ollama/llama3", "local/anything", "gpt-oss:20b"])
def test_local_models_are_explicitly_free(model: str) -> None:
    card = load_rate_card()
    assert card.cost(model, A_T3_0) == 0.0
    assert "local model, $0" in card.explain(model)


def test_numeric_tag_is_not_mistaken_for_a_local_model() -> None:
    assert not is_local_model("vendor.some-model-v1:0")
    assert not load_rate_card("paper-2026-06").knows("vendor.some-model-v1:0")


def test_unknown_model_names_model_and_how_to_price_it() -> None:
    card = load_rate_card()
    with pytest.raises(UnknownModel) as err:
        card.cost("acme-coder-9000", A_T3_0)
    msg = str(err.value)
    assert isinstance(err.value, UserError)
    assert '"acme-coder-9000"' in msg and '"current"' in msg
    assert '[models."acme-coder-9000"]' in msg and "--rate-card" not in msg  # a library message: no flags
    from orchbench.cli.hints import cli_message

    assert "pass --rate-card" in cli_message(err.value)  # the CLI adds how to fix it with flags
    assert not card.knows("acme-coder-9000")


def _card(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "card.toml"
    p.write_text(text)
    return p


def test_toml_card_adds_overrides_and_defaults_cache_rates(tmp_path: Path) -> None:
    card = load_rate_card(_card(tmp_path, """
name = "mine"
[models."acme-coder"]
input = 2.0
output = 8.0
aliases = ["acme-coder-v2"]
[models."claude-opus-4-7"]
input = 10
output = 50
cache_write = 12
cache_read = 1
[aliases]
"my-haiku" = "claude-haiku-4-5"
"""))
    assert card.name == "mine"
    u = Usage(input=1_000_000, output=1_000_000, cache_write=1_000_000, cache_read=1_000_000)
    assert card.cost("acme-coder", u) == pytest.approx(2 + 8 + 2.5 + 0.2)
    assert card.cost("acme-coder-v2", u) == card.cost("acme-coder", u)
    assert card.cost("acme-coder-20250101", u) == card.cost("acme-coder", u)
    assert card.cost("claude-opus-4-7", u) == pytest.approx(73)
    assert card.cost("claude-opus-4-7-20260101", u) == pytest.approx(73)
    # Not in the file: falls through to the current card (genai-prices) and its aliases.
    assert card.cost("claude-haiku-4-5", A_T3_0) == pytest.approx(_genai("claude-haiku-4-5", A_T3_0))
    assert card.cost("my-haiku", A_T3_0) == card.cost("claude-haiku-4-5", A_T3_0)
    assert card.cost("qwen3.5:9b", u) == 0.0


def test_toml_card_bases(tmp_path: Path) -> None:
    on_paper = load_rate_card(_card(tmp_path, 'base = "paper-2026-06"\n[models.x]\ninput = 1\noutput = 1\n'))
    assert on_paper.cost("claude-opus-4-7", A_T3_0) == pytest.approx(0.17023425)
    alone = load_rate_card(_card(tmp_path, 'base = "none"\n[models.x]\ninput = 1\noutput = 1\n'))
    with pytest.raises(UnknownModel):
        alone.cost("claude-opus-4-7", A_T3_0)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("[models.x]\ninput = -1\noutput = 1\n", 'models."x".input is negative'),
        ("[models.x]\ninput = 1\noutput = 1\ncache_read = -0.5\n", 'models."x".cache_read is negative'),
        ('[models.x]\ninput = "cheap"\noutput = 1\n', 'models."x".input must be a number'),
        ("[models.x]\ninput = true\noutput = 1\n", 'models."x".input must be a number'),
        ("[models.x]\ninput = 1\n", "missing 'output'"),
        ("[models.x]\ninput = 1\nouput = 2\noutput = 1\n", "unknown key 'ouput'"),
        ("prices = 1\n", "unknown key 'prices'"),
        ('base = "yesterday"\n', "base = 'yesterday' is not a card"),
        ("[models.x\n", "not valid TOML"),
        ("models = 3\n", "models must be tables"),
    ],
)
def test_bad_toml_card_is_a_user_error_naming_file_and_key(tmp_path: Path, text: str, expect: str) -> None:
    p = _card(tmp_path, text)
    with pytest.raises(UserError) as err:
        load_rate_card(p)
    assert str(err.value).startswith(str(p)) or str(p) in str(err.value)
    assert expect in str(err.value)


def test_unknown_card_name_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown rate card 'paper-2099'"):
        load_rate_card("paper-2099")
    with pytest.raises(UserError, match="not a file"):
        load_rate_card(tmp_path)


def test_provider_hint_prices_local_servers_free_and_keeps_explicit_prices(tmp_path: Path) -> None:
    card = load_rate_card()
    assert card.cost("llama3", A_T3_0, provider="ollama") == 0.0
    assert not card.knows("llama3")
    assert card.cost("claude-opus-4-7", A_T3_0, provider="anthropic") == card.cost("claude-opus-4-7", A_T3_0)
    assert card.cost("gpt-4o", A_T3_0, provider="openai") == card.cost("gpt-4o", A_T3_0)
    mine = load_rate_card(_card(tmp_path, '[models."llama3"]\ninput = 0.2\noutput = 0.4\n'))
    assert mine.cost("llama3", Usage(input=1_000_000), provider="ollama") == pytest.approx(0.2)
