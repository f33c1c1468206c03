"""Run chunks of cases on a Dask cluster, results handed back in chunk order.

``nesy eval --scheduler SPEC`` cuts its cases into chunks and calls ``run_chunks``. The
knowledge-base template is shipped to the cluster once (``scatter`` with ``broadcast``); each
chunk is one task; results come back to ``on_result`` in chunk order while later chunks still
run. SPEC is ``local:N`` (a cluster of N one-thread worker processes on this machine, started
and closed here) or ``tcp://HOST:PORT`` (the scheduler of a running cluster).

    >>> def scale(k, chunk):
    ...     return [k * x for _, x in chunk]
    >>> rows = []
    >>> stats = run_chunks("local:2", scale, 10, [[(0, 1), (1, 2)], [(2, 3)]],
    ...                    lambda n, results: rows.extend(results))  # doctest: +SKIP
    >>> rows  # doctest: +SKIP
    [10, 20, 30]

Dask and ``distributed`` are an optional extra: ``pip install "nesy[distributed]"``.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

SPEC_FORMS = "'local:N' (N worker processes on this machine) or 'tcp://HOST:PORT' (a scheduler)"
WORKER_TIMEOUT = 60  # seconds to wait for a first worker to join the scheduler
TASKS_PER_THREAD = 4  # chunks in flight (running, queued or waiting to be handed on) per thread
MAX_TEMPLATE_LOSSES = 3  # re-scatters of the template before the run gives up


def parse_spec(spec):
    """``("local", N)`` or ``("tcp", address)`` for a scheduler spec; ``ValueError`` otherwise.

    >>> parse_spec("local:4"), parse_spec("tcp://10.0.0.5:8786")
    (('local', 4), ('tcp', 'tcp://10.0.0.5:8786'))
    """
    text = str(spec).strip()
    if text.startswith("local:"):
        n = text.removeprefix("local:")
        if n.isdigit() and int(n) >= 1:
            return "local", int(n)
        raise ValueError(f"bad scheduler {spec!r}: N in 'local:N' must be a whole number >= 1")
    if text.startswith("tcp://"):
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port and not parts.path.strip("/") and not parts.query:
            return "tcp", text
        raise ValueError(f"bad scheduler {spec!r}: expected tcp://HOST:PORT, e.g. tcp://host:8786")
    raise ValueError(f"bad scheduler {spec!r}: expected {SPEC_FORMS}")


def run_chunks(spec, worker_fn, template, chunks, on_result, *, window=None):
    """Run ``worker_fn(template, chunk)`` for every chunk on a cluster; return run statistics.

    ``worker_fn`` must be a module-level function importable on the workers. ``template`` is
    sent to each worker once, not once per chunk. ``on_result(n, results)`` is called for
    n = 0, 1, ... in order, as soon as chunk n and every chunk before it are done; results
    equal ``worker_fn(template, chunks[n])`` run here. At most ``window`` chunks
    (default 4 per worker thread) are in flight or waiting for their turn, so memory stays
    flat however many chunks there are. A chunk whose worker dies is run again elsewhere; a
    chunk that raises is retried twice, then its error is raised here. If ``on_result``
    raises, nothing more is submitted, outstanding tasks are cancelled and the error goes on.

    Returns ``{"workers", "threads", "chunks", "seconds", "retries"}``: workers and threads
    when the run started, and how many chunk tasks were lost with a worker (or with the
    template) and queued again.
    """
    kind, target = parse_spec(spec)
    dd = _import_distributed()
    start = time.perf_counter()
    stats = {"workers": 0, "threads": 0, "chunks": len(chunks), "retries": 0}
    if chunks:
        with _connect(dd, kind, target) as client:
            stats.update(_Run(dd, client, worker_fn, template, chunks, window).drain(on_result))
    stats["seconds"] = round(time.perf_counter() - start, 3)
    return stats


def _import_distributed():
    try:
        import distributed
    except ImportError as e:
        raise ImportError(
            'running on a Dask cluster needs dask.distributed: pip install "nesy[distributed]"'
        ) from e
    return distributed


@contextmanager
def _connect(dd, kind, target):
    """A client of a fresh local cluster (closed on exit) or of the scheduler at ``target``."""
    if kind == "local":
        with (
            dd.LocalCluster(
                n_workers=target,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # no dashboard, and its health/metrics server on a free port of this machine
                # (not 8787, which two runs at once would fight over)
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            ) as cluster,
            dd.Client(cluster, set_as_default=False) as client,
        ):
            yield client
        return
    try:
        client = dd.Client(target, set_as_default=False)
    except OSError as e:
        raise OSError(f"cannot reach the Dask scheduler at {target}: {e}") from e
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except TimeoutError as e:
            raise TimeoutError(
                f"no Dask worker joined the scheduler at {target} within {WORKER_TIMEOUT} s;"
                f" start some with: dask worker {target} --nworkers N --nthreads 1"
            ) from e
        yield client


class _Run:
    """One run: the scattered template, the submission window and the in-order hand-off."""

    def __init__(self, dd, client, worker_fn, template, chunks, window):
        self.client, self.worker_fn = client, worker_fn
        self.template, self.chunks = template, chunks
        nthreads = client.nthreads()
        self.workers, self.threads = len(nthreads), sum(nthreads.values())
        self.watched, self.next_watch = set(), 0.0  # workers whose events we subscribed to
        self.window = window or TASKS_PER_THREAD * max(1, self.threads)
        self.prefix = f"nesy-chunk-{uuid.uuid4().hex[:12]}-"
        self.attempts = 0  # makes every task key unique, resubmissions included
        self.lost = set()  # keys of our tasks that were lost and queued again
        self.template_losses = 0
        self.shared = None
        self.pending = {}  # future -> (chunk number, the template future it was given)
        self.queue = dd.as_completed(loop=client.loop)

    def drain(self, on_result):
        """Submit within the window, hand results on in order; cancel everything on error."""
        try:
            self._watch()
            self.shared = self._scatter()
            self._drain(on_result)
        except BaseException:
            with suppress(Exception):  # a broken connection must not hide the first error
                self.client.cancel(list(self.pending))
            raise
        finally:
            # before the client closes, or the scheduler logs a failed send of its last event
            with suppress(Exception):
                for address in self.watched:
                    self.client.unsubscribe_topic(address)
        return {"workers": self.workers, "threads": self.threads, "retries": len(self.lost)}

    def _drain(self, on_result):
        ready = {}  # chunk number -> results that came back before their turn
        submitted = emitted = 0
        while emitted < len(self.chunks):
            while submitted < len(self.chunks) and submitted - emitted < self.window:
                self._submit(submitted)
                submitted += 1
            future = next(self.queue)
            if time.monotonic() >= self.next_watch:
                self._watch()
            number, shared = self.pending.pop(future)
            if future.status == "cancelled" and self._template_lost(future, shared):
                self._submit(number)
                continue
            ready[number] = future.result()
            future.release()
            while emitted in ready:
                on_result(emitted, ready.pop(emitted))
                emitted += 1

    def _scatter(self):
        # a one-item list, so that a dict or list template is shipped whole, not item by item
        [future] = self.client.scatter([self.template], broadcast=True, hash=False)
        return future

    def _submit(self, number):
        self.attempts += 1
        future = self.client.submit(
            self.worker_fn,
            self.shared,
            self.chunks[number],
            key=f"{self.prefix}{number}-{self.attempts}",
            pure=False,
            retries=2,
        )
        self.pending[future] = number, self.shared
        self.queue.add(future)

    def _template_lost(self, future, shared):
        """Whether the chunk was cancelled because every copy of its template died with the
        workers holding it; if so the template is scattered again (a few times at most)."""
        if shared.status == "finished":
            return False  # cancelled by someone else: let ``result()`` raise
        if shared is self.shared:
            if self.template_losses >= MAX_TEMPLATE_LOSSES:
                raise RuntimeError(
                    f"the template was lost with every worker holding it {self.template_losses}"
                    " times; workers keep dying (out of memory?)"
                )
            self.template_losses += 1
            self.shared = self._scatter()
        self.lost.add(future.key)
        return True

    def _watch(self):
        """Subscribe to the events of workers that joined since the last look (once a second).

        Each worker's topic reports the tasks it had when it was lost. The scheduler's "all"
        topic would say it for every worker at once, but it also carries a broadcast scatter's
        event, which cannot be sent to a client (distributed 2026.8) and breaks its stream.
        """
        for address in self.client.nthreads():
            if address not in self.watched:
                self.client.subscribe_topic(address, self._on_event)
                self.watched.add(address)
        self.next_watch = time.monotonic() + 1

    def _on_event(self, event):
        # runs on the client's event loop thread
        _, msg = event
        if isinstance(msg, dict) and msg.get("action") == "remove-worker":
            for key in (*msg.get("processing-tasks", ()), *msg.get("lost-computed-tasks", ())):
                if isinstance(key, str) and key.startswith(self.prefix):
                    self.lost.add(key)
