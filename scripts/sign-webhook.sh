#!/usr/bin/env bash
# Sends a webhook signed the way a provider signs it, so a workflow's `verify` block can be
# tested before the provider is wired. Uses only openssl, base64 and curl.
#
#   scripts/sign-webhook.sh SCHEME URL BODY_FILE        (the secret is read from $SECRET)
#   SCHEME: github | stripe | slack | shopify | standard_webhooks
#   PRINT=1 prints the signature headers instead of sending.
#
# Example:
#   SECRET='It'"'"'s a Secret to Everybody' scripts/sign-webhook.sh github \
#     http://127.0.0.1:3000/webhooks/wf_... body.json
set -euo pipefail

scheme=${1:?scheme}; url=${2:?url}; body_file=${3:?body file}
: "${SECRET:?set SECRET to the signing secret of the workflow}"
ts=$(date +%s)

# HMAC-SHA256 of stdin with the key given as hex, so any secret bytes (also base64-decoded
# Standard Webhooks keys) pass through unchanged.
hmac_hex() { openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" | sed 's/^.*= //'; }
hex_of() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
key_hex=$(hex_of "$SECRET")

headers=()
case "$scheme" in
  github)
    sig=$(hmac_hex "$key_hex" < "$body_file")
    headers+=(-H "X-Hub-Signature-256: sha256=$sig") ;;
  stripe)
    sig=$( { printf '%s.' "$ts"; cat "$body_file"; } | hmac_hex "$key_hex")
    headers+=(-H "Stripe-Signature: t=$ts,v1=$sig") ;;
  slack)
    sig=$( { printf 'v0:%s:' "$ts"; cat "$body_file"; } | hmac_hex "$key_hex")
    headers+=(-H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: v0=$sig") ;;
  shopify)
    sig=$(hmac_hex "$key_hex" < "$body_file" | xxd -r -p | base64)
    headers+=(-H "X-Shopify-Hmac-Sha256: $sig") ;;
  standard_webhooks)
    id="msg_$(date +%s%N)"
    key_hex=$(printf '%s' "${SECRET#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
    sig=$( { printf '%s.%s.' "$id" "$ts"; cat "$body_file"; } | hmac_hex "$key_hex" | xxd -r -p | base64)
    headers+=(-H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig") ;;
  *) echo "unknown scheme $scheme" >&2; exit 2 ;;
esac

if [[ -n "${PRINT:-}" ]]; then
  printf '%s\n' "${headers[@]}" | grep -v '^-H$'
  exit 0
fi
curl -sS -i -X POST "$url" -H 'content-type: application/json' "${headers[@]}" --data-binary "@$body_file"
