#!/usr/bin/env bash
# End to end through the service connectors: jobs submitted with SQL (service_required
# 'openai', 'comfyui', 'a1111', 'comfydeploy') are claimed and run by a real spool-worker
# against the stand-in servers of tests/standins/, and end completed with their outputs in the
# output store — or failed, retried or cancelled as the service's behaviour says.
#   SPOOL_TEST_DATABASE_URL=postgresql://... tests/integration/test_connectors.sh \
#       path/to/spool-worker path/to/spool
# Works in a scratch database of its own (spool_conn_<pid>, dropped at the end) so that the
# worker cannot take other tests' jobs. Skips (exit 77) when SPOOL_TEST_DATABASE_URL is
# unset, python3 is missing, or the scratch database cannot be created.
set -uo pipefail

WORKER=${1:?usage: test_connectors.sh path/to/spool-worker path/to/spool}
SPOOL=${2:?usage: test_connectors.sh path/to/spool-worker path/to/spool}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is missing (the stand-in servers need it): skipping"
    exit 77
fi
unset SPOOL_CONFIG SPOOL_LOG_LEVEL
for v in $(env | grep -o '^SPOOL_WORKER_[A-Z_]*'); do unset "$v"; done

TMP=$(mktemp -d)
DB="spool_conn_$$"
PIDS=()
WORKER_PID=
cleanup() {
    [ -n "$WORKER_PID" ] && kill -KILL "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    psql "$SPOOL_TEST_DATABASE_URL" -qAtX -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" \
        >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT

# The URL of the scratch database: the given URL with another database name.
scratch_url() {
    case "$SPOOL_TEST_DATABASE_URL" in
    postgres://* | postgresql://*)
        python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$SPOOL_TEST_DATABASE_URL" "$DB"
        ;;
    *) echo "$SPOOL_TEST_DATABASE_URL dbname=$DB" ;;
    esac
}
if ! psql "$SPOOL_TEST_DATABASE_URL" -qAtX -c "CREATE DATABASE \"$DB\"" >/dev/null 2>"$TMP/err"; then
    echo "could not create a scratch database ($(head -1 "$TMP/err")): skipping"
    exit 77
fi
URL=$(scratch_url)
if ! "$SPOOL" --database-url "$URL" migrate >"$TMP/migrate.log" 2>&1; then
    echo "not ok - migrate the scratch database"
    cat "$TMP/migrate.log"
    exit 1
fi

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && echo "    $2"
}
psql_q() { psql "$URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# ---- stand-ins ----------------------------------------------------------------------------
declare -A PORT
for s in openai comfyui a1111 comfydeploy; do
    python3 -B "$ROOT/tests/standins/$s.py" --port-file "$TMP/$s.port" >/dev/null 2>"$TMP/$s.log" &
    PIDS+=($!)
done
for s in openai comfyui a1111 comfydeploy; do
    for _ in $(seq 1 300); do [ -s "$TMP/$s.port" ] && break; sleep 0.1; done
    if [ ! -s "$TMP/$s.port" ]; then
        echo "not ok - the $s stand-in did not start"
        cat "$TMP/$s.log"
        exit 1
    fi
    PORT[$s]=$(cat "$TMP/$s.port")
done
standin() { # standin NAME METHOD PATH [BODY]: calls a stand-in, prints the answer
    curl -sS -X "$2" "http://127.0.0.1:${PORT[$1]}$3" ${4:+-d "$4"}
}
standin comfyui POST /_control/config '{"step_ms": 10}' >/dev/null
standin a1111 POST /_control/config '{"step_ms": 10}' >/dev/null
standin comfydeploy POST /_control/config '{"step_ms": 40, "steps": 5}' >/dev/null

# ---- the worker ---------------------------------------------------------------------------
mkdir -p "$TMP/outputs"
cat >"$TMP/worker.conf" <<EOF
database_url = $URL
id = conn-test-$$
connectors = openai,comfyui,a1111,comfydeploy
lease = 3s
poll_interval = 200ms
maintain_interval = 200ms
gpu_detect = off
output_store = local
output_dir = $TMP/outputs
openai_url = http://127.0.0.1:${PORT[openai]}/v1
openai_api_key = sk-test
openai_timeout = 10
comfyui_url = http://127.0.0.1:${PORT[comfyui]}
comfyui_poll_interval = 50
comfyui_timeout = 10
a1111_url = http://127.0.0.1:${PORT[a1111]}
a1111_timeout = 30
comfydeploy_url = http://127.0.0.1:${PORT[comfydeploy]}/api
comfydeploy_api_key = cd-test-key
comfydeploy_timeout = 10
EOF
"$WORKER" --config "$TMP/worker.conf" >"$TMP/worker.log" 2>&1 &
WORKER_PID=$!

# Types with quick retries, so that a retryable failure is retried within the test.
psql_q "SELECT spool.register_type('conn_job', max_attempts => 3, backoff_base_seconds => 0.2,
                                   backoff_max_seconds => 1)" >/dev/null

