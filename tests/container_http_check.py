#!/usr/bin/env python3
"""HTTP checks of a running CXR container, driven from outside as a user would
(scripts/container-check). Standard library only.

  tests/container_http_check.py BASE_URL TOKEN first      # a new store
  tests/container_http_check.py BASE_URL TOKEN restarted  # the same store after a restart

Prints one line per check, "check: ok NAME" or "check: FAIL NAME (why)", and exits 1
when any failed. `first` adds one sample with the token; `restarted` finds it again.
"""
import json
import struct
import sys
import urllib.error
import urllib.request
import zlib


def grey_png(side=128):
    """An 8-bit grey gradient, written with zlib alone (no dataset image)."""
    rows = b"".join(b"\0" + bytes((3 * x + 2 * y) % 256 for x in range(side)) for y in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class Checks:
    def __init__(self, base, token):
        self.base, self.token, self.failed = base.rstrip("/"), token, 0

    def request(self, method, path, body=None, content_type=None, token=None):
        """(status, parsed JSON or raw bytes) of one request; HTTP errors are answers too."""
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as answer:
                status, raw, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        return status, json.loads(raw) if kind.startswith("application/json") else raw

    def check(self, name, condition, why=""):
        print(f"check: {'ok' if condition else 'FAIL'} {name}" + ("" if condition else f" ({why})"), flush=True)
        self.failed += 0 if condition else 1


def error_code(answer):
    return answer.get("error", {}).get("code") if isinstance(answer, dict) else None


def samples_total(c):
    status, answer = c.request("GET", "/api/v1/samples", token=c.token)
    return answer.get("total") if status == 200 and isinstance(answer, dict) else f"HTTP {status}"


def first(c):
    status, answer = c.request("GET", "/")
    c.check("the browser UI is served", status == 200 and b"<html" in answer.lower(), f"HTTP {status}")
    status, model = c.request("GET", "/api/v1/model")
    c.check("model", status == 200 and model.get("classes"), f"HTTP {status}")

    # The gradient is no chest X-ray: the bundled model's OOD gate refuses it, and
    # force=true shows the prediction marked as forced.
    status, answer = c.request("POST", "/api/v1/predict?explain=gradcam", grey_png(), "image/png")
    c.check("the OOD gate refuses a synthetic gradient (422)",
            status == 422 and error_code(answer) == "not_a_chest_xray", f"HTTP {status}: {answer!r:.200}")
    status, answer = c.request("POST", "/api/v1/predict?explain=gradcam&force=true", grey_png(), "image/png")
    heatmap = answer.get("explanation", {}).get("heatmap_png", "") if status == 200 else ""
    forced = status == 200 and (answer.get("ood") or {}).get("forced") is True
    c.check("predict with Grad-CAM, forced", status == 200 and answer.get("label") in model.get("classes", [])
            and heatmap.startswith("data:image/png;base64,") and forced, f"HTTP {status}: {answer!r:.200}")
    status, answer = c.request("POST", "/api/v1/predict", b"\x89PNG\r\n\x1a\nnot really a PNG", "image/png")
    c.check("a corrupt image is a 400", status == 400 and error_code(answer) == "corrupt_image",
            f"HTTP {status}: {answer!r:.200}")

    label = model.get("classes", ["?"])[0]
    path = f"/api/v1/samples?label={label}"
    status, answer = c.request("POST", path, grey_png(), "image/png")
    c.check("adding a sample without the token is a 401", status == 401 and error_code(answer) == "missing_token",
            f"HTTP {status}")
    status, answer = c.request("POST", path, grey_png(), "image/png", token="not-the-token")
    c.check("a wrong token is a 401", status == 401 and error_code(answer) == "invalid_token", f"HTTP {status}")
    status, answer = c.request("POST", path, grey_png(), "image/png", token=c.token)
    c.check("the printed token adds a sample", status == 201, f"HTTP {status}: {answer!r:.200}")
    total = samples_total(c)
    c.check("the store lists the sample", total == 1, f"total {total}")


def restarted(c):
    total = samples_total(c)
    c.check("the sample survived the restart, the token still works", total == 1, f"total {total}")
    status, answer = c.request("POST", "/api/v1/predict?explain=none", grey_png(), "image/png")
    c.check("the OOD gate still refuses after the restart", status == 422, f"HTTP {status}")
    status, answer = c.request("POST", "/api/v1/predict?explain=none&force=true", grey_png(), "image/png")
    c.check("predict after the restart", status == 200 and "label" in answer, f"HTTP {status}")


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("first", "restarted"):
        sys.exit(__doc__)
    c = Checks(sys.argv[1], sys.argv[2])
    status, answer = c.request("GET", "/api/v1/health")
    c.check("health", status == 200, f"HTTP {status}")
    (first if sys.argv[3] == "first" else restarted)(c)
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
