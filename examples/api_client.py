"""A REST and WebSocket client: create a simulation from a scenario file, drive it, watch it.

REST creates the simulation (the scenario file's TOML as JSON), starts it and reads
its agents; the WebSocket subscribes to its ``metrics`` topic and prints a few frames;
a WebSocket command pauses it. Against a server started with ``make run`` (development
mode needs no credentials; give ``--api-key`` for a production server).

    python examples/api_client.py [--url http://127.0.0.1:8000] [--frames 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tomllib
from pathlib import Path

import httpx
import websockets

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "foraging.toml"


async def watch(ws_url: str, sim_id: int, frames: int, headers: dict[str, str]) -> list[dict]:
    """``frames`` metrics frames of ``sim_id``, then a ``pause`` command and its ack."""
    received = []
    async with websockets.connect(ws_url, additional_headers=headers) as socket:
        await socket.send(
            json.dumps({"type": "subscribe", "id": 1, "topic": "metrics", "sim_id": sim_id})
        )
        while len(received) < frames:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
            if message.get("type") == "frame":
                received.append(message)
                means = message["data"]["means"]
                print(f"tick {message['tick']}: mean belief entropy {means['belief_entropy']:.3f}")
        await socket.send(
            json.dumps({"type": "command", "id": 2, "action": "pause", "sim_id": sim_id})
        )
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
            if message.get("type") == "ack" and message.get("id") == 2:
                print(f"pause acknowledged: ok={message['ok']}")
                break
    return received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="X-API-Key of a production server")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    args = parser.parse_args()
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    api = httpx.Client(base_url=f"{args.url}/api/v1", headers=headers, timeout=60)

    scenario = tomllib.loads(args.scenario.read_text())
    created = api.post("/simulations", json={"name": "from-the-client", "scenario": scenario})
    created.raise_for_status()
    sim_id = created.json()["id"]
    print(f"created simulation {sim_id}: {created.json()['status']}")
    api.post(f"/simulations/{sim_id}/start").raise_for_status()
    page = api.get(f"/simulations/{sim_id}/agents", params={"limit": 3}).json()
    print(f"{page['total']} agents; the first: {page['items'][0]}")

    ws_url = args.url.replace("http", "ws", 1) + "/ws"
    asyncio.run(watch(ws_url, sim_id, args.frames, headers))
    print(f"status now: {api.get(f'/simulations/{sim_id}').json()['status']}")
    api.delete(f"/simulations/{sim_id}").raise_for_status()


if __name__ == "__main__":
    main()
