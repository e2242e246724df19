"""How to fix an error from the command line: the library says what and where, the CLI adds flags.

A Python caller of `orchbench.store.Store` has no `--db`; a user of `orchbench analyze` does. Each
error class maps to the advice for its kind, and an argument's Python name to the option spelling it.
"""

from __future__ import annotations

from orchbench import errors as e

# Python parameter -> command-line option, where the option is not simply --parameter-name.
OPTION_OF = {"ttl": "--cache-ttl", "backend": "--backend"}

# Most specific class first: the first match wins.
ADVICE: tuple[tuple[type[e.UserError], str], ...] = (
    (e.StoreNotFound, "import or run trials first, or pass --db PATH"),
    (e.NotAStore, "pass --db with an orchbench store or a new file name"),
    (e.StoreReadOnly, "check the file's permissions, or pass another --db"),
    (e.StoreTooNew, ""),
    (e.StoreError, "check --db"),
    (e.ConflictingSources, "pass either --db PATH or --results DIR|FILE..."),
    (e.ExperimentNotFound, "give a TOML file or --preset paper"),
    (e.NoSandbox, "or pass --unsafe-no-sandbox to run them unconfined (recorded on the trial)"),
    (e.NotRepriceable, "drop --rate-card to use the recorded costs"),
    (e.UnknownModel, "pass --rate-card FILE with that card"),
)


def option(argument: str) -> str:
    return OPTION_OF.get(argument, "--" + argument.replace("_", "-"))


def cli_message(exc: e.UserError) -> str:
    """The one line the CLI prints for `exc`: what, where, and how to fix it with flags."""
    if isinstance(exc, e.BadArgument):
        return f"{option(exc.argument)}: {exc.detail}"
    for kind, advice in ADVICE:
        if isinstance(exc, kind):
            return f"{exc}; {advice}" if advice else str(exc)
    return str(exc)
