"""Converts MovieLens-100K from the RecBole atomic files that `scripts/fetch-movielens.sh` fetches
(ml-100k.inter, ml-100k.item, ml-100k.user: tab-separated, `name:type` headers) to plain CSV:

    interactions.csv  user_id,item_id,rating,timestamp    (timestamp: unix seconds, as in the source)
    items.csv         item_id,title,release_year,genres   (genres space-separated, from `class`;
                                                           release_year an integer or empty)
    users.csv         user_id,age,gender,occupation,zip_code

Standard library only, so the system python3 runs it. Each file is written to a temporary name and
renamed, so an interrupted run never leaves a half-written CSV behind.

    python3 scripts/ml100k_to_csv.py SRC_DIR OUT_DIR
"""
import csv
import os
import sys

# atomic file -> (output file, [(source column, output column)])
TABLES = {
    "ml-100k.inter": (
        "interactions.csv",
        [("user_id", "user_id"), ("item_id", "item_id"), ("rating", "rating"), ("timestamp", "timestamp")],
    ),
    "ml-100k.item": (
        "items.csv",
        [("item_id", "item_id"), ("movie_title", "title"), ("release_year", "release_year"), ("class", "genres")],
    ),
    "ml-100k.user": (
        "users.csv",
        [("user_id", "user_id"), ("age", "age"), ("gender", "gender"), ("occupation", "occupation"),
         ("zip_code", "zip_code")],
    ),
}
EXPECTED_ROWS = {"ml-100k.inter": 100_000, "ml-100k.item": 1_682, "ml-100k.user": 943}


def fail(message):
    sys.exit(f"ml100k_to_csv: {message}")


def read_atomic(path):
    """Yields dicts keyed by the column name without its `:type` suffix."""
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        names = [h.split(":", 1)[0] for h in header]
        for lineno, line in enumerate(f, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != len(names):
                fail(f"{path}:{lineno}: {len(fields)} fields, the header has {len(names)}")
            yield lineno, dict(zip(names, fields))


def clean(source, column, value, where, notes):
    if source == "ml-100k.inter":
        if column == "timestamp" and not value.isdigit():
            fail(f"{where}: timestamp {value!r} is not unix seconds")
        if column == "rating":
            try:
                float(value)
            except ValueError:
                fail(f"{where}: rating {value!r} is not a number")
    if source == "ml-100k.item":
        if column == "release_year":
            if not (value.isdigit() and len(value) == 4):
                notes.append(f"{where}: release_year {value!r} is not a year; written empty")
                return ""
        if column == "class":
            return " ".join(value.split())
    return value


def convert(src_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for source, (target, columns) in TABLES.items():
        path = os.path.join(src_dir, source)
        if not os.path.isfile(path):
            fail(f"{path} is missing (run scripts/fetch-movielens.sh {src_dir} first)")
        out_path = os.path.join(out_dir, target)
        tmp_path = out_path + ".tmp"
        notes = []
        rows = 0
        with open(tmp_path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([o for _, o in columns])
            for lineno, record in read_atomic(path):
                missing = [s for s, _ in columns if s not in record]
                if missing:
                    fail(f"{path}: no column(s) {', '.join(missing)} in the header")
                where = f"{source}:{lineno}"
                writer.writerow([clean(source, s, record[s], where, notes) for s, _ in columns])
                rows += 1
        if rows != EXPECTED_ROWS[source]:
            os.remove(tmp_path)
            fail(f"{path}: {rows} rows, expected {EXPECTED_ROWS[source]} for MovieLens-100K")
        os.replace(tmp_path, out_path)
        for note in notes:
            print(f"ml100k_to_csv: note: {note}", file=sys.stderr)
        print(f"{out_path}: {rows} rows")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: python3 scripts/ml100k_to_csv.py SRC_DIR OUT_DIR")
    convert(sys.argv[1], sys.argv[2])