# submit SERVICE PAYLOAD: prints the new job's id.
# (psql interpolates :'variables' only in what it reads, not in -c.)
submit() {
    psql "$URL" -qAtX -v ON_ERROR_STOP=1 -v payload="$2" -v service="$1" <<'SQL'
SELECT id FROM spool.submit('conn_job', :'payload'::jsonb, service_required => :'service')
SQL
}
# wait_done ID [SECONDS]: waits until the job is completed, dead or cancelled; prints status.
wait_done() {
    local id=$1 limit=${2:-60} st
    [ -n "$id" ] || { echo "not-submitted"; return 1; }
    for _ in $(seq 1 $((limit * 10))); do
        st=$(psql_q "SELECT status FROM spool.jobs WHERE id = '$id'")
        case "$st" in completed | dead | cancelled) echo "$st"; return 0 ;; esac
        sleep 0.1
    done
    echo "${st:-missing}"
}
result() { psql_q "SELECT result FROM spool.jobs WHERE id = '$1'"; }
job_error() { psql_q "SELECT coalesce(error, '') FROM spool.jobs WHERE id = '$1'"; }
attempts() { psql_q "SELECT attempts FROM spool.jobs WHERE id = '$1'"; }
# stored_file URL: the local path behind a file:// output URL, when it exists.
stored_file() {
    local path=${1#file://}
    [ -f "$path" ] && echo "$path"
}

GRAPH='{"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
        "3": {"class_type": "KSampler", "inputs": {"steps": STEPS, "model": ["4", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI"}},
        "12": {"class_type": "VHS_VideoCombine", "inputs": {}}}'
graph() { echo "{\"workflow\": ${GRAPH//STEPS/$1}}"; }

# ---- one job per connector ----------------------------------------------------------------
id_comfy=$(submit comfyui "$(graph 20)")
id_chat=$(submit openai '{"prompt": "hello spool", "model": "gpt-4o-mini", "max_tokens": 20, "temperature": 0.2}')
id_image=$(submit openai '{"operation": "image", "prompt": "a lighthouse", "model": "gpt-image-1", "n": 2}')
id_a1111=$(submit a1111 '{"prompt": "a cat", "steps": 10, "batch_size": 2, "width": 32, "height": 32}')
id_cd=$(submit comfydeploy '{"deployment_id": "15e79589-12c9-453c-a41a-348fdd7de957", "inputs": {"video": true}}')

st=$(wait_done "$id_comfy")
r=$(result "$id_comfy")
if [ "$st" = completed ] &&
    jq -e '(.outputs | length) == 2 and ([.outputs[].media_type] | sort) == ["image/png", "video/mp4"]' \
        <<<"$r" >/dev/null; then
    f=$(stored_file "$(jq -r '.outputs[] | select(.media_type == "image/png") | .url' <<<"$r")")
    if [ -n "$f" ] && [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '211PNG' ]; then
        ok "comfyui job completes with its image and video stored"
    else
        not_ok "comfyui job's image is in the output store" "result: $r"
    fi
else
    not_ok "comfyui job completes with its outputs" "status=$st result=$r error=$(job_error "$id_comfy")"
fi
if standin comfyui GET /_control/log | jq -e --arg id "$id_comfy" \
    'any(.[]; .path == "/prompt" and .body.client_id == ("spool-" + $id))' >/dev/null; then
    ok "comfyui got the workflow with client_id spool-<job id>"
else
    not_ok "comfyui got the workflow with client_id spool-<job id>"
fi

st=$(wait_done "$id_chat")
r=$(result "$id_chat")
if [ "$st" = completed ] && jq -e '.text == "Echo: hello spool" and .usage.total_tokens > 0' \
    <<<"$r" >/dev/null && ! grep -q sk-test <<<"$r"; then
    ok "openai chat job completes with its text and usage"
else
    not_ok "openai chat job completes with its text and usage" "status=$st result=$r error=$(job_error "$id_chat")"
fi
if grep -q 'sk-test' "$TMP/worker.log"; then
    not_ok "the OpenAI key never reaches the worker's log"
else
    ok "the OpenAI key never reaches the worker's log"
fi

st=$(wait_done "$id_image")
r=$(result "$id_image")
if [ "$st" = completed ] && jq -e '(.images | length) == 2 and .images[0].media_type == "image/png"
        and .images[0].width == 16 and .usage.total_tokens > 0' <<<"$r" >/dev/null &&
    [ -n "$(stored_file "$(jq -r '.images[1].url' <<<"$r")")" ]; then
    ok "openai image job stores its images and records usage"
else
    not_ok "openai image job stores its images and records usage" "status=$st result=$r error=$(job_error "$id_image")"
fi

st=$(wait_done "$id_a1111")
r=$(result "$id_a1111")
if [ "$st" = completed ] && jq -e '(.images | length) == 2 and .images[0].width == 32
        and (.seeds | length) == 2' <<<"$r" >/dev/null; then
    ok "a1111 job completes with its images stored"
else
    not_ok "a1111 job completes with its images stored" "status=$st result=$r error=$(job_error "$id_a1111")"
fi

st=$(wait_done "$id_cd")
r=$(result "$id_cd")
if [ "$st" = completed ] && jq -e '(.outputs | length) == 2 and .outputs[1].kind == "gifs"
        and .outputs[1].media_type == "video/mp4"' <<<"$r" >/dev/null &&
    [ -n "$(stored_file "$(jq -r '.outputs[1].url' <<<"$r")")" ]; then
    ok "comfydeploy job completes with its image and video stored"
else
    not_ok "comfydeploy job completes with its image and video stored" "status=$st result=$r error=$(job_error "$id_cd")"
fi

# ---- failures: permanent ones end dead at once, retryable ones are retried ----------------
id_bad=$(submit comfyui '{"workflow": {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "nope.safetensors"}}, "9": {"class_type": "SaveImage", "inputs": {}}}}')
st=$(wait_done "$id_bad")
e=$(job_error "$id_bad")
if [ "$st" = dead ] && [ "$(attempts "$id_bad")" = 1 ] && grep -q "Value not in list" <<<"$e"; then
    ok "an invalid workflow fails permanently with ComfyUI's message"
else
    not_ok "an invalid workflow fails permanently with ComfyUI's message" "status=$st attempts=$(attempts "$id_bad") error=$e"
fi

standin openai POST /_control/fault \
    '{"match": "POST /v1/chat", "action": "preset", "preset": "server_error", "count": 1}' >/dev/null
id_retry=$(submit openai '{"prompt": "again"}')
st=$(wait_done "$id_retry")
if [ "$st" = completed ] && [ "$(attempts "$id_retry")" = 2 ]; then
    ok "a 500 from OpenAI is retried, and the retry completes"
else
    not_ok "a 500 from OpenAI is retried, and the retry completes" "status=$st attempts=$(attempts "$id_retry") error=$(job_error "$id_retry")"
fi

standin openai POST /_control/fault \
    '{"match": "POST /v1/chat", "action": "preset", "preset": "quota", "count": 1}' >/dev/null
id_quota=$(submit openai '{"prompt": "no credit"}')
st=$(wait_done "$id_quota")
if [ "$st" = dead ] && [ "$(attempts "$id_quota")" = 1 ]; then
    ok "an OpenAI quota error is not retried"
else
    not_ok "an OpenAI quota error is not retried" "status=$st attempts=$(attempts "$id_quota")"
fi

# ---- cancellation reaches the service ------------------------------------------------------
id_long=$(submit comfyui "$(graph 5000)")
for _ in $(seq 1 100); do
    [ "$(psql_q "SELECT status FROM spool.jobs WHERE id = '$id_long'")" = running ] && break
    sleep 0.1
done
sleep 0.5
psql_q "SELECT status FROM spool.cancel('$id_long', 'test')" >/dev/null
st=$(wait_done "$id_long" 30)
if [ "$st" = cancelled ] &&
    standin comfyui GET /_control/log | jq -e 'any(.[]; .path == "/interrupt")' >/dev/null; then
    ok "cancelling a running comfyui job interrupts ComfyUI"
else
    not_ok "cancelling a running comfyui job interrupts ComfyUI" "status=$st error=$(job_error "$id_long")"
fi

if kill -0 "$WORKER_PID" 2>/dev/null; then
    ok "the worker is still running"
else
    not_ok "the worker is still running"
fi
kill -TERM "$WORKER_PID" 2>/dev/null
wait "$WORKER_PID"
rc=$?
WORKER_PID=
if [ "$rc" = 0 ]; then ok "the worker exits 0 on SIGTERM"; else not_ok "the worker exits 0 on SIGTERM" "rc=$rc"; fi

echo "# $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    echo "# worker log (last 40 lines):"
    tail -n 40 "$TMP/worker.log" | sed 's/^/#   /'
    exit 1
fi
exit 0
