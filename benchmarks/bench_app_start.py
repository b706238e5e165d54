"""Cold start of the shop as a visitor sees it: `streamlit run app.py` on a loopback port, then
Debian's Chromium (Playwright) opens a product deep link; prints the seconds until the server
answers its health check and until the product page shows the purchase likelihood, then one warm
reload of the same page.

    .venv/bin/python benchmarks/bench_app_start.py [--product B07J3GH1W1]

Needs /usr/bin/chromium (scripts/test.sh installs it). State goes to a temporary directory.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--product", default="B07J3GH1W1")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, GUIDE_STATE_DIR=state, HF_HUB_OFFLINE="1")
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                    break
                except OSError:
                    if time.perf_counter() - started > 120:
                        raise SystemExit("the server did not answer within 120 s") from None
                    time.sleep(0.2)
            healthy = time.perf_counter() - started
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                url = f"http://127.0.0.1:{port}/?product={args.product}"
                opened = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("text=Purchase likelihood", timeout=120_000)
                first = time.perf_counter() - opened
                opened = time.perf_counter()
                page.reload()
                page.wait_for_selector("text=Purchase likelihood", timeout=60_000)
                warm = time.perf_counter() - opened
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        json.dumps(
            {
                "server_healthy_s": round(healthy, 1),
                "first_product_page_s": round(first, 1),
                "warm_reload_s": round(warm, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
