#!/bin/bash
# S3 against s3rver: init (bucket created), two backups, restore, mount,
# diff -r, check; paginated listing; multipart upload; write-once; a missing
# repository is reported with the object and status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
start_s3rver || { fail "s3rver did not start (make test-deps installs it): $(tail -3 "$T/s3rver.log" 2>/dev/null)"; exit 1; }
E="endpoint=http://127.0.0.1:$S3_PORT&path_style=1"

roundtrip s3 "s3://imdr-test/repo?$E"
objects s3 "s3://imdr-test/raw?$E"
# 1 MiB multipart parts.
roundtrip s3multipart "s3://imdr-multi/repo?$E&multipart_over=1048576"
# listing pages of one key from s3rver itself (continuation tokens)
check "s3rver listings in pages of one key see both snapshots" \
	test "$("$IMDR" snapshots "s3://imdr-test/repo?$E&max_keys=1" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2
check "check --read-data through pages of one key" "$IMDR" check "s3://imdr-test/repo?$E&max_keys=1" --read-data
# listing pages of two keys through the paging proxy: every object is seen
python3 "$TOP/tests/tools/s3pager.py" "$S3_PORT" "$T/pager.port" &
on_exit "kill $!"
for i in $(seq 1 50); do [ -s "$T/pager.port" ] && break; sleep 0.1; done
P="endpoint=http://127.0.0.1:$(cat "$T/pager.port")&path_style=1"
check "listings in pages of two (continuation tokens) see both snapshots" \
	test "$("$IMDR" snapshots "s3://imdr-test/repo?$P" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2
check "check through paged listings (index, packs) finds everything" "$IMDR" check "s3://imdr-test/repo?$P"
# objects are written once
out=$("$IMDR" init "s3://imdr-test/repo?$E" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *exists* ]]; then pass "init over an existing repository is refused ($out)"; else fail "re-init: rc=$rc $out"; fi
out=$("$IMDR" snapshots "s3://imdr-test/nothing-here?$E" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *nothing-here* ]]; then pass "a missing repository is named ($out)"; else fail "missing repo: rc=$rc $out"; fi
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=/nonexistent "$IMDR" snapshots "s3://imdr-test/repo?$E" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"no S3 credentials"* ]]; then pass "missing credentials are a clear error"; else fail "no creds: rc=$rc $out"; fi
# credentials from a file, not the environment
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/creds"; chmod 600 "$T/creds"
check "credentials from a shared credentials file" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/creds" "$IMDR" snapshots "s3://imdr-test/repo?$E"
# the secret never shows in ps or in messages
"$IMDR" snapshots "s3://imdr-test/repo?$E" >"$T/snaps.out" 2>&1
check "the secret key appears in no output" sh -c "! grep -q S3RVER '$T/snaps.out'"
# a session token, like the secret, never shows (not even with IMDR_DEBUG)
out=$(AWS_SESSION_TOKEN=tok-never-printed-5150 IMDR_DEBUG=1 "$IMDR" snapshots "s3://imdr-test/repo?$E" 2>&1; AWS_SESSION_TOKEN=tok-never-printed-5150 IMDR_DEBUG=1 "$IMDR" snapshots "s3://imdr-test/none?$E" 2>&1)
check "the session token appears in no output, even with IMDR_DEBUG" sh -c "! printf '%s' \"\$1\" | grep -q never-printed" _ "$out"
# malformed URLs: one clear line each, before any request
for bad in "s3://imdr-test/repo?$E&path-style=1|unknown option \"path-style\"" \
	"s3://imdr-test/repo?endpoint=ftp://127.0.0.1:$S3_PORT|want http://" \
	"s3://AKID:secret@imdr-test/repo?$E|never in the URL" \
	"s3://imdr-test/repo?$E&connections=0|connections=0" \
	"s3://?$E|no bucket"; do
	u=${bad%%|*} want=${bad#*|}
	out=$("$IMDR" snapshots "$u" 2>&1); rc=$?
	if [ $rc -ne 0 ] && [[ "$out" == *"$want"* ]] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ "$out" != *secret* ]]; then
		pass "bad URL refused in one line: $out"
	else
		fail "bad URL $u: rc=$rc $out"
	fi
done
exit 0
