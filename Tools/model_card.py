#!/usr/bin/python3
"""Writes a model card (MODELDIR/README.md) from the model's own record and a measured evaluation.

  Tools/model_card.py MODELDIR --title T --data-note TEXT --eval-command CMD --eval-output FILE [--extra FILE]

Everything numeric comes from files: the `training` section of MODELDIR/model.json (written by
`forger train`: command, data, steps, epochs, wall time, machine, final losses) and the table
that `forger evaluate` printed (FILE). The card shows samples.png and progress.gif from MODELDIR.
"""
import argparse, json, os

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--title", required=True)
p.add_argument("--data-note", required=True)
p.add_argument("--eval-command", required=True)
p.add_argument("--eval-output", required=True)
p.add_argument("--extra", help="markdown appended at the end (e.g. a look at the results)")
p.add_argument("--wall-note", help="added to the wall-time cell, e.g. the time of earlier runs this one resumed")
a = p.parse_args()

m = json.load(open(os.path.join(a.model, "model.json")))
t = m.get("training", {})
minutes = t.get("wall_seconds_this_run", 0) / 60
losses = t.get("final_losses", {})
size = os.path.getsize(os.path.join(a.model, "weights.safetensors"))
out = m["output"]
lat = m["latent"]
dist = lat["distribution"]
prior = "N(0, 1)" if dist["kind"] == "normal" else "U(%s, %s)" % (dist["low"], dist["high"])
# The commands keep the training machine's absolute paths; say where each root comes from.
ROOTS = [
    ("/work/shared/data", "`/work/shared/data` is the project's `../shared/data`"),
    ("/tmp/lfw/lfwcrop-color-64", "`/tmp/lfw/lfwcrop-color-64` is `../shared/data/faces/lfwcrop-color-64.tar`, "
                                  "extracted with `mkdir -p /tmp/lfw && tar xf ../shared/data/faces/lfwcrop-color-64.tar -C /tmp/lfw`"),
    ("/usr/share/datasets/fashion-mnist", "`/usr/share/datasets/fashion-mnist` is Debian's `dataset-fashion-mnist` package"),
    ("/work/train-runs", "`/work/train-runs` is a scratch folder outside the repository (any will do)"),
]


def paths_note(commands):
    said = [text for root, text in ROOTS if root in commands]
    return ["The paths are those of the training machine: " + "; ".join(said) + ".", ""] if said else []


lines = [
    "# %s — %s" % (m["name"], a.title), "",
    m.get("description", ""), "",
    "![samples](samples.png)", "",
    "| | |", "|---|---|",
    "| output | %d x %d x %d, range [%s, %s] |" % (out["channels"], out["height"], out["width"], out["range"][0], out["range"][1]),
    "| latent | %d values, %s |" % (lat["size"], prior),
    "| architecture | %s (%d layers; `forger info %s` prints the table) |" % (t.get("architecture", "?"), len(m["layers"]), m["name"]),
    "| weights | %.0f KB float32 safetensors |" % (size / 1024),
    "| data | %s |" % a.data_note,
    "| training | %s steps, %s epochs, batch %s, %s loss; G %s; D %s; seed %s |" % (
        t.get("steps"), t.get("epochs"), t.get("batch_size"), t.get("loss"), t.get("generator_optimizer"),
        t.get("discriminator_optimizer"), t.get("seed")),
    "| wall time | %.1f minutes (%s%s) |" % (minutes, "ran to its last step" if t.get("finished") else "stopped by --time-limit",
                                            "; " + a.wall_note if a.wall_note else ""),
    "| machine | %s, shared with other jobs |" % t.get("machine", "?"),
    "| final losses | D %.3f, G %.3f, D(x) %.2f, D(G(z)) %.2f |" % (
        losses.get("discriminator", float("nan")), losses.get("generator", float("nan")),
        losses.get("d_real", float("nan")), losses.get("d_fake", float("nan"))),
    "", "## Training command", "", "```sh", t.get("command", "?"), "```", "",
] + paths_note(t.get("command", "") + " " + a.eval_command) + [
    "Training progress (sample grids of a fixed noise batch):", "", "![progress](progress.gif)", "",
    "## Evaluation", "", "```sh", a.eval_command, "```", "", "```", open(a.eval_output).read().rstrip(), "```", "",
]
if a.extra:
    lines += [open(a.extra).read().rstrip(), ""]
open(os.path.join(a.model, "README.md"), "w").write("\n".join(lines))
print("wrote", os.path.join(a.model, "README.md"))
