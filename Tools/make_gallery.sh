#!/usr/bin/env bash
# Renders the README's gallery from the shipped models (Models/). Each command is the one shown
# beside its picture in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.build/release/forger
[ -x "$F" ] || swift build -c release --static-swift-stdlib --product forger   # as Tools/setup.sh builds it
G=docs/gallery
mkdir -p "$G"
$F sample mnist -n 64 --seed 1 -o $G/mnist-samples.png -q --force
$F walk mnist --keyframes seed:1,seed:2,seed:3,seed:4,seed:5 --frames 12 --easing smoothstep --hold 4 --loop -o $G/mnist-walk.gif -q --force
$F sweep mnist --base seed:7 --dims 0..15 --rank --top 8 --steps 9 -o $G/mnist-sweep.png -q --force
$F directions mnist --method sefa -o "$(mktemp -d)/mnist-dirs.json" --grid $G/mnist-sefa.png --base seed:7 -q --force
$F sample fashion -n 64 --seed 1 -o $G/fashion-samples.png -q --force
$F sweep fashion --base seed:7 --dims 0..63 --rank --top 8 --steps 9 -o $G/fashion-sweep.png -q --force
$F walk faces28 --circle --circle-frames 48 --plane-seed 5 --scale 3 -o $G/faces28-circle.gif -q --force
$F arith faces28 "mean(seed:1,seed:2,seed:3) - mean(seed:4,seed:5,seed:6) + mean(seed:7,seed:8,seed:9)" --neighbours 4 -o $G/faces28-arith.png -q --force
$F analogy faces28 seed:11 seed:12 seed:13 --steps 5 -o $G/faces28-analogy.png -q --force
$F sample faces64 -n 64 --seed 1 -o $G/faces64-samples.png -q --force
$F walk faces64 --keyframes seed:1,seed:2,seed:3,seed:4 --frames 12 --easing smoothstep --hold 3 --loop -o $G/faces64-walk.gif -q --force
$F toy --seed 1 -o $G/toy.gif -q --force
$F toy --seed 0 --momentum 0.9 -o $G/toy-momentum-0.9.gif -q --force
rm -f $G/*.recipe.json
