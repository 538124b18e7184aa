#!/usr/bin/env python3
"""Generate a synthetic benchmark data set for polyrec (pure Python stdlib).

Writes into --out DIR:
  items.ndjson   one item per line: {"item_id": ..., "metadata": {...}}
  events.ndjson  one behavior event per line, oldest first
  users.txt      one user id per line (u0 .. u{users-1})

The data has structure a recommender can find:
  * item popularity is Zipf-like (a few items get most of the traffic);
  * every user prefers 3 categories, and --affinity (default 70%) of their
    events fall on items of those categories;
  * each category has a handful of "home" tags, so tags correlate with category;
  * user activity is mildly skewed (some users are much more active).

Output is deterministic for a given --seed, except that timestamps are relative
to the current time; pass --now to pin that too.
"""

import argparse
import bisect
import json
import os
import random
import sys
import time
from datetime import datetime, timezone

N_CATEGORIES = 50
N_TAGS = 200
N_LOCATIONS = 20
HOME_TAGS_PER_CATEGORY = 8
PREFERRED_CATEGORIES = 3

# (event type, share of events); shares sum to 100.
EVENT_MIX = [
    ("impression", 40),
    ("click", 25),
    ("play", 15),
    ("view", 8),
    ("like", 5),
    ("share", 3),
    ("comment", 2),
    ("add_cart", 1),
    ("order", 1),
]

ADJECTIVES = [
    "quick", "quiet", "bright", "hidden", "golden", "wild", "tiny", "epic", "lazy", "bold",
    "urban", "cosmic", "rusty", "silent", "frozen", "sunny", "ancient", "electric", "gentle", "daring",
]
NOUNS = [
    "journey", "recipe", "guide", "story", "mix", "review", "trip", "lesson", "match", "session",
    "tour", "challenge", "hack", "show", "talk", "dance", "garden", "build", "race", "song",
]

WINDOW_SECONDS_EVENTS = 2 * 3600
WINDOW_SECONDS_PUBLISH = 30 * 24 * 3600


