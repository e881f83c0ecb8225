#!/bin/sh
# The example API "service".
if [ "${1:-}" = "--selftest" ]; then
  echo "api: selftest ok"
  exit 0
fi
echo "api: serving on :8080"
