"""Fail when an installed Python package is under a licence that forbids running Frontdesk as a
hosted service: network copyleft (AGPL), or a source-available licence (SSPL, BUSL, the
Elastic License, Commons Clause, ...). GPL and LGPL allow it (running a service is not
distributing it), so they pass. Reads what pip-licenses finds in this environment.

Run by `make licenses` (part of `make test`): .venv/bin/python .ci/licenses.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

FORBIDDEN = re.compile(
    r"\bAGPL|Affero|\bSSPL|Server Side Public|\bBUSL|Business Source|Commons Clause|Elastic License"
    r"|Confluent Community|\bSSAL\b|Polyform|Functional Source|\bFSL-",
    re.IGNORECASE,
)


def forbidden(packages: list[dict]) -> list[dict]:
    """The packages (pip-licenses' JSON rows) whose licence names a forbidden one."""
    return [p for p in packages if FORBIDDEN.search(p.get("License", ""))]


def main() -> int:
    pip_licenses = Path(sys.executable).parent / "pip-licenses"
    output = subprocess.run([str(pip_licenses), "--from=mixed", "--format=json"], check=True,  # noqa: S603 (our own tool)
                            capture_output=True, text=True).stdout
    packages = json.loads(output)
    bad = forbidden(packages)
    for package in bad:
        print(f"licence check: {package['Name']} {package['Version']} is under {package['License']}, "
              "which forbids running Frontdesk as a hosted service", file=sys.stderr)
    if not bad:
        print(f"licence check: {len(packages)} packages, none under a licence that forbids a hosted service")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
