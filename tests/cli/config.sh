# config validate and the flag/config machinery, end to end.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

cat > raft_ok.yaml <<'Y'
output_dir: out
prompts: p.jsonl
learning_rate: 5e-5
raft:
  num_cycles: 3
  reward_threshold: 0.5
Y
expect_rc 0 "valid raft config" -- "$HF" config validate raft_ok.yaml
expect_grep "valid raft config" "$T/out" "says valid"

cat > raft_bad.yaml <<'Y'
prompts: p.jsonl
learning_rate: fast
raft:
  num_cycles: 0
generation:
  temperature: 3
Y
expect_rc 1 "invalid raft config" -- "$HF" config validate raft_bad.yaml
expect_grep "raft_bad.yaml:2: learning_rate: expected a number" "$T/err" "names line and key of a bad number"
expect_grep "raft_bad.yaml:4: raft.num_cycles" "$T/err" "names the out-of-range key"
expect_grep "generation.temperature" "$T/err" "checks temperature"
expect_grep "warning: .*output_dir: not set: raft train writes to models/raft" "$T/err" "a missing output_dir is a warning (raft train has a default)"

printf 'model:\n  name: m\n' > sft_cfg.yaml
expect_rc 1 "sft config missing keys" -- "$HF" config validate sft_cfg.yaml
expect_grep "data.train_file" "$T/err" "names missing sft key"

printf 'a: [1, 2\n' > broken.yaml
expect_rc 1 "YAML syntax error" -- "$HF" config validate broken.yaml
expect_grep "broken.yaml:[0-9]+" "$T/err" "syntax error has a line"

expect_rc 1 "missing file" -- "$HF" config validate nope.yaml
expect_grep "nope.yaml" "$T/err" "names the missing file"
expect_rc 2 "no file argument" -- "$HF" config validate
expect_rc 2 "bad --type" -- "$HF" config validate --type xyz raft_ok.yaml
expect_rc 0 "help" -- "$HF" config validate --help
expect_grep "Usage: halo-forge config validate" "$T/out" "help text"
expect_rc 2 "unknown command" -- "$HF" frobnicate
expect_rc 2 "unknown subcommand" -- "$HF" config frob
expect_rc 0 "version" -- "$HF" --version
finish
