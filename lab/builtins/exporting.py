"""``lab export``: the store's tables as Parquet or CSV files for pandas users."""

from __future__ import annotations

from pathlib import Path

import click

import lab


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("results/export"), show_default=True, help="Folder to write into.")
@click.option("--run", "run_id", type=int, help="Only this run's rows.")
def export_cmd(fmt: str, out_dir: Path, run_id: int | None) -> None:
    """Write every table of the result store (runs, fingerprints, samples, results,
    comparisons) as one file each."""
    from lab.store import open_store

    store = open_store()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in store.table_names():
        frame = store.read_table(name, run_id)
        path = out_dir / f"{name}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        tmp.replace(path)
        click.echo(f"{path}: {len(frame)} rows")
    store.close()


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [export_cmd]
