#!/usr/bin/env python3
"""`"weight": "auto"` against fixed weights, through the HTTP API (pure Python stdlib).

  prepare SPLIT_DIR ITEMS_CSV OUT_DIR
      writes OUT_DIR/items.ndjson (the catalog: every item of the split, its genres as tags and
      the first as category) and OUT_DIR/events.ndjson (every training row as a `click` of
      scenario SCENARIO, oldest first, without a timestamp: the server stamps them in that order).

  score URL SPLIT_DIR --tenant T --scenario S [--scenario S2 ...]
      starts `POST …/jobs/train` for each scenario, waits for every job, then asks
      `POST /api/v1/recommend` (count 10) for every user with test rows and reports, per
      scenario, NDCG@10 / recall@10 / precision@10 against the test rows (binary relevance, IDCG
      over min(10, |test|)), and the blend's fitted weights when it has one.

Every scenario reads the same events (they are sent once per scenario).
"""

import argparse
import csv
import http.client
import json
import math
import os
import sys
import time
from urllib.parse import urlsplit


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return [(r["user_id"], r["item_id"], int(float(r["timestamp"]))) for r in reader]


def prepare(args):
    train = read_rows(os.path.join(args.split_dir, "train.csv"))
    test = read_rows(os.path.join(args.split_dir, "test.csv"))
    genres = {}
    with open(args.items_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            genres[row["item_id"]] = row.get("genres", "").split()
    os.makedirs(args.out_dir, exist_ok=True)
    items = sorted({i for _, i, _ in train} | {i for _, i, _ in test})
    with open(os.path.join(args.out_dir, "items.ndjson"), "w", encoding="utf-8") as fh:
        for item in items:
            tags = genres.get(item, [])
            metadata = {"tags": tags}
            if tags:
                metadata["category"] = tags[0]
            fh.write(json.dumps({"item_id": item, "metadata": metadata}) + "\n")
    for scenario in args.scenario:
        with open(os.path.join(args.out_dir, f"events-{scenario}.ndjson"), "w", encoding="utf-8") as fh:
            for user, item, _ in sorted(train, key=lambda r: (r[2], r[0], r[1])):
                event = {"event_type": "click", "user_id": user, "item_id": item, "scenario_id": scenario}
                fh.write(json.dumps(event) + "\n")
    print(f"{len(items)} items, {len(train)} training events per scenario", file=sys.stderr)


class Client:
    def __init__(self, url, tenant):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=600)
        self.tenant = tenant

    def call(self, method, path, body=None, user=None):
        headers = {"X-Tenant-Id": self.tenant, "Content-Type": "application/json"}
        if user is not None:
            headers["X-User-Id"] = user
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: HTTP {response.status}: {data[:500]!r}")
        return json.loads(data) if data else None


def score(args):
    client = Client(args.url, args.tenant)
    jobs = {}
    started = time.perf_counter()
    for scenario in args.scenario:
        job = client.call("POST", f"/api/v1/scenarios/{scenario}/jobs/train", {})
        jobs[scenario] = job["job_id"]
    for scenario, job_id in jobs.items():
        while True:
            job = client.call("GET", f"/api/v1/jobs/{job_id}")
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(1)
        if job["state"] != "succeeded":
            raise SystemExit(f"{scenario}: training failed: {job.get('error')}")
        print(f"{scenario}: trained {job['versions']} ({time.perf_counter() - started:.0f} s since the start)",
              file=sys.stderr)
    test = read_rows(os.path.join(args.split_dir, "test.csv"))
    truth = {}
    for user, item, _ in test:
        truth.setdefault(user, set()).add(item)
    results = {}
    for scenario in args.scenario:
        sums = {"ndcg@10": 0.0, "recall@10": 0.0, "precision@10": 0.0}
        for user, relevant in sorted(truth.items()):
            answer = client.call("POST", "/api/v1/recommend", {"scenario_id": scenario, "count": 10}, user=user)
            ranked = [i["item_id"] for i in answer["items"]][:10]
            hits = [i in relevant for i in ranked]
            ideal = sum(1.0 / math.log2(r + 2) for r in range(min(10, len(relevant))))
            sums["ndcg@10"] += sum(1.0 / math.log2(r + 2) for r, h in enumerate(hits) if h) / ideal
            sums["recall@10"] += sum(hits) / len(relevant)
            sums["precision@10"] += sum(hits) / 10
        row = {k: v / len(truth) for k, v in sums.items()}
        row["users"] = len(truth)
        blend = client.call("GET", f"/api/v1/scenarios/{scenario}/models?name=blend")["models"]
        if blend:
            row["blend_weights"] = blend[0]["config"]["params"]["weights"]
            row["blend_validation"] = blend[0]["metrics"]
        results[scenario] = row
    print(json.dumps({"scenarios": results}, indent=2))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("split_dir")
    prep.add_argument("items_csv")
    prep.add_argument("out_dir")
    prep.add_argument("--scenario", action="append", required=True)
    sc = sub.add_parser("score")
    sc.add_argument("url")
    sc.add_argument("split_dir")
    sc.add_argument("--tenant", required=True)
    sc.add_argument("--scenario", action="append", required=True)
    args = p.parse_args(argv)
    if args.command == "prepare":
        prepare(args)
    else:
        score(args)


if __name__ == "__main__":
    main()
