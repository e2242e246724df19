"""What a sandboxed command sees: the system, its own workspace and what the caller binds in.

The sandbox's root is an empty read-only tmpfs. Into it go, read-only: the system directories
(/usr, /bin, /lib*, /sbin, /etc, /sys), the running interpreter (prefix, base prefix, the resolved
executable's prefix: a venv or a pyenv build may live under /tmp or a home directory), orchbench's
own package, the directories on the command's PATH and the caller's read-only paths (a task's judge
venv); the caller's writable paths go in writable. Everything else is absent: home directories,
/run and /var (where host unix sockets live: docker, D-Bus, ssh and gpg agents: a read-only bind
would not stop `connect()`), the host's /tmp, other workspaces, the project checkout around the
package. Inside what is bound, files the sandbox must not read are masked: /etc files that are not
world-readable (shadow, ssh host keys: we may run as root, and root owns them) and the built-in task
files (they hold the reference solutions).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding the orchbench package
# Binding any of these (or a parent of one) back in would undo the hiding: PATH entries naming them
# are skipped. The home directory is added at call time.
_NEVER = (Path("/"), Path("/run"), Path("/var"), Path("/tmp"), Path("/home"), Path("/root"))


def _resolved(p: str | Path) -> Path | None:
    try:
        path = Path(p).resolve()
    except (OSError, RuntimeError):
        return None
    return path if path.exists() else None


@lru_cache(maxsize=1)
def interpreter_paths() -> tuple[Path, ...]:
    """What the running Python needs: its prefixes (venv and base) and the resolved executable's."""
    exe = _resolved(sys.executable) if sys.executable else None
    found: list[str | Path] = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    if exe is not None:
        found += [exe.parent.parent, Path(sys.executable).parent]
    return tuple(p for p in (_resolved(x) for x in found) if p is not None)


@lru_cache(maxsize=1)
def _pth_dirs() -> tuple[Path, ...]:
    """Directories the interpreter's .pth files add to sys.path (editable installs: a checkout's src)."""
    import site

    out = []
    for sp in site.getsitepackages():
        for pth in Path(sp).glob("*.pth"):
            try:
                lines = pth.read_text().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                path = _resolved(line.strip()) if line.startswith("/") else None
                if path is not None and path.is_dir() and not _too_broad(path):
                    out.append(path)
    return tuple(out)


def venv_bases(paths: Iterable[Path]) -> list[Path]:
    """The base interpreter's prefix of each venv among `paths` (`home` in its pyvenv.cfg): a task's
    judge venv may be built on a Python installed anywhere, e.g. under a hidden home directory."""
    out = []
    for p in paths:
        try:
            lines = (p / "pyvenv.cfg").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            key, _, value = line.partition("=")
            home = _resolved(value.strip()) if key.strip() == "home" else None
            if home is not None and not _too_broad(home.parent):
                out.append(home.parent)
    return out


@lru_cache(maxsize=1)
def _never() -> tuple[Path, ...]:
    return (*_NEVER, Path.home().resolve())


def _too_broad(path: Path) -> bool:
    return any(path == n or path in n.parents for n in _never())


def path_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Existing directories on the command's PATH, plus PYENV_ROOT (pyenv shims read it)."""
    # Resolved once per PATH value; checked again each time (bwrap refuses a missing source).
    return tuple(p for p in _path_dirs(env.get("PATH", ""), env.get("PYENV_ROOT", "")) if p.is_dir())


@lru_cache(maxsize=32)
def _path_dirs(path_var: str, pyenv_root: str) -> tuple[Path, ...]:
    entries = path_var.split(":") + [pyenv_root]
    out = []
    for entry in entries:
        if not entry.startswith("/"):
            continue
        path = _resolved(entry)
        if path is not None and path.is_dir() and not _too_broad(path):
            out.append(path)
    return tuple(out)


