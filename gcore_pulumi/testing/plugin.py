"""The provider plugin's process, as the engine runs it: start, port handshake, output, stop.

:class:`PluginProcess` execs ``<python> -u -m pulumi.dynamic`` (what the engine's
``pulumi-resource-pulumi-python`` plugin execs), reads the port it prints on its first line,
opens a gRPC channel and waits for ``GetPluginInfo`` (the engine's first call, and a readiness
probe). Both pipes are read in background threads, so the child never blocks on a full pipe
and whatever it printed during an RPC that has returned can be collected at once.
:func:`child_env` and :func:`import_root` make the child's environment able to import a
provider class pickled by reference.

POSIX only (it polls the child's pipes).
"""

from __future__ import annotations

import codecs
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, Literal, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

__all__ = ["PluginProcess", "ProviderStartError", "child_env", "import_root"]

Stream = Literal["stdout", "stderr"]
_P = TypeVar("_P", bound="PluginProcess")


class ProviderStartError(RuntimeError):
    """The provider process did not start, or did not print a port in time."""


def child_env(*pythonpath: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default: os.environ) with `pythonpath` entries prepended to PYTHONPATH.

    The provider process must be able to import the module of a provider class pickled by
    reference; pass the directories that make it importable.
    """
    env = dict(os.environ if base is None else base)
    entries = [*pythonpath, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    return env


def import_root(obj: object) -> str:
    """The sys.path entry from which `obj` (a module, class or instance) was imported.

    A provider class pickled by reference is imported by its module's dotted name in the
    provider process; that works when this directory is on the child's PYTHONPATH (see
    `child_env`). For `a.b.c` at /x/a/b/c.py it is /x, however the importer (pytest's import
    modes included) named the module.
    """
    module = obj if isinstance(obj, ModuleType) else sys.modules[getattr(obj, "__module__", "")]
    file = getattr(module, "__file__", None)
    if not file:
        raise ValueError(f"module {module.__name__!r} has no file")
    path = Path(file).resolve()
    depth = module.__name__.count(".") + (1 if path.name == "__init__.py" else 0)
    return str(path.parents[depth])


class _PipeDrain:
    """Reads a child's pipe in a background thread (so the child never blocks on a full pipe).

    Reads happen under a lock with the fd in non-blocking mode, so `drain()` from another
    thread collects everything the child has written so far: after an RPC returns, whatever the
    provider printed during it is in the pipe (the child runs unbuffered), and `drain()` moves
    it into the sink.
    """

    def __init__(
        self,
        pipe: IO[bytes],
        sink: Callable[[bytes], None],
        on_eof: Callable[[], None],
        name: str,
    ) -> None:
        self._pipe = pipe
        self._fd = pipe.fileno()
        os.set_blocking(self._fd, False)
        self._sink = sink
        self._on_eof = on_eof
        self._lock = threading.Lock()
        self._eof = False
        self._closed = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR)
        while not self._stopping.is_set():
            poller.poll(100)
            if not self.drain():
                break

    def drain(self) -> bool:
        """Move all available bytes to the sink. False once the pipe is at EOF or closed."""
        eof = False
        with self._lock:
            if self._eof or self._closed:
                return False
            while True:
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    self._eof = eof = True
                    break
                self._sink(data)
        if eof:
            self._on_eof()
            return False
        return True

    def close(self, timeout: float) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.drain()
        with self._lock:
            self._closed = True
            self._pipe.close()


class _Output:
    """What the child wrote, per stream and as one text of whole lines in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._partial: dict[str, str] = {"stdout": "", "stderr": ""}
        self._combined: list[str] = []
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }

    def append(self, stream: Stream, data: bytes) -> None:
        with self._lock:
            text = self._decoders[stream].decode(data)
            if not text:
                return
            self._streams[stream].append(text)
            # The combined view takes whole lines, so lines of stdout and stderr don't mix.
            pending = self._partial[stream] + text
            cut = pending.rfind("\n") + 1
            if cut:
                self._combined.append(pending[:cut])
            self._partial[stream] = pending[cut:]

    def text(self, stream: Stream | None) -> str:
        with self._lock:
            if stream is not None:
                return "".join(self._streams[stream])
            return "".join(self._combined) + "".join(self._partial.values())


