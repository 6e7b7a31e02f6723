"""Every bundled workflow over the real API: its API twin is fresh (regenerated from the UI file with this
server's /object_info → byte-identical) and it runs to an image (quick mode: 64×64, ≤ 3 steps on stand-ins)."""
import json
from pathlib import Path

import pytest

from forgeline.scripts.forgeline_client import quick_overrides
from forgeline.scripts.workflow_convert import dumps, ui_to_api

EXAMPLES = Path(__file__).resolve().parents[2] / "example_workflows"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))


def test_every_workflow_has_an_api_twin_and_a_jpg_thumbnail():
    assert len(NAMES) >= 6
    for name in NAMES:
        assert (EXAMPLES / "api" / f"{name}.json").is_file(), f"api twin of {name} missing: run make workflows"
        assert (EXAMPLES / f"{name}.jpg").read_bytes()[:3] == b"\xff\xd8\xff", f"{name}.jpg missing or not JPEG"
    assert sorted(p.stem for p in (EXAMPLES / "api").glob("*.json")) == NAMES


@pytest.fixture(scope="module")
def object_info(client):
    return client.object_info()


@pytest.mark.parametrize("name", NAMES)
def test_api_twin_is_not_stale(object_info, name):
    ui = json.loads((EXAMPLES / f"{name}.json").read_text())
    assert dumps(ui_to_api(ui, object_info)) == (EXAMPLES / "api" / f"{name}.json").read_text(), \
        f"example_workflows/api/{name}.json is stale: run `make workflows`"


@pytest.mark.parametrize("name", NAMES)
def test_workflow_runs_over_the_api(client, name):
    prompt = quick_overrides(json.loads((EXAMPLES / "api" / f"{name}.json").read_text()))
    result = client.run(prompt)
    assert result.status == "success", result.error
    images = [i for i in result.images() if i.get("type") == "output"]
    assert images and client.view(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
