"""The lab's QEMU runner: boot an image-shaped system headless and talk to it.

:func:`boot` starts ``qemu-system-<arch>`` with no display, the guest's first serial port on
QEMU's stdin/stdout, a QMP socket for screenshots and keys, ``-no-reboot`` (a guest reset or
power-off ends QEMU with status 0) and, by default, the ``isa-debug-exit`` device on port
``0xf4`` (a guest writing ``v`` there ends QEMU with status ``(v << 1) | 1``). It reads the
serial output line by line as it arrives, copies it to a log file when asked (so a hung
guest leaves its log), runs the caller's *actions* when a line starts with one of their keys
(``"LAB SCREENSHOT"``: take a screenshot, then send a byte so the guest goes on), and kills
QEMU with its process group at the time limit. Every wait is bounded by that limit.

Contracts:

- :func:`boot` never raises for what the guest does (exit, reset, hang, garbage): the
  outcome is in :class:`QemuResult`. It raises a :class:`QemuError` (a
  :class:`lab.errors.LabError`) before starting anything when QEMU is not installed
  (:class:`QemuMissingError`, naming the apt command), when KVM is asked for and
  ``/dev/kvm`` is not usable (:class:`KvmUnavailableError`), or when an input file is
  missing; QEMU refusing its own command line is the outcome ``"crash"``.
- Disks are attached with ``snapshot=on``: the image files are never modified.
- Under ``icount_shift`` QEMU runs with ``-icount shift=N,sleep=off`` and an RTC that
  follows the virtual clock from a fixed date, so a guest that does not read the host's time
  sees the same instruction stream on every run (on x86 the TSC then counts ``2**N`` per
  guest instruction).

QMP is spoken by :class:`QmpClient`, a minimal synchronous client (greeting,
``qmp_capabilities``, then one command at a time, asynchronous events skipped); the QEMU
project's ``qemu.qmp`` package is asyncio-based and would add a dependency for three calls.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lab.errors import LabError
from lab.requirements import Command

READY_PREFIX = "LAB READY"
"""A serial line starting with this marks the guest as ready; :attr:`QemuResult.ready_s`."""

DEBUG_EXIT_PORT = 0xF4
KVM_DEVICE = Path("/dev/kvm")
"""The device :func:`kvm_problem` checks (a module attribute so tests can point it away)."""

ICOUNT_RTC = "base=2000-01-01T00:00:00,clock=vm"
"""The RTC under ``-icount``: a fixed date advancing with the virtual clock."""

MAX_SERIAL_BYTES = 32 * 1024 * 1024
"""Serial output kept in memory (the log file gets everything); beyond it, a note in error."""

MAX_LINE_BYTES = 1 << 20
"""A serial line longer than this is handed to the actions in pieces."""

QMP_TIMEOUT = 15.0
"""Longest wait for one QMP exchange (also bounded by the boot's own time limit)."""

APT_PACKAGES = {"x86_64": "qemu-system-x86", "i386": "qemu-system-x86",
                "aarch64": "qemu-system-arm", "arm": "qemu-system-arm"}

Action = Callable[["QemuSession", str], None]


class QemuError(LabError):
    """QEMU cannot be started as asked (see the subclasses); the CLI prints one line."""


class QemuMissingError(QemuError):
    """``qemu-system-<arch>`` is not on ``PATH``; the message names the install command."""


class KvmUnavailableError(QemuError):
    """KVM was asked for but ``/dev/kvm`` is absent or not usable by this process."""


@dataclass(frozen=True)
class QemuConfig:
    """How to boot one guest.

    ``kernel`` is passed as ``-kernel`` (a bzImage, or a multiboot ELF), with ``append`` and
    ``initrd``; ``disks`` are raw images on the IDE bus (index 0, 1, ...), opened with
    ``snapshot=on``. ``icount_shift`` selects deterministic execution (``-icount
    shift=N,sleep=off``); ``kvm`` asks for ``-enable-kvm -cpu host`` (an error when
    ``/dev/kvm`` is not usable, never a silent fallback to TCG). ``timeout`` is the host
    seconds after which QEMU is killed. ``vga`` adds ``-vga std`` (needed for screenshots),
    ``debug_exit`` the ``isa-debug-exit`` device at port ``0xf4``; ``extra`` arguments go
    last.
    """

    kernel: Path
    append: str = ""
    initrd: Path | None = None
    disks: tuple[Path, ...] = ()
    memory_mb: int = 128
    icount_shift: int | None = None
    kvm: bool = False
    timeout: float = 60.0
    arch: str = "x86_64"
    extra: tuple[str, ...] = ()
    debug_exit: bool = True
    vga: bool = True


@dataclass
class QemuResult:
    """How one boot ended.

    ``outcome`` is one of:

    - ``"exit"``: the guest wrote a value to ``isa-debug-exit``; it is ``exit_value`` (QEMU's
      status is ``(value << 1) | 1``, so only values up to 127 survive the 8-bit status);
    - ``"reset"``: QEMU ended with status 0: a triple fault, a reboot or a power-off (QEMU
      runs with ``-no-reboot``);
    - ``"timeout"``: still running at the time limit and killed;
    - ``"crash"``: QEMU itself failed (bad arguments, missing firmware, an abort);
      ``error`` holds its message.

    ``serial`` is everything the guest's first serial port printed (``\\r`` removed);
    ``wall_s`` the host seconds from launch to the end; ``ready_s`` the host seconds from
    launch to the first line starting with ``LAB READY`` (None if none); ``screenshots``
    the PNG files the actions took; ``error`` QEMU's diagnostics and any failed action.
    """

    outcome: str
    exit_value: int | None
    returncode: int | None
    serial: str
    wall_s: float
    ready_s: float | None = None
    screenshots: list[Path] = field(default_factory=list)
    error: str = ""
    argv: list[str] = field(default_factory=list)

    def lines(self, prefix: str = "") -> list[str]:
        """The serial lines starting with ``prefix`` (stripped of ``\\r``, NUL and blanks)."""
        out = []
        for raw in self.serial.splitlines():
            line = raw.strip("\r\x00 ")
            if line.startswith(prefix):
                out.append(line)
        return out


# ----------------------------------------------------------------------------------------
# Finding QEMU and KVM.
# ----------------------------------------------------------------------------------------


def qemu_requirement(arch: str = "x86_64") -> Command:
    """The lab requirement for ``qemu-system-<arch>`` (with the Debian package providing it)."""
    return Command(f"qemu-system-{arch}", apt=APT_PACKAGES.get(arch, "qemu-system-misc"))


def find_qemu(arch: str = "x86_64") -> str:
    """The path of ``qemu-system-<arch>``, or :class:`QemuMissingError` with the command
    that installs it."""
    req = qemu_requirement(arch)
    found = shutil.which(req.name)
    if found is None:
        raise QemuMissingError(f"{req.name} not found on PATH; install it: {req.install}")
    return found


def kvm_problem(device: Path | None = None) -> str | None:
    """None when ``device`` (default :data:`KVM_DEVICE`) can be opened read-write, else why
    not, in a few words."""
    dev = KVM_DEVICE if device is None else device
    if not dev.exists():
        return f"{dev} does not exist (no KVM on this machine, or not passed to this container)"
    try:
        fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"{dev} cannot be opened: {exc.strerror}"
    os.close(fd)
    return None


# ----------------------------------------------------------------------------------------
# The command line.
# ----------------------------------------------------------------------------------------


def _opt_path(path: Path) -> str:
    """A path inside a QEMU ``key=value,...`` option (commas doubled)."""
    return str(path).replace(",", ",,")


def qemu_argv(config: QemuConfig, qmp_socket: Path, qemu: str | None = None) -> list[str]:
    """The complete QEMU command line for ``config`` with QMP on ``qmp_socket``.

    Raises :class:`QemuMissingError` or :class:`KvmUnavailableError` as :func:`boot` does.
    """
    argv = [qemu or find_qemu(config.arch), "-nodefaults", "-no-reboot", "-display", "none",
            "-serial", "stdio", "-qmp", f"unix:{_opt_path(qmp_socket)},server=on,wait=off",
            "-m", str(config.memory_mb), "-kernel", str(config.kernel)]
    if config.vga:
        argv += ["-vga", "std"]
    if config.append:
        argv += ["-append", config.append]
    if config.initrd is not None:
        argv += ["-initrd", str(config.initrd)]
    for index, disk in enumerate(config.disks):
        argv += ["-drive", f"file={_opt_path(disk)},format=raw,if=ide,index={index},"
                 "snapshot=on"]
    if config.debug_exit:
        argv += ["-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"]
    if config.kvm:
        why = kvm_problem()
        if why:
            raise KvmUnavailableError(f"KVM was asked for but {why}; run without KVM (TCG)")
        argv += ["-enable-kvm", "-cpu", "host"]
    else:
        argv += ["-accel", "tcg"]
    if config.icount_shift is not None:
        if config.kvm:
            raise QemuError("-icount needs TCG; it cannot be combined with KVM")
        argv += ["-icount", f"shift={int(config.icount_shift)},sleep=off", "-rtc", ICOUNT_RTC]
    return argv + list(config.extra)


# ----------------------------------------------------------------------------------------
# QMP.
# ----------------------------------------------------------------------------------------


class QmpError(QemuError):
    """QMP could not be reached, timed out, or answered a command with an error."""


class QmpClient:
    """A minimal synchronous QMP client on a unix socket.

    :meth:`connect` retries until the socket accepts (QEMU creates it at start-up), reads the
    greeting and negotiates capabilities; :meth:`execute` sends one command and returns its
    ``return`` value, skipping the asynchronous events in between. Every wait ends at
    ``deadline`` (a ``time.monotonic()`` value) at the latest.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock: socket.socket | None = None
        self._buf = b""

    def connect(self, deadline: float, alive: Callable[[], bool] | None = None) -> None:
        """Connect, read the greeting, negotiate; ``alive`` (when given) is polled between
        attempts so a dead QEMU fails at once instead of at ``deadline``."""
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                sock.connect(str(self.path))
                break
            except OSError as exc:
                sock.close()
                if time.monotonic() >= deadline or (alive is not None and not alive()):
                    raise QmpError(f"cannot connect to QMP at {self.path}: {exc}") from None
                time.sleep(0.02)
        self.sock = sock
        greeting = self._read(deadline)
        if "QMP" not in greeting:
            raise QmpError(f"unexpected QMP greeting: {greeting}")
        self.execute("qmp_capabilities", deadline=deadline)

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self.sock is not None
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QmpError("QMP did not answer in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except OSError as exc:
                raise QmpError(f"QMP connection failed: {exc}") from None
            if not chunk:
                raise QmpError("QMP connection closed by QEMU")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command: str, arguments: Mapping[str, Any] | None = None, *,
                deadline: float) -> Any:
        """Run ``command``; its ``return`` value, or :class:`QmpError` with QEMU's message."""
        if self.sock is None:
            raise QmpError("QMP is not connected")
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = dict(arguments)
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as exc:
            raise QmpError(f"QMP send failed: {exc}") from None
        while True:
            reply = self._read(deadline)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"QMP {command}: {err.get('class')}: {err.get('desc')}")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


