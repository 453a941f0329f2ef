"""Signal files appear whole: a reader that sees the file exist reads all of it."""

from __future__ import annotations

import threading

from freeagentics.loadtest.handoff import publish


def test_a_reader_polling_for_the_file_never_reads_it_half_written(tmp_path):
    text = "7" * 1_000_000  # large enough that a plain write is seen part-way
    seen: list[int] = []
    for round_ in range(20):
        path = tmp_path / f"go-{round_}"
        writer = threading.Thread(target=publish, args=(path, text))
        writer.start()
        while not path.exists():
            pass
        seen.append(len(path.read_text()))
        writer.join()
    assert seen == [len(text)] * 20
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"go-{k}" for k in range(20))


def test_publishing_again_replaces_the_text(tmp_path):
    path = tmp_path / "stop"
    publish(path, "first")
    publish(path, "stop")
    assert path.read_text() == "stop"
