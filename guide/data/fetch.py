"""Download the public data sets named in manifest.json, check every byte, and build the derived files.

The data is never committed, so a fresh clone needs a way to get the exact same bytes: each file comes
from a public GitHub repository at a fixed commit and is checked against its size and sha256. Downloads
go to `<file>.part` and are resumed with a Range request, so a dropped connection costs nothing already
fetched; a file only appears under its final name once it is complete and verified.

    python -m guide data fetch [--dest DIR] [--base-url URL]

`--base-url` / GUIDE_DATA_URL is either a template with `{repo}`, `{commit}`, `{path}`, `{folder}` and
`{file}` placeholders, or a prefix of a mirror laid out like the data folder (`<prefix>/<folder>/<file>`).
"""

from __future__ import annotations

import ast
import hashlib
import html
import http.client
import json
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).with_name("manifest.json")
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
BEAUTY = "amazon_beauty_2014_5core"
DERIVED = ("interactions.csv.gz", "items.csv")
BEAUTY_SOURCES = ("Beauty.txt", "datamaps.json", "Beauty_item_org_rank.txt", "Beauty_time_org_rank.txt")
BEAUTY_SOURCES += ("Amazon_Beauty.item", "Beauty_item2attributes.json")
TIMEOUT_S = 60
CHUNK = 1 << 16
_BAR = {"unit": "B", "unit_scale": True, "leave": False}  # a per-file byte bar that clears when done
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIX_NETWORK = "check the network (or --base-url / GUIDE_DATA_URL), or set GUIDE_DATA_DIR to a folder that has the data"


class FetchError(RuntimeError):
    """A download failed or gave the wrong bytes; the message names the file, what was expected and the fix."""


def _problem(where: object, expected: str, got: object, fix: str) -> str:
    """Every error here reads the same way, so a user can act on it without the source."""
    return f"{where}: expected {expected}; got {got}; fix: {fix}"


@dataclass(frozen=True)
class Entry:
    folder: str
    file: str
    repo: str
    commit: str
    path: str
    bytes: int
    sha256: str

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.file}"


@dataclass
class FetchResult:
    downloaded: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    derived: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.downloaded)} downloaded, {len(self.skipped)} present, {len(self.derived)} derived built"


Manifest = str | Path | list[Entry] | None  # a manifest file, loaded entries, or None for the shipped one


