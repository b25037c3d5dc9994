"""The device agent as one deterministic zipapp, named by its hash.

The archive holds ``edgemem_agent/*.py`` (the modules of edgemem/bench/agent/, sorted) and a
``__main__.py`` that runs its command line. Entries are stored uncompressed with a fixed date,
fixed permissions and no extra fields, so the same sources give the same bytes on every machine
and Python version; the device keeps it as ``agent-<sha256[:16]>.pyz``. Every command runs it
through LAUNCHER, which checks the archive against its full sha256 before Python imports a line
of it (a modified archive is refused with the ``integrity`` error, a missing one with
``agent_missing``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import lru_cache
from pathlib import Path

from edgemem.bench.agent.wire import ERROR_EXIT, ERROR_SCHEMA, PACKAGE, RESULT_PREFIX, SHA_ENV

AGENT_DIR = Path(__file__).with_name("agent")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
MAIN = f"import sys\nfrom {PACKAGE}.cli import main\nsys.exit(main())\n".encode()

# Python 3.6+, standard library only; argv: ARCHIVE SHA256 COMMAND ARGS...
LAUNCHER = f"""import hashlib, json, os, sys
path, want = sys.argv[1], sys.argv[2]
def fail(code, message):
    doc = {{"schema": "{ERROR_SCHEMA}", "status": "error", "error": {{"code": code, "stage": "agent", "message": message}}}}
    sys.stdout.write("{RESULT_PREFIX}" + json.dumps(doc) + "\\n")
    sys.exit({{"integrity": {ERROR_EXIT["integrity"]}, "agent_missing": {ERROR_EXIT["agent_missing"]}}}[code])
try:
    with open(path, "rb") as handle:
        data = handle.read()
except (IOError, OSError) as exc:
    fail("agent_missing", "cannot read the agent %s: %s" % (path, exc))
got = hashlib.sha256(data).hexdigest()
if got != want:
    fail("integrity", "the agent %s on the device does not match its hash (sha256 %s, expected %s)" % (path, got, want))
os.environ["{SHA_ENV}"] = want
sys.argv = [path] + sys.argv[3:]
import runpy
runpy.run_path(path, run_name="__main__")
"""


def sources() -> list[tuple[str, bytes]]:
    """(name in the archive, bytes) of every module, sorted by name."""
    files = sorted(p for p in AGENT_DIR.glob("*.py") if p.is_file())
    return [(f"{PACKAGE}/{p.name}", p.read_bytes()) for p in files] + [("__main__.py", MAIN)]


def build_archive(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix
            info.external_attr = 0o600 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def agent_archive() -> bytes:
    return build_archive(sources())


def agent_sha256() -> str:
    return hashlib.sha256(agent_archive()).hexdigest()


def agent_remote_name() -> str:
    """Content-addressed file name of the agent on the device."""
    return f"agent-{agent_sha256()[:16]}.pyz"


def write_archive(directory: Path) -> Path:
    """The archive under its remote name in ``directory`` (tests and manual use)."""
    path = directory / agent_remote_name()
    path.write_bytes(agent_archive())
    path.chmod(0o600)
    return path
