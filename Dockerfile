# The Switchboard gateway as a container image.
#
#   docker build -t switchboard .
#   docker run -p 8080:8080 -v switchboard-data:/var/lib/switchboard switchboard
#
# Two stages: the binary is built in the Rust image with the `dist` profile
# (release, optimized across crates; see Cargo.toml), its dependencies in a
# layer of their own, rebuilt only when Cargo.toml or Cargo.lock change; it
# is then copied into a slim Debian image where it runs as
# an unprivileged user. docs/operations.md ("Running a fleet") describes the
# image's paths and variables.

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

# === build ===
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src

# Dependencies: the real manifest and lock file over empty targets. The
# manifest names benches/engine.rs, so that file must exist too.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/engine.rs \
    && cargo build --profile dist --locked \
    && rm -rf src benches

# The crate itself. Besides src/ (migrations and page templates included),
# it compiles in the OpenAPI document and the spec format's schema.
COPY src src
COPY benches benches
COPY docs/openapi.json docs/provider-spec.schema.json docs/
# Newer than the placeholders' build, whatever times the copy kept.
RUN touch src/main.rs src/lib.rs \
    && cargo build --profile dist --locked \
    && cp target/dist/switchboard /usr/local/bin/switchboard

# === runtime ===
FROM debian:${DEBIAN_RELEASE}-slim

# The gateway trusts the root certificates built into it; ca-certificates
# serves the image's other tools, curl its health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home \
        --home-dir /var/lib/switchboard --shell /usr/sbin/nologin switchboard \
    && install -d -o switchboard -g switchboard -m 0700 /var/lib/switchboard

COPY --from=build /usr/local/bin/switchboard /usr/local/bin/switchboard
COPY provider-specs /etc/switchboard/provider-specs

# Defaults for a container; each variable overrides the config file's key
# (set one empty to use the file's). The data directory is private to the
# gateway's user (it refuses one open to others); a new named volume keeps
# that mode.
ENV SWITCHBOARD_LISTEN=0.0.0.0:8080 \
    SWITCHBOARD_SPECS_DIR=/etc/switchboard/provider-specs \
    SWITCHBOARD_DATA_DIR=/var/lib/switchboard \
    SWITCHBOARD_DATABASE_URL=sqlite:///var/lib/switchboard/switchboard.db

# A config file, when one is wanted, is config/switchboard.yaml here (or
# wherever SWITCHBOARD_CONFIG names).
WORKDIR /etc/switchboard
USER switchboard:switchboard
VOLUME ["/var/lib/switchboard"]
EXPOSE 8080

# Ready: the store answers and the specs were read. The port is the one
# SWITCHBOARD_LISTEN names.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${SWITCHBOARD_LISTEN##*:}/readyz" || exit 1

ENTRYPOINT ["switchboard"]
CMD ["serve"]
