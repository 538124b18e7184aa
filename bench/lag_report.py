#!/usr/bin/env python3
"""Summarises one ingestion run of bench/production.sh: the end-to-end rate and the sink's lag.

Arguments: START ACKED DONE EVENTS LAG_LOG, where the times are epoch seconds (first event sent,
last event acknowledged, last event in the warehouse) and LAG_LOG has one line per second:
`time bus_events warehouse_events`.
"""
import sys

start, acked, done, n, lag_log = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"end to end: {n} events in ClickHouse {done - start:.1f} s after the first was sent "
      f"= {n / (done - start):,.0f} events/s; the last landed {done - acked:.1f} s after the last acknowledgement")
lags = []
for line in open(lag_log):
    parts = line.split()
    if len(parts) == 3:
        lags.append((float(parts[0]) - start, int(parts[1]) - int(parts[2])))
if lags:
    print(f"sink lag (events on the bus not yet in ClickHouse), sampled each second: max {max(l for _, l in lags):,}")
    # The drain: from the peak of the lag to the last sample above a tenth of it (what is left
    # then waits mostly for the sink's flush interval, not for its throughput).
    peak_at, peak = max(lags, key=lambda x: x[1])
    low = [(t, l) for t, l in lags if t > peak_at and l <= peak / 10]
    if low and low[0][0] > peak_at:
        t, l = low[0]
        print(f"drain from the peak: {peak - l:,} events in {t - peak_at:.1f} s = {(peak - l) / (t - peak_at):,.0f} events/s "
              f"(peak at {peak_at:.0f} s to {l:,} left at {t:.0f} s)")
    step = max(1, len(lags) // 12)
    print("lag samples (s since start: events):", ", ".join(f"{t:.0f}: {l}" for t, l in lags[::step]))
