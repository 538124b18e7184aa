#!/usr/bin/env python3
"""Behavior-ingest load generator for polyrec (pure Python stdlib).

Reads events.ndjson (as written by gen_data.py), groups the events into batches and
POSTs each batch as {"events": [...]} to {url}/api/v1/behaviors/batch over
--concurrency persistent keep-alive HTTP connections (one per worker thread).

All request bodies are built before the clock starts, so client-side JSON work does
not count against the server. Reports events sent, accepted (sum of the responses'
"accepted" field), rejected, failed requests, wall time and events/s.

Exits non-zero if any request fails (connection error or non-2xx status).
"""

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

PATH = "/api/v1/behaviors/batch"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (default: http://127.0.0.1:8080)")
    p.add_argument("--events", default="bench-data/events.ndjson",
                   help="events file, one JSON event per line (default: bench-data/events.ndjson)")
    p.add_argument("--tenant", default="bench", help="X-Tenant-Id header (default: bench)")
    p.add_argument("--batch", type=int, default=1000, help="events per request (default: 1000)")
    p.add_argument("--concurrency", type=int, default=4, help="parallel keep-alive connections (default: 4)")
    p.add_argument("--limit", type=int, default=0, help="send only the first N events (default: all)")
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds (default: 60)")
    p.add_argument("-H", "--header", action="append", default=[], metavar="NAME:VALUE",
                   help="extra request header, repeatable (e.g. -H 'Authorization: Bearer x')")
    p.add_argument("--quiet", action="store_true", help="do not print per-failure messages")
    args = p.parse_args(argv)
    if args.batch < 1 or args.concurrency < 1:
        p.error("--batch and --concurrency must be >= 1")
    return args


def load_bodies(path, batch, limit):
    """Returns a list of (n_events, body bytes). Lines are already JSON; they are joined, not re-encoded."""
    bodies = []
    pending = []
    total = 0
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            pending.append(line)
            total += 1
            if len(pending) >= batch:
                bodies.append((len(pending), b'{"events":[' + b",".join(pending) + b"]}"))
                pending = []
            if limit and total >= limit:
                break
    if pending:
        bodies.append((len(pending), b'{"events":[' + b",".join(pending) + b"]}"))
    return bodies


def count_rejected(doc, n_events, accepted):
    """The response's rejected count: an int, a list of rejections, or whatever was not accepted."""
    rejected = doc.get("rejected")
    if isinstance(rejected, bool):
        rejected = None
    if isinstance(rejected, int):
        return rejected
    if isinstance(rejected, list):
        return len(rejected)
    errors = doc.get("errors")
    if isinstance(errors, list):
        return len(errors)
    return max(0, n_events - accepted)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.sent = 0
        self.accepted = 0
        self.rejected = 0
        self.failed_requests = 0
        self.failed_events = 0
        self.latencies = []
        self.messages = []


def worker(args, target, headers, bodies, cursor, stats):
    scheme, host, port, base = target
    conn_cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = None
    path = base + PATH
    while True:
        with cursor["lock"]:
            i = cursor["next"]
            if i >= len(bodies):
                break
            cursor["next"] = i + 1
        n_events, body = bodies[i]
        if conn is None:
            conn = conn_cls(host, port, timeout=args.timeout)
        t0 = time.perf_counter()
        error = None
        accepted = rejected = 0
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if not 200 <= resp.status < 300:
                error = "batch %d: HTTP %d: %s" % (i, resp.status, data[:300].decode("utf-8", "replace"))
            else:
                doc = json.loads(data) if data else {}
                if not isinstance(doc, dict):
                    doc = {}
                acc = doc.get("accepted")
                accepted = acc if isinstance(acc, int) and not isinstance(acc, bool) else 0
                rejected = count_rejected(doc, n_events, accepted)
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException, ValueError) as e:
            error = "batch %d: %s: %s" % (i, type(e).__name__, e)
            if conn is not None:
                conn.close()
            conn = None  # reconnect for the next batch
        dt = time.perf_counter() - t0
        with stats.lock:
            stats.requests += 1
            stats.sent += n_events
            stats.latencies.append(dt)
            if error is None:
                stats.accepted += accepted
                stats.rejected += rejected
            else:
                stats.failed_requests += 1
                stats.failed_events += n_events
                stats.messages.append(error)
                if not args.quiet and len(stats.messages) <= 10:
                    print("error: " + error, file=sys.stderr)
    if conn is not None:
        conn.close()


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def main(argv=None):
    args = parse_args(argv)
    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        print("error: --url must be http(s)://host[:port][/prefix]", file=sys.stderr)
        return 2
    port = url.port or (443 if url.scheme == "https" else 80)
    target = (url.scheme, url.hostname, port, url.path.rstrip("/"))

    headers = {"Content-Type": "application/json", "X-Tenant-Id": args.tenant, "Connection": "keep-alive"}
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            print("error: bad --header %r, expected NAME:VALUE" % h, file=sys.stderr)
            return 2
        headers[name.strip()] = value.strip()

    t_load = time.perf_counter()
    bodies = load_bodies(args.events, args.batch, args.limit)
    n_events = sum(n for n, _ in bodies)
    n_bytes = sum(len(b) for _, b in bodies)
    print("prepared %d events in %d requests (%.1f MB) in %.2fs; sending to %s%s with %d connections"
          % (n_events, len(bodies), n_bytes / 1e6, time.perf_counter() - t_load,
             args.url.rstrip("/"), PATH, args.concurrency))
    if not bodies:
        print("error: no events in %s" % args.events, file=sys.stderr)
        return 1

    stats = Stats()
    cursor = {"lock": threading.Lock(), "next": 0}
    threads = [
        threading.Thread(target=worker, args=(args, target, headers, bodies, cursor, stats), daemon=True)
        for _ in range(min(args.concurrency, len(bodies)))
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0

    lat = sorted(stats.latencies)
    print("requests:  %d (%d failed)" % (stats.requests, stats.failed_requests))
    print("events:    sent %d, accepted %d, rejected %d, in failed requests %d"
          % (stats.sent, stats.accepted, stats.rejected, stats.failed_events))
    print("wall time: %.3fs" % elapsed)
    print("rate:      %.0f events/s sent, %.0f events/s accepted, %.1f requests/s"
          % (stats.sent / elapsed, stats.accepted / elapsed, stats.requests / elapsed))
    print("latency:   p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms per request"
          % (percentile(lat, 50) * 1e3, percentile(lat, 90) * 1e3, percentile(lat, 99) * 1e3, lat[-1] * 1e3))
    if stats.failed_requests:
        print("FAILED: %d of %d requests failed" % (stats.failed_requests, stats.requests), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
