"""Runtime API keys across two API processes of one deployment (two runtimes, two data dirs, one real
broker): a key made on one works on the other, a revocation made on one is refused by the other
within 5 s, a use seen on one shows in the other's list, and a restarted process whose broker lost
the topics still knows its keys from its data dir."""

from __future__ import annotations

import contextlib
import time
import uuid

import httpx
from qdrant_client import QdrantClient
from test_split_mode import until

from api.app import create_app
from chainmatch.bootstrap import Runtime, topic_configs, topic_names
from chainmatch.broker import ensure_topics
from chainmatch.settings import ApiKey, Settings
from matcher.adapters.hashing_embedder import HashingEmbedder
from matcher.adapters.qdrant_store import QdrantServerStore
from subscribers import keys as key_feed

STAFF = {"Authorization": "Bearer staff-key"}


def api_settings(broker, data_dir, prefix: str) -> Settings:
    return Settings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, data_dir=data_dir, model="hashing:64",
                    api_keys={"staff-key": ApiKey(role="staff", name="Ada")}, topic_partitions=2)


@contextlib.asynccontextmanager
async def api_process(settings: Settings, store):
    runtime = Runtime(settings, run_workers=False, embedder=HashingEmbedder(dimension=64), store=store)
    app = create_app(settings=settings, backend=runtime)
    async with runtime.lifespan(None), httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                                         base_url="http://api") as http:
        yield http


def new_prefix(broker, tmp_path) -> str:
    prefix = f"keys{uuid.uuid4().hex[:8]}."
    settings = api_settings(broker, tmp_path, prefix)
    ensure_topics(broker.bootstrap, topic_names(settings), 2, configs=topic_configs(settings))
    return prefix


async def test_a_key_revoked_on_one_api_process_is_refused_by_another_within_5_s(broker, tmp_path, monkeypatch):
    monkeypatch.setattr(key_feed, "TELL_EVERY_S", 0.5)
    prefix = new_prefix(broker, tmp_path)
    store = QdrantServerStore(QdrantClient(":memory:"), "keys")
    one, other = api_settings(broker, tmp_path / "one", prefix), api_settings(broker, tmp_path / "other", prefix)
    async with api_process(one, store) as first, api_process(other, store) as second:
        async def made(name: str) -> dict | None:
            response = await first.post("/v1/keys", json={"role": "staff", "name": name}, headers=STAFF)
            return response.json() if response.status_code == 201 else None

        revoked, kept = await until(lambda: made("leaked"), "a key"), await until(lambda: made("kept"), "a key")

        async def status(http: httpx.AsyncClient, key: str) -> int:
            return (await http.get("/v1/keys", headers={"Authorization": f"Bearer {key}"})).status_code

        await until(lambda: _is(status(second, kept["key"]), 200), "the new keys on the other process", 5)
        assert await status(second, revoked["key"]) == 200

        assert (await first.delete(f"/v1/keys/{revoked['id']}", headers=STAFF)).status_code == 204
        started = time.monotonic()
        await until(lambda: _is(status(second, revoked["key"]), 401), "the revocation on the other process", 5)
        assert time.monotonic() - started < 5
        assert await status(second, kept["key"]) == 200

        async def used_on_the_other() -> bool:
            items = (await first.get("/v1/keys", headers=STAFF)).json()["items"]
            return next(k for k in items if k["id"] == kept["id"])["last_used_at"] is not None

        # the first process made the key but never saw it used: only the second did
        await until(used_on_the_other, "the second process's use of the key in the first's list", 10)

    # Restarted on the same data dir over topics that hold nothing (as an embedded broker after a restart).
    async with api_process(api_settings(broker, tmp_path / "other", new_prefix(broker, tmp_path)), store) as restarted:
        # Until it has read the keys topic it does not trust its snapshot: 503, never a revoked key let in.
        assert await status(restarted, revoked["key"]) in (401, 503)
        await until(lambda: _is(status(restarted, kept["key"]), 200), "the restarted process to read the topic", 5)
        assert await status(restarted, revoked["key"]) == 401
    store.close()


async def _is(pending, wanted: int) -> bool:
    return await pending == wanted
