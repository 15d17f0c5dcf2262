#!/usr/bin/env bash
# Issues (or rotates) the directory server's serving certificate without
# cert-manager: a CA and a certificate for roster-directory.roster-system.svc,
# stored in Secret roster-system/roster-directory-tls, and the CA written into
# the APIService's caBundle. Run it after `kubectl apply -k config/default`,
# and again before the certificate expires (DAYS, default 365).
#
# Rotation: the script makes a new CA each run and patches the caBundle in
# the same run; kube-apiserver picks up the new caBundle at once and the
# directory pods reload the mounted Secret on their own (the serving
# certificate is watched on disk), so there is no downtime beyond the kubelet's
# Secret sync period (about a minute), during which the old pods keep serving.
set -euo pipefail

NAMESPACE="${NAMESPACE:-roster-system}"
SERVICE="${SERVICE:-roster-directory}"
DAYS="${DAYS:-365}"
KUBECTL="${KUBECTL:-kubectl}"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days "${DAYS}" -subj "/CN=roster-directory-ca" \
  -keyout "${work}/ca.key" -out "${work}/ca.crt" 2>/dev/null
cat >"${work}/san.cnf" <<CNF
[req]
distinguished_name = dn
[dn]
[ext]
subjectAltName = DNS:${SERVICE}.${NAMESPACE}.svc,DNS:${SERVICE}.${NAMESPACE}.svc.cluster.local
extendedKeyUsage = serverAuth
keyUsage = digitalSignature,keyEncipherment
CNF
openssl req -newkey rsa:2048 -nodes -subj "/CN=${SERVICE}.${NAMESPACE}.svc" \
  -keyout "${work}/tls.key" -out "${work}/tls.csr" -config "${work}/san.cnf" 2>/dev/null
openssl x509 -req -in "${work}/tls.csr" -CA "${work}/ca.crt" -CAkey "${work}/ca.key" -CAcreateserial \
  -days "${DAYS}" -extfile "${work}/san.cnf" -extensions ext -out "${work}/tls.crt" 2>/dev/null

"${KUBECTL}" -n "${NAMESPACE}" create secret generic "${SERVICE}-tls" --type kubernetes.io/tls \
  --from-file=tls.crt="${work}/tls.crt" --from-file=tls.key="${work}/tls.key" --from-file=ca.crt="${work}/ca.crt" \
  --dry-run=client -o yaml | "${KUBECTL}" apply -f -
"${KUBECTL}" patch apiservice v1alpha1.directory.roster.dev --type merge \
  -p "{\"spec\":{\"caBundle\":\"$(base64 -w0 <"${work}/ca.crt")\"}}"
echo "directory-certs: issued ${SERVICE}.${NAMESPACE}.svc for ${DAYS} days and updated the APIService caBundle"
