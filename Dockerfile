# syntax=docker/dockerfile:1

# ---------------------------------------------------------------------------
# Build stage: compile the API server as a static, pure-Go binary.
# Runs on the builder's native platform and cross-compiles for the target
# platform, so `docker buildx build --platform linux/arm64,linux/amd64` is fast.
# ---------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.26 AS build

WORKDIR /src

# Module download in its own layer: it is only re-run when go.mod/go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
# go.mod replaces FerretDB with the patched copy in third_party/ferretdb; the download
# needs that module's go.mod and go.sum (its sources come with COPY . . below).
COPY third_party/ferretdb/go.mod third_party/ferretdb/go.sum ./third_party/ferretdb/
RUN go mod download

COPY . .

# Provided by BuildKit for the platform being built.
ARG TARGETOS
ARG TARGETARCH

# CGO_ENABLED=0: the embedded store (FerretDB over modernc SQLite) is pure Go,
# so the binary is fully static and runs on distroless/static (no libc).
# The go-build cache mount keeps incremental rebuilds fast.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/server ./server

# distroless has no shell (no mkdir), so prepare DATA_DIR here.
RUN mkdir -p /out/data

# ---------------------------------------------------------------------------
# Runtime stage: no shell, no package manager, runs as the unprivileged
# "nonroot" user (uid/gid 65532). It includes CA certificates and tzdata.
# ---------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/server /server
# DATA_DIR holds the embedded store (when MONGODB_URI is unset) and the
# DEV_AUTH signing key; it must be writable by the runtime user.
COPY --from=build --chown=65532:65532 /out/data /data

# In a container the server must listen on all interfaces, not loopback.
ENV LISTEN_ADDR=0.0.0.0:8080 \
    DATA_DIR=/data

# Numeric uid:gid so Kubernetes `runAsNonRoot` can verify it without /etc/passwd.
USER 65532:65532

EXPOSE 8080

# No HEALTHCHECK: the image has no shell or curl. Orchestrators should probe
# GET /healthz (liveness) and GET /readyz (readiness) over HTTP instead.
ENTRYPOINT ["/server"]