# send-key names (QKeyCode) of the characters send_keys knows; shifted ones add "shift".
_KEYS = {"\n": "ret", " ": "spc", "\t": "tab", "-": "minus", "=": "equal", ".": "dot",
         ",": "comma", "/": "slash", ";": "semicolon", "'": "apostrophe", "`": "grave_accent",
         "[": "bracket_left", "]": "bracket_right", "\\": "backslash", "\b": "backspace"}
_SHIFTED = {"!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8",
            "(": "9", ")": "0", "_": "minus", "+": "equal", ">": "dot", "<": "comma",
            "?": "slash", ":": "semicolon", '"': "apostrophe", "~": "grave_accent",
            "{": "bracket_left", "}": "bracket_right", "|": "backslash"}


def key_codes(char: str) -> list[str]:
    """The QKeyCode names pressed together to type ``char`` on a US keyboard
    (``"A"`` -> ``["shift", "a"]``, ``"\\n"`` -> ``["ret"]``); ValueError when unknown."""
    if char.isascii() and (char.islower() or char.isdigit()):
        return [char]
    if char.isascii() and char.isupper():
        return ["shift", char.lower()]
    if char in _KEYS:
        return [_KEYS[char]]
    if char in _SHIFTED:
        return ["shift", _SHIFTED[char]]
    raise ValueError(f"no key for {char!r}")


