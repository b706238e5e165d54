"""guide.data.fetch against a loopback HTTP server serving files the tests write: no network is used.

The server records every request (path and Range header) so the tests can tell a download from a skip and a
resume from a restart."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from guide.config import data_dir
from guide.data import fetch as F

FILES = {  # folder -> file -> bytes; one name has spaces, as in the real manifest
    "set_a": {"one.csv": b"a,b\n" + b"1,2\n" * 5000, "two words.csv.zip": bytes(range(256)) * 40},
    "set_b": {"three.json": json.dumps({"x": list(range(3000))}).encode()},
}


class Server:
    """A loopback file server over `root`; `honour_range=False` makes it ignore Range like some servers do."""

    def __init__(self, root: Path):
        self.root, self.honour_range, self.requests = root, True, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                path = server.root / urllib.parse.unquote(self.path.lstrip("/"))
                if not path.is_file():
                    self.send_error(404)
                    return
                body, status = path.read_bytes(), 200
                ranged = self.headers.get("Range")
                if ranged and server.honour_range:
                    start = int(ranged.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    body, status = body[start:], 206
                else:
                    self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def write_tree(root: Path, tree: dict[str, dict[str, bytes]]) -> None:
    for folder, files in tree.items():
        for name, data in files.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / name).write_bytes(data)


def entries_for(tree: dict[str, dict[str, bytes]]) -> list[F.Entry]:
    return [
        F.Entry(folder, name, "test/repo", "0" * 40, f"data/{name}", len(data), hashlib.sha256(data).hexdigest())
        for folder, files in tree.items()
        for name, data in files.items()
    ]


def write_manifest(path: Path, entries: list[F.Entry]) -> Path:
    path.write_text(json.dumps({"files": [vars(entry) for entry in entries]}))
    return path


@pytest.fixture
def server(tmp_path):
    write_tree(tmp_path / "served", FILES)
    served = Server(tmp_path / "served")
    yield served
    served.close()


@pytest.fixture
def manifest(tmp_path) -> Path:
    return write_manifest(tmp_path / "manifest.json", entries_for(FILES))


def assert_complete(dest: Path, tree=FILES) -> None:
    for folder, files in tree.items():
        for name, data in files.items():
            assert (dest / folder / name).read_bytes() == data
    assert not list(dest.rglob("*.part"))


def test_source_url_quotes_the_path_and_can_be_overridden(monkeypatch):
    entry = F.Entry("womens", "Reviews x.zip", "owner/repo", "abc", "DATA/Reviews x.zip", 1, "0" * 64)
    monkeypatch.delenv("GUIDE_DATA_URL", raising=False)
    assert F.source_url(entry) == "https://raw.githubusercontent.com/owner/repo/abc/DATA/Reviews%20x.zip"
    assert F.source_url(entry, "http://mirror/d/") == "http://mirror/d/womens/Reviews%20x.zip"
    monkeypatch.setenv("GUIDE_DATA_URL", "http://m/{commit}/{file}")
    assert F.source_url(entry) == "http://m/abc/Reviews%20x.zip"


def test_shipped_manifest_loads():
    entries = F.load_manifest()
    assert len(entries) == 13 and {entry.folder for entry in entries} >= {F.BEAUTY, "sephora_products"}
    assert set(F.BEAUTY_SOURCES) <= {entry.file for entry in entries if entry.folder == F.BEAUTY}


@pytest.mark.parametrize("change", [{"file": "../escape"}, {"sha256": "xyz"}, {"bytes": "10"}])
def test_bad_manifest_is_refused(tmp_path, change):
    raw = vars(entries_for(FILES)[0]) | change
    (tmp_path / "m.json").write_text(json.dumps({"files": [raw]}))
    with pytest.raises(ValueError, match="expected"):
        F.load_manifest(tmp_path / "m.json")


def test_fresh_fetch_writes_every_file_and_a_second_downloads_nothing(tmp_path, server, manifest):
    result = F.fetch(tmp_path / "dest", manifest, server.url, progress=False)
    assert len(result.downloaded) == 3 and not result.skipped
    assert_complete(tmp_path / "dest")
    count = len(server.requests)
    again = F.fetch(tmp_path / "dest", manifest, server.url, progress=False)
    assert len(server.requests) == count and not again.downloaded and len(again.skipped) == 3


@pytest.mark.parametrize("honour_range", [True, False])
def test_partial_download_is_resumed_with_range(tmp_path, server, manifest, honour_range):
    server.honour_range = honour_range  # a server that ignores Range must still give the right file
    data = FILES["set_a"]["two words.csv.zip"]
    part = tmp_path / "dest" / "set_a" / "two words.csv.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    F.fetch(tmp_path / "dest", manifest, server.url, progress=False)
    assert ("/set_a/two%20words.csv.zip", "bytes=1000-") in server.requests
    assert_complete(tmp_path / "dest")


def test_checksum_mismatch_leaves_no_file(tmp_path, server):
    entry = entries_for(FILES)[0]
    bad = F.Entry(**(vars(entry) | {"sha256": "f" * 64}))
    with pytest.raises(F.FetchError, match=r"set_a/one.csv .*expected .*got .*fix") as error:
        F.fetch(tmp_path / "dest", [bad], server.url, progress=False)
    assert entry.sha256 in str(error.value)
    assert not [path for path in (tmp_path / "dest").rglob("*") if path.is_file()]


def test_missing_file_names_the_url(tmp_path, server):
    entry = F.Entry("set_a", "gone.csv", "test/repo", "0" * 40, "data/gone.csv", 3, "0" * 64)
    with pytest.raises(F.FetchError, match="HTTP 404") as error:
        F.fetch(tmp_path / "dest", [entry], server.url, progress=False)
    assert f"{server.url}/set_a/gone.csv" in str(error.value) and "GUIDE_DATA_DIR" in str(error.value)
    assert not (tmp_path / "dest" / "set_a" / "gone.csv").exists()


def test_unreachable_server_is_one_clear_error(tmp_path, manifest):
    with socket.socket() as sock:  # a port that was just free, so nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(F.FetchError, match=f"http://127.0.0.1:{port}/set_a/one.csv.*check the network"):
        F.fetch(tmp_path / "dest", manifest, f"http://127.0.0.1:{port}", progress=False)


def test_is_empty_and_run_cli(tmp_path, server, manifest, monkeypatch):
    monkeypatch.setattr(F, "MANIFEST", manifest)
    assert F.is_empty(tmp_path / "dest")
    assert F.run_cli(str(tmp_path / "dest"), server.url) == 0
    assert not F.is_empty(tmp_path / "dest")
    assert F.run_cli(str(tmp_path / "other"), server.url + "/nowhere") == 1


def tiny_beauty() -> dict[str, bytes]:
    """Three items, two users: ASIN order differs from S3-Rec ids, and TiCoSeRec lists a same-day tie swapped."""
    maps = {
        "id2item": {"1": "B0002", "2": "A0001", "3": "B0001"},
        "id2user": {"1": "U1", "2": "U2"},
        "id2attribute": {"1": "Brand &amp; Co", "2": "Rare", "3": "Makeup"},
        "attributeid2num": {"1": 5, "2": 1, "3": 7},
    }  # "Rare" has < 5 items: S3-Rec 1, 2 = Brand, Makeup
    lines = [
        [
            "item_id:token",
            "title:token",
            "sales_type:token",
            "sales_rank:float",
            "categories:token_seq",
            "price:float",
            "brand:token",
        ],
        ["B0002", "Nail  Polish &amp; Top\tCoat", "Beauty", "10.0", "'Beauty', \"Women's\"", "12", "Brand &amp; Co"],
        ["A0001", "Cream", "Beauty", "", "'Beauty', 'Skin Care'", "", ""],
        ["B0001", "", "", "5.0", "'Beauty'", "3.5", "Solo"],
    ]
    item = _tsv(lines)
    return {
        "Beauty.txt": b"1 1 2 3\n2 3 1\n",
        "datamaps.json": json.dumps(maps).encode(),
        # sorted ASINs: A0001 = 1, B0001 = 2, B0002 = 3
        "Beauty_item_org_rank.txt": b"1 1 3 2\n2 2 3\n",
        "Beauty_time_org_rank.txt": b"1 86400 86400 172800\n2 1400000000 1400086400\n",
        "Amazon_Beauty.item": item,
        "Beauty_item2attributes.json": b'{"1": [1, 2], "2": [2], "3": []}',
    }


def _tsv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def test_builder_joins_the_tiny_beauty_set(tmp_path):
    write_tree(tmp_path, {F.BEAUTY: tiny_beauty()})
    written = F.build_beauty_derived(tmp_path / F.BEAUTY, tmp_path / "out")
    assert [path.name for path in written] == list(F.DERIVED)
    inter = pd.read_csv(tmp_path / "out" / "interactions.csv.gz")
    assert list(inter.itertuples(index=False, name=None)) == [
        (1, "U1", 1, "B0002", 0, 86400, "1970-01-02"),
        (1, "U1", 2, "A0001", 1, 86400, "1970-01-02"),
        (1, "U1", 3, "B0001", 2, 172800, "1970-01-03"),
        (2, "U2", 3, "B0001", 0, 1400000000, "2014-05-13"),
        (2, "U2", 1, "B0002", 1, 1400086400, "2014-05-14"),
    ]
    with gzip.open(tmp_path / "out" / "interactions.csv.gz", "rt") as handle:
        assert handle.readline().strip() == "user_id,reviewer_id,item_id,asin,position,timestamp,date_utc"
    items = pd.read_csv(tmp_path / "out" / "items.csv")
    assert list(items.columns) == [
        "item_id",
        "asin",
        "title",
        "brand",
        "price",
        "categories",
        "sales_type",
        "sales_rank",
        "s3rec_attributes",
    ]
    first = items.iloc[0]
    assert (first.asin, first.title, first.brand, first.price) == (
        "B0002",
        "Nail Polish & Top Coat",
        "Brand & Co",
        12.0,
    )
    assert json.loads(first.categories) == ["Beauty", "Women's"]
    assert json.loads(first.s3rec_attributes) == ["Brand &amp; Co", "Makeup"]  # datamaps names are kept raw
    assert items.title.isna().tolist() == [False, False, True] and pd.isna(items.price[1])
    assert [json.loads(value) for value in items.s3rec_attributes[1:]] == [["Makeup"], []]


def test_fetch_builds_missing_derived_files_and_keeps_existing(tmp_path):
    tree = {F.BEAUTY: tiny_beauty()}
    write_tree(tmp_path / "served", tree)
    served = Server(tmp_path / "served")
    try:
        dest = tmp_path / "dest"
        result = F.fetch(dest, entries_for(tree), served.url, progress=False)
        assert sorted(path.name for path in result.derived) == sorted(F.DERIVED)
        assert_complete(dest, tree)
        (dest / F.BEAUTY / "derived" / "items.csv").write_text("kept\n")
        again = F.fetch(dest, entries_for(tree), served.url, progress=False)
        assert not again.derived and (dest / F.BEAUTY / "derived" / "items.csv").read_text() == "kept\n"
        assert not list(dest.rglob(".build-*"))
    finally:
        served.close()


REAL_BEAUTY = data_dir() / F.BEAUTY


@pytest.mark.realdata
@pytest.mark.skipif(not (REAL_BEAUTY / "derived").is_dir(), reason=f"real data absent: no {REAL_BEAUTY}/derived")
def test_builder_reproduces_the_shipped_derived_files(tmp_path):
    for path in F.build_beauty_derived(REAL_BEAUTY, tmp_path):
        assert F._sha256(path) == F._sha256(REAL_BEAUTY / "derived" / path.name), path.name


@pytest.mark.realdata
@pytest.mark.skipif(not (data_dir() / "manifest.json").is_file(), reason=f"real data absent: no {data_dir()}")
def test_real_data_matches_the_manifest():
    assert F.load_manifest(data_dir() / "manifest.json") == F.load_manifest()
    for entry in F.load_manifest():
        assert F._matches(data_dir() / entry.folder / entry.file, entry), entry.name
