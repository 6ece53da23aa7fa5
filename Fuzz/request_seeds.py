"""Seeds of the request-path fuzzer's transport modes (Fuzz/TransportFuzz.swift), written into CORPUS:
  python3 Fuzz/request_seeds.py CORPUS PAYLOADS_DIR
Per real payload: a CGI environment and body ('C', unsigned and signed), the same request as FastCGI parameters the
harness encodes ('F' built) and as a raw record stream ('F' raw). Then a few hostile ones that are known cases of
SPEC §3: CONTENT_LENGTH -1 / huge / garbled, missing parameters, a stream cut short, keep-alive with two requests,
a management record, padding."""
import pathlib
import struct
import sys

BEGIN_REQUEST, PARAMS, STDIN, GET_VALUES = 1, 4, 5, 9


def record(kind, content, request_id=1, padding=0, version=1):
    return struct.pack(">BBHHBx", version, kind, request_id, len(content), padding) + content + b"\0" * padding


def length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def pairs(params):
    return b"".join(length(len(k)) + length(len(v)) + k + v for k, v in params)


def stream(kind, data, chunk=65535, padding=0):
    out = b"".join(record(kind, data[i:i + chunk], padding=padding) for i in range(0, len(data), chunk))
    return out + record(kind, b"", padding=padding)


def raw_request(params, body, keep=False, role=1, chunk=65535, padding=0):
    out = record(BEGIN_REQUEST, struct.pack(">HB5x", role, 1 if keep else 0))
    return out + stream(PARAMS, pairs(params), chunk, padding) + stream(STDIN, body, chunk, padding)


def entries(params):
    return b"\0".join(k + b"=" + v for k, v in params)


def webhook_params(event, body, delivery, **extra):
    p = {b"REQUEST_METHOD": b"POST", b"REQUEST_URI": b"/webhooks/github?x=1", b"CONTENT_TYPE": b"application/json",
         b"CONTENT_LENGTH": str(len(body)).encode(), b"HTTP_X_GITHUB_EVENT": event.encode(),
         b"HTTP_X_GITHUB_DELIVERY": delivery.encode()}
    p.update({k.encode(): v.encode() for k, v in extra.items()})
    return list(p.items())


def main(corpus, payloads):
    corpus = pathlib.Path(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = {}
    files = sorted(pathlib.Path(payloads).glob("*.json"))
    for i, f in enumerate(files):
        body = f.read_bytes()
        event = f.name.split(".")[0]
        params = webhook_params(event, body, f"seed-{i}")
        seeds[f"cgi-{f.stem}"] = b"C\x00" + entries(params) + b"\xff" + body
        seeds[f"cgi-signed-{f.stem}"] = b"C\x03" + entries(params) + b"\xff" + body
        seeds[f"fcgi-built-{f.stem}"] = b"F\x01\x00\x00" + entries(params) + b"\xff" + body
        seeds[f"fcgi-raw-{f.stem}"] = b"F\x00" + raw_request(params, body)
    body = files[0].read_bytes() if files else b"{}"
    base = dict(webhook_params("push", body, "hostile"))
    for name, value in [("minus-one", b"-1"), ("huge", b"18446744073709551617"), ("garbled", b"1e3"),
                        ("plus", b"+5"), ("empty", b"")]:
        p = list({**base, b"CONTENT_LENGTH": value}.items())
        seeds[f"cgi-length-{name}"] = b"C\x00" + entries(p) + b"\xff" + body
        seeds[f"fcgi-raw-length-{name}"] = b"F\x00" + raw_request(p, body)
    missing = [(k, v) for k, v in base.items() if k not in (b"REQUEST_METHOD", b"CONTENT_LENGTH")]
    seeds["cgi-missing"] = b"C\x00" + entries(missing) + b"\xff" + body
    seeds["fcgi-raw-missing"] = b"F\x00" + raw_request(missing, body)
    seeds["fcgi-raw-begin-only"] = b"F\x00" + record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
    seeds["fcgi-raw-cut"] = b"F\x00" + raw_request(list(base.items()), body)[:300]
    seeds["fcgi-raw-keep-two"] = b"F\x00" + raw_request(list(base.items()), body, keep=True) * 2
    seeds["fcgi-raw-get-values"] = b"F\x00" + record(
        GET_VALUES, pairs([(b"FCGI_MAX_CONNS", b""), (b"FCGI_MPXS_CONNS", b"")]), request_id=0) \
        + raw_request(list(base.items()), body)
    seeds["fcgi-raw-small-padded"] = b"F\x00" + raw_request(list(base.items()), body[:200], chunk=7, padding=5)
    seeds["fcgi-raw-version-2"] = b"F\x00" + raw_request(list(base.items()), body).replace(b"\x01\x04", b"\x02\x04", 1)
    seeds["fcgi-built-quirks"] = b"F\x01\xff\x03" + entries(list(base.items())) + b"\xff" + body[:300]
    injected = list({**base, b"HTTP_X_GITHUB_EVENT": b"issues\r\nX-Evil: 1"}.items())
    seeds["fcgi-built-injection"] = b"F\x01\x00\x00" + entries(injected) + b"\xff" + body
    seeds["cgi-injection"] = b"C\x00" + entries(injected) + b"\xff" + body
    for name, data in seeds.items():
        (corpus / f"seed-{name}").write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
