#!/usr/bin/env bash
# Checks template.yaml: cfn-lint on the SAM template, then the SAM transform (aws-sam-translator,
# offline) and cfn-lint again on the expanded CloudFormation, which catches dangling !Refs and bad
# event types that cfn-lint alone no longer sees.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_tools
"$VENV/bin/cfn-lint" --regions us-east-1 -- template.yaml
mkdir -p target
"$VENV/bin/python" "$ROOT/infra/sam_expand.py" template.yaml target/template.expanded.json
"$VENV/bin/cfn-lint" --regions us-east-1 -- target/template.expanded.json
echo "template.yaml: cfn-lint clean (SAM and expanded)"