class QemuSession:
    """The running guest, as the actions see it: screenshots, keys, serial input, raw QMP.

    Methods raise :class:`QemuError` (QMP unreachable or refusing) and never wait past the
    boot's time limit.
    """

    def __init__(self, proc: subprocess.Popen[bytes], qmp_socket: Path, workdir: Path,
                 deadline: float) -> None:
        self._proc = proc
        self._qmp = QmpClient(qmp_socket)
        self._connected = False
        self._workdir = workdir
        self._deadline = deadline
        self.screenshots: list[Path] = []

    def _qmp_deadline(self) -> float:
        return min(self._deadline, time.monotonic() + QMP_TIMEOUT)

    def qmp(self, command: str, **arguments: Any) -> Any:
        """Run one QMP command (connecting on first use); its ``return`` value."""
        deadline = self._qmp_deadline()
        if not self._connected:
            self._qmp.connect(deadline, alive=lambda: self._proc.poll() is None)
            self._connected = True
        return self._qmp.execute(command, arguments, deadline=deadline)

    def screendump(self, path: Path) -> Path:
        """Save the VGA screen as PNG at ``path`` (its suffix made ``.png``); the PNG's path.

        QEMU writes a PPM (QMP ``screendump``), converted here with Pillow."""
        from PIL import Image

        png = Path(path).with_suffix(".png")
        ppm = self._workdir / f"screen-{len(self.screenshots)}.ppm"
        self.qmp("screendump", filename=str(ppm))
        png.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(ppm) as img:
            img.save(png, format="PNG")
        ppm.unlink(missing_ok=True)
        self.screenshots.append(png)
        return png

    def send_keys(self, text: str, hold_ms: int = 20) -> None:
        """Type ``text`` on the guest's PS/2 keyboard, one QMP ``send-key`` per character
        (``\\n`` is Return, capitals and shifted symbols hold Shift)."""
        for char in text:
            keys = [{"type": "qcode", "data": k} for k in key_codes(char)]
            self.qmp("send-key", keys=keys, **{"hold-time": hold_ms})

    def write_serial(self, data: bytes) -> None:
        """Send ``data`` to the guest's first serial port."""
        stdin = self._proc.stdin
        if stdin is None:
            raise QemuError("the serial port has no input pipe")
        try:
            stdin.write(data)
            stdin.flush()
        except OSError as exc:
            raise QemuError(f"cannot write to the serial port: {exc}") from None

    def close(self) -> None:
        self._qmp.close()


