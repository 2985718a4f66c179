"""What lets the worker and the API run apart: the API package never reaches the stream workers, and a
second process on one embedded store stops at once with a clear message, leaving the store whole."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from builders import make_entity

from chainmatch.bootstrap import StoreInUse, open_embedded_store
from chainmatch.settings import Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.model import Profile, Upsert
from matcher.service import Matcher

ROOT = Path(__file__).resolve().parents[2]
WORKER_ONLY = ("streams", "faust")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_api_package_imports_the_stream_workers():
    offending = {str(path.relative_to(ROOT)): [n for n in imported_modules(path) if n.split(".")[0] in WORKER_ONLY]
                 for path in (ROOT / "api").rglob("*.py")}
    assert len(offending) > 10  # the scan saw the package
    assert {path: names for path, names in offending.items() if names} == {}


def test_importing_the_api_app_loads_nothing_of_the_stream_workers_even_transitively():
    child = textwrap.dedent(f"""
        import sys
        import api.app
        print(sorted(m for m in sys.modules if m.split(".")[0] in {WORKER_ONLY!r}))
        """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_second_process_on_the_embedded_store_fails_fast_naming_the_qdrant_server_and_harms_nothing(tmp_path):
    settings = Settings(data_dir=tmp_path)
    store = open_embedded_store(settings)
    matcher = Matcher(embedder=HashingEmbedder(dimension=32), store=store)
    matcher.ensure_model()
    matcher.apply([Upsert(Profile.from_data("company", make_entity(id=f"co-{n}"))) for n in range(3)])
    store.flush()
    try:
        # No broker listens there: the command must stop before it would try one.
        result = subprocess.run(
            [sys.executable, "-m", "chainmatch.cli", "api", "--data-dir", str(tmp_path)], capture_output=True,
            text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                  "CHAINMATCH_KAFKA_BOOTSTRAP": "127.0.0.1:9",
                                                  "CHAINMATCH_QDRANT_URL": ""})
        assert result.returncode == 2, result.stderr
        assert f"is open in process {os.getpid()}" in result.stderr
        assert "CHAINMATCH_QDRANT_URL" in result.stderr and "Traceback" not in result.stderr
        assert store.count() == 3  # the holder goes on undisturbed
        try:
            open_embedded_store(settings)
        except StoreInUse as error:
            assert "chainmatch worker" in str(error)
        else:
            raise AssertionError("a second opener in this process was let in")
    finally:
        store.close()
    with open_embedded_store(settings) as reopened:
        assert reopened.count() == 3 and [p.id for p in reopened.retrieve(["co-1"])] == ["co-1"]
