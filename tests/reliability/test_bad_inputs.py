"""Bad API graphs and hostile LoRA files against a live server (issue 12): every case is refused with an HTTP 400
or a node error whose message names the input (or the missing node id / the file), and the server answers
``GET /system_stats`` after each one. Counts per class, the longest case and the outcomes are printed (``-s``)."""
import collections
import json

import requests

from forgeline.tests.reliability.bad_graphs import cases, lora_file_graph
from forgeline.tests.reliability.harness import answering, run_case

SEED = 12
# Nodes added after this tier was written (infotext, batches, training, X/Y/Z): their bad-input messages are checked
# by their own e2e tests for now; the generic generator's cases for them still run and must keep the server up.
NOT_YET_NAMED = set()  # was: {"ForgelineA1111Parameters", "ForgelineBatchPrompts", "ForgelineSaveImageA1111",
#  "ForgelineTrainLoraACRF", "ForgelineXYZPlot", "ForgelineXYZCell", "ForgelineXYZGridAssemble"}


def _names_it(text, name, mutation):
    text = text.lower()
    if mutation == "missing_node":
        return "nope" in text
    return name.lower() in text


def test_bad_graphs_for_every_pack_node(reliability_server):
    url = reliability_server.url
    info = requests.get(url + "/object_info", timeout=300).json()
    generated = cases(info, seed=SEED)
    nodes = {c[1] for c in generated}
    assert len(nodes) >= 12, sorted(nodes)           # every wireable Forgeline node is covered
    failures, counts, longest = [], collections.Counter(), (0.0, "")
    for case_id, node, name, mutation, graph in generated:
        outcome, text, seconds = run_case(url, graph)
        kind = ("number" if mutation in ("nan", "inf", "-inf", "1e308", "str_nan", "str_inf", "str_1e9", "abc",
                                         "dict", "10**30") and name not in ("text",) and "schedule" not in name
                and "block_weights" not in name else "link" if mutation in ("missing_node", "not_a_pair")
                else "string/combo")
        counts[(kind, outcome)] += 1
        longest = max(longest, (seconds, case_id))
        if node in NOT_YET_NAMED:
            pass
        elif outcome not in ("400", "node_error"):
            failures.append(f"{case_id}: {outcome} {text[:300]}")
        elif not _names_it(text, name, mutation):
            failures.append(f"{case_id}: {outcome} does not name '{name}': {text[:400]}")
        if not answering(url):
            failures.append(f"{case_id}: server stopped answering /system_stats")
            break
    print("\nreliability graph cases:", len(generated), "nodes:", len(nodes))
    print(json.dumps({f"{k[0]} -> {k[1]}": v for k, v in sorted(counts.items())}, indent=1))
    print(f"longest case: {longest[1]} {longest[0]:.2f} s")
    print("\n".join(f[:200] for f in failures))
    assert not failures, "\n".join(failures)


def test_hostile_lora_files_are_refused_naming_the_file(reliability_server):
    url = reliability_server.url
    failures, longest = [], (0.0, "")
    for name, words in sorted(reliability_server.bad_loras.items()):
        outcome, text, seconds = run_case(url, lora_file_graph(name))
        longest = max(longest, (seconds, name))
        low = text.lower()
        if outcome not in ("400", "node_error"):
            failures.append(f"{name}: {outcome} {text[:300]}")
        elif name.rsplit(".", 1)[0].lower() not in low or not any(w in low for w in words):
            failures.append(f"{name}: {outcome} message lacks the file name or one of {words}: {text[:400]}")
        if not answering(url):
            failures.append(f"{name}: server stopped answering /system_stats")
            break
    print(f"\nhostile LoRA files: {len(reliability_server.bad_loras)}, longest {longest[1]} {longest[0]:.2f} s")
    assert not reliability_server.canary.exists(), "a pickle wrote a file when the loader read it"
    assert not failures, "\n".join(failures)
