#!/bin/sh
# Starts the LocalStack runtime in the foreground, as the official image's supervisor does.
set -eu
exec python3 -m localstack.runtime.main "$@"