# ----------------------------------------------------------------------------------------
# Booting.
# ----------------------------------------------------------------------------------------


def _pump(stream: IO[bytes], out: queue.Queue[tuple[float, bytes | None]]) -> None:
    """Copy ``stream`` into ``out`` as (arrival time, chunk); ``None`` at end of file."""
    fd = stream.fileno()
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out.put((time.monotonic(), chunk))
    except OSError:
        pass
    out.put((time.monotonic(), None))


def _collect(stream: IO[bytes], sink: bytearray) -> None:
    fd = stream.fileno()
    try:
        while chunk := os.read(fd, 65536):
            if len(sink) < 1 << 20:
                sink.extend(chunk)
    except OSError:
        pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL QEMU's process group (it leads its own session), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _classify(returncode: int | None, stderr: str, guest_spoke: bool) -> tuple[str, int | None]:
    """(outcome, exit value) from QEMU's exit status, its error output and whether the guest
    printed anything. Status 1 is both "the guest wrote 0" and QEMU's own failure: it is a
    crash when QEMU printed an error (not a warning) and the guest never ran."""
    errors = [ln for ln in stderr.splitlines() if ln.strip() and "warning:" not in ln]
    if returncode == 0:
        return "reset", None
    if returncode is not None and returncode > 0 and returncode & 1:
        if returncode == 1 and errors and not guest_spoke:
            return "crash", None
        return "exit", returncode >> 1
    return "crash", None


def _check_inputs(config: QemuConfig) -> None:
    for what, path in [("kernel", config.kernel), ("initrd", config.initrd),
                       *(("disk", d) for d in config.disks)]:
        if path is not None and not Path(path).is_file():
            raise QemuError(f"QEMU {what} {path} does not exist")


