"""nesy.distributed on real Dask clusters of worker processes on this machine.

The worker functions live at module level so that the workers import them from this file
(its folder is on the ``sys.path`` that spawned worker processes inherit).
"""

import logging
import os
import random
import sys
import threading
import time
import uuid

import pytest

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")  # a dependency of distributed

from nesy.distributed import parse_spec, run_chunks  # noqa: E402

LIMIT = 60  # seconds any one run may take before the test fails instead of hanging


class Template:
    """A stand-in for a knowledge-base template: takes a fresh token each time it is unpickled."""

    def __init__(self, offset=0, folder=None):
        self.offset, self.folder, self.token = offset, folder, "here"

    def __setstate__(self, state):
        self.__dict__.update(state, token=uuid.uuid4().hex)


def summing(template, chunk):
    # the first chunk is the slowest, so later chunks finish first and must wait their turn
    time.sleep(0.4 if chunk[0][0] == 0 else random.uniform(0, 0.02))
    return [(i, template.offset + sum(case)) for i, case in chunk]


def whoami(template, chunk):
    time.sleep(0.01)
    return [(os.getpid(), template.token) for _ in chunk]


def dying(template, chunk):
    """Kills its worker process the first time any worker runs it (one marker file)."""
    try:
        os.close(os.open(template.folder / "died", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return summing(template, chunk)
    os._exit(1)


def recording(template, chunk):
    (template.folder / f"chunk-{chunk[0][0]}").touch()
    time.sleep(0.05)
    return [os.getpid() for _ in chunk]


def failing(template, chunk):
    if chunk[0][0] == 3:
        raise ValueError("case 3 is broken")
    return summing(template, chunk)


def cases(n_chunks, size=3):
    """Chunks of ``(index, case)`` pairs, a case being a short list of numbers."""
    rng = random.Random(n_chunks)
    pairs = [(i, [rng.randint(-9, 9) for _ in range(4)]) for i in range(n_chunks * size)]
    return [pairs[k : k + size] for k in range(0, len(pairs), size)]


def within(seconds, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, failing the test rather than hanging past ``seconds``."""
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: B036 - handed to the test thread
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def collect(spec, worker_fn, template, chunks, **kwargs):
    """The ``(chunk number, results)`` calls of a run, and its statistics."""
    calls = []
    stats = within(
        LIMIT,
        run_chunks,
        spec,
        worker_fn,
        template,
        chunks,
        lambda n, r: calls.append((n, r)),
        **kwargs,
    )
    return calls, stats


@pytest.fixture(scope="module")
def scheduler():
    """The address of a two-process cluster shared by this module's tests."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


def test_results_come_in_chunk_order_and_equal_the_in_process_results(scheduler):
    template, chunks = Template(offset=100), cases(12)
    calls, stats = collect(scheduler, summing, template, chunks)
    assert calls == [(n, summing(template, chunk)) for n, chunk in enumerate(chunks)]
    assert stats["chunks"] == 12 and stats["workers"] == 2 and stats["threads"] == 2
    assert stats["retries"] == 0 and stats["seconds"] > 0


def test_template_is_unpickled_once_per_worker(scheduler):
    calls, _ = collect(scheduler, whoami, Template(), cases(30, size=2))
    seen = {pair for _, results in calls for pair in results}
    pids = {pid for pid, _ in seen}
    assert len(pids) == 2, "both workers should have run chunks"
    assert len(seen) == len(pids), f"a worker unpickled the template more than once: {seen}"
    assert "here" not in {token for _, token in seen}


def test_on_result_raising_stops_submitting(scheduler, tmp_path):
    calls = []

    def on_result(n, results):
        calls.append(n)
        if n == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        within(
            LIMIT,
            run_chunks,
            scheduler,
            recording,
            Template(folder=tmp_path),
            cases(100, size=1),
            on_result,
            window=4,
        )
    time.sleep(0.5)  # anything still running (not cancelled) has finished by now
    assert calls == [0, 1, 2]
    ran = len(list(tmp_path.glob("chunk-*")))
    assert 3 <= ran <= 2 + 4, f"{ran} chunks ran, the window allows 6"


def test_a_failing_chunk_raises_its_error(scheduler):
    with pytest.raises(ValueError, match="case 3 is broken"):
        collect(scheduler, failing, Template(), cases(5, size=1))


def test_a_lost_worker_has_its_chunk_run_again(tmp_path):
    template, chunks = Template(offset=1, folder=tmp_path), cases(8)
    calls, stats = collect("local:2", dying, template, chunks)
    assert (tmp_path / "died").exists()
    assert calls == [(n, summing(template, chunk)) for n, chunk in enumerate(chunks)]
    assert stats["retries"] >= 1


def test_a_template_lost_with_the_only_worker_is_shipped_again(tmp_path):
    template, chunks = Template(offset=2, folder=tmp_path), cases(4)
    calls, stats = collect("local:1", dying, template, chunks)
    assert calls == [(n, summing(template, chunk)) for n, chunk in enumerate(chunks)]
    assert stats["retries"] >= 1


def test_local_spec_starts_and_closes_its_own_cluster(monkeypatch):
    clusters = []

    class Recorded(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clusters.append((self, kwargs))

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    calls, stats = collect("local:1", whoami, Template(), cases(3, size=1))
    [(cluster, kwargs)] = clusters
    assert kwargs["n_workers"] == 1 and kwargs["threads_per_worker"] == 1 and kwargs["processes"]
    assert cluster.status.name == "closed"
    pids = {pid for _, results in calls for pid, _ in results}
    assert len(pids) == 1 and os.getpid() not in pids
    assert stats["workers"] == 1
    deadline = time.monotonic() + 10
    while psutil.pid_exists(*pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(*pids), "the worker process outlived its cluster"


def test_no_chunks_starts_nothing():
    calls, stats = collect("local:64", summing, Template(), [])
    assert calls == [] and stats["chunks"] == 0 and stats["workers"] == 0


@pytest.mark.parametrize(
    "spec",
    [
        "local",
        "local:",
        "local:0",
        "local:-1",
        "local:two",
        "tcp://host",
        "tcp://:8786",
        "tcp://host:port",
        "tcp://host:8786/x",
        "tls://host:8786",
        "host:8786",
        "",
    ],
)
def test_bad_specs_are_refused_with_the_forms_to_use(spec):
    with pytest.raises(ValueError, match=r"local:N|tcp://HOST:PORT") as info:
        run_chunks(spec, summing, Template(), cases(1), print)
    assert repr(spec) in str(info.value)


def test_good_specs_parse():
    assert parse_spec("local:3") == ("local", 3)
    assert parse_spec(" tcp://10.1.2.3:8786 ") == ("tcp", "tcp://10.1.2.3:8786")
    assert parse_spec("tcp://[::1]:8786") == ("tcp", "tcp://[::1]:8786")


def test_unreachable_scheduler_is_named():
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(OSError, match="tcp://127.0.0.1:9"):
            within(LIMIT, run_chunks, "tcp://127.0.0.1:9", summing, Template(), cases(1), print)


def test_missing_distributed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "nesy\[distributed\]"'):
        run_chunks("local:1", summing, Template(), cases(1), print)
