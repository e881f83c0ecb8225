#!/bin/sh
# Shared shell helpers of the example monorepo.
common_greeting() { echo "hello from common"; }
if [ "${1:-}" = selftest ]; then
  [ "$(common_greeting)" = "hello from common" ] && echo "common: ok"
fi
