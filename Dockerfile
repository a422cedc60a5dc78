# Tuilerie in a container: one binary (the shipped collections, the schemas and
# the web viewer are embedded in it) on Debian bookworm with GDAL 3.6.
#
#   docker build -t tuilerie .
#   docker run --rm -p 8080:8080 tuilerie                         # the demo catalogue
#   docker run --rm -p 8080:8080 -v /data:/data tuilerie \
#       serve --store postgres://tuilerie:secret@db/tuilerie      # a real deployment
#
# Settings come from TUILERIE_* variables or a TOML file (--config); see the
# README's "Configuration" section. The server listens on 0.0.0.0:8080 here.

# --- build -------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
# What scripts/setup installs for a build: GDAL, OpenSSL, Node.js and npm (the
# viewer is bundled by build.rs with the committed package-lock.json).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      build-essential pkg-config libgdal-dev libssl-dev nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && install -D -m 0755 target/release/tuilerie /out/tuilerie

# --- run ---------------------------------------------------------------------
FROM debian:bookworm-slim
# GDAL's runtime library (with PROJ and its data) and the CA roots for HTTPS
# (remote assets, OIDC key sets, TLS to PostgreSQL).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libgdal32 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /data --create-home tuilerie
COPY --from=build /out/tuilerie /usr/local/bin/tuilerie
USER tuilerie
WORKDIR /data
ENV TUILERIE_BIND=0.0.0.0:8080 \
    TUILERIE_CACHE_DISK_DIR=/data/tile-cache
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["tuilerie"]
CMD ["demo", "--dir", "/data/demo"]
