"""Which agents each worker role runs: ingest scales out, partnerships has exactly one owner."""

from __future__ import annotations

import pytest

from chainmatch.settings import Settings
from streams.app import create_app
from streams.pipeline import PipelineState


@pytest.mark.parametrize(("role", "agents", "settles"), [
    ("all", {"entities", "curation", "feedback"}, True),
    ("ingest", {"entities"}, False),
    ("partnerships", {"curation", "feedback", "stored"}, True),
])
def test_each_role_runs_its_agents(tmp_path, role, agents, settles):
    app = create_app(Settings(worker_role=role, data_dir=tmp_path), handler=None, state=PipelineState())
    assert {agent.split(".")[-1] for agent in app.agents} == agents
    assert bool(app._app_tasks) == settles  # the settle loop: only where partnerships are computed
