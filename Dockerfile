# Builds the roster binary (controllers, directory API server, local mode) as a
# static executable and ships it on a non-root distroless base.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# The version and commit `roster version` prints (make docker-build passes
# them from git describe).
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY apiserver/ apiserver/
COPY internal/ internal/
COPY config/ config/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w \
      -X github.com/roster-dev/roster/internal/version.Version=${VERSION} \
      -X github.com/roster-dev/roster/internal/version.Commit=${COMMIT}" -o roster .

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/roster /roster
USER 65532:65532
ENTRYPOINT ["/roster"]
