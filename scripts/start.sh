#!/usr/bin/env bash
# `npm start`: build the snippet and the collector, then run the collector on 127.0.0.1 with the
# demo page and the event inspector. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

LISTEN=${SCANTRACK_LISTEN:-127.0.0.1:8787}

bash scripts/build.sh
cargo build --profile collector --locked -p scantrack-collector

echo
echo "scantrack demo:      http://$LISTEN/demo/"
echo "event inspector:     http://$LISTEN/"
echo "(Ctrl-C to stop; events are kept in scantrack.db)"
echo
exec target/collector/scantrack-collector --listen "$LISTEN" --db scantrack.db --www www --dist dist
