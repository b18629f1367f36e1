"""lab.qemu, the QEMU runner, against tiny multiboot kernels assembled here (no plugin needed).

Each variant of ``KERNEL_S`` paints the VGA text screen (white ``L`` on blue), prints
``LAB READY tsc=<rdtsc>`` on COM1, then: waits for a serial byte after ``LAB SCREENSHOT`` and
exits with 42 through isa-debug-exit (default); hangs (``HANG``); triple-faults (``TRIPLE``);
or echoes PS/2 scancodes after ``LAB WAITKEY`` until Enter is released and exits with 7
(``KEYS``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lab import qemu
from lab.errors import LabError
from lab.qemu import QemuConfig, QemuSession, boot

KERNEL_S = r"""
    .code32
    .text
    .globl _start
    .align 4
    .long 0x1BADB002, 0, -0x1BADB002        /* multiboot header: magic, flags, checksum */
_start:
    cli
    mov $stack_top, %esp
    mov $0xb8000, %edi                       /* 80x25 cells: 'L', white on blue */
    mov $2000, %ecx
    mov $0x1f4c, %ax
    rep stosw
    mov $msg_ready, %esi
    call puts
    rdtsc
    call put_u64
    mov $msg_nl, %esi
    call puts
#if defined(HANG)
    mov $msg_hang, %esi
    call puts
1:  hlt
    jmp 1b
#elif defined(TRIPLE)
    lidt idt_null
    int $3
    jmp .
#elif defined(KEYS)
    mov $msg_waitkey, %esi
    call puts
2:  inb $0x64, %al                          /* i8042 output buffer full? */
    test $1, %al
    jz 2b
    inb $0x60, %al
    movzbl %al, %eax
    push %eax
    xor %edx, %edx
    mov $msg_key, %esi
    call puts
    call put_u64
    mov $msg_nl, %esi
    call puts
    pop %eax
    cmp $0x9c, %al                          /* Enter released */
    jne 2b
    mov $7, %eax
    outl %eax, $0xf4
    jmp .
#else
    mov $msg_shot, %esi
    call puts
3:  mov $0x3fd, %dx                         /* COM1 line status: data ready? */
    inb %dx, %al
    test $1, %al
    jz 3b
    mov $0x3f8, %dx
    inb %dx, %al
    mov $msg_got, %esi
    call puts
    mov $42, %eax
    outl %eax, $0xf4
    jmp .
#endif

putc:                                       /* %al to COM1 */
    push %edx
    push %eax
    mov $0x3fd, %dx
4:  inb %dx, %al
    test $0x20, %al
    jz 4b
    pop %eax
    mov $0x3f8, %dx
    outb %al, %dx
    pop %edx
    ret

puts:                                       /* NUL-terminated string at %esi */
    push %eax
5:  lodsb
    test %al, %al
    jz 6f
    call putc
    jmp 5b
6:  pop %eax
    ret

put_u64:                                    /* %edx:%eax in decimal */
    push %ebx
    push %ecx
    push %esi
    push %edi
    mov $numbuf_end, %edi
    mov $10, %ebx
7:  mov %eax, %esi
    mov %edx, %eax
    xor %edx, %edx
    div %ebx
    mov %eax, %ecx
    mov %esi, %eax
    div %ebx
    add $'0', %dl
    dec %edi
    mov %dl, (%edi)
    mov %ecx, %edx
    mov %eax, %esi
    or %edx, %esi
    jnz 7b
    mov %edi, %esi
    call puts
    pop %edi
    pop %esi
    pop %ecx
    pop %ebx
    ret

msg_ready:   .asciz "LAB READY tsc="
msg_nl:      .asciz "\n"
msg_hang:    .asciz "hanging\n"
msg_shot:    .asciz "LAB SCREENSHOT\n"
msg_got:     .asciz "got byte\n"
msg_waitkey: .asciz "LAB WAITKEY\n"
msg_key:     .asciz "KEY "
    .align 8
idt_null:    .word 0
             .long 0
numbuf:      .skip 24
numbuf_end:  .byte 0
    .align 16
