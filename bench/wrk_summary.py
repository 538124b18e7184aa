"""Reads `wrk --latency` output on stdin; prints "p50_ms p99_ms req_per_s non2xx total"."""
import re
import sys

out = sys.stdin.read()


def ms(label):
    m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
total = int(re.search(r"(\d+) requests in", out).group(1))
print(f"{ms('50%'):.2f} {ms('99%'):.2f} {rps:.0f} {int(bad.group(1)) if bad else 0} {total}")