@lru_cache(maxsize=1)
def _unreadable_in_etc() -> tuple[tuple[str, bool], ...]:
    """(path, is_dir) of /etc entries that are not world-readable: masked inside (walked once)."""
    out: list[tuple[str, bool]] = []
    for dirpath, dirnames, filenames in os.walk("/etc"):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_mode & stat.S_IROTH:
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            out.append((p, is_dir))
            if is_dir and name in dirnames:
                dirnames.remove(name)  # masked whole
    return tuple(out)


@lru_cache(maxsize=1)
def _builtin_task_dirs() -> tuple[Path, ...]:
    """Every copy of the built-in task files a command could reach: this package's, an editable
    install's checkout, an installed copy in site-packages."""
    import site

    roots = [PACKAGE_ROOT, *_pth_dirs(), *(Path(p) for p in site.getsitepackages())]
    found = [_resolved(r / "orchbench" / "tasks" / "builtin") for r in roots]
    return tuple(dict.fromkeys(p for p in found if p is not None and p.is_dir()))


def _system_argv() -> list[str]:
    argv: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):  # merged /usr: /bin -> usr/bin
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    return argv


def _mask_argv(resolv_target: Path | None) -> list[str]:
    argv: list[str] = []
    for path, is_dir in _unreadable_in_etc():
        argv += ["--tmpfs", path] if is_dir else ["--ro-bind", "/dev/null", path]
    for d in _builtin_task_dirs():
        argv += ["--tmpfs", str(d)]
    if resolv_target is not None:  # with network on: DNS needs /etc/resolv.conf's target (often in /run)
        argv += ["--ro-bind", str(resolv_target), str(resolv_target)]
    return argv


def _resolv_target() -> Path | None:
    target = _resolved("/etc/resolv.conf")
    if target is None or target == Path("/etc/resolv.conf") or not target.is_file():
        return None
    return target


def mount_argv(
    cwd: Path,
    writable: Sequence[Path],
    readonly: Iterable[Path],
    *,
    env: Mapping[str, str],
    tmp_bytes: int,
    shm_bytes: int,
    network: bool,
) -> list[str]:
    """The bubblewrap arguments building the sandbox's filesystem."""
    argv = ["--tmpfs", "/", *_system_argv(), "--dev", "/dev", "--proc", "/proc"]
    argv += ["--size", str(tmp_bytes), "--tmpfs", "/tmp", "--size", str(shm_bytes), "--tmpfs", "/dev/shm"]
    rw = [p for p in (_resolved(x) for x in writable) if p is not None]
    ro = [p for p in (_resolved(x) for x in readonly) if p is not None]
    # Needed by any command: the interpreter (the agent's `judge` runs orchbench), PATH's tools.
    needed = [*interpreter_paths(), PACKAGE_ROOT, *_pth_dirs(), *path_dirs(env), *venv_bases(ro)]
    # One mount per tree: a PATH entry under /usr or under PYENV_ROOT is visible already.
    covering = [Path(d) for d in SYSTEM_DIRS if not os.path.islink(d)] + needed
    ro += [p for p in needed if not any(p == w or w in p.parents for w in rw)
           and not any(q in p.parents for q in covering)]
    binds = [(p, "--ro-bind") for p in dict.fromkeys(ro)] + [(p, "--bind") for p in dict.fromkeys(rw)]
    if not any(cwd == p or p in cwd.parents for p, _ in binds):
        # The working directory must exist inside: bound when it is a plain directory, empty when
        # binding it would expose what is hidden (the host's /tmp, a home directory).
        if _too_broad(cwd):
            argv += ["--dir", str(cwd)]
        else:
            binds.append((cwd, "--ro-bind"))
    # Parents before children (a later mount covers an earlier one), so a writable workspace under
    # /tmp stays visible and a read-only file inside the workspace stays read-only; for the same path
    # read-only wins.
    binds.sort(key=lambda b: (len(b[0].parts), b[1] == "--ro-bind"))
    for path, flag in binds:
        argv += [flag, str(path), str(path)]
    argv += _mask_argv(_resolv_target() if network else None)
    return argv + ["--remount-ro", "/"]
