"""Reads the pages of a scan corpus (made by the scan_corpus example) with zbarimg or zxing-cpp
and prints one JSON object: pages, pages per second on one core, and the share of pages whose
expected code was decoded.

Usage: scan_peers.py CORPUS_DIR --tool zbar|zbar-batch|zxing [--dpi D]

- zxing: zxing-cpp's Python binding, `read_barcodes(image, formats=QRCode)` with its defaults
  (try_rotate, try_downscale, LocalAverage binarizer) on Pillow-loaded grey images. Decoding
  and loading are timed separately.
- zbar: `zbarimg -q --raw FILE`, one process per page, so each page's result is its own; the
  time includes process start and image loading (zbarimg cannot be timed without them).
- zbar-batch: one `zbarimg -q` over all pages, for zbar's throughput with one process start;
  its output cannot be told apart per page, so it gives no decode share.
"""

import json
import os
import subprocess
import sys
import time


def load_expected(corpus, dpi):
    with open(os.path.join(corpus, "expected.jsonl")) as f:
        pages = [json.loads(line) for line in f if line.strip()]
    return [p for p in pages if dpi is None or p["dpi"] == dpi]


def score(pages, texts_per_page):
    with_code = [(p, t) for p, t in zip(pages, texts_per_page) if p.get("text")]
    decoded = sum(1 for p, t in with_code if p["text"] in t)
    # A decoder that cannot check MACs or signatures reads any QR it finds; on pages without a
    # code anything read is counted here.
    stray = sum(1 for p, t in zip(pages, texts_per_page) if not p.get("text") and t)
    other = sum(1 for p, t in with_code if t and p["text"] not in t)
    return {
        "pages_with_code": len(with_code),
        "decoded": decoded,
        "decoded_share": 100.0 * decoded / max(1, len(with_code)),
        "read_on_pages_without_code": stray,
        "pages_with_only_other_texts": other,
    }


def run_zxing(corpus, pages):
    import zxingcpp
    from PIL import Image

    decode_s = 0.0
    load_s = 0.0
    texts = []
    for p in pages:
        t0 = time.perf_counter()
        img = Image.open(os.path.join(corpus, p["file"]))
        img.load()
        img = img.convert("L")
        t1 = time.perf_counter()
        found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
        t2 = time.perf_counter()
        load_s += t1 - t0
        decode_s += t2 - t1
        texts.append([b.text for b in found if b.valid])
    out = {
        "tool": "zxing-cpp " + getattr(zxingcpp, "__version__", ""),
        "pages": len(pages),
        "pages_per_second_per_core": len(pages) / max(decode_s, 1e-9),
        "pages_per_second_per_core_with_load": len(pages) / max(decode_s + load_s, 1e-9),
        "timing": "decoding only (read_barcodes); with_load adds Pillow loading",
    }
    out.update(score(pages, texts))
    return out


def zbar_version():
    try:
        r = subprocess.run(["zbarimg", "--version"], capture_output=True, text=True)
        return "zbarimg " + r.stdout.strip()
    except OSError:
        return "zbarimg"


def run_zbar(corpus, pages):
    texts = []
    t0 = time.perf_counter()
    for p in pages:
        r = subprocess.run(
            ["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", os.path.join(corpus, p["file"])],
            capture_output=True,
        )
        out = r.stdout.decode("utf-8", "replace")
        texts.append([line for line in out.split("\n") if line])
    elapsed = time.perf_counter() - t0
    out = {
        "tool": zbar_version(),
        "pages": len(pages),
        "pages_per_second_per_core_with_load": len(pages) / max(elapsed, 1e-9),
        "timing": "one zbarimg process per page: process start, image loading and decoding",
    }
    out.update(score(pages, texts))
    return out


def run_zbar_batch(corpus, pages):
    files = [os.path.join(corpus, p["file"]) for p in pages]
    t0 = time.perf_counter()
    r = subprocess.run(["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable"] + files, capture_output=True)
    elapsed = time.perf_counter() - t0
    symbols = len([line for line in r.stdout.decode("utf-8", "replace").split("\n") if line])
    return {
        "tool": zbar_version() + " (one process for all pages)",
        "pages": len(pages),
        "pages_per_second_per_core_with_load": len(pages) / max(elapsed, 1e-9),
        "symbols_read": symbols,
        "timing": "one zbarimg process: image loading and decoding",
    }


def main():
    args = sys.argv[1:]
    if not args or "--tool" not in args:
        print(__doc__, file=sys.stderr)
        return 2
    corpus = args[0]
    tool = args[args.index("--tool") + 1]
    dpi = int(args[args.index("--dpi") + 1]) if "--dpi" in args else None
    pages = load_expected(corpus, dpi)
    runner = {"zxing": run_zxing, "zbar": run_zbar, "zbar-batch": run_zbar_batch}[tool]
    result = runner(corpus, pages)
    result["subset"] = f"{dpi} dpi" if dpi else "all"
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