class PluginProcess:
    """``<python> -u -m pulumi.dynamic`` as the engine runs it: started once, then stopped.

    `env` is the child's full environment (default: a copy of os.environ); PULUMI_PROJECT is
    added when absent, as the engine does. `cwd` is the child's working directory (the engine
    uses the program's directory). `start_new_session=True` starts it in a session of its own,
    so that a Ctrl-C at the terminal reaches only the caller, which can then still use the
    process (to clean up). The attributes are read when :meth:`start` runs.
    """

    def __init__(
        self,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        start_new_session: bool = False,
    ) -> None:
        self.python = python
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        self.env.setdefault("PULUMI_PROJECT", "project")
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.start_new_session = start_new_session
        self._lifecycle_lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: Any = None
        self._stub: Any = None
        self._drains: list[_PipeDrain] = []
        self._output = _Output()
        self._port: int | None = None
        self._port_line = bytearray()
        self._port_event = threading.Event()
        self._port_error: str | None = None

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The child's exit status once it has exited (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self: _P) -> _P:
        """Exec the child, read its port, connect, and wait (until `startup_timeout`) for it
        to answer; on failure, stop it and raise :class:`ProviderStartError`."""
        with self._lifecycle_lock:
            if self._proc is not None:
                raise RuntimeError("this ProviderProcess was already started; make a new one")
            deadline = time.monotonic() + self.startup_timeout
            self._proc = proc = subprocess.Popen(
                [self.python, "-u", "-m", "pulumi.dynamic"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                start_new_session=self.start_new_session,
            )
            assert proc.stdout is not None and proc.stderr is not None
            self._drains = [
                _PipeDrain(proc.stdout, self._on_stdout, self._on_stdout_eof, "pp-stdout"),
                _PipeDrain(
                    proc.stderr,
                    lambda data: self._output.append("stderr", data),
                    lambda: None,
                    "pp-stderr",
                ),
            ]
            for drain in self._drains:
                drain.start()
            try:
                self._connect(deadline)
            except BaseException:
                self.stop()
                raise
            return self

    def _connect(self, deadline: float) -> None:
        if not self._port_event.wait(max(0.0, deadline - time.monotonic())):
            raise ProviderStartError(
                f"the provider process printed no port within {self.startup_timeout}s; "
                f"output so far:\n{self.output()}"
            )
        if self._port is None:
            assert self._proc is not None
            try:
                code = self._proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                code = None
            reason = self._port_error or f"exited with status {code} before printing its port"
            raise ProviderStartError(f"the provider process {reason}; its output:\n{self.output()}")
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{self._port}", options=_GRPC_CHANNEL_OPTIONS
        )
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        # The engine's first call to a freshly started plugin, and a readiness probe.
        try:
            self._stub.GetPluginInfo(
                empty_pb2.Empty(),
                timeout=max(0.1, deadline - time.monotonic()),
                wait_for_ready=True,
            )
        except grpc.RpcError as exc:
            raise ProviderStartError(
                f"the provider process did not answer GetPluginInfo: {exc.code().name} "
                f"{exc.details()}; its output:\n{self.output()}"
            ) from exc

    def stop(self) -> None:
        """Close the channel, terminate the child (kill it after `stop_timeout`), close pipes.

        Safe to call more than once; output() still works afterwards.
        """
        with self._lifecycle_lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
                self._stub = None
            proc = self._proc
            if proc is not None and proc.returncode is None:
                if proc.poll() is None:
                    proc.terminate()
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for drain in self._drains:
                drain.close(self.stop_timeout)
            self._drains = []

    def __enter__(self: _P) -> _P:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _on_stdout(self, data: bytes) -> None:
        if self._port_event.is_set():
            self._output.append("stdout", data)
            return
        self._port_line += data
        if b"\n" not in self._port_line:
            return
        line, rest = bytes(self._port_line).split(b"\n", 1)
        self._port_line.clear()
        try:
            self._port = int(line.strip())
        except ValueError:
            self._port_error = f"printed {line!r} where the engine expects its port"
            self._output.append("stdout", line + b"\n")
        if rest:
            self._output.append("stdout", rest)
        self._port_event.set()

    def _on_stdout_eof(self) -> None:
        if not self._port_event.is_set():
            if self._port_line:
                self._output.append("stdout", bytes(self._port_line))
            self._port_event.set()

    def output(self, stream: Stream | None = None) -> str:
        """Everything the child wrote so far: stdout after the port line, and stderr (the CLI
        shows these to users as diagnostics). Whatever the provider printed during an RPC that
        has returned is included.

        The combined text interleaves whole lines in the order the reader threads saw them
        (the order between the two streams is approximate); unfinished last lines come at the
        end. Pass `stream` for the exact text of one stream.
        """
        for drain in list(self._drains):
            drain.drain()
        return self._output.text(stream)
