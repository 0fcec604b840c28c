"""Port llhttp's response-parsing vectors into the conformance suite's data.

llhttp (MIT, (c) Fedor Indutny and contributors) ships its tests as Markdown under `test/response/`;
aiohttp's source distribution vendors them at `vendor/llhttp/test/`. This script reads those files and
writes `conformance/tether_conformance/data/llhttp_responses.json`, keeping the strict-mode response
cases an HTTP client can meet (no RTSP/ICE, no pause or lenient builds, no pipelining):

    pip download --no-deps --no-binary :all: aiohttp -d /tmp/aiohttp && tar xzf /tmp/aiohttp/aiohttp-*.tar.gz -C /tmp/aiohttp
    python scripts/port_llhttp_vectors.py /tmp/aiohttp/aiohttp-*/vendor/llhttp/test/response

Expected outcome per case: "reject" when llhttp reports an error before the first message completes,
else the status code and the body llhttp delivered for the first message.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FILES = ("sample.md", "invalid.md", "content-length.md", "transfer-encoding.md", "connection.md", "finish.md")
OUT = Path(__file__).resolve().parent.parent / "conformance" / "tether_conformance" / "data" / "llhttp_responses.json"

CASE = re.compile(
    r"^#{2,4} (?P<title>.+?)\n+<!-- meta=(?P<meta>\{.*?\}) -->\n```http\n(?P<input>.*?)```\n+```log\n(?P<log>.*?)```",
    re.S | re.M,
)


#: Where tether's verdict differs from llhttp's strict mode on purpose: id -> (expectation, why).
OVERRIDES: dict[str, tuple[dict[str, object], str]] = {
    "sample-http-version-0-9": (
        {"reject": True},
        "tether speaks HTTP/1.0, 1.1, 2 and 3; an HTTP/0.9 status line is a ProtocolError",
    ),
    "sample-no-carriage-ret": (
        {"reject": False, "status": 200, "body": "these headers are from http://news.ycombinator.com/"},
        "RFC 9112 2.2 lets a recipient accept a bare LF as line end; every engine does",
    ),
    "invalid-only-lfs-present-and-no-body": (
        {"reject": False, "status": 200, "body": ""},
        "RFC 9112 2.2: a bare LF line end is accepted",
    ),
    "invalid-only-lfs-present": (
        {"reject": False, "status": 200, "body": "BODY\n\\"},
        "RFC 9112 2.2: a bare LF line end is accepted; the body runs to the end of the connection",
    ),
    "transfer-encoding-trailing-space-on-chunked-body": (
        {
            "reject": False,
            "status": 200,
            "body": "This is the data in the first chunk\r\nand this is the second one\r\n",
        },
        "whitespace before a chunk-size line's CRLF is taken, as h11, http.client and lenient llhttp take it",
    ),
    "transfer-encoding-chunked-before-other-transfer-encoding": (
        {"reject": True},
        "tether decodes no transfer coding but chunked: any other Transfer-Encoding is a ProtocolError",
    ),
    "transfer-encoding-multiple-transfer-encoding-where-chunked-is-not-the-last-one": (
        {"reject": True},
        "tether decodes no transfer coding but chunked",
    ),
}
OVERRIDES[
    "transfer-encoding-chunkedchunked-transfer-encoding-does-not-enable-chunked-enconding-this-check-that-the-"
    "word-chunked-repeat-more-than-once-with-or-without-spaces-does-not-mistakenly-enables-chunked-encoding"
] = ({"reject": True}, "tether decodes no transfer coding but chunked")

#: Vectors not ported yet, and why (each needs a byte-level check no adapter has yet).
EXCLUDED: dict[str, str] = {
    "sample-response-starting-with-crlf": "aiohttp accepts a leading empty line, h11 and http.client reject it",
    "transfer-encoding-no-extension-after-semicolon": "chunk-extension syntax is checked by llhttp only",
    "transfer-encoding-chunk-extensions-quoting": "chunk-extension syntax is checked by llhttp only",
    "transfer-encoding-unbalanced-chunk-extensions-quoting": "chunk-extension syntax is checked by llhttp only",
    "content-length-response-without-content-length-but-with-body-the-client-should-wait-for-the-server-s-eof-"
    "that-is-when-content-length-is-not-specified-and-connection-close-the-end-of-body-is-specified-by-the-eof-"
    "compare-with-apachebench-get": "the vector's input and log escape the body differently",
}


def decode_input(text: str) -> str:
    """llhttp's md-test.ts rules: drop the final newline, CRLF everywhere, then escapes."""
    text = re.sub(r"\n\Z", "", text)
    text = re.sub(r"\\(\r\n|\r|\n)", "", text)
    text = re.sub(r"\r\n|\r|\n", "\r\n", text)
    text = text.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t").replace("\\f", "\f")
    text = re.sub(r"\\x([0-9a-fA-F]+)", lambda m: chr(int(m.group(1), 16)), text)
    return re.sub(r"\\([0-7]{1,3})", lambda m: chr(int(m.group(1), 8)), text)


def unescape(value: str) -> str:
    return value.encode("latin-1", "backslashreplace").decode("unicode_escape")


def outcome(log: str) -> dict[str, object]:
    status: int | None = None
    framed = False  # Content-Length or chunked: the body has a known end
    body: list[str] = []
    for line in log.splitlines():
        if " error code=" in line:
            return {"reject": True, "reason": line.split("reason=", 1)[-1].strip('"')}
        if match := re.search(r"headers complete status=(\d+) .*flags=(\w+)", line):
            status = int(match.group(1))
            framed = "content_length=" in line and int(match.group(2), 16) & 0x28 != 0
        if match := re.search(r'span\[body\]="(.*)"$', line):
            body.append(unescape(match.group(1)))
        if line.endswith("message complete"):
            return {"reject": False, "status": status, "body": "".join(body)}
    if status is not None and not framed:
        # The body runs to the end of the connection; the raw server closes after sending it.
        return {"reject": False, "status": status, "body": "".join(body)}
    # The input ended inside the head or inside a framed body: a client sees a truncated response.
    return {"reject": True, "reason": "message incomplete at end of input"}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def main(directory: str) -> None:
    cases = []
    for name in FILES:
        source = (Path(directory) / name).read_text()
        for match in CASE.finditer(source):
            meta = json.loads(match.group("meta"))
            if meta.get("type") != "response" or set(meta) - {"type"}:
                continue
            raw = decode_input(match.group("input"))
            if raw.startswith(("RTSP/", "ICE/")):
                continue
            if raw.count("HTTP/1.") > 1:  # pipelined or keep-alive sequences: not one client exchange
                continue
            if raw.startswith("HTTP/1.1 101"):  # a client meets 101 only after asking to upgrade
                continue
            case_id = f"{name.removesuffix('.md')}-{slug(match.group('title'))}"
            if case_id in EXCLUDED:
                continue
            expected = outcome(match.group("log"))
            override = OVERRIDES.get(case_id)
            if override is not None:
                expected = {**override[0], "tether_policy": override[1]}
            source = f"llhttp test/response/{name}: {match.group('title')}"
            cases.append({"id": case_id, "source": source, "raw": raw, **expected})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"license": "MIT (llhttp, Fedor Indutny and contributors)", "cases": cases},
            indent=1,
            ensure_ascii=True,
        )
        + "\n"
    )
    rejected = sum(case["reject"] for case in cases)
    print(f"wrote {len(cases)} cases ({rejected} must be rejected, {len(EXCLUDED)} excluded) to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
