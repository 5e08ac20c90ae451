# halo-forge ui in headless Chromium (tests/ui/browser.js, playwright-core from tests/ui/node_modules and
# Debian's chromium, both installed by scripts/setup-tests.sh; without them the test fails): the charts of
# a finished tiny run, a sample, the comparison, the playground, and a benchmark full started from the
# page and stopped with its Stop button. Screenshots: <build>/ui-screenshots/.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

[ -d "$SRC/tests/ui/node_modules/playwright-core" ] || { echo "FAIL: tests/ui/node_modules missing: run scripts/setup-tests.sh"; exit 1; }
command -v chromium >/dev/null || { echo "FAIL: chromium missing: run scripts/setup-tests.sh"; exit 1; }
SHOTS="$(cd "$(dirname "$HF")" && pwd)/ui-screenshots"
rm -rf "$SHOTS"

cp -r "$SRC/models/tiny-coder" model
"$HF" -q benchmark full --model model --cycles 1 --samples-per-prompt 2 --max-new-tokens 96 --monitor-interval 0.2 \
    --output runs/done >/dev/null 2>bf.err || { echo "FAIL: benchmark full for the fixture"; cat bf.err; exit 1; }

"$HF" ui --port 0 --runs runs >ui.out 2>ui.err &
ui=$!
trap 'kill -INT $ui 2>/dev/null; wait; rm -rf "$T"' EXIT
for _ in $(seq 1 600); do grep -qs '^halo-forge ui: http' ui.out && break; sleep 0.1; done
URL=$(sed -n 's/^halo-forge ui: \(http[^ ?]*\).*/\1/p' ui.out)
expect_rc 0 "the dashboard in Chromium" -- node "$SRC/tests/ui/browser.js" "$URL" "$SHOTS" 2/done
cat "$T/out"
kill -INT $ui
wait $ui
expect_rc 0 "the launched run was stopped, keeping its work" -- test -s runs/browser-launch/baseline_generated.jsonl -o -s runs/browser-launch/baseline_samples.jsonl
expect_grep '"status":	"interrupted"' runs/browser-launch/run.json "run.json says interrupted"
finish
