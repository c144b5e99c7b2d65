#!/bin/bash
# Retention on S3 (s3rver) and Azure (Azurite): the same scenario as the
# local one (tests/integration/lifecycle.lib): forget, holds, prune, check,
# restores of every kept snapshot, a lost pack repaired.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
. "$(dirname "$0")/lifecycle.lib"

if start_s3rver; then
	scenario s3 "s3://imdr-life/repo?endpoint=http://127.0.0.1:$S3_PORT&path_style=1" 6
else
	fail "s3rver did not start (make test-deps installs it): $(tail -3 "$T/s3rver.log" 2>/dev/null)"
fi
if start_azurite; then
	scenario azure "azure://devstoreaccount1/imdrlife/repo?endpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1" 6
else
	fail "azurite did not start (make test-deps installs it): $(tail -3 "$T/azurite.log" 2>/dev/null)"
fi
