"""The licence check (.ci/licenses.py) refuses network-copyleft and source-available licences."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from tests.conftest import ROOT


def _checker():
    spec = importlib.util.spec_from_file_location("ci_licenses", ROOT / ".ci" / "licenses.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hosted_service_licences_are_refused_and_copyleft_that_allows_it_passes():
    rows = [{"Name": n, "Version": "1", "License": lic} for n, lic in [
        ("a", "GNU Affero General Public License v3"), ("b", "AGPL-3.0-only"), ("c", "SSPL-1.0"),
        ("d", "BUSL-1.1"), ("e", "Elastic License 2.0"), ("f", "GPL-3.0-or-later"), ("g", "LGPL-3.0-only"),
        ("h", "MIT License"), ("i", "Apache-2.0")]]
    assert [row["Name"] for row in _checker().forbidden(rows)] == ["a", "b", "c", "d", "e"]


def test_the_installed_dependencies_pass_the_licence_check():
    result = subprocess.run([sys.executable, str(ROOT / ".ci" / "licenses.py")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
