# slardar container image: one static binary on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION="$(git describe --always --dirty)" -t slardar .   # or: make docker
#   docker run --rm -p 8080:8080 slardar                       # embedded default config
#   docker run --rm -p 8080:8080 -v "$PWD/slardar.hcl:/etc/slardar/slardar.hcl:ro" \
#       slardar -config /etc/slardar/slardar.hcl
#
# The proxy listens on :8080 (EXPOSEd). The admin API stays on 127.0.0.1:1995 inside the
# container by default, so nothing outside the container can change routing. To reach it from
# outside, bind it to all interfaces AND give it a token (slardar refuses a non-loopback admin
# without one), then publish it on the host's loopback only:
#     TOKEN=$(openssl rand -hex 32)
#     docker run --rm -p 8080:8080 -p 127.0.0.1:1995:1995 -e SLARDAR_ADMIN_TOKEN="$TOKEN" \
#         slardar -admin 0.0.0.0:1995
#     curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:1995/upstreams
# (or admin { listen = "0.0.0.0:1995"  token_file = "/run/secrets/slardar-admin" } in the config).
# State (the local snapshot used when Consul is down) lives in /var/lib/slardar, owned by the
# non-root user; mount a volume there to keep it across restarts. It is also the working
# directory, so when arguments replace the default CMD, the default data dir ./data lands
# in /var/lib/slardar/data.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/slardar ./cmd/slardar \
 && mkdir -p /out/var/lib/slardar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/slardar /slardar
# 65532 is distroless's "nonroot" user and group.
COPY --from=build --chown=65532:65532 /out/var/lib/slardar /var/lib/slardar
USER nonroot:nonroot
WORKDIR /var/lib/slardar
EXPOSE 8080
ENTRYPOINT ["/slardar"]
CMD ["-data-dir", "/var/lib/slardar"]
