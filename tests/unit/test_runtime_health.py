"""What /healthz reports comes from the runtime: starting, ready, and a dead stream worker."""

from fastapi.testclient import TestClient

from api.app import create_app
from chainmatch.bootstrap import Runtime
from chainmatch.settings import Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.memory_store import MemoryStore
from matcher.service import Matcher


def test_healthz_is_503_while_starting_200_when_ready_and_503_naming_a_dead_agent():
    runtime = Runtime(Settings(), run_workers=True)
    client = TestClient(create_app(settings=Settings(), backend=runtime))
    starting = client.get("/healthz")
    assert starting.status_code == 503 and starting.json()["model"] == "starting"

    runtime._publisher = object()  # what a started runtime holds; set by hand: no broker here
    runtime._matcher = Matcher(embedder=HashingEmbedder(dimension=16), store=MemoryStore())
    runtime.state.assigned = True
    assert client.get("/healthz").json()["keys"] == "reading their topic"
    runtime.keyring().caught_up()
    assert client.get("/healthz").json()["status"] == "ok"

    runtime.state.crashed["curation"] = "RuntimeError: boom"
    dead = client.get("/healthz")
    assert dead.status_code == 503
    assert dead.json()["workers"] == "agent curation died: RuntimeError: boom"