def boot(config: QemuConfig, actions: Mapping[str, Action] | None = None,
         serial_log: Path | None = None) -> QemuResult:
    """Boot ``config`` and wait until QEMU ends or ``config.timeout`` host seconds pass.

    ``actions`` maps line prefixes to callables ``action(session, line)``, called in order of
    arrival for each complete serial line starting with the prefix (every matching key is
    called); an action that raises is recorded in ``error`` and the boot goes on. The serial
    output is appended to ``serial_log`` (created, truncated first) as it arrives.
    Raises :class:`QemuError` only before QEMU starts (see the module docstring).
    """
    actions = dict(actions or {})
    _check_inputs(config)
    workdir = Path(tempfile.mkdtemp(prefix="lab-qemu-"))
    qmp_socket = workdir / "qmp.sock"
    log: IO[bytes] | None = None
    try:
        argv = qemu_argv(config, qmp_socket)
        if serial_log is not None:
            serial_log.parent.mkdir(parents=True, exist_ok=True)
            log = open(serial_log, "wb")  # closed below
        return _run(argv, config, actions, log, workdir, qmp_socket)
    finally:
        if log is not None:
            log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _env() -> dict[str, str]:
    """QEMU's environment: ours without the sanitizer runtimes a fuzzing or debug-flavor
    process preloads (QEMU is not built for them)."""
    drop = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(argv: list[str], config: QemuConfig, actions: Mapping[str, Action],
         log: IO[bytes] | None, workdir: Path, qmp_socket: Path) -> QemuResult:
    start = time.monotonic()
    deadline = start + config.timeout
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=_env())
    except OSError as exc:
        return QemuResult("crash", None, None, "", time.monotonic() - start,
                          error=f"cannot start {argv[0]}: {exc}", argv=argv)
    assert proc.stdout is not None and proc.stderr is not None
    chunks: queue.Queue[tuple[float, bytes | None]] = queue.Queue()
    stderr = bytearray()
    threads = [threading.Thread(target=_pump, args=(proc.stdout, chunks), daemon=True),
               threading.Thread(target=_collect, args=(proc.stderr, stderr), daemon=True)]
    for t in threads:
        t.start()
    session = QemuSession(proc, qmp_socket, workdir, deadline)
    serial = bytearray()
    pending = b""
    ready_s: float | None = None
    notes: list[str] = []
    timed_out = eof = False
    try:
        while not eof:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            try:
                at, chunk = chunks.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if chunk is None:
                eof = True
                break
            if log is not None:
                log.write(chunk)
                log.flush()
            if len(serial) < MAX_SERIAL_BYTES:
                serial.extend(chunk)
            elif not notes or not notes[-1].startswith("serial output"):
                notes.append(f"serial output beyond {MAX_SERIAL_BYTES} bytes not kept")
            pending += chunk
            *complete, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE_BYTES:  # a guest that never ends its line
                complete.append(pending)
                pending = b""
            for raw in complete:
                line = raw.decode(errors="replace").strip("\r\x00 ")
                if ready_s is None and line.startswith(READY_PREFIX):
                    ready_s = at - start
                for key, action in actions.items():
                    if line.startswith(key):
                        try:
                            action(session, line)
                        except Exception as exc:  # reported; the boot goes on
                            notes.append(f"action {key!r} failed: {exc}")
        if timed_out:
            _kill(proc)
        else:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # closed its stdout but kept running
                timed_out = True
                _kill(proc)
    finally:
        session.close()
        if proc.poll() is None:
            _kill(proc)
        for t in threads:  # they end at QEMU's end of file
            t.join(timeout=2)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
    # Drain what the reader got after the loop stopped (a timeout's last bytes).
    while True:
        try:
            _, chunk = chunks.get_nowait()
        except queue.Empty:
            break
        if chunk is not None and len(serial) < MAX_SERIAL_BYTES:
            serial.extend(chunk)
            if log is not None:
                log.write(chunk)
    wall = time.monotonic() - start
    err_text = stderr.decode(errors="replace").strip()
    if timed_out:
        outcome, value = "timeout", None
        notes.insert(0, f"killed after {config.timeout:g} s")
    else:
        outcome, value = _classify(proc.returncode, err_text, bool(serial))
    error = "\n".join([*([err_text] if err_text else []), *notes])
    text = serial.decode(errors="replace").replace("\r", "")
    return QemuResult(outcome, value, None if timed_out else proc.returncode, text, wall,
                      ready_s, session.screenshots, error, argv)
