"""Server checkpoints: HMAC under the server's secret, quotas, periodic, restored at start."""

from __future__ import annotations

import hashlib
import pickle
import tempfile

import sqlalchemy as sa
from server.conftest import SMALL

from freeagentics.storage import create_engine_for
from freeagentics.storage.tables import checkpoints, simulations

API = "/api/v1"
SCOUT = {
    "name": "scout",
    "count": 2,
    "spec": {
        "factors": [
            {
                "name": "where",
                "states": [f"s{i}" for i in range(9)],
                "controls": ["up", "down", "left", "right", "stay"],
            }
        ],
        "modalities": [
            {"name": "compass", "outcomes": [f"o{i}" for i in range(9)], "likelihood": "identity"}
        ],
    },
}


def _engine(client) -> sa.Engine:
    return client.app.state.service.engine


def _create(client, **body) -> int:
    r = client.post(f"{API}/simulations", json={"name": "small", "scenario": SMALL, **body})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _rewrite(client, checkpoint_id: int, **values) -> None:
    with _engine(client).begin() as conn:
        conn.execute(checkpoints.update().where(checkpoints.c.id == checkpoint_id).values(values))


class _Exploit:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_row_with_a_matching_sha256_is_refused_and_runs_nothing(client, sim, tmp_path):
    base = f"{API}/simulations/{sim}"
    ckpt = client.post(f"{base}/checkpoints").json()["id"]
    marker = tmp_path / "ran"
    for payload in (
        pickle.dumps(_Exploit(str(marker))),
        b"FREEAGENTICS-CHECKPOINT-1\n" + pickle.dumps(_Exploit(str(marker))),
    ):
        _rewrite(client, ckpt, data=payload, sha256=hashlib.sha256(payload).hexdigest())
        r = client.post(f"{base}/restore", json={"checkpoint_id": ckpt})
        assert r.status_code == 422, r.text
        assert "checkpoint" in r.json()["detail"]
        assert tempfile.gettempdir() not in r.text and "freeagentics-" not in r.text
    assert not marker.exists()


def test_a_changed_byte_or_another_secret_fails_the_hmac(make_client, tmp_path):
    client = make_client(secret_key="one-secret-" + "x" * 40)
    sim = _create(client)
    base = f"{API}/simulations/{sim}"
    ckpt = client.post(f"{base}/checkpoints").json()["id"]
    with _engine(client).connect() as conn:
        data = conn.execute(sa.select(checkpoints.c.data).where(checkpoints.c.id == ckpt)).scalar()
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 1
    _rewrite(client, ckpt, data=bytes(changed), sha256=hashlib.sha256(changed).hexdigest())
    r = client.post(f"{base}/restore", json={"checkpoint_id": ckpt})
    assert r.status_code == 422 and "HMAC does not match" in r.json()["detail"]
    # a checkpoint written under another secret (another server) is refused the same way
    other = make_client(
        secret_key="another-secret-" + "y" * 40,
        database_url=f"sqlite:///{tmp_path / 'other.db'}",
    )
    other_sim = _create(other)
    other_ckpt = other.post(f"{API}/simulations/{other_sim}/checkpoints").json()["id"]
    with _engine(other).connect() as conn:
        foreign = conn.execute(
            sa.select(checkpoints.c.data).where(checkpoints.c.id == other_ckpt)
        ).scalar()
    _rewrite(client, ckpt, data=foreign, sha256=hashlib.sha256(foreign).hexdigest())
    r = client.post(f"{base}/restore", json={"checkpoint_id": ckpt})
    assert r.status_code == 422 and "HMAC does not match" in r.json()["detail"]


def test_a_row_without_data_never_reads_its_path(client, sim, tmp_path):
    base = f"{API}/simulations/{sim}"
    ckpt = client.post(f"{base}/checkpoints").json()["id"]
    secret = tmp_path / "elsewhere" / "file.ckpt"
    secret.parent.mkdir()
    secret.write_bytes(b"x")
    _rewrite(client, ckpt, data=None, path=str(secret))
    r = client.post(f"{base}/restore", json={"checkpoint_id": ckpt})
    assert 400 <= r.status_code < 500
    assert "no stored bytes" in r.json()["detail"] and str(tmp_path) not in r.text


def test_checkpoints_per_simulation_are_bounded(make_client):
    client = make_client(checkpoint_max_count=3, checkpoint_every_ticks=0)
    sim = _create(client)
    base = f"{API}/simulations/{sim}"
    for _ in range(6):
        client.post(f"{base}/step", json={"n": 1})
        assert client.post(f"{base}/checkpoints").status_code == 201
    assert [c["tick"] for c in client.get(f"{base}/checkpoints").json()] == [4, 5, 6]
    tiny = make_client(
        checkpoint_max_bytes=1024,
        checkpoint_every_ticks=0,
        database_url=f"sqlite:///{_db(client)}-tiny",
    )
    sim = _create(tiny)
    r = tiny.post(f"{API}/simulations/{sim}/checkpoints")
    assert r.status_code == 422 and "checkpoint_max_bytes" in r.json()["detail"]


def _db(client) -> str:
    return str(_engine(client).url.database)


def test_periodic_checkpoints_follow_the_interval(make_client):
    client = make_client(checkpoint_every_ticks=4)
    sim = _create(client)
    client.post(f"{API}/simulations/{sim}/step", json={"n": 10})
    ticks = [c["tick"] for c in client.get(f"{API}/simulations/{sim}/checkpoints").json()]
    assert ticks == [0, 4, 8]


def test_simulations_left_alive_are_restored_at_start_and_others_marked_failed(
    make_client, make_settings
):
    first = make_client(checkpoint_every_ticks=5)
    running, broken = _create(first), _create(first)
    paused = _create(first, kinds=[SCOUT])  # a kind defined by a spec comes back too
    for sim in (running, paused, broken):
        first.post(f"{API}/simulations/{sim}/step", json={"n": 7})  # checkpoint at tick 5
    url = make_settings().database_url
    first.__exit__(None, None, None)  # a graceful stop marks them completed: undo that
    engine = create_engine_for(url)
    with engine.begin() as conn:
        for sim, status in ((running, "running"), (paused, "paused"), (broken, "running")):
            conn.execute(
                simulations.update().where(simulations.c.id == sim).values(status=status, tick=7)
            )
        conn.execute(checkpoints.delete().where(checkpoints.c.simulation_id == broken))
    engine.dispose()
    second = make_client(checkpoint_every_ticks=5)
    back = second.get(f"{API}/simulations/{running}").json()
    assert back["status"] == "running" and back["ticks_lost"] == 2
    held = second.get(f"{API}/simulations/{paused}").json()
    assert (held["status"], held["tick"], held["ticks_lost"]) == ("paused", 5, 2)
    assert held["kinds"]["scout"] == 2
    assert second.post(f"{API}/simulations/{paused}/step", json={"n": 1}).status_code == 200
    assert second.get(f"{API}/simulations/{broken}").status_code == 404
    with _engine(second).connect() as conn:
        status = conn.execute(
            sa.select(simulations.c.status).where(simulations.c.id == broken)
        ).scalar()
    assert status == "failed"
    scraped = second.get("/metrics").text
    assert "freeagentics_simulations_restored_total 2.0" in scraped
    assert "freeagentics_restore_ticks_lost_total 4.0" in scraped
