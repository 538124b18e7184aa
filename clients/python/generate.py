"""Regenerates the generated parts of the client:

- `src/polyrec_client/models.py`, the request and answer types, from a server's `/openapi.json`
  by datamodel-code-generator (TypedDicts), when `--openapi URL_OR_FILE` is given;
- `src/polyrec_client/_sync/client.py`, the synchronous client, from the asynchronous one by
  unasync (always).

    python generate.py [--openapi http://127.0.0.1:8000/openapi.json] [--check]

`--check` writes nothing and exits 1 when a generated file differs from what it would write (the
test suite runs it, so the committed files cannot drift from their sources).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import unasync

HERE = Path(__file__).parent
PACKAGE = HERE / "src" / "polyrec_client"

RULES = [
    unasync.Rule(
        fromdir="/_async/",
        todir="/_sync/",
        additional_replacements={
            "AsyncPolyrec": "Polyrec",
            "AsyncScenarios": "Scenarios",
            "AsyncItems": "Items",
            "AsyncBehaviors": "Behaviors",
            "AsyncJobs": "Jobs",
            "AsyncModels": "Models",
            "AsyncExperiments": "Experiments",
            "AsyncRealtime": "Realtime",
            "AsyncAnalytics": "Analytics",
            "AsyncOps": "Ops",
            "AsyncBaseTransport": "BaseTransport",
            "AsyncClient": "Client",
            "aclose": "close",
            "asyncio": "time",
        },
    )
]


def sync_source() -> str:
    """What unasync makes of the asynchronous client."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "_async" / "client.py"
        source.parent.mkdir()
        source.write_text((PACKAGE / "_async" / "client.py").read_text())
        unasync.unasync_files([str(source)], RULES)
        text = (Path(tmp) / "_sync" / "client.py").read_text()
    header = '"""Generated from `_async/client.py` by `python generate.py` (unasync): do not edit."""\n\n'
    body = text.split('"""', 2)[2].lstrip("\n")
    return header + body


def models_source(openapi: str) -> str:
    """What datamodel-code-generator makes of the document."""
    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp) / "openapi.json"
        if openapi.startswith(("http://", "https://")):
            with urllib.request.urlopen(openapi) as answer:  # noqa: S310 (a URL the caller gives)
                document.write_bytes(answer.read())
        else:
            document.write_bytes(Path(openapi).read_bytes())
        output = Path(tmp) / "models.py"
        subprocess.run(
            [
                sys.executable, "-m", "datamodel_code_generator",
                "--input", str(document), "--input-file-type", "openapi",
                "--output", str(output), "--output-model-type", "typing.TypedDict",
                "--target-python-version", "3.10", "--use-standard-collections", "--use-union-operator",
                "--use-schema-description", "--use-field-description", "--disable-timestamp",
                "--no-use-closed-typed-dict", "--formatters", "black", "isort",
                "--custom-file-header",
                "# Generated from the server's /openapi.json by `python generate.py --openapi URL`\n"
                "# (datamodel-code-generator): do not edit.",
            ],
            check=True,
        )
        return output.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--openapi", help="a server's /openapi.json URL, or a file")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    targets = {PACKAGE / "_sync" / "client.py": sync_source()}
    if args.openapi:
        targets[PACKAGE / "models.py"] = models_source(args.openapi)
    stale = []
    for path, text in targets.items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{path.relative_to(HERE)} is not what `python generate.py` makes of its source", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