stack:       .skip 4096
stack_top:
"""

VARIANTS = ("EXIT", "HANG", "TRIPLE", "KEYS")
HAVE_QEMU = shutil.which("qemu-system-x86_64") is not None
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="qemu-system-x86_64 not installed "
                                "(apt-get install qemu-system-x86)")


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Variant name -> multiboot ELF."""
    out = tmp_path_factory.mktemp("qemu-kernels")
    src = out / "k.S"
    src.write_text(KERNEL_S)
    elves = {}
    for variant in VARIANTS:
        obj, elf = out / f"{variant}.o", out / f"{variant}.elf"
        for cmd in (["gcc", "-m32", "-c", f"-D{variant}", str(src), "-o", str(obj)],
                    ["ld", "-m", "elf_i386", "-N", "-Ttext=0x100000", "-e", "_start",
                     "--build-id=none", "--no-warn-rwx-segments", "-o", str(elf), str(obj)]):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, proc.stderr
        elves[variant] = elf
    return elves


def _continue(session: QemuSession, line: str) -> None:
    session.write_serial(b"\n")


@needs_qemu
def test_exit_value_serial_and_screenshot(kernels: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    def shot(session: QemuSession, line: str) -> None:
        session.screendump(tmp_path / "shots" / "screen")
        session.write_serial(b"\n")

    status: list[str] = []

    def fail(session: QemuSession, line: str) -> None:
        raise RuntimeError("on purpose")

    log = tmp_path / "serial.log"
    r = boot(QemuConfig(kernel=kernels["EXIT"], timeout=20),
             actions={"LAB SCREENSHOT": shot, "got": fail,
                      "LAB READY": lambda s, _line: status.append(s.qmp("query-status"))},
             serial_log=log)
    assert (r.outcome, r.exit_value, r.returncode) == ("exit", 42, 85), r
    assert [st["status"] for st in status] == ["running"]
    assert r.error == "action 'got' failed: on purpose"
    assert r.lines("LAB READY")[0].startswith("LAB READY tsc=")
    assert r.lines() == [r.lines("LAB READY")[0], "LAB SCREENSHOT", "got byte"]
    assert log.read_text() == r.serial
    assert r.ready_s is not None and 0 < r.ready_s <= r.wall_s < 20
    assert r.screenshots == [tmp_path / "shots" / "screen.png"]
    with Image.open(r.screenshots[0]) as img:
        assert img.format == "PNG" and img.size == (720, 400)
        colors = dict((rgb, n) for n, rgb in img.convert("RGB").getcolors(1 << 16))
    blue = sum(n for (red, green, b), n in colors.items() if b > 128 and red < 64 and green < 64)
    white = sum(n for rgb, n in colors.items() if min(rgb) > 192)
    total = 720 * 400
    assert blue > total // 2 and white > total // 20, colors


@needs_qemu
def test_hang_is_killed_at_the_timeout_with_the_serial_so_far(kernels: dict[str, Path],
                                                              tmp_path: Path) -> None:
    log = tmp_path / "hang.log"
    r = boot(QemuConfig(kernel=kernels["HANG"], timeout=2.0), serial_log=log)
    assert r.outcome == "timeout" and r.exit_value is None and r.returncode is None
    assert 2.0 <= r.wall_s < 8
    assert r.lines("hanging") == ["hanging"] and r.ready_s is not None
    assert "hanging" in log.read_text()
    assert "killed after 2 s" in r.error


@needs_qemu
def test_triple_fault_is_a_reset(kernels: dict[str, Path]) -> None:
    r = boot(QemuConfig(kernel=kernels["TRIPLE"], timeout=20))
    assert (r.outcome, r.exit_value, r.returncode) == ("reset", None, 0), r
    assert r.lines("LAB READY")


@needs_qemu
def test_send_keys_types_on_the_ps2_keyboard(kernels: dict[str, Path]) -> None:
    r = boot(QemuConfig(kernel=kernels["KEYS"], timeout=20),
             actions={"LAB WAITKEY": lambda s, _line: s.send_keys("lab\n")})
    assert (r.outcome, r.exit_value) == ("exit", 7), r
    # Set-1 scancodes (the i8042 translates): make and break of l, a, b, Return.
    codes = [int(line.split()[1]) for line in r.lines("KEY ")]
    assert codes == [0x26, 0xA6, 0x1E, 0x9E, 0x30, 0xB0, 0x1C, 0x9C]


@needs_qemu
def test_icount_makes_the_tsc_deterministic(kernels: dict[str, Path]) -> None:
    def ready_tsc(shift: int | None) -> int:
        r = boot(QemuConfig(kernel=kernels["EXIT"], icount_shift=shift, timeout=20),
                 actions={"LAB SCREENSHOT": _continue})
        assert r.outcome == "exit" and r.exit_value == 42, r
        assert "-icount" in r.argv if shift is not None else "-icount" not in r.argv
        return int(r.lines("LAB READY")[0].split("=")[1])

    first, second = ready_tsc(0), ready_tsc(0)
    assert first == second
    # shift=0: one tick per instruction; shift=1: two (the firmware's timer polls then run
    # fewer instructions, so not exactly twice).
    assert abs(ready_tsc(1) / (2 * first) - 1) < 0.01


@needs_qemu
def test_qemu_refusing_its_command_line_is_a_crash(kernels: dict[str, Path]) -> None:
    r = boot(QemuConfig(kernel=kernels["EXIT"], timeout=20, extra=("-no-such-option",)))
    assert r.outcome == "crash" and r.exit_value is None, r
    assert "no-such-option" in r.error


def test_missing_qemu_names_the_install_command(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    kernel = tmp_path / "k.elf"
    kernel.write_bytes(b"")
    with pytest.raises(qemu.QemuMissingError, match="apt-get install -y qemu-system-x86"):
        boot(QemuConfig(kernel=kernel))
    with pytest.raises(LabError, match="qemu-system-x86_64 not found"):
        qemu.find_qemu()


def test_kvm_without_dev_kvm_is_a_clear_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu, "KVM_DEVICE", tmp_path / "kvm")
    monkeypatch.setattr(qemu, "find_qemu", lambda arch="x86_64": "qemu-system-x86_64")
    kernel = tmp_path / "k.elf"
    kernel.write_bytes(b"")
    with pytest.raises(qemu.KvmUnavailableError, match=r"KVM was asked for but .*kvm does "
                       "not exist"):
        boot(QemuConfig(kernel=kernel, kvm=True))
    assert "-enable-kvm" not in qemu.qemu_argv(QemuConfig(kernel=kernel), tmp_path / "q")


def test_missing_kernel_file_is_an_error_before_starting(tmp_path: Path) -> None:
    with pytest.raises(qemu.QemuError, match="kernel .* does not exist"):
        boot(QemuConfig(kernel=tmp_path / "absent.elf"))


def test_command_line_is_headless_safe_and_deterministic_under_icount(tmp_path: Path,
                                                                     monkeypatch) -> None:
    monkeypatch.setattr(qemu, "find_qemu", lambda arch="x86_64": "qemu-system-x86_64")
    cfg = QemuConfig(kernel=tmp_path / "k", append="a b", initrd=tmp_path / "i",
                     disks=(tmp_path / "d0,x", tmp_path / "d1"), icount_shift=0, memory_mb=64)
    argv = qemu.qemu_argv(cfg, tmp_path / "qmp.sock")
    joined = " ".join(argv)
    for part in ("-nodefaults", "-no-reboot", "-display none", "-serial stdio", "-vga std",
                 "-m 64", "-append a b", "-icount shift=0,sleep=off", "isa-debug-exit",
                 f"file={tmp_path}/d0,,x,format=raw,if=ide,index=0,snapshot=on",
                 "index=1,snapshot=on", f"unix:{tmp_path}/qmp.sock,server=on,wait=off"):
        assert part in joined, part
    assert qemu.key_codes("A") == ["shift", "a"] and qemu.key_codes("\n") == ["ret"]
    with pytest.raises(ValueError):
        qemu.key_codes("\x01")
