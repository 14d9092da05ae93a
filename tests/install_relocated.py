#!/usr/bin/env python3
"""A moved installation of cxr works: `cmake --install` into a temporary prefix, the
prefix renamed, then from there (models/bundled_files.h):

  cxr --version;
  cxr predict on a generated PNG with the bundled model, giving what the build
    tree's cxr gives;
  cxr serve answering with the installed web/ and openapi.yaml;
  cxr serve taking $CXR_MODEL as its default model, as cxr predict does.

  tests/install_relocated.py CMAKE BUILD_DIR    (run by ctest as install_relocated)
"""
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zlib


def write_grey_png(path, side=64):
    """An 8-bit grey gradient, written with zlib alone."""
    rows = b"".join(b"\0" + bytes((3 * x + 2 * y) % 256 for x in range(side)) for y in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def run(args, env):
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    print(f"$ {' '.join(map(str, args))}\n{done.stdout}{done.stderr}", end="")
    return done


def check(condition, message):
    if not condition:
        sys.exit(f"install_relocated: FAILED: {message}")


def serve_and_fetch(cxr, store, env, paths):
    """Starts `cxr serve --port 0`, fetches each path, stops it; returns the bodies."""
    server = subprocess.Popen([cxr, "serve", "--store", store, "--port", "0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in server.stdout:
            print(line, end="")
            if "http://" in line:
                url = line.split("http://", 1)[1].split("/", 1)[0]
                break
        check(url is not None, "cxr serve did not start")
        return [urllib.request.urlopen(f"http://{url}{p}", timeout=60).read().decode() for p in paths]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main():
    cmake, build = sys.argv[1], pathlib.Path(sys.argv[2])
    env = {k: v for k, v in os.environ.items() if k != "CXR_MODEL"}
    with tempfile.TemporaryDirectory(prefix="cxr-install-") as work:
        work = pathlib.Path(work)
        check(run([cmake, "--install", build, "--prefix", work / "first"], env).returncode == 0,
              "cmake --install")
        prefix = work / "moved"
        shutil.move(work / "first", prefix)
        cxr = prefix / "bin" / "cxr"

        version = run([cxr, "--version"], env)
        check(version.returncode == 0 and version.stdout.startswith("cxr "), "cxr --version")

        image = work / "grey.png"
        write_grey_png(image)
        # A gradient is no chest X-ray: the OOD gate beside the bundled model refuses it,
        # so --force asks for the prediction all the same (the gate travels with the install).
        moved = run([cxr, "predict", "--force", image], env)
        check(moved.returncode == 0 and '"label"' in moved.stdout, "cxr predict with the bundled model")
        built = run([build / "app" / "cxr", "predict", "--force", image], env)
        check(built.stdout == moved.stdout, "the moved cxr predicts as the build tree's does")

        index, openapi = serve_and_fetch(cxr, work / "store", env, ["/", "/docs/openapi.yaml"])
        installed = prefix / "share" / "cxr"
        check(index == (installed / "web" / "index.html").read_text(), "cxr serve's page is the installed web/")
        check(openapi == (installed / "openapi.yaml").read_text(), "cxr serve's openapi.yaml is the installed one")

        missing = work / "no-such-model.safetensors"
        refused = run([cxr, "serve", "--store", work / "store2", "--port", "0"], dict(env, CXR_MODEL=str(missing)))
        check(refused.returncode != 0 and str(missing) in refused.stderr,
              "cxr serve takes its default model from $CXR_MODEL")
    print("install_relocated: passed")


if __name__ == "__main__":
    main()