def rfc3339(ts, millis=False):
    """Epoch seconds -> RFC 3339 UTC string."""
    if millis:
        whole = int(ts)
        ms = int((ts - whole) * 1000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%03dZ" % ms
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def parse_now(text):
    if text is None:
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def cumulative(weights):
    out = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bench-data", help="output directory (default: bench-data)")
    p.add_argument("--items", type=int, default=100_000, help="number of items (default: 100000)")
    p.add_argument("--events", type=int, default=1_000_000, help="number of events (default: 1000000)")
    p.add_argument("--users", type=int, default=10_000, help="number of users (default: 10000)")
    p.add_argument("--scenario", default="bench_feed", help="scenario_id of the events (default: bench_feed)")
    p.add_argument("--devices", action="store_true",
                   help="give each event a context.device_type (mobile 60%%, desktop 30%%, tablet 10%%)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--zipf", type=float, default=1.0,
                   help="Zipf exponent of item popularity (default: 1.0; higher = more skewed)")
    p.add_argument("--user-skew", type=float, default=0.5,
                   help="Zipf exponent of user activity (default: 0.5; 0 = uniform)")
    p.add_argument("--affinity", type=float, default=0.7,
                   help="share of a user's events in their preferred categories (default: 0.7)")
    p.add_argument("--now", default=None,
                   help="reference time (RFC 3339 or epoch seconds) for timestamps; default: current time")
    args = p.parse_args(argv)
    if args.items < 1 or args.users < 1 or args.events < 0:
        p.error("--items and --users must be >= 1, --events >= 0")
    if not 0.0 <= args.affinity <= 1.0:
        p.error("--affinity must be within [0, 1]")
    return args


def gen_items(rng, args, now):
    """Returns (item lines, per-item category, per-item duration, popularity weight per item)."""
    n = args.items
    # Home tags: each category owns a few tags that its items usually carry.
    home_tags = [rng.sample(range(N_TAGS), HOME_TAGS_PER_CATEGORY) for _ in range(N_CATEGORIES)]
    # Popularity rank is a random permutation, so popularity is independent of id and category.
    ranks = list(range(n))
    rng.shuffle(ranks)
    s = args.zipf
    weights = [1.0 / (r + 1) ** s for r in ranks]

    lines = []
    categories = []
    durations = []
    for i in range(n):
        cat = rng.randrange(N_CATEGORIES)
        tags = set(rng.sample(home_tags[cat], rng.randint(1, 2)))
        for _ in range(rng.randint(0, 2)):
            tags.add(rng.randrange(N_TAGS))
        # Durations: mostly short clips, a long tail of long-form content (15 s .. 2 h).
        duration = round(min(7200.0, 15.0 + rng.lognormvariate(4.5, 1.0)), 1)
        metadata = {
            "title": "%s %s %d" % (rng.choice(ADJECTIVES).capitalize(), rng.choice(NOUNS), i),
            "category": "c%d" % cat,
            "tags": ["t%d" % t for t in sorted(tags)],
            "duration": duration,
            "completion_rate": round(rng.uniform(0.05, 0.95), 2),
            "location": "city%d" % rng.randrange(N_LOCATIONS),
            "publish_time": rfc3339(now - rng.uniform(0, WINDOW_SECONDS_PUBLISH)),
        }
        lines.append(json.dumps({"item_id": "i%d" % i, "metadata": metadata}, separators=(",", ":")) + "\n")
        categories.append(cat)
        durations.append(duration)
    return lines, categories, durations, weights


def gen_events(rng, args, now, categories, durations, weights, fh):
    """Writes events to fh, oldest first. Returns a dict of counts per event type."""
    n_items = len(categories)
    # Global popularity table.
    global_items = list(range(n_items))
    global_cum = cumulative(weights)
    # Per-category popularity tables.
    cat_items = [[] for _ in range(N_CATEGORIES)]
    for i, c in enumerate(categories):
        cat_items[c].append(i)
    cat_cum = [cumulative([weights[i] for i in items]) for items in cat_items]
    nonempty = [c for c in range(N_CATEGORIES) if cat_items[c]]

    # Users: preferred categories (only among non-empty ones) and skewed activity.
    n_users = args.users
    k = min(PREFERRED_CATEGORIES, len(nonempty))
    prefs = [rng.sample(nonempty, k) for _ in range(n_users)]
    user_ranks = list(range(n_users))
    rng.shuffle(user_ranks)
    user_cum = cumulative([1.0 / (r + 1) ** args.user_skew for r in user_ranks])

    type_names = [t for t, _ in EVENT_MIX]
    type_cum = cumulative([w for _, w in EVENT_MIX])

    counts = dict.fromkeys(type_names, 0)
    scenario = json.dumps(args.scenario)
    n = args.events
    start = now - WINDOW_SECONDS_EVENTS
    step = WINDOW_SECONDS_EVENTS / max(n, 1)

    # Local bindings for speed in the hot loop.
    rand = rng.random
    br = bisect.bisect_right
    affinity = args.affinity
    g_total = global_cum[-1]
    u_total = user_cum[-1]
    t_total = type_cum[-1]
    last_u = n_users - 1
    last_t = len(type_names) - 1
    devices = args.devices
    cur_sec = None
    sec_prefix = ""
    buf = []

    for e in range(n):
        u = br(user_cum, rand() * u_total)
        if u > last_u:
            u = last_u
        if rand() < affinity:
            c = prefs[u][int(rand() * k)]
            cum = cat_cum[c]
            idx = br(cum, rand() * cum[-1])
            items = cat_items[c]
            if idx >= len(items):
                idx = len(items) - 1
            item = items[idx]
        else:
            idx = br(global_cum, rand() * g_total)
            item = global_items[idx if idx < n_items else n_items - 1]
        t = br(type_cum, rand() * t_total)
        if t > last_t:
            t = last_t
        etype = type_names[t]
        counts[etype] += 1

        # Monotonic timestamps with millisecond resolution, all within (now - 2h, now].
        ts = start + (e + 1) * step
        sec = int(ts)
        if sec != cur_sec:
            cur_sec = sec
            sec_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        stamp = "%s.%03dZ" % (sec_prefix, int((ts - sec) * 1000))

        if etype == "play":
            # Seconds watched: a fraction of the item's duration.
            value = ',"value":%.1f' % (durations[item] * (0.05 + 0.95 * rand()))
        elif etype == "view":
            # Dwell time in seconds.
            value = ',"value":%.1f' % (1.0 + 299.0 * rand() * rand())
        else:
            value = ""
        buf.append(
            '{"event_type":"%s","user_id":"u%d","item_id":"i%d","scenario_id":%s,"timestamp":"%s"%s}\n'
            % (etype, u, item, scenario, stamp, value)
        )
        if devices:
            r = rand()
            device = "mobile" if r < 0.6 else "desktop" if r < 0.9 else "tablet"
            buf[-1] = buf[-1][:-2] + ',"context":{"device_type":"%s"}}\n' % device
        if len(buf) >= 20000:
            fh.writelines(buf)
            buf.clear()
    fh.writelines(buf)
    return counts


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    now = parse_now(args.now)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)

    item_lines, categories, durations, weights = gen_items(rng, args, now)
    with open(os.path.join(args.out, "items.ndjson"), "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.writelines(item_lines)
    del item_lines
    t_items = time.perf_counter()

    with open(os.path.join(args.out, "events.ndjson"), "w", encoding="utf-8", buffering=1 << 20) as fh:
        counts = gen_events(rng, args, now, categories, durations, weights, fh)
    t_events = time.perf_counter()

    with open(os.path.join(args.out, "users.txt"), "w", encoding="utf-8") as fh:
        fh.writelines("u%d\n" % u for u in range(args.users))

    elapsed = time.perf_counter() - t0
    print("wrote %s/ (scenario %s, seed %d, now %s)" % (args.out, args.scenario, args.seed, rfc3339(now)))
    print("  items:  %9d  (%.2fs)" % (args.items, t_items - t0))
    print("  events: %9d  (%.2fs)" % (args.events, t_events - t_items))
    print("  users:  %9d" % args.users)
    print("  event mix: " + ", ".join("%s=%d" % (t, c) for t, c in counts.items()))
    print("elapsed: %.2fs" % elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