def load_manifest(path: str | Path | None = None) -> list[Entry]:
    """The manifest's entries, validated here so a bad manifest fails before anything is downloaded."""
    path = Path(path) if path else MANIFEST
    if not path.is_file():
        raise FileNotFoundError(_problem(path, "a data manifest", "no file", "restore guide/data/manifest.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not files:
        raise ValueError(_problem(path, "a non-empty 'files' list", type(files).__name__, "restore the manifest"))
    entries = [_entry(raw, path) for raw in files]
    if len({entry.name for entry in entries}) != len(entries):
        raise ValueError(_problem(path, "unique folder/file pairs", "duplicates", "remove the repeated entries"))
    return entries


def _entry(raw: object, path: Path) -> Entry:
    kinds = {"folder": str, "file": str, "repo": str, "commit": str, "path": str, "bytes": int, "sha256": str}
    ok = isinstance(raw, dict) and all(isinstance(raw.get(key), kind) for key, kind in kinds.items())
    # folder and file become local paths: refuse anything that could escape the destination.
    names = (raw["folder"], raw["file"]) if ok else ()
    ok = ok and not any(name in ("", ".", "..") or "/" in name or "\\" in name for name in names)
    if not (ok and raw["bytes"] >= 0 and _SHA256.fullmatch(raw["sha256"])):
        expected = f"an entry with {', '.join(kinds)}: plain folder/file names, bytes >= 0, a hex sha256"
        raise ValueError(_problem(path, expected, raw, "correct the manifest"))
    return Entry(**{key: raw[key] for key in kinds})


def _entries(manifest: Manifest) -> list[Entry]:
    return manifest if isinstance(manifest, list) else load_manifest(manifest)


def source_url(entry: Entry, base_url: str | None = None) -> str:
    """Where to download an entry: the argument, else GUIDE_DATA_URL, else GitHub raw content at the commit."""
    base = base_url or os.environ.get("GUIDE_DATA_URL") or DEFAULT_BASE_URL
    quote = urllib.parse.quote  # keeps "/" and turns the space in "Womens Clothing ... .zip" into %20
    if "{" in base:
        parts = {"repo": entry.repo, "commit": entry.commit, "path": entry.path, "folder": entry.folder}
        return base.format(**{key: quote(value) for key, value in parts.items()}, file=quote(entry.file))
    return f"{base.rstrip('/')}/{quote(entry.folder)}/{quote(entry.file)}"


def fetch(
    dest: str | Path, manifest: Manifest = None, base_url: str | None = None, progress: bool = True
) -> FetchResult:
    """Make `dest` hold every manifest file with the right bytes, then build the derived files the loaders read."""
    dest, entries, result = Path(dest), _entries(manifest), FetchResult()
    for entry in entries:
        target = dest / entry.folder / entry.file
        if _matches(target, entry):
            result.skipped.append(target)
            continue
        _download(entry, source_url(entry, base_url), target, progress)
        result.downloaded.append(target)
    if set(BEAUTY_SOURCES) <= {entry.file for entry in entries if entry.folder == BEAUTY}:
        result.derived = ensure_beauty_derived(dest / BEAUTY)
    log.info("data in %s: %s", dest, result)
    return result


def is_empty(dest: str | Path, manifest: Manifest = None) -> bool:
    """True when no data set folder in `dest` has all its files, i.e. nothing can load before a fetch."""
    complete: dict[str, bool] = {}
    for entry in _entries(manifest):
        present = (Path(dest) / entry.folder / entry.file).is_file()
        complete[entry.folder] = complete.get(entry.folder, True) and present
    return not any(complete.values())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, entry: Entry) -> bool:
    return path.is_file() and path.stat().st_size == entry.bytes and _sha256(path) == entry.sha256


def _download(entry: Entry, url: str, target: Path, progress: bool) -> None:
    """Fill `<target>.part` (resuming what is there), verify it, then move it into place in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if offset > entry.bytes:  # longer than the real file, so it cannot be a prefix of it
        part.unlink()
        offset = 0
    if offset < entry.bytes or entry.bytes == 0:
        _stream(url, part, offset, entry, progress)
    size, digest = part.stat().st_size, _sha256(part)
    if size != entry.bytes or digest != entry.sha256:
        part.unlink()
        fix = "run the fetch again (the bad download was deleted); if it repeats, check what the base URL serves"
        expected, got = f"{entry.bytes} bytes, sha256 {entry.sha256}", f"{size} bytes, sha256 {digest}"
        raise FetchError(_problem(f"{entry.name} from {url}", expected, got, fix))
    os.replace(part, target)
    log.info("downloaded %s (%d bytes)", target, size)


def _stream(url: str, part: Path, offset: int, entry: Entry, progress: bool) -> None:
    from tqdm import tqdm

    headers = {"User-Agent": "shopping-guide-data-fetch", **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S) as response:
            if offset and response.status != 206:  # the server ignored Range and sends the whole file
                log.info("%s ignored the Range request; downloading %s from the start", url, entry.name)
                offset = 0
            bar = tqdm(total=entry.bytes, initial=offset, desc=entry.file, disable=not progress, **_BAR)
            with open(part, "ab" if offset else "wb") as out, bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:  # before URLError, its base class, to report the status
        got = f"HTTP {err.code} {err.reason}"
        raise FetchError(_problem(entry.name, f"{url} to serve it", got, _FIX_NETWORK)) from err
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        raise FetchError(_problem(entry.name, f"to download {url}", repr(reason), _FIX_NETWORK)) from err


# ---- derived files of the Amazon Beauty 2014 set, as its SOURCE.md describes ----


def ensure_beauty_derived(folder: Path) -> list[Path]:
    """Build whichever derived file is missing; existing ones are kept, as they may be the shipped ones."""
    out = folder / "derived"
    missing = [name for name in DERIVED if not (out / name).exists()]
    absent = [name for name in BEAUTY_SOURCES if missing and not (folder / name).is_file()]
    if absent:
        raise FileNotFoundError(_problem(folder, "derived/'s sources", absent, "python -m guide data fetch"))
    if missing:
        log.info("building %s in %s", ", ".join(missing), out)
    return build_beauty_derived(folder, out, missing)


def build_beauty_derived(src: Path, out: Path, names: tuple[str, ...] | list[str] = DERIVED) -> list[Path]:
    """Write the named derived files of `src` into `out` (each atomically) and return their paths."""
    builders = {"interactions.csv.gz": beauty_interactions, "items.csv": beauty_items}
    for name in names:
        _write_csv(builders[name](src), out / name)
    return [out / name for name in names]


def _write_csv(frame, path: Path) -> None:
    # Written under its own name in a scratch folder beside it, then moved: os.replace makes it atomic, and the
    # gzip header stores the file name, so this (with mtime 0) gives bytes identical to the shipped file.
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    try:
        compression = {"method": "gzip", "mtime": 0} if path.suffix == ".gz" else None
        frame.to_csv(scratch / path.name, index=False, compression=compression, lineterminator="\n")
        os.replace(scratch / path.name, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def beauty_interactions(src: Path):
    """One row per (user, item) in Beauty.txt order, with the reviewerID, ASIN and TiCoSeRec timestamp joined."""
    import pandas as pd

    maps = _json(src / "datamaps.json")
    id2item, id2user = maps["id2item"], maps["id2user"]
    rank = {asin: str(i) for i, asin in enumerate(sorted(id2item.values()), start=1)}  # TiCoSeRec item ids
    sequences = _lines(src / "Beauty.txt")
    ranks, times = _lines(src / "Beauty_item_org_rank.txt"), _lines(src / "Beauty_time_org_rank.txt")
    if not len(sequences) == len(ranks) == len(times):
        got = f"{len(sequences)} users, {len(ranks)} item and {len(times)} time lines"
        raise ValueError(_problem(src, "one TiCoSeRec line per Beauty.txt user", got, "fetch the files again"))
    rows = []
    for seq, rank_line, time_line in zip(sequences, ranks, times):
        user, stamps = seq[0], dict(zip(rank_line[1:], time_line[1:]))
        for position, item in enumerate(seq[1:]):
            asin = id2item[item]
            if rank_line[0] != user or rank[asin] not in stamps:
                got = f"line {rank_line[0]} without it"
                raise ValueError(_problem(src, f"user {user}'s {asin} in TiCoSeRec", got, "fetch the files again"))
            rows.append((int(user), id2user[user], int(item), asin, position, int(stamps[rank[asin]])))
    frame = pd.DataFrame(rows, columns=["user_id", "reviewer_id", "item_id", "asin", "position", "timestamp"])
    frame["date_utc"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    return frame


def _clean(text: str, collapse: bool = True) -> str:
    # Collapsing before unescaping keeps entity whitespace (&nbsp;) as the shipped items.csv has it.
    return html.unescape(" ".join(text.split()) if collapse else text) or None


def _categories(text: str) -> str:
    # RecBole's token_seq here is a Python-literal sequence: 'Beauty', "Women's", ...
    names = [_clean(name) for name in ast.literal_eval(f"[{text}]")] if text else []
    return json.dumps(names, ensure_ascii=False)


def beauty_items(src: Path):
    """One row per S3-Rec item id: cleaned Amazon metadata plus the decoded S3-Rec attribute names."""
    import pandas as pd

    maps = _json(src / "datamaps.json")
    counts, item_attributes = maps["attributeid2num"], _json(src / "Beauty_item2attributes.json")
    # S3-Rec kept attributes on >= 5 items and renumbered them from 1 in datamaps id order.
    names = [maps["id2attribute"][key] for key in sorted(counts, key=int) if counts[key] >= 5]
    meta = pd.read_csv(src / "Amazon_Beauty.item", sep="\t", dtype=str, keep_default_na=False)
    meta = meta.set_index("item_id:token").to_dict("index")
    rows = []
    for item, asin in sorted(maps["id2item"].items(), key=lambda pair: int(pair[0])):
        if asin not in meta:
            raise ValueError(_problem(src, f"{asin} in Amazon_Beauty.item", "no row", "fetch the file again"))
        m = meta[asin]
        attributes = json.dumps([names[i - 1] for i in item_attributes.get(item, [])], ensure_ascii=False)
        price, rank = (float(m[key]) if m[key] else None for key in ("price:float", "sales_rank:float"))
        brand = _clean(m["brand:token"], collapse=False)  # the shipped file keeps the brand's spacing
        title, categories, sales_type = _clean(m["title:token"]), m["categories:token_seq"], m["sales_type:token"]
        rows.append(
            (int(item), asin, title, brand, price, _categories(categories), _clean(sales_type), rank, attributes)
        )
    columns = ["item_id", "asin", "title", "brand", "price", "categories", "sales_type", "sales_rank"]
    return pd.DataFrame(rows, columns=[*columns, "s3rec_attributes"])


def run_cli(dest: str | None, base_url: str | None) -> int:
    """`python -m guide data fetch`: fetch into `dest` (default: the data directory); 0 on success."""
    from guide.config import data_dir

    try:
        fetch(Path(dest) if dest else data_dir(), base_url=base_url)
    except FetchError as err:  # the CLI reports ValueError/FileNotFoundError itself; this one is ours
        log.error("%s", err)
        return 1
    return 0
